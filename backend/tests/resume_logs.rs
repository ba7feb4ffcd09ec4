//! Resume tokens never reach the logs: every event of the server, at trace level, is captured
//! while tokens are issued, refreshed, resumed, taken over and refused, and none of them (nor
//! a client's made-up token) appears.
//!
//! A file of its own: the capturing subscriber is global to this test binary.

mod common;

use std::time::Duration;

use common::{Captured, TestServer};
use shared::{ClientMessage, ResumeToken, ServerMessage};

/// No token (issued in `joined`, refreshed in `resume`, sent back in `join`, or made up by a
/// client) appears anywhere in the server's trace-level output.
#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let captured = Captured::default();
    // As if started with `RUST_LOG=trace`.
    tracing_subscriber::fmt()
        .with_env_filter(backend::logging::filter(Some("trace")))
        .with_ansi(false)
        .with_writer(captured.clone())
        .init();
    let server = TestServer::start(|config| {
        config.resume.resume_grace = Duration::from_millis(400);
    })
    .await;
    let mut tokens = Vec::new();
    let (mut alice, mut bob) = server.pair("secret-room").await;
    tokens.extend([alice.token(), bob.token()]);
    // A relay, which the server traces with its message (and so proves the capture sees
    // trace-level lines).
    alice
        .send(&ClientMessage::Offer {
            sdp: "v=0".to_owned(),
            to: None,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Offer { .. }));
    tokens.push(alice.next_refresh().await);
    // A resume after a drop ...
    let alice_id = alice.id();
    alice.abort();
    let mut alice = server.client().await;
    let (you, _) = alice
        .join_with_token("secret-room", tokens[2].clone())
        .await;
    assert_eq!(you, alice_id);
    tokens.push(alice.token());
    // ... a takeover of a connection still open ...
    let mut newer = server.client().await;
    newer.join_with_token("secret-room", alice.token()).await;
    tokens.push(newer.token());
    assert!(alice.close_frame().await.is_some());
    // ... and refused tokens: made up, and for another room.
    let made_up = ResumeToken::new("made-up-token-Zq7xK2pW9vR4".to_owned());
    let mut stranger = server.client().await;
    stranger
        .join_with_token("other-room", made_up.clone())
        .await;
    tokens.push(made_up);
    tokens.push(stranger.token());
    let mut misplaced = server.client().await;
    misplaced
        .join_with_token("third-room", tokens[0].clone())
        .await;
    tokens.push(misplaced.token());
    server.shutdown().await;

    let logs = captured.text();
    // The capture works and saw these paths.
    for expected in [
        " TRACE ",
        "seat resumed",
        "resume token not accepted",
        "connected",
    ] {
        assert!(logs.contains(expected), "{expected} not logged:\n{logs}");
    }
    for token in &tokens {
        assert!(
            !logs.contains(token.as_str()),
            "a token was logged: {}\n{}",
            token.as_str(),
            logs.lines()
                .filter(|line| line.contains(token.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
