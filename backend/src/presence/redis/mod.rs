//! The Redis store: presence shared by several server instances (`--redis-url`).
//!
//! Same rules as [`super::memory`]; only where the decision is made changes. Design (see
//! `docs/REDIS.md`), one job per file:
//!
//! - `scripts.rs`: membership. `room:{name}` lists `"{peer} {instance}"` entries; every change
//!   is a Lua script, so capacity holds across instances. Relays look up the recipients and
//!   publish to the other instances in the same script.
//! - `bus.rs`: one pub/sub channel per instance carrying server messages to the members it
//!   holds, and the subscriber that puts them in their mailboxes; also the notice that a
//!   member's seat was resumed on another instance.
//! - `in_flight.rs`: joins sent whose answer never came (a timeout), undone when their
//!   connection ends without a seat.
//! - `liveness.rs`: this instance's heartbeat key, refreshed by a task that does nothing else;
//!   sweeps that find members of crashed instances; leaves retried once Redis is back. What it
//!   finds goes to the hub's departures channel.
//! - `registration.rs`: whether Redis still holds this instance's members (`registered:{id}`),
//!   and putting them back when Redis lost its data.
//! - `connection.rs`: the command connection, with a timeout on every call. Failures mark Redis
//!   down (logged once, reported by `/healthz`); joins are then refused with `unavailable`
//!   instead of waiting. The connection manager reconnects by itself and the subscriber
//!   resubscribes, so the instance recovers without a restart.
//!
//! This file holds the store itself ([`RedisPresence`]) and its answers to the
//! [`super::Presence`] interface. It never puts an announcement in a mailbox.
//!
//! What it does not do: Redis Cluster (scripts touch `instance:*` keys they are not given).

mod bus;
mod cache;
mod connection;
mod in_flight;
mod liveness;
mod publisher;
mod registration;
mod scripts;

use std::{
    fmt,
    sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering},
    time::Duration,
};

use shared::{PeerId, RoomName, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Departure, InstanceId, JoinOutcome, Member, RelayError, Unavailable};
use crate::{mailbox::Mailboxes, redact::redact_url};
use bus::Bus;
use connection::Connection;
use in_flight::InFlight;
use liveness::Watched;
use publisher::Publisher;
use scripts::{Entry, Scripts};

/// How to reach Redis and how quickly to give up on it.
#[derive(Clone)]
pub struct RedisSettings {
    /// May hold a password: shown by `Debug` with the password replaced by `***`.
    pub url: String,
    /// How long a member of an instance that stopped heart-beating is still believed present.
    pub expiry: Duration,
    /// Longest wait for any one Redis call before it counts as a failure.
    pub timeout: Duration,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("expiry", &self.expiry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Redis store. Held in an `Arc` by [`super::Presence`] and by its background tasks.
pub struct RedisPresence {
    /// This instance's id: names its liveness key and its channel.
    instance: InstanceId,
    settings: RedisSettings,
    connection: Connection,
    scripts: Scripts,
    bus: Bus,
    /// Every publish of this instance, in order, pipelined.
    publisher: Publisher,
    /// Where the subscriber delivers what other instances publish for this instance's members.
    mailboxes: Mailboxes,
    /// Rooms to sweep and leaves to retry, and their cached membership.
    watched: Watched,
    /// Held while this instance's members are being registered again, so only one
    /// re-registration runs at a time (the heartbeat's and a relay's may race).
    registration: tokio::sync::Mutex<()>,
    /// The room capacity, as joins give it (one configuration: the same for every join), for
    /// re-registration to respect.
    capacity: AtomicUsize,
    /// Joins whose answer never came: undone when their connection ends without a seat.
    in_flight: InFlight,
    /// Departures found by a script or the heartbeat, for the hub to announce.
    departures: mpsc::Sender<Departure>,
    /// Cancelled at the end of shutdown (or to simulate a crash): stops the background tasks,
    /// which hold the last references to this.
    stopped: CancellationToken,
}

impl fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPresence")
            .field("instance", &self.instance)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Starts the heartbeat and the subscriber; must be called inside a Tokio runtime. Does not
    /// wait for Redis: an instance whose Redis is down starts and reports it.
    pub fn start(
        settings: RedisSettings,
        mailboxes: Mailboxes,
        departures: mpsc::Sender<Departure>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|error| anyhow::anyhow!("invalid --redis-url: {error}"))?;
        let instance = InstanceId::random();
        let presence = Arc::new(Self {
            bus: Bus::new(&instance),
            instance,
            connection: Connection::new(client, settings.timeout),
            settings,
            scripts: Scripts::new(),
            publisher: Publisher::new(),
            mailboxes,
            watched: Watched::default(),
            registration: tokio::sync::Mutex::new(()),
            capacity: AtomicUsize::new(0),
            in_flight: InFlight::default(),
            departures,
            stopped: CancellationToken::new(),
        });
        tracing::info!(instance = %presence.instance, "presence and relay through Redis");
        tokio::spawn(Arc::clone(&presence).heartbeat());
        tokio::spawn(Arc::clone(&presence).sweep());
        let subscriber = Arc::clone(&presence);
        tokio::spawn(async move {
            let receiver = bus::Receiver {
                mailboxes: &subscriber.mailboxes,
                watched: &subscriber.watched,
                in_flight: &subscriber.in_flight,
            };
            subscriber
                .bus
                .subscribe(&subscriber.connection, &receiver, &subscriber.stopped)
                .await;
        });
        let publisher = Arc::clone(&presence);
        tokio::spawn(async move {
            publisher
                .publisher
                .run(&publisher.connection, &publisher.stopped)
                .await;
        });
        Ok(presence)
    }

