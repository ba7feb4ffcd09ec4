//! Several instances sharing rooms through a real Redis: each case of the single-instance
//! suite with the two members on different instances, plus what only a shared store has
//! (atomic capacity across instances, crashed instances, Redis restarts).

mod common;

use std::time::Duration;

use common::{
    Client, LatencyProxy, REDIS_EXPIRY, REDIS_TIMEOUT, RedisServer, TestServer,
    assert_quiet_across, cluster_with, group_across, pair_across, relayed, relays, room,
    shrink_to_two_refusing_unaddressed,
};
use shared::{ClientMessage, ErrorCode, IceCandidate, ServerMessage};
use tokio::time::Instant;

/// Added to a deadline that follows from the configuration, for a loaded machine; far below
/// what a broken mechanism takes (it never delivers at all in these tests).
const SLACK: Duration = Duration::from_secs(2);

/// Redis plus two instances using it, with rooms of two (the two-person call, where a relay
/// may leave out `to`).
async fn cluster() -> (RedisServer, TestServer, TestServer) {
    cluster_with(|config| config.limits.room_capacity = 2).await
}

/// Joiners on different instances see each other: `joined` with the first one's id,
/// `peer_joined`, and `ready` for both; a third on either instance is told the room is full.
#[tokio::test]
async fn join_ready_and_full_across_instances() {
    let (_redis, one, two) = cluster().await;
    let mut alice = one.client().await;
    assert_eq!(alice.join("blue-fox").await, vec![]);
    let mut bob = two.client().await;
    assert_eq!(bob.join("blue-fox").await, vec![alice.id()]);
    assert_ne!(alice.id(), bob.id());
    alice.expect_joined_by(bob.id(), "blue-fox").await;
    for server in [&one, &two] {
        let mut carol = server.client().await;
        carol
            .send(&ClientMessage::Join {
                room: room("blue-fox"),
                resume: None,
            })
            .await;
        assert_eq!(
            carol.recv().await,
            ServerMessage::Full {
                room: room("blue-fox"),
                capacity: 2
            }
        );
    }
    assert_quiet_across(&mut bob, &mut alice).await;
    assert_quiet_across(&mut alice, &mut bob).await;
}

/// Offer, answer (with `to`) and candidates cross instances unchanged, with `from`, in order.
#[tokio::test]
async fn relays_offer_answer_and_candidates_across_instances() {
    let (_redis, one, two) = cluster().await;
    let (mut alice, mut bob) = pair_across(&one, &two, "relay").await;
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
    // A burst of candidates (within the rate limit) keeps its order.
    let candidates: Vec<Option<IceCandidate>> = (0..40)
        .map(|n| {
            Some(IceCandidate {
                candidate: Some(format!("candidate:{n} 1 udp 1 127.0.0.1 {n} typ host")),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            })
        })
        .chain([None])
        .collect();
    for candidate in &candidates {
        bob.send(&ClientMessage::Candidate {
            candidate: candidate.clone(),
            to: None,
        })
        .await;
    }
    for candidate in candidates {
        assert_eq!(
            alice.recv().await,
            ServerMessage::Candidate {
                candidate,
                from: bob.id(),
                to: None
            }
        );
    }
    assert_quiet_across(&mut bob, &mut alice).await;
    assert_quiet_across(&mut alice, &mut bob).await;
}

