//! `GET /metrics`: exact counts after real traffic, gauges that go up and down, where it is
//! served, and label values that never carry what a client chose.
//!
//! The counters live in the process's global recorder, so the tests of exact values run the
//! real binary, one process each: nothing another test does can touch their figures.

mod common;

use std::{collections::BTreeMap, net::SocketAddr};

use common::{BackendProcess, Client, RedisServer, TestServer, free_port, http, relayed, relays};
use shared::{ClientMessage, ErrorCode, ServerMessage};

/// One sample of a scrape: its labels and value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// `GET http://{address}{path}`: status and body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let response = http()
        .get(format!("http://{address}{path}"))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// Scrapes `/metrics` at `address`: the raw text, and its samples.
async fn scrape(address: SocketAddr) -> (String, Samples) {
    let (status, text) = get(address, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("key=value");
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().expect("a number"))
        })
        .collect();
    (text, samples)
}

/// The value of `name` with exactly `labels`; 0 when the series does not exist (a counter
/// never incremented).
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    samples
        .iter()
        .find(|(sample, labels, _)| sample == name && *labels == wanted)
        .map_or(0.0, |(_, _, value)| *value)
}

/// Scrapes until `name` has `expected` (gauges settle once a connection task has finished).
async fn settled(address: SocketAddr, name: &str, expected: f64) -> Samples {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let (_, samples) = scrape(address).await;
        let found = value(&samples, name, &[]);
        if found == expected {
            return samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed at {found}, expected {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Two joins and one `full`, one relay of each kind, refused messages and a hostile room name
/// give exact counters by outcome, type and code; the gauges follow connections, rooms and
/// seats up and down; no room name or peer id appears in any series.
#[tokio::test]
async fn counters_and_gauges_follow_real_traffic() {
    let server = BackendProcess::start(&[
        "--metrics",
        "--room-capacity",
        "2",
        "--resume-grace",
        "200ms",
    ])
    .await;
    let url = server.ws_url();
    let room = "zz-hostile-room-name-7q";
    let mut alice = Client::connect(&url).await;
    let mut bob = Client::connect(&url).await;
    let mut carol = Client::connect(&url).await;
    alice.join(room).await;
    bob.join(room).await;
    alice.expect_joined_by(bob.id(), room).await;
    carol
        .send(&ClientMessage::Join {
            room: common::room(room),
            resume: None,
        })
        .await;
    assert!(matches!(carol.recv().await, ServerMessage::Full { .. }));
    // A room name that breaks the rule, and a relay before joining: two errors.
    carol
        .send_text(r#"{"type":"join","room":"../evil name <script>"}"#)
        .await;
    carol.expect_error(ErrorCode::InvalidRoom).await;
    carol.send(&ClientMessage::HangUp { to: None }).await;
    carol.expect_error(ErrorCode::NotInRoom).await;
    // One relay of each kind, then a second candidate.
    let mut sent = relays(None, "metrics");
    sent.push(sent[2].clone());
    for message in &sent {
        alice.send(message).await;
        assert_eq!(bob.recv().await, relayed(message, alice.id()));
    }
    // A client without `Origin` asks for ICE servers: STUN only.
    alice.send(&ClientMessage::IceServers).await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::IceServers { .. }
    ));

    let (text, samples) = scrape(server.address).await;
    let joins = "videochat_joins_total";
    assert_eq!(value(&samples, joins, &[("outcome", "joined")]), 2.0);
    assert_eq!(value(&samples, joins, &[("outcome", "full")]), 1.0);
    assert_eq!(value(&samples, joins, &[("outcome", "invalid")]), 1.0);
    let relayed_total = "videochat_relayed_messages_total";
    for (kind, count) in [
        ("offer", 1.0),
        ("answer", 1.0),
        ("candidate", 2.0),
        ("hang_up", 1.0),
    ] {
        assert_eq!(
            value(&samples, relayed_total, &[("type", kind)]),
            count,
            "{kind}"
        );
    }
    let errors = "videochat_errors_total";
    assert_eq!(value(&samples, errors, &[("code", "invalid_room")]), 1.0);
    assert_eq!(value(&samples, errors, &[("code", "not_in_room")]), 1.0);
    assert_eq!(
        value(
            &samples,
            "videochat_ice_grants_total",
            &[("provider", "static"), ("outcome", "stun_only")]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "videochat_connections_opened_total", &[]),
        3.0
    );
    assert_eq!(value(&samples, "videochat_connections_open", &[]), 3.0);
    assert_eq!(value(&samples, "videochat_rooms_open", &[]), 1.0);
    assert_eq!(value(&samples, "videochat_room_members", &[]), 2.0);
    assert_eq!(
        value(
            &samples,
            "videochat_ice_provider_info",
            &[("provider", "static")]
        ),
        1.0
    );
    assert!(value(&samples, "videochat_process_resident_memory_bytes", &[]) > 1e6);
    for private in [room, "evil", alice.id().as_str(), bob.id().as_str()] {
        assert!(!text.contains(private), "{private} in {text}");
    }

    // Bob goes: one connection fewer at once, his seat once the grace is over.
    let bob_id = bob.id();
    bob.close().await;
    let samples = settled(server.address, "videochat_connections_open", 2.0).await;
    let closed = "videochat_connections_closed_total";
    assert_eq!(value(&samples, closed, &[("reason", "gone")]), 1.0);
    assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: bob_id });
    let samples = settled(server.address, "videochat_room_members", 1.0).await;
    assert_eq!(value(&samples, "videochat_rooms_open", &[]), 1.0);
    // Alice leaves: the room is gone.
    alice.send(&ClientMessage::Leave).await;
    alice.read_until_pong().await;
    let samples = settled(server.address, "videochat_room_members", 0.0).await;
    assert_eq!(value(&samples, "videochat_rooms_open", &[]), 0.0);
    assert_eq!(value(&samples, "videochat_connections_open", &[]), 2.0);
}

