//! The switchboard: presence plus delivery, the one place where joins and leaves notify others.
//!
//! Connection tasks never write to each other's sockets. Each registers a bounded mailbox here;
//! the hub decides (through the room registry) and then delivers with `try_send`. A mailbox that
//! is full belongs to a peer that reads too slowly: it is told to close rather than let anybody
//! wait for it.
//!
//! Presence is decided by the in-memory [`Rooms`] on a single instance, or by Redis
//! ([`crate::redis_presence`]) when several instances share rooms; delivery to this instance's
//! connections always goes through the local mailboxes, and the Redis side publishes what is
//! meant for connections held elsewhere. Every method that may reach Redis is `async` and
//! bounded by a timeout.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, RoomName, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    redis_presence::{RedisPresence, RedisSettings, RelayOutcome, Unavailable},
    rooms::{JoinOutcome, Rooms},
};

/// What the hub keeps of a connection: its mailbox and the switch that closes it.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub messages: mpsc::Sender<ServerMessage>,
    /// Cancelled when the mailbox overflowed: the connection task closes the socket with 1008.
    pub overflowed: CancellationToken,
}

/// Why a relay went nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("nobody else is in the room")]
    NoPeer,
    #[error("the addressed peer is not in the room")]
    UnknownPeer,
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Where presence is decided.
#[derive(Debug, Clone)]
enum Presence {
    /// This instance alone: the in-memory registry.
    Memory(Rooms),
    /// Shared by every instance using the same Redis.
    Redis(Arc<RedisPresence>),
}

/// The mailboxes of this instance's connections. A std mutex: held only for map operations
/// and `try_send`, never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct Mailboxes {
    inner: Arc<Mutex<HashMap<PeerId, Mailbox>>>,
}

impl Mailboxes {
    /// Queues `message` for `peer` without waiting. A full queue marks the peer as too slow;
    /// an unknown peer (gone between lookup and delivery) is skipped, as its `peer_left` is
    /// on its way.
    pub fn deliver(&self, peer: &PeerId, message: ServerMessage) {
        let mailboxes = self.lock();
        let Some(mailbox) = mailboxes.get(peer) else {
            return;
        };
        match mailbox.messages.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%peer, "outgoing queue full: closing a slow connection");
                mailbox.overflowed.cancel();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Mailbox>> {
        // Every critical section is a single map operation or `try_send`: nothing can be left
        // half-done by a panic, so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How Redis is doing, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreHealth {
    /// In memory: nothing to reach.
    Memory,
    Up,
    Down,
}

/// Cheap handle shared by every connection task.
#[derive(Debug, Clone)]
pub struct Hub {
    presence: Presence,
    capacity: usize,
    mailboxes: Mailboxes,
}

impl Hub {
    /// A hub for a single instance, with presence in memory.
    pub fn new(capacity: usize) -> Self {
        Self {
            presence: Presence::Memory(Rooms::default()),
            capacity,
            mailboxes: Mailboxes::default(),
        }
    }