    /// Redis answers and this instance's channel is subscribed.
    pub fn is_up(&self) -> bool {
        self.connection.is_up() && self.bus.is_subscribed()
    }

    /// Rooms with members on this instance.
    pub fn rooms_here(&self) -> usize {
        self.watched.rooms()
    }

    /// Seats this instance holds.
    pub fn seats_here(&self) -> usize {
        self.watched.seats()
    }

    /// Stops heart-beating and receiving without telling anybody.
    pub fn stop(&self) {
        self.stopped.cancel();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.is_cancelled()
    }

    /// Refused while this instance's channel is not subscribed: the joiner would miss what
    /// other instances send it.
    pub async fn join(
        &self,
        room: &RoomName,
        peer: &PeerId,
        connection: &PeerId,
        capacity: usize,
    ) -> Result<JoinOutcome, Unavailable> {
        if !self.bus.is_subscribed() || self.is_stopped() {
            return Err(Unavailable);
        }
        self.capacity.store(capacity, Ordering::Relaxed);
        self.record_attempt(room, peer, connection).await;
        self.watched.cache.invalidate(room);
        let admission = self
            .scripts
            .join(
                &self.connection,
                room,
                &self.entry(peer),
                capacity,
                self.expiry_ms(),
            )
            .await;
        self.watched.cache.invalidate(room);
        let admission = admission?;
        self.in_flight.finish(connection);
        let others = self.members_of(admission.others);
        self.report_dead(room, admission.dead, &others).await;
        if !admission.admitted {
            return Ok(JoinOutcome::Full { capacity });
        }
        self.watched.joined(room, peer);
        Ok(JoinOutcome::Joined { others })
    }

    /// Moves `peer`'s seat in `room` to this instance if it is still held, wherever: returns the
    /// other members, or `None` when the seat is gone. The instance that held it is told, so it
    /// closes the old connection and stops watching the seat; its hold then ends without a
    /// departure.
    pub async fn resume(
        &self,
        room: &RoomName,
        peer: &PeerId,
        connection: &PeerId,
    ) -> Result<Option<Vec<Member>>, Unavailable> {
        if !self.bus.is_subscribed() || self.is_stopped() {
            return Err(Unavailable);
        }
        self.record_attempt(room, peer, connection).await;
        self.watched.cache.invalidate(room);
        let taken = self
            .scripts
            .take(&self.connection, room, &self.entry(peer), self.expiry_ms())
            .await;
        self.watched.cache.invalidate(room);
        let taken = taken?;
        self.in_flight.finish(connection);
        let others = self.members_of(taken.others);
        self.report_dead(room, taken.dead, &others).await;
        let Some(previous) = taken.previous else {
            return Ok(None);
        };
        if previous != self.instance {
            self.watched.joined(room, peer);
            Bus::moved(&self.publisher, &previous, room, peer).await;
        }
        Ok(Some(others))
    }