/// A room of four spread over both instances (two members on each): every member sends each
/// other member an offer, an answer, a candidate and a hang-up addressed with `to`; each
/// arrives, unchanged and with `from`, at the addressee only, on whichever instance it is. The
/// others get nothing: a marker relayed from the other instance (the same pub/sub path, which
/// keeps order) and a ping prove that nothing reached them.
#[tokio::test]
async fn addressed_relays_in_a_room_of_four_across_instances() {
    let (_redis, one, two) = cluster_with(|_| {}).await;
    let mut members = group_across(&[&one, &two], "mesh", 4).await;
    for sender in 0..members.len() {
        for addressee in (0..members.len()).filter(|&index| index != sender) {
            let (from, to) = (members[sender].id(), members[addressee].id());
            for message in relays(Some(to.clone()), &format!("{sender}->{addressee}")) {
                members[sender].send(&message).await;
                assert_eq!(
                    members[addressee].recv().await,
                    relayed(&message, from.clone())
                );
            }
        }
    }
    // Members 0 and 2 are on instance one, 1 and 3 on instance two: each gets a marker from a
    // member of each instance, after everything those instances relayed.
    for (receiver, senders) in [(0, [1, 2]), (1, [0, 3]), (2, [3, 0]), (3, [2, 1])] {
        for sender in senders {
            let [sender, receiver] = members
                .get_disjoint_mut([sender, receiver])
                .expect("two members");
            assert_quiet_across(sender, receiver).await;
        }
    }
}

/// Without `to`, a relay is refused with `recipient_required` in a room of four and in a room
/// of three spread over both instances, and reaches nobody; back to two (the others on the
/// other instance gone), it is allowed and reaches the other member.
#[tokio::test]
async fn a_relay_without_to_needs_a_room_of_two_across_instances() {
    let (_redis, one, two) = cluster_with(|_| {}).await;
    let mut members = group_across(&[&one, &two], "who", 4).await;
    shrink_to_two_refusing_unaddressed(&mut members, false).await;
    let [first, second] = &mut members[..] else {
        panic!("two remain");
    };
    assert_quiet_across(first, second).await;
    assert_quiet_across(second, first).await;
}

/// Relaying while alone is `no_peer`; naming somebody who is not in the room is
/// `unknown_peer`, even when that somebody is connected to the other instance.
#[tokio::test]
async fn no_peer_and_unknown_peer_across_instances() {
    let (_redis, one, two) = cluster().await;
    let mut alice = one.joined("lonely").await;
    alice
        .send(&ClientMessage::Offer {
            sdp: "v=0".into(),
            to: None,
        })
        .await;
    alice.expect_error(ErrorCode::NoPeer).await;
    let (mut x, mut stranger) = pair_across(&one, &two, "elsewhere").await;
    let mut bob = two.joined("lonely").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    assert!(matches!(alice.recv().await, ServerMessage::Ready { .. }));
    alice
        .send(&ClientMessage::Answer {
            sdp: "v=0".into(),
            to: Some(stranger.id()),
        })
        .await;
    alice.expect_error(ErrorCode::UnknownPeer).await;
    // Nothing reached the stranger (on instance two), nor anything else Alice.
    assert_quiet_across(&mut x, &mut stranger).await;
    assert_quiet_across(&mut bob, &mut alice).await;
}

/// `leave` on one instance is announced on the other; the leaver may join again.
#[tokio::test]
async fn leave_is_announced_across_instances() {
    let (_redis, one, two) = cluster().await;
    let (mut alice, mut bob) = pair_across(&one, &two, "door").await;
    bob.send(&ClientMessage::Leave).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: bob.id() }
    );
    bob.assert_quiet().await;
    assert_eq!(bob.join("door").await, vec![alice.id()]);
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready { room: room("door") }
    );
    // Nothing else, such as a second `peer_left`, was still on its way to either.
    assert_quiet_across(&mut bob, &mut alice).await;
    assert_quiet_across(&mut alice, &mut bob).await;
}

/// Closing the socket, or dropping it, is announced across instances (once the grace is over),
/// and the seat is free.
#[tokio::test]
async fn disconnect_is_announced_across_instances() {
    let (_redis, one, two) = cluster().await;
    let (mut alice, bob) = pair_across(&one, &two, "closing").await;
    let bob_id = bob.id();
    bob.close().await;
    assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: bob_id });
    let carol = two.joined("closing").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    assert!(matches!(alice.recv().await, ServerMessage::Ready { .. }));
    let carol_id = carol.id();
    carol.abort();
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: carol_id }
    );
    // Close; once the grace is over the room has emptied: a newcomer on the other instance
    // is alone in it.
    let _ = alice.socket().close(None).await;
    let _ = alice.closed().await;
    two.join_alone("closing").await;
}

