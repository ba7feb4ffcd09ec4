//! Several instances sharing rooms through a real Redis: each case of the single-instance
//! suite with the two members on different instances, plus what only a shared store has
//! (atomic capacity across instances, crashed instances, Redis restarts).

mod common;

use std::time::Duration;

use common::{Client, REDIS_EXPIRY, REDIS_TIMEOUT, RedisServer, TestServer, room};
use shared::{ClientMessage, ErrorCode, IceCandidate, ServerMessage};
use tokio::time::Instant;

/// Added to a deadline that follows from the configuration, for a loaded machine; far below
/// what a broken mechanism takes (it never delivers at all in these tests).
const SLACK: Duration = Duration::from_secs(2);

/// Redis plus two instances using it.
async fn cluster() -> (RedisServer, TestServer, TestServer) {
    cluster_with(|_| {}).await
}

async fn cluster_with(
    configure: impl Fn(&mut backend::config::Config) + Copy,
) -> (RedisServer, TestServer, TestServer) {
    let redis = RedisServer::start().await;
    let one = TestServer::with_redis(&redis, configure).await;
    let two = TestServer::with_redis(&redis, configure).await;
    (redis, one, two)
}

/// Alice on one instance, Bob on the other, both past `ready`.
async fn pair_across(one: &TestServer, two: &TestServer, name: &str) -> (Client, Client) {
    let mut alice = one.joined(name).await;
    let bob = two.joined(name).await;
    alice.expect_joined_by(bob.id(), name).await;
    (alice, bob)
}

/// Proves nothing else is queued for `receiver`, nor still in flight to it from `sender`'s
/// instance: `sender` relays a marker to it through the same pub/sub path, which keeps the
/// order of what one instance publishes, so the marker must be the next message; then a ping
/// covers what `receiver`'s own instance may have queued.
async fn assert_quiet_across(sender: &mut Client, receiver: &mut Client) {
    let marker = format!("marker from {} to {}", sender.id(), receiver.id());
    sender
        .send(&ClientMessage::Offer {
            sdp: marker.clone(),
            to: Some(receiver.id()),
        })
        .await;
    assert_eq!(
        receiver.recv().await,
        ServerMessage::Offer {
            sdp: marker,
            from: sender.id(),
            to: Some(receiver.id())
        },
        "nothing else was queued or in flight"
    );
    receiver.assert_quiet().await;
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

/// With three seats spread over both instances, a relay without `to` reaches every other
/// member wherever it is, and one with `to` only the addressee.
#[tokio::test]
async fn fan_out_and_addressed_relay_across_instances() {
    let (_redis, one, two) = cluster_with(|config| config.limits.room_capacity = 3).await;
    let (mut a, mut b) = pair_across(&one, &two, "trio").await;
    let mut c = one.client().await;
    assert_eq!(c.join("trio").await, vec![a.id(), b.id()]);
    for other in [&mut a, &mut b] {
        assert_eq!(
            other.recv().await,
            ServerMessage::PeerJoined { peer: c.id() }
        );
    }
    c.send(&ClientMessage::Offer {
        sdp: "v=0".into(),
        to: None,
    })
    .await;
    for other in [&mut a, &mut b] {
        assert_eq!(
            other.recv().await,
            ServerMessage::Offer {
                sdp: "v=0".into(),
                from: c.id(),
                to: None
            }
        );
    }
    c.send(&ClientMessage::Answer {
        sdp: "v=1".into(),
        to: Some(b.id()),
    })
    .await;
    assert_eq!(
        b.recv().await,
        ServerMessage::Answer {
            sdp: "v=1".into(),
            from: c.id(),
            to: Some(b.id())
        }
    );
    // `a` and `c` share instance one; `b` is on instance two.
    assert_quiet_across(&mut b, &mut a).await;
    assert_quiet_across(&mut b, &mut c).await;
    assert_quiet_across(&mut a, &mut b).await;
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

/// 100 people joining one room at once through two instances: exactly two are admitted, the
/// rest are told it is full. Several worker threads, so the joins really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_across_instances_admit_exactly_capacity() {
    const PEOPLE: usize = 100;
    let (_redis, one, two) = cluster().await;
    let mut clients = Vec::new();
    for index in 0..PEOPLE {
        let server = if index % 2 == 0 { &one } else { &two };
        clients.push(server.client().await);
    }
    // Everybody is connected before anybody joins, and then they all join at once.
    let (admissions, _clients) = common::stampede(clients, "crowded", 2).await;
    assert_eq!(admissions, (2, PEOPLE - 2), "admitted, told full");
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
