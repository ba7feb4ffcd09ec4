//! Several instances sharing rooms through a real Redis: each case of the single-instance
//! suite with the two members on different instances, plus what only a shared store has
//! (atomic capacity across instances, crashed instances, Redis restarts).

mod common;

use std::time::{Duration, Instant};

use common::{Client, REDIS_EXPIRY, RedisServer, TestServer, room};
use shared::{ClientMessage, ErrorCode, IceCandidate, ServerMessage};

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
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready { room: room(name) }
    );
    (alice, bob)
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
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerJoined { peer: bob.id() }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ready {
            room: room("blue-fox")
        }
    );
    for server in [&one, &two] {
        let mut carol = server.client().await;
        carol
            .send(&ClientMessage::Join {
                room: room("blue-fox"),
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
    alice.assert_quiet().await;
    bob.assert_quiet().await;
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
    alice.assert_quiet().await;
    bob.assert_quiet().await;
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
    a.assert_quiet().await;
    b.assert_quiet().await;
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
    let (_x, stranger) = pair_across(&one, &two, "elsewhere").await;
    let _bob = two.joined("lonely").await;
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
    alice.assert_quiet().await;
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
}

/// Closing the socket, or dropping it, is announced across instances, and the seat is free.
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
    // Close, then wait for the server to drop the socket: it does so after the leave.
    let _ = alice.socket().close(None).await;
    let _ = alice.closed().await;
    // The room emptied: a newcomer on either instance is alone in it.
    let mut watcher = two.client().await;
    assert_eq!(watcher.join("closing").await, vec![]);
}

/// 100 people joining one room at once through two instances: exactly two are admitted, the
/// rest are told it is full.
#[tokio::test]
async fn concurrent_joins_across_instances_admit_exactly_capacity() {
    let (_redis, one, two) = cluster().await;
    let mut tasks = Vec::new();
    for index in 0..100 {
        let url = if index % 2 == 0 {
            one.ws_url()
        } else {
            two.ws_url()
        };
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&url).await;
            client
                .send(&ClientMessage::Join {
                    room: room("crowded"),
                })
                .await;
            let admitted = match client.recv().await {
                ServerMessage::Joined { .. } => true,
                ServerMessage::Full { capacity: 2, .. } => false,
                other => panic!("unexpected answer to join: {other:?}"),
            };
            (admitted, client)
        }));
    }
    let mut admitted = 0;
    let mut clients = Vec::new();
    for task in tasks {
        let (joined, client) = task.await.expect("join task");
        admitted += usize::from(joined);
        clients.push(client);
    }
    assert_eq!(admitted, 2);
}

/// An instance that dies without a word (no leave, no heartbeat): the members it held are
/// announced `peer_left` to their peers on the other instance within the expiry.
#[tokio::test]
async fn members_of_a_crashed_instance_leave_within_the_expiry() {
    let (_redis, one, two) = cluster().await;
    let (alice, mut bob) = pair_across(&one, &two, "crash").await;
    let alice_id = alice.id();
    let crashed = Instant::now();
    one.state.hub.simulate_crash();
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: alice_id });
    let took = crashed.elapsed();
    // Expiry, plus one heartbeat period for the survivor to look, plus scheduling slack.
    assert!(
        took < REDIS_EXPIRY + REDIS_EXPIRY / 3 + Duration::from_secs(1),
        "peer_left took {took:?}"
    );
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
    let asked = Instant::now();
    alice
        .send(&ClientMessage::Join {
            room: room("outage"),
        })
        .await;
    alice.expect_error(ErrorCode::Unavailable).await;
    assert!(asked.elapsed() < Duration::from_secs(3), "refused promptly");
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
