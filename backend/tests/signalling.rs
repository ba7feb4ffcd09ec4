//! Presence and relay, as two browsers in a room see them.

mod common;

use common::{TestServer, room};
use shared::{ClientMessage, IceCandidate, ServerMessage};

/// The first joiner is alone; the second learns who is there; both are told the room is ready.
#[tokio::test]
async fn join_then_ready_for_both() {
    let server = TestServer::default().await;
    let mut alice = server.client().await;
    alice
        .send(&ClientMessage::Join {
            room: room("blue-fox"),
            resume: None,
        })
        .await;
    let ServerMessage::Joined {
        room: r,
        you: alice_id,
        peers,
        ..
    } = alice.recv().await
    else {
        panic!("expected joined");
    };
    assert_eq!((r, peers), (room("blue-fox"), vec![]));

    let mut bob = server.client().await;
    bob.send(&ClientMessage::Join {
        room: room("blue-fox"),
        resume: None,
    })
    .await;
    let ServerMessage::Joined {
        you: bob_id, peers, ..
    } = bob.recv().await
    else {
        panic!("expected joined");
    };
    assert_eq!(peers, vec![alice_id.clone()]);
    assert_ne!(alice_id, bob_id, "ids are unique");
    assert_eq!(
        bob.recv().await,
        ServerMessage::Ready {
            room: room("blue-fox")
        }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob_id }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready {
            room: room("blue-fox")
        }
    );
    alice.assert_quiet().await;
    bob.assert_quiet().await;
}

/// With rooms of two, a third person is refused with the room's capacity, and the two inside
/// are not disturbed.
#[tokio::test]
async fn third_joiner_is_told_a_room_of_two_is_full() {
    let server = TestServer::start(|config| config.limits.room_capacity = 2).await;
    let (mut alice, mut bob) = server.pair("busy").await;
    let mut carol = server.client().await;
    carol
        .send(&ClientMessage::Join {
            room: room("busy"),
            resume: None,
        })
        .await;
    assert_eq!(
        carol.recv().await,
        ServerMessage::Full {
            room: room("busy"),
            capacity: 2
        }
    );
    // Refused, Carol is in no room: she may join another.
    carol.join("elsewhere").await;
    alice.assert_quiet().await;
    bob.assert_quiet().await;
}

/// The capacity is a setting: with three seats the third joiner is admitted, `ready` is sent
/// only when the room first reaches two, and a fourth is told `full` with 3.
#[tokio::test]
async fn capacity_is_a_setting() {
    let server = TestServer::start(|config| config.limits.room_capacity = 3).await;
    let (mut a, mut b) = server.pair("trio").await;
    let mut c = server.client().await;
    let peers = c.join("trio").await;
    assert_eq!(peers, vec![a.id(), b.id()]);
    for other in [&mut a, &mut b] {
        assert_eq!(
            other.recv().await,
            ServerMessage::PeerJoined { peer: c.id() }
        );
    }
    let mut d = server.client().await;
    d.send(&ClientMessage::Join {
        room: room("trio"),
        resume: None,
    })
    .await;
    assert_eq!(
        d.recv().await,
        ServerMessage::Full {
            room: room("trio"),
            capacity: 3
        }
    );
    for member in [&mut a, &mut b, &mut c] {
        member.assert_quiet().await;
    }
}

/// Every `joined` carries the page's upload budget: 2500 kbit/s by default, or what the
/// operator set with `--upload-budget`.
#[tokio::test]
async fn joined_carries_the_upload_budget() {
    for (budget, expected) in [(None, 2_500), (Some(900), 900)] {
        let server = TestServer::start(|config| {
            if let Some(budget) = budget {
                config.limits.upload_budget = budget;
            }
        })
        .await;
        let mut members = Vec::new();
        for _ in 0..2 {
            let mut client = server.client().await;
            client
                .send(&ClientMessage::Join {
                    room: room("budget"),
                    resume: None,
                })
                .await;
            let ServerMessage::Joined { upload_kbps, .. } = client.recv().await else {
                panic!("expected joined");
            };
            assert_eq!(upload_kbps, Some(expected));
            members.push(client);
        }
    }
}

