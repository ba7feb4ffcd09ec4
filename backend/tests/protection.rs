//! Admission and isolation: Origins, connections per IP, the join race, slow readers.

mod common;

use std::time::Duration;

use common::{Client, PATIENCE, TestServer};
use shared::{ClientMessage, ServerMessage};
use tokio::time::Instant;
use tokio_tungstenite::{connect_async, tungstenite::protocol::frame::coding::CloseCode};

/// By default only pages from the server's own origin may open the WebSocket: others get 403.
#[tokio::test]
async fn foreign_origins_are_refused_with_403() {
    let server = TestServer::default().await;
    let own = format!("http://{}", server.address);
    assert!(
        Client::connect_with_origin(&server.ws_url(), &own)
            .await
            .is_ok()
    );
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        assert_eq!(
            Client::connect_with_origin(&server.ws_url(), origin)
                .await
                .err(),
            Some(403),
            "{origin}"
        );
    }
}

/// With an allow-list (frontend hosted elsewhere), exactly the listed origins may connect.
#[tokio::test]
async fn allow_listed_origins_may_connect() {
    let server = TestServer::start(|config| {
        config.limits.allowed_origins = vec!["https://chat.example.com".into()];
    })
    .await;
    assert!(
        Client::connect_with_origin(&server.ws_url(), "https://chat.example.com")
            .await
            .is_ok()
    );
    let own = format!("http://{}", server.address);
    assert_eq!(
        Client::connect_with_origin(&server.ws_url(), &own)
            .await
            .err(),
        Some(403)
    );
}

/// One address may hold only so many connections; closing one frees a slot.
#[tokio::test]
async fn connections_per_ip_are_limited() {
    let server = TestServer::start(|config| config.limits.max_connections_per_ip = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.client().await);
    }
    let url = server.ws_url();
    let refused = tokio::time::timeout(PATIENCE, connect_async(url.as_str()))
        .await
        .expect("refused in time");
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    let mut first = open.remove(0);
    first.assert_quiet().await;
    first.close().await;
    // The slot is freed when the server's task ends, which the client cannot await: retry
    // until then, within the usual patience.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let attempt = tokio::time::timeout_at(deadline, connect_async(url.as_str()))
            .await
            .expect("a freed slot is reusable in time");
        if attempt.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed slot is reusable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 100 people joining one room at the same instant, with rooms of 2, 4 (the default) and 8:
/// exactly that many are admitted, the rest told `full` with it. Several worker threads, so
/// the joins really run in parallel on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_joins_admit_exactly_the_capacity() {
    for capacity in [2_u16, 4, 8] {
        let server = TestServer::start(|config| config.limits.room_capacity = capacity).await;
        let mut clients = Vec::new();
        for _ in 0..100 {
            clients.push(server.client().await);
        }
        let capacity = usize::from(capacity);
        let (admissions, _clients) = common::stampede(clients, "stampede", capacity).await;
        assert_eq!(
            admissions,
            (capacity, 100 - capacity),
            "admitted, told full"
        );
    }
}