    /// A hub sharing presence with other instances through Redis. Starts its background tasks,
    /// so it must be called inside a Tokio runtime; does not wait for Redis to answer.
    pub fn with_redis(capacity: usize, settings: RedisSettings) -> anyhow::Result<Self> {
        let mailboxes = Mailboxes::default();
        let presence = RedisPresence::start(settings, mailboxes.clone())?;
        Ok(Self {
            presence: Presence::Redis(presence),
            capacity,
            mailboxes,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Makes `peer` reachable. Called once, when its connection opens.
    pub fn register(&self, peer: PeerId, mailbox: Mailbox) {
        self.mailboxes.lock().insert(peer, mailbox);
    }

    /// Forgets `peer`'s mailbox. Called once, when its connection ends (after `leave`).
    pub fn unregister(&self, peer: &PeerId) {
        self.mailboxes.lock().remove(peer);
    }

    /// Puts `peer` in `room` if there is a seat, and tells the others: `peer_joined`, then
    /// `ready` to everyone when the room has just reached two members. The joiner's own
    /// `joined`/`ready` are the caller's to send, from the outcome.
    pub async fn join(&self, room: &RoomName, peer: &PeerId) -> Result<JoinOutcome, Unavailable> {
        let rooms = match &self.presence {
            Presence::Memory(rooms) => rooms,
            Presence::Redis(redis) => return redis.join(room, peer, self.capacity).await,
        };
        let outcome = rooms.join(room, peer, self.capacity);
        if let JoinOutcome::Joined { others } = &outcome {
            for other in others {
                self.mailboxes
                    .deliver(other, ServerMessage::PeerJoined { peer: peer.clone() });
                if others.len() == 1 {
                    self.mailboxes
                        .deliver(other, ServerMessage::Ready { room: room.clone() });
                }
            }
        }
        Ok(outcome)
    }

    /// Takes `peer` out of `room` and tells the remaining members `peer_left`. The only place a
    /// departure is announced, whatever caused it (leave, close, error, heartbeat timeout).
    pub async fn leave(&self, room: &RoomName, peer: &PeerId) {
        match &self.presence {
            Presence::Memory(rooms) => {
                for other in rooms.leave(room, peer) {
                    self.mailboxes
                        .deliver(&other, ServerMessage::PeerLeft { peer: peer.clone() });
                }
            }
            Presence::Redis(redis) => redis.leave(room, peer).await,
        }
    }

    /// Sends a relayed message from `from` to `to`, or to every other member of `room`.
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: ServerMessage,
    ) -> Result<(), RelayError> {
        let rooms = match &self.presence {
            Presence::Memory(rooms) => rooms,
            Presence::Redis(redis) => {
                return match redis.relay(room, from, to, &message).await? {
                    RelayOutcome::Sent { here } => {
                        for peer in &here {
                            self.mailboxes.deliver(peer, message.clone());
                        }
                        Ok(())
                    }
                    RelayOutcome::NoPeer => Err(RelayError::NoPeer),
                    RelayOutcome::UnknownPeer => Err(RelayError::UnknownPeer),
                };
            }
        };
        let members = rooms.members(room);
        let mut recipients = members.iter().filter(|member| *member != from).peekable();
        if recipients.peek().is_none() {
            return Err(RelayError::NoPeer);
        }
        match to {
            Some(to) => {
                if !recipients.any(|member| member == to) {
                    return Err(RelayError::UnknownPeer);
                }
                self.mailboxes.deliver(to, message);
            }
            None => {
                for member in recipients {
                    self.mailboxes.deliver(member, message.clone());
                }
            }
        }
        Ok(())
    }

    /// How many rooms (with members on this instance) and connections this instance holds.
    pub fn counts(&self) -> (usize, usize) {
        let rooms = match &self.presence {
            Presence::Memory(rooms) => rooms.len(),
            Presence::Redis(redis) => redis.local_rooms(),
        };
        (rooms, self.mailboxes.lock().len())
    }

    /// Whether the presence store can be reached.
    pub fn store_health(&self) -> StoreHealth {
        match &self.presence {
            Presence::Memory(_) => StoreHealth::Memory,
            Presence::Redis(redis) if redis.is_up() => StoreHealth::Up,
            Presence::Redis(_) => StoreHealth::Down,
        }
    }

    /// Stops the background tasks (Redis heartbeat and subscriber) once every connection has
    /// left: the end of a graceful shutdown.
    pub fn close(&self) {
        if let Presence::Redis(redis) = &self.presence {
            redis.stop();
        }
    }

    /// Simulates a crash of this instance for tests: it stops heart-beating and receiving and
    /// announces no departure, so other instances must notice by expiry. No effect in memory.
    pub fn simulate_crash(&self) {
        if let Presence::Redis(redis) = &self.presence {
            redis.stop();
        }
    }
}
