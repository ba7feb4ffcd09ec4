//! Every refused message gets a protocol error with a code and a sentence, and the connection
//! stays usable afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, room};
use shared::{ClientMessage, ErrorCode, PeerId, ServerMessage};

/// Invalid JSON, unknown types, wrong shapes and binary frames are `bad_message`.
#[tokio::test]
async fn malformed_messages_are_bad_message() {
    let server = TestServer::default().await;
    let mut client = server.client().await;
    for text in [
        "this is not json",
        "{",
        "[1,2,3]",
        r#"{"no":"type"}"#,
        r#"{"type":"teleport"}"#,
        r#"{"type":"join"}"#,
        r#"{"type":"offer","sdp":42}"#,
        r#"{"type":"candidate","candidate":{"sdpMLineIndex":-1}}"#,
    ] {
        client.send_text(text).await;
        client.expect_error(ErrorCode::BadMessage).await;
    }
    client.send_binary(vec![0, 1, 2, 3]).await;
    let message = client.expect_error(ErrorCode::BadMessage).await;
    assert!(message.contains("Binary"), "{message}");
    client.assert_quiet().await;
}

/// A frame over the size limit is refused with `too_large`; the connection stays usable.
#[tokio::test]
async fn oversized_frame_is_too_large() {
    let server = TestServer::start(|config| config.limits.max_message_bytes = 1024).await;
    let (mut alice, mut bob) = server.pair("big").await;
    let sdp = "a".repeat(2000);
    alice.send(&ClientMessage::Offer { sdp, to: None }).await;
    let message = alice.expect_error(ErrorCode::TooLarge).await;
    assert!(
        message.contains("1024"),
        "the sentence names the limit: {message}"
    );
    // Nothing was relayed, and both connections still work.
    bob.assert_quiet().await;
    alice
        .send(&ClientMessage::Offer {
            sdp: "small".into(),
            to: None,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Offer { .. }));
}

/// A frame far beyond the limit (4×) is not even read: the connection ends, others do not.
#[tokio::test]
async fn huge_frame_ends_only_that_connection() {
    let server = TestServer::start(|config| config.limits.max_message_bytes = 1024).await;
    let (mut alice, mut bob) = server.pair("huge").await;
    alice.send_text(&"x".repeat(10_000)).await;
    let _ = alice.closed().await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerLeft { peer: alice.id() }
    );
    bob.assert_quiet().await;
}

/// Room names outside the rule are `invalid_room`.
#[tokio::test]
async fn bad_room_names_are_invalid_room() {
    let server = TestServer::default().await;
    let mut client = server.client().await;
    let long = "r".repeat(65);
    for name in ["", "has space", "slash/room", "ünïcode", long.as_str()] {
        let text = serde_json::json!({"type": "join", "room": name}).to_string();
        client.send_text(&text).await;
        client.expect_error(ErrorCode::InvalidRoom).await;
    }
    client.join("fine-room_1").await;
}

/// Relays, `leave` and `ice_servers` before joining are `not_in_room`.
#[tokio::test]
async fn room_messages_before_join_are_not_in_room() {
    let server = TestServer::default().await;
    let mut client = server.client().await;
    for message in [
        ClientMessage::Offer {
            sdp: "v=0".into(),
            to: None,
        },
        ClientMessage::Answer {
            sdp: "v=0".into(),
            to: None,
        },
        ClientMessage::Candidate {
            candidate: None,
            to: None,
        },
        ClientMessage::Leave,
        ClientMessage::IceServers,
    ] {
        client.send(&message).await;
        client.expect_error(ErrorCode::NotInRoom).await;
    }
    // After leaving, the same holds.
    client.join("in-and-out").await;
    client.send(&ClientMessage::Leave).await;
    client
        .send(&ClientMessage::Offer {
            sdp: "v=0".into(),
            to: None,
        })
        .await;
    client.expect_error(ErrorCode::NotInRoom).await;
}

/// Joining twice is `already_in_room`; the first membership is kept.
#[tokio::test]
async fn second_join_is_already_in_room() {
    let server = TestServer::default().await;
    let mut alice = server.joined("first").await;
    alice
        .send(&ClientMessage::Join {
            room: room("second"),
            resume: None,
        })
        .await;
    alice.expect_error(ErrorCode::AlreadyInRoom).await;
    assert_eq!(server.state.hub.counts().0, 1, "only the first room exists");
    let bob = server.joined("first").await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
}

