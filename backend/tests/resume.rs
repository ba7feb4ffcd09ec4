//! Resuming a seat (`join` with a `resume` token), with presence in memory: what a page whose
//! connection dropped, or whose tab was reloaded, gets back, and what the others hear.

mod common;

use std::time::Duration;

use common::{Client, PATIENCE, TestServer, room};
use shared::{ClientMessage, ResumeToken, ServerMessage};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const KEY: &str = "resume-test-key-0123456789abcdef-0123";
const OTHER_KEY: &str = "another-resume-key-fedcba9876543210-99";

/// A server with the resume key `KEY` and the given grace.
async fn server(grace: Duration) -> TestServer {
    TestServer::start(|config| {
        // Rooms of two: a held seat keeps a third person out.
        config.limits.room_capacity = 2;
        config.resume.resume_key = Some(KEY.to_owned());
        config.resume.resume_grace = grace;
    })
    .await
}

/// Bob relays an offer and Alice receives it from him, and the other way round: both are
/// in the same room, reachable under their ids.
async fn relay_both_ways(alice: &mut Client, bob: &mut Client) {
    bob.send(&ClientMessage::Offer {
        sdp: "from bob".into(),
        to: None,
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Offer {
            sdp: "from bob".into(),
            from: bob.id(),
            to: None,
        }
    );
    alice
        .send(&ClientMessage::Answer {
            sdp: "from alice".into(),
            to: Some(bob.id()),
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Answer {
            sdp: "from alice".into(),
            from: alice.id(),
            to: Some(bob.id()),
        }
    );
}

/// A dropped connection that comes back with its token within the grace gets its old id and
/// the other member back, and the other member hears nothing at all, during or after the
/// grace; the call's relays work both ways afterwards.
#[tokio::test]
async fn reconnecting_with_the_token_takes_the_seat_back_silently() {
    let grace = Duration::from_millis(800);
    let server = server(grace).await;
    let (alice, mut bob) = server.pair("resume").await;
    let (alice_id, token) = (alice.id(), alice.token());
    alice.abort();
    server.wait_for_connections(1).await;

    let mut alice = server.client().await;
    let (you, peers) = alice.join_with_token("resume", token).await;
    assert_eq!(you, alice_id, "the old id comes back");
    assert_eq!(peers, vec![bob.id()]);
    alice.assert_quiet().await; // no `ready`: nothing changed for the room
    bob.assert_quiet().await;
    // The hold's timer would have fired by now: no event says it did not, so wait it out.
    tokio::time::sleep(grace * 2).await;
    bob.assert_quiet().await;
    alice.assert_quiet().await;
    relay_both_ways(&mut alice, &mut bob).await;
}

/// When the old connection is still open (half-open TCP, another tab), the newer one takes
/// the seat and the old one is closed with 4001 "resumed by a newer connection"; the other
/// member hears nothing.
#[tokio::test]
async fn the_old_connection_still_open_is_closed_with_4001() {
    let server = server(Duration::from_secs(30)).await;
    let (mut old, mut bob) = server.pair("takeover").await;
    let mut alice = server.client().await;
    let (you, peers) = alice.join_with_token("takeover", old.token()).await;
    assert_eq!(you, old.id());
    assert_eq!(peers, vec![bob.id()]);
    let frame = old.close_frame().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Library(4001));
    assert_eq!(frame.reason.as_str(), "resumed by a newer connection");
    // The old connection's end frees nothing: the seat is the new connection's.
    server.wait_for_connections(2).await;
    bob.assert_quiet().await;
    relay_both_ways(&mut alice, &mut bob).await;
}

/// Garbage, a tampered token, a token for another room and a token signed with another key
/// are each a normal join: a new id, announced to the other member.
#[tokio::test]
async fn invalid_tokens_make_a_normal_join() {
    let server = server(Duration::from_secs(30)).await;
    let stranger = TestServer::start(|config| {
        config.resume.resume_key = Some(OTHER_KEY.to_owned());
    })
    .await;
    let mut alice = server.joined("normal").await;
    let other_room = server.joined("elsewhere").await;
    let foreign = stranger.joined("normal").await;
    let mut tampered = alice.token().as_str().to_owned();
    let last = tampered.pop().expect("not empty");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for (what, token) in [
        ("garbage", "not a token at all".to_owned()),
        ("empty", String::new()),
        ("tampered", tampered),
        ("other room", other_room.token().as_str().to_owned()),
        ("other key", foreign.token().as_str().to_owned()),
    ] {
        let mut joiner = server.client().await;
        let claimed = [alice.id(), other_room.id(), foreign.id()];
        let (you, peers) = joiner
            .join_with_token("normal", ResumeToken::new(token))
            .await;
        assert!(!claimed.contains(&you), "{what}: a new id");
        assert_eq!(peers, vec![alice.id()], "{what}");
        assert_eq!(
            joiner.recv().await,
            ServerMessage::Ready {
                room: room("normal")
            }
        );
        alice.expect_joined_by(you.clone(), "normal").await;
        joiner.send(&ClientMessage::Leave).await;
        assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: you });
    }
}

