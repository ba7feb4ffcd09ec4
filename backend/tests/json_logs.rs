//! `--log-format json`: one JSON object per line, each event of a connection carrying the
//! client address and peer id, and no SDP or candidate at `info` and above.
//!
//! The real binary, its standard output captured: the format is chosen by `main`.

mod common;

use std::time::Duration;

use common::{BackendProcess, Captured, Client, PATIENCE, relayed, relays};
use shared::{ClientMessage, ErrorCode, ServerMessage};

/// Every line is valid JSON; an `info` event inside a connection (an ICE request refused)
/// carries the connection span with `client` and `peer`; the SDP and candidate text of relays
/// shows up at `trace` (so the check below can fail) and never in an `INFO`, `WARN` or `ERROR`
/// line.
#[tokio::test]
async fn json_lines_carry_the_connection_and_no_sdp_at_info() {
    let logs = Captured::default();
    let server = BackendProcess::start_logging(
        &["--log-format", "json", "--ice-requests-per-minute", "1"],
        "info,backend=trace",
        Some(logs.clone()),
    )
    .await;
    let url = server.ws_url();
    let mut alice = Client::connect(&url).await;
    let mut bob = Client::connect(&url).await;
    alice.join("json-logs").await;
    bob.join("json-logs").await;
    alice.expect_joined_by(bob.id(), "json-logs").await;
    let marker = "sdp-marker-5b1e";
    for message in relays(None, marker) {
        alice.send(&message).await;
        assert_eq!(bob.recv().await, relayed(&message, alice.id()));
    }
    for _ in 0..2 {
        alice.send(&ClientMessage::IceServers).await;
    }
    assert!(matches!(
        alice.recv().await,
        ServerMessage::IceServers { .. }
    ));
    alice.expect_error(ErrorCode::RateLimited).await;

    let refused = "ICE request refused: rate limited";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let text = loop {
        let text = logs.text();
        if text.contains(refused) && text.contains(marker) {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected lines missing: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let event = lines
        .iter()
        .find(|line| line["fields"]["message"] == refused)
        .expect("the refusal is logged");
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["span"]["name"], "connection", "{event}");
    assert_eq!(event["span"]["client"], "127.0.0.1", "{event}");
    assert_eq!(event["span"]["peer"], alice.id().as_str(), "{event}");
    let with_marker: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line.to_string().contains(marker))
        .collect();
    assert!(
        with_marker.iter().any(|line| line["level"] == "TRACE"),
        "the relay is traced with its content"
    );
    for line in with_marker {
        assert!(
            line["level"] == "TRACE" || line["level"] == "DEBUG",
            "SDP or candidate at info or above: {line}"
        );
    }
}
