//! This instance's copy of the membership of the rooms it has members in, so that a relay
//! need not ask Redis (see "The membership cache" in `docs/REDIS.md`).
//!
//! A room's copy is the whole `room:{name}` list as one Redis reply returned it (the relay
//! script returns it with every answer it gives). It is thrown away, never patched, whenever
//! the room may have changed:
//!
//! - a membership script of this instance (join, leave, take, re-register, the sweep's prune)
//!   is about to run in the room, and again when its answer arrives;
//! - an announcement (`peer_joined`, `peer_left`, `ready`…) from another instance arrives for
//!   a member here, a takeover notice arrives, or another instance's resume says the room
//!   changed (`!changed`);
//! - and for every room at once: the subscription was lost or re-established (announcements
//!   may have been missed), a Redis call failed, this instance's liveness key may have
//!   expired (others may have removed its members), or Redis lost its data.
//!
//! A copy is installed only when nothing was thrown away between the moment its read was
//! sent and the moment its answer arrived ([`Ticket`]): a read that ran in Redis before a
//! change can never overwrite what that change threw away. With no copy (or no trust), the
//! relay goes to Redis as before.
//!
//! A copy is used only for answers that deliver: whenever it says the relay must be refused
//! (`not_in_room`, `no_peer`, `unknown_peer`, `recipient_required`) the caller asks Redis, so a
//! stale copy can delay a refusal, never invent one.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use shared::{PeerId, RoomName};

use super::{lock, scripts::Entry};
use crate::presence::{InstanceId, RelayError};

/// The cached membership of the rooms with members on this instance.
#[derive(Debug)]
pub(super) struct Cache {
    inner: Mutex<Inner>,
    /// Until when (nanoseconds after `started`) this instance's liveness key surely exists:
    /// its last successful heartbeat's send time plus nine tenths of the expiry. 0 before the
    /// first heartbeat.
    alive_until: AtomicU64,
    started: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    /// Ticks once per invalidation.
    clock: u64,
    /// The clock when everything was last thrown away.
    everything_changed: u64,
    /// A slot per room with members on this instance; created when the first one joins,
    /// removed when the last one leaves.
    rooms: HashMap<RoomName, Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The clock when this room's copy was last thrown away (or the slot created).
    changed: u64,
    copy: Option<Snapshot>,
}

#[derive(Debug)]
struct Snapshot {
    entries: Arc<[Entry]>,
    /// Failed Redis calls when the read was sent: a later failure makes it untrusted.
    failures: u64,
}

/// Taken just before a read of a room is sent: its answer is installed only if nothing was
/// thrown away since.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    at: u64,
    failures: u64,
}