/// Without `--metrics` or `--metrics-listen`, `/metrics` does not exist.
#[tokio::test]
async fn metrics_are_off_by_default() {
    let server = TestServer::default().await;
    assert_eq!(get(server.address, "/metrics").await.0, 404);
}

/// With `--metrics-listen`, `/metrics` is served on that address (and nothing else is), and
/// not on the main port; `/healthz` stays on the main port, small.
#[tokio::test]
async fn metrics_listen_serves_metrics_apart() {
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = BackendProcess::start(&["--metrics-listen", &metrics.to_string()]).await;
    let _alice = Client::connect(&server.ws_url()).await;
    settled(metrics, "videochat_connections_open", 1.0).await;
    assert_eq!(get(server.address, "/metrics").await.0, 404);
    assert_eq!(get(metrics, "/healthz").await.0, 404);
    assert_eq!(get(metrics, "/ws").await.0, 404);
    let (status, health) = get(server.address, "/healthz").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&health).expect("JSON");
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

/// With Redis: `videochat_redis_up` is 1 and Redis round trips are timed; once Redis stops,
/// it drops to 0 and a join counts as `unavailable`.
#[tokio::test]
async fn redis_health_and_round_trips_are_measured() {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let server =
        BackendProcess::start(&["--metrics", "--redis-url", &url, "--redis-timeout", "500ms"])
            .await;
    let samples = settled(server.address, "videochat_redis_up", 1.0).await;
    let mut alice = Client::connect(&server.ws_url()).await;
    alice.join("redis-metrics").await;
    let (_, samples_after) = scrape(server.address).await;
    let calls = "videochat_redis_call_seconds_count";
    assert!(
        value(&samples_after, calls, &[]) > value(&samples, calls, &[]),
        "the join's Redis calls are timed"
    );
    assert_eq!(value(&samples_after, "videochat_room_members", &[]), 1.0);
    redis.stop();
    let mut bob = Client::connect(&server.ws_url()).await;
    bob.send(&ClientMessage::Join {
        room: common::room("redis-metrics"),
        resume: None,
    })
    .await;
    bob.expect_error(ErrorCode::Unavailable).await;
    let samples = settled(server.address, "videochat_redis_up", 0.0).await;
    assert_eq!(
        value(
            &samples,
            "videochat_joins_total",
            &[("outcome", "unavailable")]
        ),
        1.0
    );
}