/// 100 people joining one room at once through two instances, with rooms of `capacity`:
/// exactly `capacity` are admitted, the rest are told it is full (of `capacity`). Several
/// worker threads, so the joins really run in parallel.
async fn concurrent_joins_admit_exactly(capacity: u16) {
    const PEOPLE: usize = 100;
    let (_redis, one, two) =
        cluster_with(move |config| config.limits.room_capacity = capacity).await;
    let mut clients = Vec::new();
    for index in 0..PEOPLE {
        let server = if index % 2 == 0 { &one } else { &two };
        clients.push(server.client().await);
    }
    let capacity = usize::from(capacity);
    // Everybody is connected before anybody joins, and then they all join at once.
    let (admissions, _clients) = common::stampede(clients, "crowded", capacity).await;
    assert_eq!(
        admissions,
        (capacity, PEOPLE - capacity),
        "admitted, told full"
    );
}

/// [`concurrent_joins_admit_exactly`] two.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_across_instances_admit_exactly_two() {
    concurrent_joins_admit_exactly(2).await;
}

/// [`concurrent_joins_admit_exactly`] four (the default).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_across_instances_admit_exactly_four() {
    concurrent_joins_admit_exactly(4).await;
}

/// [`concurrent_joins_admit_exactly`] eight (the most).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_across_instances_admit_exactly_eight() {
    concurrent_joins_admit_exactly(8).await;
}

/// An instance that dies without a word (no leave, no heartbeat): the members it held are
/// announced `peer_left` to their peers on the other instance within the expiry.
#[tokio::test]
async fn members_of_a_crashed_instance_leave_within_the_expiry() {
    let (_redis, one, two) = cluster().await;
    let (alice, mut bob) = pair_across(&one, &two, "crash").await;
    let alice_id = alice.id();
    // The crashed instance's last heartbeat was before this instant, so its key expires at
    // most an expiry later; the survivor's own heartbeat (every third of the expiry) then
    // finds the member. Nothing else in this test could announce it.
    let deadline = Instant::now() + REDIS_EXPIRY + REDIS_EXPIRY / 3 + SLACK;
    // Stop heart-beating and announcing without a goodbye: a crash, as other instances see it.
    one.state.hub.close();
    let told = tokio::time::timeout_at(deadline, bob.recv())
        .await
        .expect("peer_left within the expiry");
    assert_eq!(told, ServerMessage::PeerLeft { peer: alice_id });
    // The seat is free again.
    let mut carol = two.client().await;
    assert_eq!(carol.join("crash").await, vec![bob.id()]);
    drop(alice);
}

/// While Redis is down, joins are refused with `unavailable` (promptly) and `/healthz` says
/// so with 503; once Redis is back, the same instances recover by themselves.
#[tokio::test]
async fn redis_restart_refuses_joins_then_recovers() {
    let (mut redis, one, two) = cluster().await;
    let health = one.wait_for_health(200).await;
    assert_eq!(health["redis"], "up");
    redis.stop();
    let mut alice = one.client().await;
    // At most one Redis call times out before the refusal (the subscriber may not have seen
    // the outage yet); a join waiting for Redis to come back would miss this by far.
    let deadline = Instant::now() + REDIS_TIMEOUT + SLACK;
    alice
        .send(&ClientMessage::Join {
            room: room("outage"),
            resume: None,
        })
        .await;
    tokio::time::timeout_at(deadline, alice.expect_error(ErrorCode::Unavailable))
        .await
        .expect("refused promptly");
    for server in [&one, &two] {
        let health = server.wait_for_health(503).await;
        assert_eq!(health["redis"], "down");
        assert_eq!(health["status"], "degraded");
    }
    redis.restart().await;
    for server in [&one, &two] {
        let health = server.wait_for_health(200).await;
        assert_eq!(health["redis"], "up");
    }
    alice.join("outage").await;
    let mut bob = two.joined("outage").await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready {
            room: room("outage")
        }
    );
    alice
        .send(&ClientMessage::Offer {
            sdp: "v=0".into(),
            to: None,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Offer { .. }));
}

