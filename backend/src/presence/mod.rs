//! Presence: who is in which room, and where each member's connection is held.
//!
//! Two stores stand side by side behind one interface, [`Presence`]: this instance's memory
//! ([`memory`], the default) and Redis shared by several instances ([`redis`], with
//! `--redis-url`). The rules are the same (capacity checked and seat taken in one atomic step);
//! only where the decision is made changes. Which store it is stays inside this module: callers
//! get the same outcome types from both.
//!
//! Both stores return *who must be told what* ([`JoinOutcome`], [`Departure`], the recipients
//! of a relay) and never put an announcement in anybody's mailbox: announcing joins and leaves
//! is [`crate::hub`]'s job alone. Departures a store finds by itself (Redis liveness: members
//! of crashed instances, leaves retried once Redis is back) are sent to the hub on the bounded
//! channel given at start ([`DEPARTURES_CAPACITY`]).
//!
//! A seat whose connection ended without `leave` stays in the store during the resume grace
//! period (the hub holds it, see [`crate::resume::holds`]); [`Presence::resume`] gives it to the
//! reconnecting connection, moving it to this instance when another held it.
//!
//! Delivery to members held by another instance goes through [`Presence::forward`] (the Redis
//! bus carries the hub's message there); relayed messages for them are published by the relay
//! itself, in the same Redis round trip.

pub mod memory;
pub mod redis;

use std::{fmt, sync::Arc};

use shared::{PeerId, RoomName, ServerMessage};
use tokio::sync::mpsc;

use crate::mailbox::Mailboxes;
use memory::Rooms;
use redis::{RedisPresence, RedisSettings};

/// How many departures found in the background may wait for the hub. A heartbeat sweep finds
/// at most one room's worth per room it visits, and the hub handles each in microseconds (it
/// only queues `peer_left`s), so 256 is never reached in practice; when it is, the finder waits
/// for room rather than drop a `peer_left`.
pub const DEPARTURES_CAPACITY: usize = 256;

/// The id of a server instance sharing rooms through Redis: random hex minted at start.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(format!("{:016x}", rand::random::<u64>()))
    }

    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a member's connection is held, so the hub knows how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Home {
    /// On this instance: its mailbox is in [`Mailboxes`].
    Here,
    /// On another instance (Redis only): reached through [`Presence::forward`].
    Elsewhere(InstanceId),
}

/// A room member, and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub peer: PeerId,
    pub home: Home,
}

impl Member {
    /// A member whose connection is on this instance.
    pub fn here(peer: PeerId) -> Self {
        Self {
            peer,
            home: Home::Here,
        }
    }
}

/// What became of a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Admitted; `others` were already in the room, in the order they joined.
    Joined { others: Vec<Member> },
    /// Refused: the room already holds `capacity` people.
    Full { capacity: usize },
}

/// `peer` is no longer in `room`; `remaining` are the members to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub room: RoomName,
    pub peer: PeerId,
    pub remaining: Vec<Member>,
}

/// The presence store cannot be reached (or did not answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the presence store (Redis) cannot be reached")]
pub struct Unavailable;

/// Why a relay went nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The sender is not in the room any more: another instance took this one for dead and
    /// removed its members (Redis only).
    #[error("the sender is not in the room")]
    NotInRoom,
    #[error("nobody else is in the room")]
    NoPeer,
    #[error("the addressed peer is not in the room")]
    UnknownPeer,
    /// No `to` in a room of more than two: "the other member" names nobody, and sending to
    /// all of them would hand one peer connection's SDP to the others.
    #[error("a relay in a room of more than two must name its recipient")]
    RecipientRequired,
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Whether the store can be reached, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// In memory: nothing to reach.
    Memory,
    Up,
    Down,
}

/// The configured store.
#[derive(Debug, Clone)]
enum Store {
    /// This instance alone.
    Memory(Rooms),
    /// Shared by every instance using the same Redis.
    Redis(Arc<RedisPresence>),
}

/// The presence store every connection shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Presence {
    store: Store,
}

impl Presence {
    /// Presence in this instance's memory.
    pub fn in_memory() -> Self {
        Self {
            store: Store::Memory(Rooms::default()),
        }
    }