    /// Undoes the join (or resume) of `connection` whose answer never came, now that the
    /// connection ended without a seat: the seat, if the script did take it here, is freed
    /// (and its departure returned, for those who saw it in their `joined`).
    pub async fn connection_gone(&self, connection: &PeerId) -> Option<Departure> {
        let attempt = self.in_flight.take(connection)?;
        tracing::info!(room = %attempt.room, peer = %attempt.seat, "undoing a join whose answer never came");
        self.leave(&attempt.room, &attempt.seat).await
    }

    /// Records, before it is sent, that `connection` asks for `peer`'s seat in `room`: if the
    /// answer never comes, the seat the script may have taken is undone when the connection
    /// ends, or admitted once by its retry. An earlier unanswered attempt of the connection at
    /// another seat is undone now.
    async fn record_attempt(&self, room: &RoomName, peer: &PeerId, connection: &PeerId) {
        if let Some(earlier) = self.in_flight.start(connection, room, peer)
            && let Some(departure) = self.leave(&earlier.room, &earlier.seat).await
        {
            self.report(departure).await;
        }
    }

    /// When Redis cannot be reached the leave is kept and retried by the heartbeat, so the
    /// seat is freed (and the departure reported) once Redis is back.
    pub async fn leave(&self, room: &RoomName, peer: &PeerId) -> Option<Departure> {
        self.watched.left(room, peer);
        if self.is_stopped() {
            return None;
        }
        match self.leave_now(room, Some(peer)).await {
            Ok(departure) => departure,
            Err(Unavailable) => {
                self.watched.retry_leave(room.clone(), peer.clone());
                None
            }
        }
    }

