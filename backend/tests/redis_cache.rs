//! The per-instance membership cache of the Redis store, at its edges: a relay to a member of
//! the same instance does not wait for Redis, and the copy is never trusted when it may be
//! stale (a join or leave elsewhere, a resume on a third instance, a Redis restart, an
//! announcement that never came), nor is a relayed message delivered in another room than the
//! one it was sent in. See "The membership cache" in `docs/REDIS.md`.

mod common;

use std::time::Duration;

use common::{PATIENCE, TestServer, assert_quiet_across, cluster_with, pair_across};
use shared::{ClientMessage, ErrorCode, ServerMessage};
use tokio::time::Instant;

/// An offer without `to` carrying `sdp`.
fn offer(sdp: &str) -> ClientMessage {
    ClientMessage::Offer {
        sdp: sdp.into(),
        to: None,
    }
}

/// A resume grace far longer than [`PATIENCE`]: token refreshes (every half grace) never come
/// during a test, so a wait for a message that never comes ends in a failure, not a hang.
const GRACE: Duration = Duration::from_secs(60);

/// Rooms of `capacity`, and [`GRACE`].
fn rooms_of(capacity: u16) -> impl Fn(&mut backend::config::Config) + Copy {
    move |config| {
        config.limits.room_capacity = capacity;
        config.resume.resume_grace = GRACE;
    }
}

/// `sender` relays an offer to the other member of a room of two, and `receiver` gets it:
/// the first such relay reads the room from Redis (filling the copy), the later ones use it.
async fn relay_twice(sender: &mut common::Client, receiver: &mut common::Client) {
    for sdp in ["fills the copy", "uses the copy"] {
        sender.send(&offer(sdp)).await;
        assert_eq!(
            receiver.recv().await,
            ServerMessage::Offer {
                sdp: sdp.into(),
                from: sender.id(),
                to: None
            }
        );
    }
}

/// While Redis answers nothing at all (`CLIENT PAUSE`), a relay between two members of the
/// same instance is still delivered, without an error: it is decided on the instance's copy
/// of the room. (Asking Redis would end in `unavailable` after the timeout.)
#[tokio::test]
async fn a_relay_to_a_member_here_does_not_wait_for_redis() {
    let (redis, one, _two) = cluster_with(|config| {
        rooms_of(2)(config);
        config.redis.redis_expiry = Duration::from_secs(30);
        config.redis.redis_timeout = Duration::from_secs(5);
    })
    .await;
    let (mut alice, mut dave) = one.pair("paused").await;
    relay_twice(&mut alice, &mut dave).await;
    redis
        .query::<()>(redis::cmd("CLIENT").arg("PAUSE").arg(60_000).arg("ALL"))
        .await;
    alice.send(&offer("while Redis is paused")).await;
    assert_eq!(
        dave.recv().await,
        ServerMessage::Offer {
            sdp: "while Redis is paused".into(),
            from: alice.id(),
            to: None
        }
    );
    alice.assert_quiet().await;
}

/// Scripts Redis has run (`EVALSHA` calls since it started).
async fn scripts_run(redis: &common::RedisServer) -> u64 {
    let info: String = redis.query(redis::cmd("INFO").arg("commandstats")).await;
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().expect("a count"))
}

/// The sweep's reading of a room becomes its copy when the prune removed nobody: two members
/// of one instance who never relayed (so no relay script filled the copy) relay to each other
/// while Redis answers nothing, once a sweep has visited their room, without an error.
#[tokio::test]
async fn a_sweep_that_removed_nobody_refills_the_copy() {
    let (redis, one, _two) = cluster_with(|config| {
        rooms_of(2)(config);
        // A sweep every second; a heartbeat's proof of life lasts 2.7 s.
        config.redis.redis_expiry = Duration::from_secs(3);
        config.redis.redis_timeout = Duration::from_secs(1);
    })
    .await;
    let (mut alice, mut dave) = one.pair("swept").await;
    // The joins ran; the only script of this instance from now on is the sweep's prune of the
    // room (one a sweep). Two more mean the answer of the first reached the instance.
    let joined = scripts_run(&redis).await;
    let deadline = Instant::now() + PATIENCE;
    let mut seen = scripts_run(&redis).await;
    loop {
        assert!(Instant::now() < deadline, "no sweep visited the room");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = scripts_run(&redis).await;
        // Not in the middle of a sweep: no prune ran for 100 ms, so the last one's answer
        // was handled.
        if now >= joined + 2 && now == seen {
            break;
        }
        seen = now;
    }
    redis
        .query::<()>(redis::cmd("CLIENT").arg("PAUSE").arg(60_000).arg("ALL"))
        .await;
    alice.send(&offer("decided on the sweep's reading")).await;
    assert_eq!(
        dave.recv().await,
        ServerMessage::Offer {
            sdp: "decided on the sweep's reading".into(),
            from: alice.id(),
            to: None
        }
    );
    alice.assert_quiet().await;
}