/// An expired token is a normal join with a new id, even though its seat is free and its
/// signature good.
#[tokio::test]
async fn an_expired_token_makes_a_normal_join() {
    // Tokens live 1.5 × the grace: 450 ms.
    let grace = Duration::from_millis(300);
    let server = server(grace).await;
    let mut alice = server.joined("expiry").await;
    let (alice_id, token) = (alice.id(), alice.token());
    // Left and gone: nothing holds the seat nor the id, so only the expiry refuses the token.
    alice.send(&ClientMessage::Leave).await;
    alice.assert_quiet().await;
    alice.close().await;
    server.wait_for_connections(0).await;
    tokio::time::sleep(grace * 2).await; // let the token expire
    let mut again = server.client().await;
    let (you, peers) = again.join_with_token("expiry", token).await;
    assert_ne!(you, alice_id);
    assert_eq!(peers, vec![]);
}

/// A dropped connection's departure is announced once the grace is over, not before.
#[tokio::test]
async fn a_drop_is_announced_only_after_the_grace() {
    let grace = Duration::from_secs(1);
    let server = server(grace).await;
    let (alice, mut bob) = server.pair("grace").await;
    let alice_id = alice.id();
    let dropped = Instant::now();
    alice.abort();
    // Bob's first message is the departure, and it comes no sooner than the grace after the
    // drop (the server sees the drop after it happens, so this bound is safe).
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: alice_id });
    let after = dropped.elapsed();
    assert!(
        after >= grace,
        "peer_left after {after:?}, before the grace"
    );
    bob.assert_quiet().await;
}

/// An explicit `leave` is announced at once, whatever the grace.
#[tokio::test]
async fn an_explicit_leave_is_announced_at_once() {
    let grace = Duration::from_secs(60);
    let server = server(grace).await;
    let (mut alice, mut bob) = server.pair("leaving").await;
    let left = Instant::now();
    alice.send(&ClientMessage::Leave).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerLeft { peer: alice.id() }
    );
    assert!(left.elapsed() < PATIENCE && PATIENCE < grace);
    // And the seat is free: a newcomer is admitted.
    let mut carol = server.client().await;
    let (carol_id, peers) = carol.join_with_token("leaving", alice.token()).await;
    assert_eq!(peers, vec![bob.id()], "the left seat is not held");
    assert_ne!(
        carol_id,
        alice.id(),
        "Alice's open connection still holds her id"
    );
}

/// A third person arriving while a dropped member's seat is held is refused with `full`; the
/// member then takes the seat back.
#[tokio::test]
async fn a_third_person_during_the_grace_gets_full() {
    let server = server(Duration::from_secs(30)).await;
    let (alice, mut bob) = server.pair("held").await;
    let (alice_id, token) = (alice.id(), alice.token());
    alice.abort();
    server.wait_for_connections(1).await;
    let mut carol = server.client().await;
    carol
        .send(&ClientMessage::Join {
            room: room("held"),
            resume: None,
        })
        .await;
    assert_eq!(
        carol.recv().await,
        ServerMessage::Full {
            room: room("held"),
            capacity: 2
        }
    );
    let mut alice = server.client().await;
    assert_eq!(
        alice.join_with_token("held", token).await,
        (alice_id, vec![bob.id()])
    );
    bob.assert_quiet().await;
}

