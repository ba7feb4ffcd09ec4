//! The in-memory store: who is in which room on this instance alone, and the capacity rule.
//!
//! Plain data behind one mutex, with methods that return what was decided (who was already
//! there, who remains, who receives a relay) and never touch a mailbox: the hub does the
//! announcing. Every member is [`super::Home::Here`]. Nothing happens in the background: a departure
//! is always the answer to a leave. A seat held for a resume is simply still in its room.

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
    /// forgotten. `None` when `peer` was not in `room` (nothing to announce).
    pub fn leave(&self, room: &RoomName, peer: &PeerId) -> Option<Departure> {
        let mut rooms = self.lock();
        let members = rooms.get_mut(room)?;
        let before = members.len();
        members.retain(|member| member != peer);
        if members.len() == before {
            return None;
        }
        let remaining = here(members);
        if remaining.is_empty() {
            rooms.remove(room);
        }
        Some(Departure {
            room: room.clone(),
            peer: peer.clone(),
            remaining,
        })
    }

    /// The other members of `room` when `peer`'s seat there is still held (by its connection
    /// or for its resume), `None` when it is not: the seat is then gone.
    pub fn resume(&self, room: &RoomName, peer: &PeerId) -> Option<Vec<Member>> {
        let rooms = self.lock();
        let members = rooms.get(room)?;
        members.contains(peer).then(|| {
            members
                .iter()
                .filter(|member| *member != peer)
                .map(|member| Member::here(member.clone()))
                .collect()
        })
    }

    /// Who receives a message relayed by `from`: `to` if it is another member; without `to`,
    /// the other member of a room of two (in a larger room that names nobody:
    /// [`RelayError::RecipientRequired`]). Only the recipients are copied out of the lock.
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
            None if members.len() > 2 => Err(RelayError::RecipientRequired),
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

    /// How many seats are taken, over all rooms.
    pub fn seats(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
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
        let departure = rooms.leave(&room("r"), &a).expect("a member");
        assert_eq!(departure.remaining, members(&[&b]));
        assert_eq!(rooms.len(), 1);
        assert_eq!(
            rooms.leave(&room("r"), &a),
            None,
            "nothing to announce twice"
        );
        let departure = rooms.leave(&room("r"), &b).expect("a member");
        assert_eq!(departure.remaining, vec![]);
        assert!(rooms.is_empty());
        assert_eq!(rooms.leave(&room("r"), &b), None);
        assert!(rooms.is_empty(), "leaving an unknown room creates nothing");
    }

    /// A seat still in the room can be resumed, with the others in join order; a seat that
    /// left cannot.
    #[test]
    fn resume_finds_held_seats_only() {
        let rooms = Rooms::default();
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        for peer in [&a, &b, &c] {
            rooms.join(&room("r"), peer, 3);
        }
        assert_eq!(rooms.resume(&room("r"), &b), Some(members(&[&a, &c])));
        assert_eq!(rooms.resume(&room("other"), &b), None);
        rooms.leave(&room("r"), &b);
        assert_eq!(rooms.resume(&room("r"), &b), None);
        assert_eq!(rooms.members(&room("r")), members(&[&a, &c]));
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

    /// A relay goes to the addressed member, or without `to` to the other member of a room of
    /// two; alone in the room, addressing a stranger, or leaving out `to` in a room of more
    /// than two is refused.
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
        assert_eq!(rooms.recipients(&room("r"), &a, None), Ok(vec![b.clone()]));
        rooms.join(&room("r"), &c, 3);
        assert_eq!(
            rooms.recipients(&room("r"), &a, None),
            Err(RelayError::RecipientRequired)
        );
        assert_eq!(
            rooms.recipients(&room("r"), &a, Some(&b)),
            Ok(vec![b.clone()])
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
