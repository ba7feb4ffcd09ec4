//! Liveness across instances: this instance's heartbeat key, and the sweep that finds members
//! of instances that stopped.
//!
//! `instance:{id}` exists while its instance lives: the heartbeat sets it with an expiry
//! (`--redis-expiry`) every third of that expiry, in a task that does nothing else, so no
//! amount of other work (a sweep over many rooms through a slow Redis) can delay it past the
//! expiry and make other instances take this one's members for dead. The same round trip
//! checks that Redis still holds this instance's registration (see `registration.rs`).
//!
//! An entry whose instance key has expired is dead; the scripts remove the dead entries of the
//! room they touch and return them, and the store reports each as a
//! [`crate::presence::Departure`] on the hub's channel. A second task, the sweep, visits every
//! room this instance has members in every third of the expiry (so a crashed instance's
//! members are noticed within the expiry even when nobody joins or leaves) and retries the
//! leaves that could not reach Redis.
//!
//! This module finds departures; it does not announce them (the hub does).

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use shared::{PeerId, RoomName};

use super::{RedisPresence, cache::Cache, lock};
use crate::presence::Unavailable;

/// What the heartbeat looks after on this instance.
#[derive(Debug)]
pub(super) struct Watched {
    /// Rooms with members on this instance, and those members: the rooms to sweep.
    rooms: Mutex<HashMap<RoomName, Vec<PeerId>>>,
    /// Leaves that could not reach Redis; retried by the heartbeat until they do.
    pending_leaves: Mutex<Vec<(RoomName, PeerId)>>,
    /// The cached membership of the same rooms: a room has a slot exactly while it is here.
    pub(super) cache: Cache,
}

impl Default for Watched {
    fn default() -> Self {
        Self {
            rooms: Mutex::default(),
            pending_leaves: Mutex::default(),
            cache: Cache::new(),
        }
    }
}

impl Watched {
    pub(super) fn joined(&self, room: &RoomName, peer: &PeerId) {
        let mut rooms = lock(&self.rooms);
        let members = rooms.entry(room.clone()).or_default();
        if members.is_empty() {
            self.cache.track(room);
        }
        members.push(peer.clone());
    }

    pub(super) fn left(&self, room: &RoomName, peer: &PeerId) {
        let mut rooms = lock(&self.rooms);
        if let Some(members) = rooms.get_mut(room) {
            members.retain(|member| member != peer);
            if members.is_empty() {
                rooms.remove(room);
                self.cache.forget(room);
            }
        }
    }

    /// The rooms `peer` holds a seat in here (one, or none; two only for a moment).
    pub(super) fn rooms_of(&self, peer: &PeerId) -> Vec<RoomName> {
        lock(&self.rooms)
            .iter()
            .filter(|(_, members)| members.contains(peer))
            .map(|(room, _)| room.clone())
            .collect()
    }

    /// How many rooms have members on this instance.
    pub(super) fn rooms(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// How many seats this instance holds, over all rooms.
    pub(super) fn seats(&self) -> usize {
        lock(&self.rooms).values().map(Vec::len).sum()
    }

    pub(super) fn retry_leave(&self, room: RoomName, peer: PeerId) {
        lock(&self.pending_leaves).push((room, peer));
    }

    /// Every member this instance holds, room by room.
    pub(super) fn members(&self) -> Vec<(RoomName, PeerId)> {
        lock(&self.rooms)
            .iter()
            .flat_map(|(room, peers)| peers.iter().map(|peer| (room.clone(), peer.clone())))
            .collect()
    }

    pub(super) fn holds(&self, room: &RoomName, peer: &PeerId) -> bool {
        lock(&self.rooms)
            .get(room)
            .is_some_and(|peers| peers.contains(peer))
    }
}

impl RedisPresence {
    /// Every third of the expiry: proves this instance alive, and starts a re-registration
    /// (in a task of its own) when Redis no longer holds this instance's registration. Nothing
    /// else: see the module's documentation. Ends when the store is stopped.
    pub(super) async fn heartbeat(self: Arc<Self>) {
        let mut ticks = self.ticks();
        loop {
            tokio::select! {
                () = self.stopped.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // One re-registration at a time: while one runs (many rooms, slow Redis), the
            // following heartbeats leave it alone.
            if let Ok(false) = self.prove_alive().await
                && self.registration.try_lock().is_ok()
            {
                tokio::spawn(Arc::clone(&self).register_again());
            }
        }
    }

    /// Every third of the expiry: retries failed leaves, and sweeps the rooms this instance
    /// has members in. Ends when the store is stopped.
    pub(super) async fn sweep(self: Arc<Self>) {
        let mut ticks = self.ticks();
        loop {
            tokio::select! {
                () = self.stopped.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let pending = std::mem::take(&mut *lock(&self.watched.pending_leaves));
            for (room, peer) in pending {
                match self.leave_now(&room, Some(&peer)).await {
                    Ok(Some(departure)) => self.report(departure).await,
                    Ok(None) => {}
                    Err(Unavailable) => self.watched.retry_leave(room, peer),
                }
            }
            let rooms: Vec<RoomName> = lock(&self.watched.rooms).keys().cloned().collect();
            for room in rooms {
                if self.stopped.is_cancelled() || self.leave_now(&room, None).await.is_err() {
                    break;
                }
            }
        }
    }

    /// Every third of the expiry; a late tick is not made up for with a burst.
    fn ticks(&self) -> tokio::time::Interval {
        let mut ticks = tokio::time::interval(self.settings.expiry / 3);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    }

    /// Sets this instance's liveness key for one more expiry, and says whether Redis still
    /// holds this instance's registration (refreshing it), in one round trip.
    async fn prove_alive(&self) -> Result<bool, Unavailable> {
        let sent = self.watched.cache.now();
        let key = format!("instance:{}", self.instance);
        let expiry_ms = self.expiry_ms();
        let refresh = self.refresh_registration();
        let registered = self
            .connection
            .call(|mut c| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(expiry_ms)
                    .ignore()
                    .add_command(refresh);
                let (registered,): (bool,) = pipe.query_async(&mut c).await?;
                Ok(registered)
            })
            .await?;
        self.watched.cache.proved_alive(sent, self.settings.expiry);
        if !registered {
            // Redis lost its data: what was read before is no longer what it holds.
            self.watched.cache.invalidate_all();
        }
        Ok(registered)
    }
}