    /// Publishes `message` to the recipients elsewhere and returns those here.
    ///
    /// Decided on this instance's copy of the room when it has a trusted one and the copy says
    /// the relay is delivered: then a recipient here costs no Redis call, and one elsewhere a
    /// queued publish (sent pipelined, in order). Otherwise (no copy, distrust, or a refusal
    /// to confirm) the relay script decides and publishes, in one round trip, and its reading
    /// of the room refills the copy. A sender missing from the room because Redis lost its
    /// data is put back (with every member of this instance) and the relay tried once more;
    /// one removed by another instance is refused.
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: &ServerMessage,
    ) -> Result<Vec<PeerId>, RelayError> {
        if self.is_stopped() {
            return Err(Unavailable.into());
        }
        let json = serde_json::to_string(message).expect("server messages always serialize");
        if let Some(here) = self.relay_from_copy(room, from, to, &json).await {
            return Ok(here);
        }
        // Whatever this sender relayed from the copy goes out before the script publishes.
        self.publisher.flush().await;
        let first = self.relay_through_redis(room, from, to, &json).await;
        if first != Err(RelayError::NotInRoom) || !self.ensure_registered().await? {
            return first;
        }
        self.relay_through_redis(room, from, to, &json).await
    }

    /// The relay decided on the cached copy of `room`, when there is a trusted one and it
    /// delivers; `None` when Redis must decide.
    async fn relay_from_copy(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        json: &str,
    ) -> Option<Vec<PeerId>> {
        if !self.connection.is_up() || !self.bus.is_subscribed() {
            return None;
        }
        let entries = self
            .watched
            .cache
            .entries(room, self.connection.failures())?;
        let recipients = cache::recipients(&entries, from, to, &self.instance).ok()?;
        let mut here = Vec::with_capacity(1);
        for recipient in recipients {
            if recipient.instance == self.instance {
                here.push(recipient.peer.clone());
            } else {
                Bus::relay(
                    &self.publisher,
                    &recipient.instance,
                    room,
                    &recipient.peer,
                    json,
                )
                .await;
            }
        }
        Some(here)
    }

    /// The relay decided and published by the relay script; its reading of the room becomes
    /// the cached copy unless the room changed meanwhile.
    async fn relay_through_redis(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        json: &str,
    ) -> Result<Vec<PeerId>, RelayError> {
        let ticket = self.watched.cache.ticket(self.connection.failures());
        let relayed = self
            .scripts
            .relay(
                &self.connection,
                room,
                from,
                to,
                &self.instance,
                bus::relay_suffix(room, json),
            )
            .await?;
        self.watched.cache.fill(room, ticket, relayed.entries);
        relayed.outcome
    }

    /// Carries `message` to `peer` on `instance` over the bus.
    pub async fn forward(&self, instance: &InstanceId, peer: &PeerId, message: &ServerMessage) {
        Bus::publish(&self.publisher, instance, peer, message).await;
    }

    /// The entries of `room` as they are, without pruning the dead.
    pub async fn members(&self, room: &RoomName) -> Result<Vec<Member>, Unavailable> {
        let entries = scripts::entries(&self.connection, room).await?;
        Ok(self.members_of(entries))
    }

    /// Removes `peer` (or nobody: only the dead) from `room`; reports the dead and returns
    /// `peer`'s departure, if its entry was there (a seat resumed on another instance is not
    /// this instance's to free).
    async fn leave_now(
        &self,
        room: &RoomName,
        peer: Option<&PeerId>,
    ) -> Result<Option<Departure>, Unavailable> {
        let entry = peer.map(|peer| self.entry(peer));
        self.watched.cache.invalidate(room);
        let ticket = self.watched.cache.ticket(self.connection.failures());
        let remains = self
            .scripts
            .leave(&self.connection, room, entry.as_ref())
            .await;
        match &remains {
            // Only pruning (the sweep) and nobody was removed: the room is as the script read
            // it, and that reading (the whole list) becomes the copy, unless something was
            // thrown away meanwhile. Either way a copy is never older than one sweep period,
            // even if an announcement that should have thrown it away was lost.
            Ok(remains) if peer.is_none() && remains.dead.is_empty() => {
                self.watched.cache.fill(room, ticket, remains.live.clone());
            }
            _ => self.watched.cache.invalidate(room),
        }
        let remains = remains?;
        let remaining = self.members_of(remains.live);
        self.report_dead(room, remains.dead, &remaining).await;
        Ok(peer.filter(|_| remains.removed).map(|peer| Departure {
            room: room.clone(),
            peer: peer.clone(),
            remaining,
        }))
    }

    /// Reports the `dead` entries (of crashed instances) a script removed from `room`.
    async fn report_dead(&self, room: &RoomName, dead: Vec<Entry>, remaining: &[Member]) {
        for gone in dead {
            tracing::info!(%room, peer = %gone.peer, instance = %gone.instance, "member of a dead instance removed");
            self.report(Departure {
                room: room.clone(),
                peer: gone.peer,
                remaining: remaining.to_vec(),
            })
            .await;
        }
    }

    /// Hands a departure to the hub, waiting for room in the channel rather than dropping it.
    async fn report(&self, departure: Departure) {
        if self.departures.send(departure).await.is_err() {
            tracing::debug!("departure not announced: the hub has stopped");
        }
    }

    fn entry(&self, peer: &PeerId) -> Entry {
        Entry {
            peer: peer.clone(),
            instance: self.instance.clone(),
        }
    }

    fn members_of(&self, entries: Vec<Entry>) -> Vec<Member> {
        entries
            .into_iter()
            .map(|entry| entry.member(&self.instance))
            .collect()
    }

    fn expiry_ms(&self) -> u64 {
        u64::try_from(self.settings.expiry.as_millis()).unwrap_or(u64::MAX)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is one map or vector operation or a handle clone: nothing
    // can be left half-done by a panic, so a poisoned lock is safe to keep using.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