/// Offer, answer and candidates (including end-of-candidates) arrive unchanged, with `from`.
#[tokio::test]
async fn relays_offer_answer_and_candidates_unchanged() {
    let server = TestServer::default().await;
    let (mut alice, mut bob) = server.pair("relay").await;
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n".to_owned();
    alice
        .send(&ClientMessage::Offer {
            sdp: sdp.clone(),
            to: None,
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Offer {
            sdp: sdp.clone(),
            from: alice.id(),
            to: None
        }
    );
    bob.send(&ClientMessage::Answer {
        sdp: sdp.clone(),
        to: Some(alice.id()),
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Answer {
            sdp,
            from: bob.id(),
            to: Some(alice.id())
        }
    );
    let candidate = IceCandidate {
        candidate: Some("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into()),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("uf".into()),
    };
    for candidate in [
        Some(candidate),
        Some(IceCandidate {
            candidate: Some(String::new()),
            ..Default::default()
        }),
        None,
    ] {
        bob.send(&ClientMessage::Candidate {
            candidate: candidate.clone(),
            to: None,
        })
        .await;
        assert_eq!(
            alice.recv().await,
            ServerMessage::Candidate {
                candidate,
                from: bob.id(),
                to: None
            }
        );
    }
    // A raw frame with unknown extra fields is relayed too (the extras are dropped).
    alice
        .send_text(r#"{"type":"candidate","candidate":{"candidate":"c","sdpMid":"0"},"x":1}"#)
        .await;
    let ServerMessage::Candidate {
        candidate: Some(got),
        ..
    } = bob.recv().await
    else {
        panic!("expected a candidate");
    };
    assert_eq!(
        (got.candidate.as_deref(), got.sdp_mid.as_deref()),
        (Some("c"), Some("0"))
    );
}

/// Hundreds of rooms signalling at once: every message reaches exactly the other member of its
/// own room and nobody else (the original tutorial broadcast to every socket).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_stays_inside_each_room_across_hundreds_of_rooms() {
    const ROOMS: usize = 300;
    let server = TestServer::default().await;
    let mut tasks = Vec::new();
    for index in 0..ROOMS {
        let address = server.ws_url();
        tasks.push(tokio::spawn(async move {
            let name = format!("room-{index}");
            let mut a = common::Client::connect(&address).await;
            a.join(&name).await;
            let mut b = common::Client::connect(&address).await;
            b.join(&name).await;
            assert!(matches!(a.recv().await, ServerMessage::PeerJoined { .. }));
            assert!(matches!(a.recv().await, ServerMessage::Ready { .. }));
            for n in 0..5 {
                let sdp = format!("{name}:{n}");
                a.send(&ClientMessage::Offer {
                    sdp: sdp.clone(),
                    to: None,
                })
                .await;
                b.send(&ClientMessage::Answer {
                    sdp: sdp.clone(),
                    to: None,
                })
                .await;
                assert_eq!(
                    b.recv().await,
                    ServerMessage::Offer {
                        sdp: sdp.clone(),
                        from: a.id(),
                        to: None
                    }
                );
                assert_eq!(
                    a.recv().await,
                    ServerMessage::Answer {
                        sdp,
                        from: b.id(),
                        to: None
                    }
                );
            }
            (a, b)
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.expect("room task succeeds"));
    }
    // Every relay has been delivered; nothing from another room is queued anywhere.
    for (a, b) in &mut clients {
        a.assert_quiet().await;
        b.assert_quiet().await;
    }
    assert_eq!(server.state.hub.counts(), (ROOMS, ROOMS * 2));
}

/// `leave` tells the other member; the leaver's connection stays open and may join again.
#[tokio::test]
async fn leave_tells_the_other_and_allows_rejoining() {
    let server = TestServer::default().await;
    let (mut alice, mut bob) = server.pair("door").await;
    bob.send(&ClientMessage::Leave).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: bob.id() }
    );
    bob.assert_quiet().await;
    let peers = bob.join("door").await;
    assert_eq!(peers, vec![alice.id()]);
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready { room: room("door") }
    );
}

/// Closing the socket, or losing it without a close frame, tells the other `peer_left` (once
/// the grace is over), and an emptied room is forgotten, whichever way its last member went.
#[tokio::test]
async fn disconnect_tells_the_other_and_empty_rooms_are_forgotten() {
    let server = TestServer::default().await;
    // Stays connected in its own room throughout, so the expected room count is not zero and
    // a counter stuck at zero could not pass.
    let _keeper = server.joined("keeper").await;
    let (mut alice, bob) = server.pair("closing").await;
    let bob_id = bob.id();
    bob.close().await;
    assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: bob_id });

    let carol = server.joined("closing").await;
    alice.expect_joined_by(carol.id(), "closing").await;
    let carol_id = carol.id();
    carol.abort();
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: carol_id }
    );
    // A room emptied by a lost connection (no close frame) ...
    let dave = server.joined("abandoned").await;
    dave.abort();
    // ... and one emptied by a closed socket.
    alice.close().await;

    // Only the keeper is connected once the server has seen both ends; the seats of the
    // others are held for the grace period, then only the keeper's room remains: emptied
    // rooms are forgotten.
    server.wait_for_connections(1).await;
    server.wait_for_rooms(1).await;
    // And a newcomer to an emptied room is alone in it.
    let mut watcher = server.client().await;
    assert_eq!(watcher.join("closing").await, vec![]);
    watcher.assert_quiet().await;
}

/// A peer that stops answering heartbeats is dropped and its room told (once the grace is
/// over).
#[tokio::test]
async fn missed_heartbeats_drop_the_member() {
    let server = TestServer::start(|config| {
        config.limits.heartbeat_interval = std::time::Duration::from_millis(100);
        // Long enough that Alice, who does answer, never misses it on a loaded machine.
        config.limits.heartbeat_timeout = std::time::Duration::from_millis(2000);
    })
    .await;
    let (mut alice, mut bob) = server.pair("heartbeat").await;
    // Alice keeps reading (so her client answers pings); Bob's client stops reading, so its
    // pongs are never sent.
    let bob_id = bob.id();
    let _frozen_bob = bob.socket();
    assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: bob_id });
    alice.assert_quiet().await;
}

/// `GET /healthz` answers `ok` and the version, and nothing more: counts are on `/metrics`.
#[tokio::test]
async fn healthz_reports_ok() {
    let server = TestServer::default().await;
    let _pair = server.pair("health").await;
    let body: serde_json::Value = common::http()
        .get(server.http_url("/healthz"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

/// Shutdown closes every WebSocket with a close frame (1001, going away).
#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let server = TestServer::default().await;
    let (mut alice, mut bob) = server.pair("closing-time").await;
    let shutdown = tokio::spawn(server.shutdown());
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    assert_eq!(alice.closed().await, Some(CloseCode::Away));
    assert_eq!(bob.closed().await, Some(CloseCode::Away));
    shutdown.await.expect("server shut down cleanly");
}