    /// Presence shared through Redis. Starts its background tasks (heartbeat, subscriber), so
    /// it must be called inside a Tokio runtime; does not wait for Redis to answer. Messages
    /// other instances publish for this instance's members are put in `mailboxes`; departures
    /// found in the background go to `departures`.
    pub fn redis(
        settings: RedisSettings,
        mailboxes: Mailboxes,
        departures: mpsc::Sender<Departure>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store: Store::Redis(RedisPresence::start(settings, mailboxes, departures)?),
        })
    }

    /// Puts `peer` in `room` if fewer than `capacity` are there, in one atomic step. Asked by
    /// the connection known as `connection` (which is `peer`, or will be once admitted under
    /// the id its token named): if the answer is lost, [`Self::connection_gone`] undoes it.
    pub async fn join(
        &self,
        room: &RoomName,
        peer: &PeerId,
        connection: &PeerId,
        capacity: usize,
    ) -> Result<JoinOutcome, Unavailable> {
        match &self.store {
            Store::Memory(rooms) => Ok(rooms.join(room, peer, capacity)),
            Store::Redis(redis) => redis.join(room, peer, connection, capacity).await,
        }
    }

    /// Takes `peer` out of `room`. `None` when `peer` was not there (its seat moved to another
    /// connection, or was already freed): nobody is to be told. Also `None` when Redis cannot
    /// be reached: the leave is retried in the background and its departure then comes
    /// through the departures channel.
    pub async fn leave(&self, room: &RoomName, peer: &PeerId) -> Option<Departure> {
        match &self.store {
            Store::Memory(rooms) => rooms.leave(room, peer),
            Store::Redis(redis) => redis.leave(room, peer).await,
        }
    }

    /// Gives `peer`'s seat in `room` to a connection of this instance, if the seat is still
    /// held (by an open connection, here or elsewhere, or for a resume), in one atomic step;
    /// returns the other members. `None`: the seat is gone. Asked by `connection`, as for
    /// [`Self::join`].
    pub async fn resume(
        &self,
        room: &RoomName,
        peer: &PeerId,
        connection: &PeerId,
    ) -> Result<Option<Vec<Member>>, Unavailable> {
        match &self.store {
            Store::Memory(rooms) => Ok(rooms.resume(room, peer)),
            Store::Redis(redis) => redis.resume(room, peer, connection).await,
        }
    }

    /// The connection known as `connection` has ended without a seat of its own (it never
    /// joined, or its join failed): frees any seat a join (or resume) of it may still have
    /// taken without this instance knowing (a Redis call whose reply timed out). Nothing to do
    /// in memory, where a join cannot half-happen.
    pub async fn connection_gone(&self, connection: &PeerId) -> Option<Departure> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Redis(redis) => redis.connection_gone(connection).await,
        }
    }

    /// Finds the recipients of a message relayed from `from` to `to` (or, in a room of two, to
    /// the other member): returns those on this instance, for the caller to deliver. Redis
    /// publishes `message` to the recipients on other instances in the same round trip. The
    /// room's size is read in the same atomic step as the recipients, so a join racing the
    /// relay either counts or does not, for both.
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: &ServerMessage,
    ) -> Result<Vec<PeerId>, RelayError> {
        match &self.store {
            Store::Memory(rooms) => rooms.recipients(room, from, to),
            Store::Redis(redis) => redis.relay(room, from, to, message).await,
        }
    }

    /// Carries `message` to `peer`, held by `instance`. At most once: when Redis cannot be
    /// reached the message is dropped (and logged). The in-memory store never reports a member
    /// elsewhere, so there it has nothing to do.
    pub async fn forward(&self, instance: &InstanceId, peer: &PeerId, message: &ServerMessage) {
        match &self.store {
            Store::Memory(_) => {
                tracing::error!(%instance, %peer, "no other instance without Redis: dropped");
            }
            Store::Redis(redis) => redis.forward(instance, peer, message).await,
        }
    }

    /// The members of `room`, in join order (empty for a room nobody is in).
    pub async fn members(&self, room: &RoomName) -> Result<Vec<Member>, Unavailable> {
        match &self.store {
            Store::Memory(rooms) => Ok(rooms.members(room)),
            Store::Redis(redis) => redis.members(room).await,
        }
    }

    /// How many rooms have members on this instance.
    pub fn rooms_here(&self) -> usize {
        match &self.store {
            Store::Memory(rooms) => rooms.len(),
            Store::Redis(redis) => redis.rooms_here(),
        }
    }

    /// How many seats are held by this instance (seats kept for a resume included).
    pub fn seats_here(&self) -> usize {
        match &self.store {
            Store::Memory(rooms) => rooms.seats(),
            Store::Redis(redis) => redis.seats_here(),
        }
    }

    pub fn health(&self) -> Health {
        match &self.store {
            Store::Memory(_) => Health::Memory,
            Store::Redis(redis) if redis.is_up() => Health::Up,
            Store::Redis(_) => Health::Down,
        }
    }

    /// Stops the background tasks without telling anybody: the end of a graceful shutdown
    /// (every connection has left by then), or a simulated crash. Nothing to stop in memory.
    pub fn shutdown(&self) {
        if let Store::Redis(redis) = &self.store {
            redis.stop();
        }
    }
}
