//! Resuming seats with several instances sharing rooms through a real Redis: a page may
//! reconnect to another instance than the one it lost, and a seat is held in Redis during the
//! grace. Also the join whose answer times out while Redis still carries it out (it must not
//! leave a seat behind, nor add the same person twice on a retry).

mod common;

use std::time::Duration;

use common::{
    PATIENCE, RedisServer, TestServer, assert_quiet_across, cluster_with, pair_across, room,
};
use shared::{ClientMessage, ErrorCode, ServerMessage};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const KEY: &str = "shared-resume-key-for-every-instance-0123";

/// Redis plus two instances using it, with the same resume key and `grace`.
async fn cluster(grace: Duration) -> (RedisServer, TestServer, TestServer) {
    cluster_with(move |config: &mut backend::config::Config| {
        // Rooms of two: a held seat keeps a third person out.
        config.limits.room_capacity = 2;
        config.resume.resume_key = Some(KEY.to_owned());
        config.resume.resume_grace = grace;
    })
    .await
}

/// A command connection to `redis`, for looking at (or pausing) it from the test.
async fn inspect(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

/// The entries of `room` in Redis (`"{peer} {instance}"`), as they are.
async fn entries(redis: &mut redis::aio::MultiplexedConnection, name: &str) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(format!("room:{name}"))
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .expect("LRANGE")
}

/// Polls the entries of `room` until `done` holds, within [`PATIENCE`]; returns them.
async fn wait_for_entries(
    redis: &mut redis::aio::MultiplexedConnection,
    name: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = entries(redis, name).await;
        if done(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "entries of {name}: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A page that lost its connection to one instance reconnects to the other with its token:
/// same id, the other member (on the second instance) hears nothing, during or after the
/// grace, and relays work both ways; the first instance forgets the seat.
#[tokio::test]
async fn resuming_on_another_instance_takes_the_seat_silently() {
    let grace = Duration::from_millis(800);
    let (_redis, one, two) = cluster(grace).await;
    let (alice, mut bob) = pair_across(&one, &two, "moving").await;
    let (alice_id, token) = (alice.id(), alice.token());
    alice.abort();
    one.wait_for_connections(0).await;

    let mut alice = two.client().await;
    let (you, peers) = alice.join_with_token("moving", token).await;
    assert_eq!(you, alice_id);
    assert_eq!(peers, vec![bob.id()]);
    alice.assert_quiet().await;
    assert_quiet_across(&mut alice, &mut bob).await;
    // The first instance's hold ends after the grace; it must find the seat moved and say
    // nothing. No event tells that it did not speak, so wait the grace out.
    tokio::time::sleep(grace * 2).await;
    assert_quiet_across(&mut alice, &mut bob).await;
    assert_quiet_across(&mut bob, &mut alice).await;
    one.wait_for_rooms(0).await;
}

/// When the old connection on the first instance is still open, a resume on the second
/// closes it with 4001; the other member hears nothing.
#[tokio::test]
async fn a_takeover_across_instances_closes_the_old_connection() {
    let (_redis, one, two) = cluster(Duration::from_secs(30)).await;
    let (mut old, mut bob) = pair_across(&one, &two, "taken").await;
    let mut alice = two.client().await;
    let (you, peers) = alice.join_with_token("taken", old.token()).await;
    assert_eq!(you, old.id());
    assert_eq!(peers, vec![bob.id()]);
    let frame = old.close_frame().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Library(4001));
    assert_eq!(frame.reason.as_str(), "resumed by a newer connection");
    one.wait_for_connections(0).await;
    one.wait_for_rooms(0).await;
    assert_quiet_across(&mut alice, &mut bob).await;
    assert_quiet_across(&mut bob, &mut alice).await;
}

/// A dropped member's seat is held in Redis for the grace: a third person on the other
/// instance is told `full`; `peer_left` reaches the other member no sooner than the grace;
/// then the seat is free.
#[tokio::test]
async fn a_dropped_seat_is_held_across_instances_for_the_grace() {
    let grace = Duration::from_secs(1);
    let (_redis, one, two) = cluster(grace).await;
    let (alice, mut bob) = pair_across(&one, &two, "held").await;
    let alice_id = alice.id();
    let dropped = Instant::now();
    alice.abort();
    one.wait_for_connections(0).await;
    let mut carol = two.client().await;
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
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: alice_id });
    let after = dropped.elapsed();
    assert!(
        after >= grace,
        "peer_left after {after:?}, before the grace"
    );
    assert_eq!(carol.join("held").await, vec![bob.id()]);
}