/// A member joining on another instance counts for a relay as soon as its `peer_joined` has
/// arrived: a relay without `to` is then refused (`recipient_required`, the room holds three)
/// instead of reaching the other old member, and a relay to the newcomer reaches it.
#[tokio::test]
async fn a_member_joining_elsewhere_counts_once_its_peer_joined_arrived() {
    let (_redis, one, two) = cluster_with(rooms_of(3)).await;
    let (mut alice, mut bob) = pair_across(&one, &two, "growing").await;
    relay_twice(&mut alice, &mut bob).await;
    let mut carol = two.joined("growing").await;
    for old in [&mut alice, &mut bob] {
        assert_eq!(
            old.recv().await,
            ServerMessage::PeerJoined { peer: carol.id() }
        );
    }
    alice.send(&offer("to whom?")).await;
    alice.expect_error(ErrorCode::RecipientRequired).await;
    let to_carol = ClientMessage::Offer {
        sdp: "to the newcomer".into(),
        to: Some(carol.id()),
    };
    alice.send(&to_carol).await;
    assert_eq!(
        carol.recv().await,
        ServerMessage::Offer {
            sdp: "to the newcomer".into(),
            from: alice.id(),
            to: Some(carol.id())
        }
    );
    // Bob got neither: the marker from Alice's instance is the next thing he reads.
    assert_quiet_across(&mut alice, &mut bob).await;
}

/// Once a member's `peer_left` has arrived, relays to it are refused (`no_peer`), even after
/// it joined another room with somebody of the sender's instance, and nothing reaches it.
#[tokio::test]
async fn a_member_who_left_is_never_relayed_to() {
    let (_redis, one, two) = cluster_with(rooms_of(2)).await;
    let (mut alice, mut bob) = pair_across(&one, &two, "before").await;
    relay_twice(&mut alice, &mut bob).await;
    bob.send(&ClientMessage::Leave).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: bob.id() }
    );
    bob.join("after").await;
    let mut frank = one.joined("after").await;
    bob.expect_joined_by(frank.id(), "after").await;
    alice.send(&offer("to nobody")).await;
    alice.expect_error(ErrorCode::NoPeer).await;
    // Frank's marker leaves Alice's instance after anything Alice's relay could have sent.
    assert_quiet_across(&mut frank, &mut bob).await;
}

/// A relayed message names its room on the bus, and the recipient's instance delivers it only
/// in that room: a message relayed in a room its recipient has left (decided on a copy that
/// was a moment old) never reaches it in the room it is in now.
#[tokio::test]
async fn a_relayed_message_is_delivered_only_in_its_room() {
    let (redis, one, two) = cluster_with(rooms_of(2)).await;
    let (alice, mut bob) = pair_across(&one, &two, "old-room").await;
    let instance = redis.instance_of("old-room", &bob.id()).await;
    bob.send(&ClientMessage::Leave).await;
    bob.join("new-room").await;
    let mut frank = one.joined("new-room").await;
    bob.expect_joined_by(frank.id(), "new-room").await;
    // What Alice's instance would publish for a relay decided before it heard `peer_left`.
    let stale = serde_json::to_string(&ServerMessage::Offer {
        sdp: "from the old room".into(),
        from: alice.id(),
        to: None,
    })
    .expect("serializes");
    let published: i64 = redis
        .query(
            redis::cmd("PUBLISH")
                .arg(format!("signal:{instance}"))
                .arg(format!("{} @old-room {stale}", bob.id())),
        )
        .await;
    assert_eq!(published, 1, "Bob's instance is subscribed");
    // Frank's marker comes from another connection to Redis; a ping to Bob's instance after
    // it proves the stale message, published first on the same channel, was not delivered.
    assert_quiet_across(&mut frank, &mut bob).await;
}