/// Relaying while alone is `no_peer`; to somebody not in the room, `unknown_peer`.
#[tokio::test]
async fn relays_without_a_recipient_are_refused() {
    let server = TestServer::default().await;
    let mut alice = server.joined("lonely").await;
    alice
        .send(&ClientMessage::Offer {
            sdp: "v=0".into(),
            to: None,
        })
        .await;
    alice.expect_error(ErrorCode::NoPeer).await;

    let (mut carol, mut dave) = server.pair("other-room").await;
    let bob = server.joined("lonely").await;
    alice.expect_joined_by(bob.id(), "lonely").await;
    for to in [carol.id(), PeerId::new("nobody"), alice.id()] {
        alice
            .send(&ClientMessage::Offer {
                sdp: "v=0".into(),
                to: Some(to),
            })
            .await;
        alice.expect_error(ErrorCode::UnknownPeer).await;
    }
    carol.assert_quiet().await;
    dave.assert_quiet().await;
    drop(bob);
}

/// Too many messages too fast: the burst passes, the excess is dropped with one
/// `rate_limited` error per flood, and the connection is usable again once the bucket refills.
#[tokio::test]
async fn floods_are_rate_limited() {
    const BURST: usize = 5;
    const FLOOD: usize = 30;
    // The slowest refill the setting allows (one token a second), so that at most a token or
    // two can come back during the flood even on a loaded machine; the bounds below hold
    // whatever the timing.
    let refill = Duration::from_secs(1);
    let server = TestServer::start(|config| {
        config.limits.messages_per_second = 1;
        config.limits.message_burst = BURST as u32;
    })
    .await;
    // The bucket is created (full) after this instant.
    let started = Instant::now();
    let mut client = server.client().await;
    for _ in 0..FLOOD {
        client.send(&ClientMessage::Ping).await;
    }
    // Everything the server answered to the flood; it has handled the whole flood by now.
    let answers = client.read_until_pong().await;
    let handled_within = started.elapsed();
    let pongs = answers
        .iter()
        .filter(|answer| **answer == ServerMessage::Pong)
        .count();
    let limited = answers
        .iter()
        .filter(|answer| {
            matches!(
                answer,
                ServerMessage::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        pongs + limited,
        answers.len(),
        "only pongs and errors: {answers:?}"
    );
    // Each refilled token lets one more message through; at most one per second has come.
    let refilled = usize::try_from(handled_within.as_secs()).expect("small");
    assert!(
        (BURST..=BURST + refilled).contains(&pongs),
        "the burst passed, the rest was dropped: {pongs} pongs within {handled_within:?}"
    );
    // One error for the flood, plus one for each new flood a refilled token started.
    assert!(
        (1..=1 + pongs - BURST).contains(&limited),
        "one error per flood: {limited} errors for {pongs} pongs"
    );
    // The flood has been handled, so one refill period later a token is back, and the next
    // message passes: its answer comes next, and nothing else was waiting.
    tokio::time::sleep(refill).await;
    client.assert_quiet().await;
}

/// ICE requests have their own, stricter limit.
#[tokio::test]
async fn ice_requests_are_rate_limited() {
    let server = TestServer::start(|config| config.limits.ice_requests_per_minute = 2).await;
    let mut client = server.joined("ice-limit").await;
    for _ in 0..2 {
        client.send(&ClientMessage::IceServers).await;
        assert!(matches!(
            client.recv().await,
            ServerMessage::IceServers { .. }
        ));
    }
    client.send(&ClientMessage::IceServers).await;
    client.expect_error(ErrorCode::RateLimited).await;
}

/// With no provider and an empty fallback list there is nothing to give: `ice_unavailable`.
#[tokio::test]
async fn no_ice_servers_is_ice_unavailable() {
    let server = TestServer::start(|config| config.ice.ice_urls = vec![String::new()]).await;
    let mut client = server.joined("no-ice").await;
    client.send(&ClientMessage::IceServers).await;
    let message = client.expect_error(ErrorCode::IceUnavailable).await;
    assert!(message.contains("direct connection"), "{message}");
    client.assert_quiet().await;
}