/// Pauses every Redis client for `pause` (commands wait, then run): a join sent meanwhile
/// times out on the instance while Redis still carries it out afterwards.
async fn pause_redis(redis: &mut redis::aio::MultiplexedConnection, pause: Duration) {
    let millis = u64::try_from(pause.as_millis()).expect("short");
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(millis)
        .arg("ALL")
        .query_async(redis)
        .await
        .expect("CLIENT PAUSE");
}

/// A join whose answer timed out (`unavailable`) but which Redis carried out, retried by the
/// same connection: admitted once, announced once, one entry in Redis.
#[tokio::test]
async fn a_retried_join_after_a_timeout_adds_the_peer_once() {
    let (redis, one, two) = cluster(Duration::from_secs(30)).await;
    let mut inspector = inspect(&redis).await;
    let mut bob = two.joined("flaky").await;
    let mut alice = one.client().await;
    // Longer than the instance's Redis timeout (500 ms): the join times out, then runs.
    pause_redis(&mut inspector, Duration::from_millis(1200)).await;
    alice
        .send(&ClientMessage::Join {
            room: room("flaky"),
            resume: None,
        })
        .await;
    alice.expect_error(ErrorCode::Unavailable).await;
    // The join did happen in Redis: two entries, Bob's and Alice's.
    let before = wait_for_entries(&mut inspector, "flaky", |found| found.len() == 2).await;
    // Alice tries again, as a page does: admitted, with Bob, once.
    assert_eq!(alice.join("flaky").await, vec![bob.id()]);
    assert!(
        before
            .iter()
            .any(|entry| entry.starts_with(&format!("{} ", alice.id()))),
        "the timed-out join was Alice's: {before:?}"
    );
    bob.expect_joined_by(alice.id(), "flaky").await;
    assert_eq!(
        entries(&mut inspector, "flaky").await,
        before,
        "not added twice"
    );
    assert_quiet_across(&mut alice, &mut bob).await;
    assert_quiet_across(&mut bob, &mut alice).await;
}

/// A join whose answer timed out but which Redis carried out leaves no seat behind once its
/// connection ends: the entry is removed, and a newcomer is admitted.
#[tokio::test]
async fn a_timed_out_join_is_undone_when_its_connection_ends() {
    let (redis, one, two) = cluster(Duration::from_secs(30)).await;
    let mut inspector = inspect(&redis).await;
    let mut bob = two.joined("orphan").await;
    let mut alice = one.client().await;
    pause_redis(&mut inspector, Duration::from_millis(1200)).await;
    alice
        .send(&ClientMessage::Join {
            room: room("orphan"),
            resume: None,
        })
        .await;
    alice.expect_error(ErrorCode::Unavailable).await;
    let taken = wait_for_entries(&mut inspector, "orphan", |found| found.len() == 2).await;
    let orphan = taken
        .iter()
        .find(|entry| !entry.starts_with(&format!("{} ", bob.id())))
        .and_then(|entry| entry.split(' ').next())
        .expect("the orphan seat")
        .to_owned();
    // The room looks full to everybody while the orphan seat stands.
    let mut carol = two.client().await;
    carol
        .send(&ClientMessage::Join {
            room: room("orphan"),
            resume: None,
        })
        .await;
    assert!(matches!(carol.recv().await, ServerMessage::Full { .. }));
    // Alice gives up and closes: the seat her join took is freed, and Bob (whose room listed
    // her) is told.
    alice.close().await;
    wait_for_entries(&mut inspector, "orphan", |found| found.len() == 1).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerLeft {
            peer: shared::PeerId::new(orphan)
        }
    );
    assert_eq!(carol.join("orphan").await, vec![bob.id()]);
}