/// A member that stops reading is closed (1008) once its queue overflows; the sender and
/// other rooms never wait for it.
#[tokio::test]
async fn slow_reader_is_closed_without_stalling_anyone() {
    let server = TestServer::start(|config| {
        config.limits.outgoing_queue = 8;
        config.limits.messages_per_second = 100_000;
        config.limits.message_burst = 100_000;
    })
    .await;
    let (mut slow, mut fast) = server.pair("slow").await;
    let (mut other_a, mut other_b) = server.pair("unrelated").await;
    let slow_id = slow.id();
    // `slow` reads nothing from here on. 60 KB offers fill the TCP buffers, then its queue.
    let sdp = "s".repeat(60_000);
    let mut overflowed = false;
    for sent in 0..2_000 {
        fast.send(&ClientMessage::Offer {
            sdp: sdp.clone(),
            to: None,
        })
        .await;
        if sent % 20 == 19 {
            // The sender is never held back: its own pings are answered at once, and the
            // slow reader's departure shows up among the answers.
            fast.send(&ClientMessage::Ping).await;
            loop {
                match fast.recv().await {
                    ServerMessage::Pong => break,
                    ServerMessage::PeerLeft { peer } => {
                        assert_eq!(peer, slow_id);
                        overflowed = true;
                    }
                    ServerMessage::Error { .. } => {} // no_peer once `slow` is gone
                    other => panic!("unexpected {other:?}"),
                }
            }
            if overflowed {
                break;
            }
        }
    }
    assert!(overflowed, "the slow reader was dropped");
    // Reading now, the slow client finds the close frame after what was buffered.
    assert_eq!(slow.closed().await, Some(CloseCode::Policy));
    // Another room never noticed.
    other_a
        .send(&ClientMessage::Offer {
            sdp: "hi".into(),
            to: None,
        })
        .await;
    assert!(matches!(other_b.recv().await, ServerMessage::Offer { .. }));
}

/// A member that stops reading while its queue never overflows (a tiny receive buffer, a
/// flood that fills the TCP buffers and then stops): its task is stuck inside a socket write,
/// where no heartbeat check runs. The write timeout drops it within the heartbeat timeout plus
/// the write timeout; like any dropped connection its seat is then held for the resume grace
/// (short here): the other member is told `peer_left`, its seat and its IP slot are free.
#[tokio::test]
async fn non_reader_stuck_in_a_write_is_evicted() {
    const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
    const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
    const RESUME_GRACE: Duration = Duration::from_millis(200);
    let server = TestServer::start(|config| {
        config.resume.resume_grace = RESUME_GRACE;
        config.limits.heartbeat_interval = Duration::from_millis(500);
        config.limits.heartbeat_timeout = HEARTBEAT_TIMEOUT;
        config.limits.write_timeout = WRITE_TIMEOUT;
        // The queue can hold the whole flood: only the write timeout can evict.
        config.limits.outgoing_queue = 10_000;
        config.limits.messages_per_second = 100_000;
        config.limits.message_burst = 100_000;
        config.limits.max_connections_per_ip = 2;
    })
    .await;
    let mut stalled = Client::connect_with_receive_buffer(server.address, 4096).await;
    stalled.join("stalled").await;
    let mut flooder = server.joined("stalled").await;
    let stalled_id = stalled.id();
    let own = format!("http://{}", server.address);
    assert_eq!(
        Client::connect_with_origin(&server.ws_url(), &own)
            .await
            .err(),
        Some(429),
        "both slots of 127.0.0.1 are taken"
    );
    // `stalled` reads nothing from here on. 8 MB is more than the kernel buffers of both ends
    // hold, far less than the queue.
    let sdp = "s".repeat(60_000);
    for _ in 0..140 {
        flooder
            .send(&ClientMessage::Offer {
                sdp: sdp.clone(),
                to: None,
            })
            .await;
    }
    let flood_sent = Instant::now();
    let deadline =
        flood_sent + HEARTBEAT_TIMEOUT + WRITE_TIMEOUT + RESUME_GRACE + Duration::from_secs(2);
    let told = tokio::time::timeout_at(deadline, flooder.recv())
        .await
        .expect("the non-reader is evicted within the heartbeat and write timeouts");
    assert_eq!(told, ServerMessage::PeerLeft { peer: stalled_id });
    println!(
        "non-reader evicted {} ms after the flood was sent",
        flood_sent.elapsed().as_millis()
    );
    // Its IP slot is released (right after the announcement: poll briefly).
    let mut third = loop {
        match Client::connect_with_origin(&server.ws_url(), &own).await {
            Ok(client) => break client,
            Err(429) if Instant::now() < deadline + PATIENCE => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("the slot was never released: {status}"),
        }
    };
    // And its seat.
    assert_eq!(third.join("stalled").await, vec![flooder.id()]);
    drop(stalled);
}