impl Cache {
    pub(super) fn new() -> Self {
        Self {
            inner: Mutex::default(),
            alive_until: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// A member of `room` is here now: the room gets a slot (empty) if it had none.
    pub(super) fn track(&self, room: &RoomName) {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let changed = inner.clock;
        inner.rooms.entry(room.clone()).or_insert(Slot {
            changed,
            copy: None,
        });
    }

    /// No member of `room` is here any more: its slot goes.
    pub(super) fn forget(&self, room: &RoomName) {
        lock(&self.inner).rooms.remove(room);
    }

    /// `room` may have changed: its copy is thrown away.
    pub(super) fn invalidate(&self, room: &RoomName) {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let clock = inner.clock;
        if let Some(slot) = inner.rooms.get_mut(room) {
            slot.changed = clock;
            slot.copy = None;
        }
    }

    /// Anything may have changed, or this instance may have missed news: every copy goes.
    pub(super) fn invalidate_all(&self) {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        inner.everything_changed = inner.clock;
        for slot in inner.rooms.values_mut() {
            slot.copy = None;
        }
    }

    /// Taken just before sending a read of a room; `failures` is the connection's count.
    pub(super) fn ticket(&self, failures: u64) -> Ticket {
        Ticket {
            at: lock(&self.inner).clock,
            failures,
        }
    }

    /// Installs `entries`, read with `ticket`, as `room`'s copy, unless the room (or
    /// everything) was thrown away since the ticket was taken, or the room has no slot.
    pub(super) fn fill(&self, room: &RoomName, ticket: Ticket, entries: Vec<Entry>) {
        let mut inner = lock(&self.inner);
        if inner.everything_changed > ticket.at {
            return;
        }
        if let Some(slot) = inner.rooms.get_mut(room)
            && slot.changed <= ticket.at
        {
            slot.copy = Some(Snapshot {
                entries: entries.into(),
                failures: ticket.failures,
            });
        }
    }

    /// `room`'s copy, if there is one, no Redis call failed since it was read, and this
    /// instance is surely still alive for the others.
    pub(super) fn entries(&self, room: &RoomName, failures: u64) -> Option<Arc<[Entry]>> {
        if !self.alive() {
            return None;
        }
        let inner = lock(&self.inner);
        let copy = inner.rooms.get(room)?.copy.as_ref()?;
        (copy.failures == failures).then(|| Arc::clone(&copy.entries))
    }

    /// The time on this instance's clock, to pass to [`Self::proved_alive`].
    pub(super) fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// A heartbeat sent at `sent` (from [`Self::now`]) was answered: the liveness key exists
    /// for at least `expiry` after `sent` (Redis set it after it was sent). If the answer came
    /// after the previous proof ran out, the key may have expired in between, and another
    /// instance may have removed this one's members: every copy goes.
    pub(super) fn proved_alive(&self, sent: u64, expiry: Duration) {
        let until = self.alive_until.load(Ordering::SeqCst);
        if self.now() >= until {
            self.invalidate_all();
        }
        let margin = u64::try_from((expiry / 10 * 9).as_nanos()).unwrap_or(u64::MAX);
        self.alive_until
            .store(sent.saturating_add(margin), Ordering::SeqCst);
    }

    /// This instance's liveness key surely exists now.
    fn alive(&self) -> bool {
        self.now() < self.alive_until.load(Ordering::SeqCst)
    }
}

/// Who receives a relay from `from` (a member held by `here`) to `to` (or, in a room of two,
/// the other member), decided on `entries` exactly as the relay script decides on
/// `room:{name}`.
pub(super) fn recipients<'a>(
    entries: &'a [Entry],
    from: &PeerId,
    to: Option<&PeerId>,
    here: &InstanceId,
) -> Result<Vec<&'a Entry>, RelayError> {
    let mut member = false;
    let mut others = Vec::with_capacity(entries.len());
    for entry in entries {
        if &entry.peer == from {
            member |= &entry.instance == here;
        } else {
            others.push(entry);
        }
    }
    if !member {
        return Err(RelayError::NotInRoom);
    }
    if others.is_empty() {
        return Err(RelayError::NoPeer);
    }
    match to {
        Some(to) => others
            .into_iter()
            .rfind(|entry| &entry.peer == to)
            .map(|entry| vec![entry])
            .ok_or(RelayError::UnknownPeer),
        None if others.len() > 1 => Err(RelayError::RecipientRequired),
        None => Ok(others),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(peer: &str, instance: &str) -> Entry {
        Entry {
            peer: PeerId::new(peer),
            instance: InstanceId::new(instance),
        }
    }

    fn room() -> RoomName {
        RoomName::new("r").expect("valid")
    }

    const EXPIRY: Duration = Duration::from_secs(60);

    /// A cache with a slot for `room()` and a fresh proof of life.
    fn cache() -> Cache {
        let cache = Cache::new();
        cache.track(&room());
        cache.proved_alive(cache.now(), EXPIRY);
        cache
    }

    /// The copy decides as the relay script does: the sender must be in the room as a member
    /// of this instance; without `to` a room of two names the other; refusals are reported.
    #[test]
    fn recipients_are_decided_like_the_relay_script() {
        let here = InstanceId::new("a");
        let (x, y, z) = (PeerId::new("x"), PeerId::new("y"), PeerId::new("z"));
        let two = [entry("x", "a"), entry("y", "b")];
        assert_eq!(recipients(&two, &x, None, &here), Ok(vec![&two[1]]));
        assert_eq!(recipients(&two, &x, Some(&y), &here), Ok(vec![&two[1]]));
        assert_eq!(
            recipients(&two, &x, Some(&z), &here),
            Err(RelayError::UnknownPeer)
        );
        assert_eq!(
            recipients(&two, &y, None, &here),
            Err(RelayError::NotInRoom),
            "a member of another instance is not a sender here"
        );
        assert_eq!(
            recipients(&two[..1], &x, None, &here),
            Err(RelayError::NoPeer)
        );
        let three = [entry("x", "a"), entry("y", "b"), entry("z", "a")];
        assert_eq!(
            recipients(&three, &x, None, &here),
            Err(RelayError::RecipientRequired)
        );
        assert_eq!(recipients(&three, &x, Some(&z), &here), Ok(vec![&three[2]]));
    }

    /// A read is installed when nothing changed since its ticket, and not when the room or
    /// everything was thrown away meanwhile; a failed call since the read distrusts it.
    #[test]
    fn a_read_older_than_a_change_is_never_installed() {
        let cache = cache();
        let ticket = cache.ticket(0);
        cache.fill(&room(), ticket, vec![entry("x", "a")]);
        assert!(cache.entries(&room(), 0).is_some());
        assert!(cache.entries(&room(), 1).is_none(), "a call failed since");

        let ticket = cache.ticket(0);
        cache.invalidate(&room());
        assert!(cache.entries(&room(), 0).is_none());
        cache.fill(&room(), ticket, vec![entry("x", "a")]);
        assert!(
            cache.entries(&room(), 0).is_none(),
            "read before the change"
        );

        let ticket = cache.ticket(0);
        cache.invalidate_all();
        cache.fill(&room(), ticket, vec![entry("x", "a")]);
        assert!(
            cache.entries(&room(), 0).is_none(),
            "read before everything changed"
        );

        let ticket = cache.ticket(0);
        cache.forget(&room());
        cache.track(&room());
        cache.fill(&room(), ticket, vec![entry("x", "a")]);
        assert!(
            cache.entries(&room(), 0).is_none(),
            "read before the slot was made"
        );
    }

    /// Without a proof of life the copy is not used; a proof that comes after the previous
    /// one ran out throws everything away.
    #[test]
    fn the_copy_is_used_only_while_this_instance_is_surely_alive() {
        let cache = Cache::new();
        cache.track(&room());
        cache.fill(&room(), cache.ticket(0), vec![entry("x", "a")]);
        assert!(cache.entries(&room(), 0).is_none(), "no heartbeat yet");
        cache.proved_alive(cache.now(), EXPIRY);
        assert!(
            cache.entries(&room(), 0).is_none(),
            "the fill predates the proof"
        );
        cache.fill(&room(), cache.ticket(0), vec![entry("x", "a")]);
        assert!(cache.entries(&room(), 0).is_some());
        cache.alive_until.store(1, Ordering::SeqCst);
        assert!(cache.entries(&room(), 0).is_none(), "the proof ran out");
        cache.proved_alive(cache.now(), EXPIRY);
        assert!(
            cache.entries(&room(), 0).is_none(),
            "a late proof throws the copy away"
        );
    }
}