/// An instance with many rooms behind a slow link to Redis (120 ms per round trip), so that
/// one sweep over its rooms takes more than twice the expiry: its liveness key never expires
/// meanwhile (it is refreshed by a task of its own), so the other instance never takes its
/// members for dead: no `peer_left`, and they still relay.
#[tokio::test]
async fn a_slow_sweep_never_lets_the_liveness_key_expire() {
    const ROOMS: usize = 30;
    let redis = RedisServer::start().await;
    let proxy = LatencyProxy::start(redis.port, Duration::from_millis(60)).await;
    // Thirty joins at once over the slow link queue behind each other: under a busy machine
    // they outlasted the tests' usual 500 ms Redis timeout and were refused `unavailable`
    // (a flake that had nothing to do with the liveness key this test is about).
    let slow = TestServer::with_redis_url(proxy.url(), |config| {
        config.redis.redis_timeout = Duration::from_secs(3);
    })
    .await;
    let fast = TestServer::with_redis(&redis, |_| {}).await;
    let slow = &slow;
    let mut members = futures_util::future::join_all(
        (0..ROOMS).map(|index| async move { slow.joined(&format!("busy-{index}")).await }),
    )
    .await;
    let mut bob = fast.joined("busy-0").await;
    let alice = &mut members[0];
    alice.expect_joined_by(bob.id(), "busy-0").await;
    let instance = redis.instance_of("busy-0", &alice.id()).await;
    // 30 rooms at 120 ms each: every sweep takes 3.6 s, the expiry is 1.5 s. Watch the key
    // through several sweeps; the old heartbeat, which swept between two refreshes, lost it
    // within the first.
    let watched = Instant::now();
    while watched.elapsed() < 4 * REDIS_EXPIRY + REDIS_EXPIRY / 3 {
        let alive: bool = redis
            .query(redis::cmd("EXISTS").arg(format!("instance:{instance}")))
            .await;
        assert!(
            alive,
            "liveness key expired {} ms into the watch",
            watched.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Bob was told nothing (no `peer_left`), and the two still reach each other.
    assert_quiet_across(alice, &mut bob).await;
    assert_quiet_across(&mut bob, alice).await;
}

/// A relay from somebody no longer in the room (removed by an instance that took theirs for
/// dead) is refused with `not_in_room` and reaches nobody, on either instance.
#[tokio::test]
async fn a_relay_from_a_removed_member_is_refused() {
    let (redis, one, two) = cluster_with(|config| config.limits.room_capacity = 3).await;
    let (mut alice, mut bob) = pair_across(&one, &two, "removed").await;
    let mut dave = one.joined("removed").await;
    for other in [&mut alice, &mut bob] {
        assert_eq!(
            other.recv().await,
            ServerMessage::PeerJoined { peer: dave.id() }
        );
    }
    let instance = redis.instance_of("removed", &alice.id()).await;
    let removed: i64 = redis
        .query(
            redis::cmd("LREM")
                .arg("room:removed")
                .arg(0)
                .arg(format!("{} {instance}", alice.id())),
        )
        .await;
    assert_eq!(removed, 1);
    alice
        .send(&ClientMessage::Offer {
            sdp: "from a ghost".into(),
            to: None,
        })
        .await;
    alice.expect_error(ErrorCode::NotInRoom).await;
    // Neither the member on the same instance nor the one on the other got the offer.
    dave.assert_quiet().await;
    assert_quiet_across(&mut dave, &mut bob).await;
    assert_eq!(redis.room_entries("removed").await.len(), 2, "not put back");
}

/// After Redis lost its data, the members each instance holds are back in their room within
/// a heartbeat: they reach each other again, capacity holds, and nobody was told `peer_left`.
/// `deadline` bounds the wait for both entries to be back (polled: nothing tells a client).
async fn members_come_back(
    (redis, one, two): (&RedisServer, &TestServer, &TestServer),
    (alice, bob): (&mut Client, &mut Client),
    name: &str,
    lost: Instant,
    deadline: Instant,
) {
    let mut wanted = vec![alice.id().to_string(), bob.id().to_string()];
    wanted.sort();
    loop {
        let entries = redis.room_entries(name).await;
        let mut found: Vec<String> = entries
            .iter()
            .filter_map(|entry| entry.split(' ').next())
            .map(str::to_owned)
            .collect();
        found.sort();
        if found == wanted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "members not registered again in time: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "both members registered again {} ms after the loss",
        lost.elapsed().as_millis()
    );
    assert_quiet_across(alice, bob).await;
    assert_quiet_across(bob, alice).await;
    for server in [one, two] {
        let mut carol = server.client().await;
        carol
            .send(&ClientMessage::Join {
                room: room(name),
                resume: None,
            })
            .await;
        assert_eq!(
            carol.recv().await,
            ServerMessage::Full {
                room: room(name),
                capacity: 2
            }
        );
    }
}

/// `FLUSHALL` mid-call: both instances put their members back (see `members_come_back`).
#[tokio::test]
async fn members_are_registered_again_after_flushall() {
    let (redis, one, two) = cluster().await;
    let (mut alice, mut bob) = pair_across(&one, &two, "amnesia").await;
    let lost = Instant::now();
    redis.query::<()>(&redis::cmd("FLUSHALL")).await;
    // Each instance notices at its next heartbeat (every third of the expiry).
    let deadline = lost + REDIS_EXPIRY / 3 + SLACK;
    members_come_back(
        (&redis, &one, &two),
        (&mut alice, &mut bob),
        "amnesia",
        lost,
        deadline,
    )
    .await;
}

/// Redis restarted without persistence mid-call: once it is back, both instances put their
/// members back (see `members_come_back`).
#[tokio::test]
async fn members_are_registered_again_after_a_redis_restart() {
    let (mut redis, one, two) = cluster().await;
    let (mut alice, mut bob) = pair_across(&one, &two, "amnesia").await;
    redis.restart().await;
    let lost = Instant::now();
    // A heartbeat on the old connection fails (at most the Redis timeout), the connection
    // manager reconnects, and the next heartbeat finds the marker missing.
    let deadline = lost + REDIS_EXPIRY / 3 + 2 * REDIS_TIMEOUT + REDIS_EXPIRY / 3 + SLACK;
    members_come_back(
        (&redis, &one, &two),
        (&mut alice, &mut bob),
        "amnesia",
        lost,
        deadline,
    )
    .await;
}

/// Right after Redis lost its data, before any heartbeat noticed, a relay between two members
/// of one instance is delivered: the refused relay makes the instance put its members back at
/// once, and it is tried again.
#[tokio::test]
async fn a_relay_right_after_a_data_loss_is_delivered() {
    let (redis, one, _two) = cluster().await;
    let (mut alice, mut dave) = one.pair("forgotten").await;
    redis.query::<()>(&redis::cmd("FLUSHALL")).await;
    alice
        .send(&ClientMessage::Offer {
            sdp: "still here".into(),
            to: None,
        })
        .await;
    assert_eq!(
        dave.recv().await,
        ServerMessage::Offer {
            sdp: "still here".into(),
            from: alice.id(),
            to: None
        }
    );
    alice.assert_quiet().await;
    assert_eq!(redis.room_entries("forgotten").await.len(), 2);
}