/// After Redis restarted, no copy read before is trusted: the room as Redis now holds it
/// decides (here Dave's entry is missing, as if his leave had been announced while this
/// instance was not subscribed), so Alice's relay is refused (`no_peer`) and Dave gets
/// nothing. A long expiry keeps heartbeats and sweeps out of the way.
#[tokio::test]
async fn after_a_redis_restart_the_copy_is_not_trusted() {
    let (mut redis, one, _two) = cluster_with(|config| {
        rooms_of(2)(config);
        config.redis.redis_expiry = Duration::from_secs(30);
    })
    .await;
    let (mut alice, mut dave) = one.pair("restarted").await;
    relay_twice(&mut alice, &mut dave).await;
    let instance = redis.instance_of("restarted", &alice.id()).await;
    redis.restart().await;
    // The instance has noticed: it is subscribed to the new, empty Redis.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, subscribers): (String, i64) = redis
            .query(
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(format!("signal:{instance}")),
            )
            .await;
        if subscribers == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never subscribed again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Redis holds only Alice now, and this instance's registration (so nothing is put back).
    redis
        .query::<()>(
            redis::cmd("RPUSH")
                .arg("room:restarted")
                .arg(format!("{} {instance}", alice.id())),
        )
        .await;
    redis
        .query::<()>(
            redis::cmd("SET")
                .arg(format!("registered:{instance}"))
                .arg(1),
        )
        .await;
    one.wait_for_health(200).await;
    alice.send(&offer("after the restart")).await;
    alice.expect_error(ErrorCode::NoPeer).await;
    dave.assert_quiet().await;
}

/// A change nobody announced (an entry added behind the instances' backs, as when a
/// `peer_joined` publish is lost) is seen within one sweep period: a relay without `to` is
/// refused once the room holds three.
#[tokio::test]
async fn an_unannounced_change_is_seen_within_a_sweep() {
    let (redis, one, two) = cluster_with(rooms_of(3)).await;
    let (mut alice, mut bob) = pair_across(&one, &two, "silent").await;
    relay_twice(&mut alice, &mut bob).await;
    let instance = redis.instance_of("silent", &bob.id()).await;
    redis
        .query::<()>(
            redis::cmd("RPUSH")
                .arg("room:silent")
                .arg(format!("ghost {instance}")),
        )
        .await;
    let deadline = Instant::now() + common::REDIS_EXPIRY + PATIENCE;
    loop {
        alice.send(&offer("still two?")).await;
        match alice.read_until_pong().await.as_slice() {
            [ServerMessage::Error { code, .. }] if *code == ErrorCode::RecipientRequired => break,
            [] => {
                assert!(matches!(bob.recv().await, ServerMessage::Offer { .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "the copy was never refreshed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A seat resumed on a third instance: the instance of the other member stops sending to the
/// seat's old instance at once (the take script tells it the room changed), so the first
/// relay after the resume reaches the new connection.
#[tokio::test]
async fn a_seat_resumed_on_a_third_instance_is_relayed_to_there() {
    let configure = |config: &mut backend::config::Config| {
        rooms_of(2)(config);
        config.resume.resume_key = Some("shared-resume-key-for-every-instance-0123".to_owned());
    };
    let (redis, one, two) = cluster_with(configure).await;
    let three = TestServer::with_redis(&redis, configure).await;
    let (mut alice, bob) = pair_across(&one, &two, "moving").await;
    let mut bob_line = bob;
    relay_twice(&mut alice, &mut bob_line).await;
    let (bob_id, token) = (bob_line.id(), bob_line.token());
    bob_line.abort();
    two.wait_for_connections(0).await;
    let mut bob = three.client().await;
    let (you, peers) = bob.join_with_token("moving", token).await;
    assert_eq!((you, peers), (bob_id.clone(), vec![alice.id()]));
    alice.send(&offer("to the new connection")).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Offer {
            sdp: "to the new connection".into(),
            from: alice.id(),
            to: None
        }
    );
}