/// A member is sent a fresh token every half grace; each is a new string, and the latest
/// takes the seat back after the connection drops.
#[tokio::test]
async fn members_get_fresh_tokens_that_resume() {
    let grace = Duration::from_millis(600);
    let server = server(grace).await;
    let (mut alice, mut bob) = server.pair("refresh").await;
    let first = alice.token();
    let started = Instant::now();
    let second = alice.next_refresh().await;
    let third = alice.next_refresh().await;
    // Two refreshes take at least one refresh interval (the first may come sooner after the
    // join, as the interval started with the connection).
    assert!(started.elapsed() >= grace / 2);
    assert_ne!(first, second);
    assert_ne!(second, third);
    let alice_id = alice.id();
    alice.abort();
    let mut alice = server.client().await;
    assert_eq!(
        alice.join_with_token("refresh", third).await,
        (alice_id, vec![bob.id()])
    );
    bob.assert_quiet().await;
}

/// Once the grace is over the seat is gone (`peer_left` went out), but a token still good
/// makes a normal join under the old id: announced with `peer_joined` and `ready`.
#[tokio::test]
async fn after_the_grace_a_good_token_rejoins_under_the_old_id() {
    // Tokens live 1.5 × the grace: the joined token is still good for a second after the
    // departure.
    let grace = Duration::from_secs(2);
    let server = server(grace).await;
    let (alice, mut bob) = server.pair("late").await;
    let (alice_id, token) = (alice.id(), alice.token());
    alice.abort();
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerLeft {
            peer: alice_id.clone()
        }
    );
    let mut alice = server.client().await;
    assert_eq!(
        alice.join_with_token("late", token).await,
        (alice_id.clone(), vec![bob.id()])
    );
    bob.expect_joined_by(alice_id, "late").await;
}

/// A server restarted with the same key has no seats any more, but the tokens it issued
/// before still name their ids: both members rejoin under their old ids and find each other
/// again, announced as usual.
#[tokio::test]
async fn a_restart_with_the_same_key_keeps_the_ids() {
    let before = server(Duration::from_secs(30)).await;
    let (alice, bob) = before.pair("restart").await;
    let (alice_id, alice_token) = (alice.id(), alice.token());
    let (bob_id, bob_token) = (bob.id(), bob.token());
    before.shutdown().await;
    let after = server(Duration::from_secs(30)).await;
    let mut alice = after.client().await;
    assert_eq!(
        alice.join_with_token("restart", alice_token).await,
        (alice_id.clone(), vec![])
    );
    let mut bob = after.client().await;
    assert_eq!(
        bob.join_with_token("restart", bob_token).await,
        (bob_id.clone(), vec![alice_id])
    );
    assert_eq!(
        bob.recv().await,
        ServerMessage::Ready {
            room: room("restart")
        }
    );
    alice.expect_joined_by(bob_id, "restart").await;
    relay_both_ways(&mut alice, &mut bob).await;
}

/// A server restarted with another key (as one without `--resume-key` is) cannot verify the
/// old tokens: new ids, a normal join.
#[tokio::test]
async fn a_restart_with_another_key_gives_new_ids() {
    let before = server(Duration::from_secs(30)).await;
    let alice = before.joined("rekeyed").await;
    let (alice_id, token) = (alice.id(), alice.token());
    before.shutdown().await;
    let after = TestServer::start(|config| {
        config.resume.resume_key = Some(OTHER_KEY.to_owned());
    })
    .await;
    let mut alice = after.client().await;
    let (you, peers) = alice.join_with_token("rekeyed", token).await;
    assert_ne!(you, alice_id);
    assert_eq!(peers, vec![]);
}
