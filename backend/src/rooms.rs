//! The in-memory room registry: who is in which room, and the capacity rule.
//!
//! Plain data behind one mutex, with methods that return what was decided (who was already
//! there, who remains) and never touch a socket: the caller does the I/O. That keeps the rules
//! unit-testable and lets a shared store (Redis) stand behind the same decisions.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, RoomName};

/// What became of a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Admitted; `others` were already in the room, in the order they joined.
    Joined { others: Vec<PeerId> },
    /// Refused: the room already holds `capacity` people.
    Full { capacity: usize },
}

/// Shared handle to the rooms of this server.
///
/// A std mutex is right here: it is never held across an `.await`, and every critical section
/// is a few vector operations.
#[derive(Debug, Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<RoomName, Vec<PeerId>>>>,
}

impl Rooms {
    /// Adds `peer` to `room` unless the room is full. Check and insert happen under one lock
    /// acquisition, so concurrent joins can never overfill a room.
    pub fn join(&self, room: &RoomName, peer: &PeerId, capacity: usize) -> JoinOutcome {
        let mut rooms = self.lock();
        let members = rooms.entry(room.clone()).or_default();
        if members.len() >= capacity {
            return JoinOutcome::Full { capacity };
        }
        let others = members.clone();
        members.push(peer.clone());
        JoinOutcome::Joined { others }
    }

    /// Removes `peer` from `room` and returns who remains; an emptied room is forgotten.
    pub fn leave(&self, room: &RoomName, peer: &PeerId) -> Vec<PeerId> {
        let mut rooms = self.lock();
        let Some(members) = rooms.get_mut(room) else {
            return Vec::new();
        };
        members.retain(|member| member != peer);
        let remaining = members.clone();
        if remaining.is_empty() {
            rooms.remove(room);
        }
        remaining
    }

    /// The members of `room` (empty for a room nobody is in).
    pub fn members(&self, room: &RoomName) -> Vec<PeerId> {
        self.lock().get(room).cloned().unwrap_or_default()
    }

    /// How many rooms have at least one member.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomName, Vec<PeerId>>> {
        // A panic while holding this lock cannot leave the map half-updated (each method does
        // its whole change or nothing before any call that could panic), so poisoning is moot.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).expect("valid")
    }

    /// The first joiner finds nobody; the second finds the first; the third is refused.
    #[test]
    fn admits_up_to_capacity() {
        let rooms = Rooms::default();
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        assert_eq!(
            rooms.join(&room("r"), &a, 2),
            JoinOutcome::Joined { others: vec![] }
        );
        assert_eq!(
            rooms.join(&room("r"), &b, 2),
            JoinOutcome::Joined {
                others: vec![a.clone()]
            }
        );
        assert_eq!(
            rooms.join(&room("r"), &c, 2),
            JoinOutcome::Full { capacity: 2 }
        );
        assert_eq!(rooms.members(&room("r")), vec![a, b]);
    }

    /// Leaving reports who remains, frees the seat, and forgets an emptied room.
    #[test]
    fn leave_frees_the_seat_and_forgets_empty_rooms() {
        let rooms = Rooms::default();
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        rooms.join(&room("r"), &a, 2);
        rooms.join(&room("r"), &b, 2);
        assert_eq!(rooms.leave(&room("r"), &a), vec![b.clone()]);
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms.leave(&room("r"), &b), Vec::<PeerId>::new());
        assert!(rooms.is_empty());
        assert_eq!(rooms.leave(&room("r"), &b), Vec::<PeerId>::new());
    }

    /// Rooms are independent: a full room does not affect another.
    #[test]
    fn rooms_are_independent() {
        let rooms = Rooms::default();
        rooms.join(&room("one"), &PeerId::new("a"), 1);
        assert_eq!(
            rooms.join(&room("two"), &PeerId::new("b"), 1),
            JoinOutcome::Joined { others: vec![] }
        );
        assert_eq!(
            rooms.join(&room("one"), &PeerId::new("c"), 1),
            JoinOutcome::Full { capacity: 1 }
        );
    }
}
