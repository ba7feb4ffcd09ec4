//! The in-memory store: who is in which room on this instance alone, and the capacity rule.
//!
//! Plain data behind one mutex, with methods that return what was decided (who was already
//! there, who remains, who receives a relay) and never touch a mailbox: the hub does the
//! announcing. Every member is [`super::Home::Here`]. Nothing happens in the background: a departure
//! is always the answer to a leave.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, RoomName};

use super::{Departure, JoinOutcome, Member, RelayError};

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
        let others = here(members);
        members.push(peer.clone());
        JoinOutcome::Joined { others }
    }

    /// Removes `peer` from `room` and says who remains to be told; an emptied room is
    /// forgotten.
    pub fn leave(&self, room: &RoomName, peer: &PeerId) -> Departure {
        let mut rooms = self.lock();
        let remaining = match rooms.get_mut(room) {
            Some(members) => {
                members.retain(|member| member != peer);
                here(members)
            }
            None => Vec::new(),
        };
        if remaining.is_empty() {
            rooms.remove(room);
        }
        Departure {
            room: room.clone(),
            peer: peer.clone(),
            remaining,
        }
    }

    /// Who receives a message relayed by `from`: `to` if it is another member, or every other
    /// member. Only the recipients are copied out of the lock.
    pub fn recipients(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
    ) -> Result<Vec<PeerId>, RelayError> {
        let rooms = self.lock();
        let members = rooms.get(room).map(Vec::as_slice).unwrap_or_default();
        let mut others = members.iter().filter(|member| *member != from).peekable();
        if others.peek().is_none() {
            return Err(RelayError::NoPeer);
        }
        match to {
            Some(to) if others.any(|member| member == to) => Ok(vec![to.clone()]),
            Some(_) => Err(RelayError::UnknownPeer),
            None => Ok(others.cloned().collect()),
        }
    }

    /// The members of `room` (empty for a room nobody is in).
    pub fn members(&self, room: &RoomName) -> Vec<Member> {
        self.lock()
            .get(room)
            .map(|members| here(members))
            .unwrap_or_default()
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

/// `peers`, all held by this instance.
fn here(peers: &[PeerId]) -> Vec<Member> {
    peers
        .iter()
        .map(|peer| Member::here(peer.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).expect("valid")
    }

    fn members(peers: &[&PeerId]) -> Vec<Member> {
        peers
            .iter()
            .map(|peer| Member::here((*peer).clone()))
            .collect()
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
                others: members(&[&a])
            }
        );
        assert_eq!(
            rooms.join(&room("r"), &c, 2),
            JoinOutcome::Full { capacity: 2 }
        );
        assert_eq!(rooms.members(&room("r")), members(&[&a, &b]));
    }

    /// Leaving reports who remains, frees the seat, and forgets an emptied room.
    #[test]
    fn leave_frees_the_seat_and_forgets_empty_rooms() {
        let rooms = Rooms::default();
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        rooms.join(&room("r"), &a, 2);
        rooms.join(&room("r"), &b, 2);
        assert_eq!(rooms.leave(&room("r"), &a).remaining, members(&[&b]));
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms.leave(&room("r"), &b).remaining, vec![]);
        assert!(rooms.is_empty());
        assert_eq!(rooms.leave(&room("r"), &b).remaining, vec![]);
        assert!(rooms.is_empty(), "leaving an unknown room creates nothing");
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

    /// A relay goes to the addressed member, or to every member but the sender; alone in the
    /// room or addressing a stranger is refused.
    #[test]
    fn relay_recipients() {
        let rooms = Rooms::default();
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        rooms.join(&room("r"), &a, 3);
        assert_eq!(
            rooms.recipients(&room("r"), &a, None),
            Err(RelayError::NoPeer)
        );
        rooms.join(&room("r"), &b, 3);
        rooms.join(&room("r"), &c, 3);
        assert_eq!(
            rooms.recipients(&room("r"), &a, None),
            Ok(vec![b.clone(), c.clone()])
        );
        assert_eq!(
            rooms.recipients(&room("r"), &a, Some(&c)),
            Ok(vec![c.clone()])
        );
        assert_eq!(
            rooms.recipients(&room("r"), &a, Some(&PeerId::new("z"))),
            Err(RelayError::UnknownPeer)
        );
        assert_eq!(
            rooms.recipients(&room("elsewhere"), &a, None),
            Err(RelayError::NoPeer)
        );
    }
}
