//! Joins this instance sent to Redis without knowing the outcome.
//!
//! A join whose reply times out may still have happened in Redis: the seat is then taken by a
//! peer this instance believes is not in the room. Every join is recorded here before it is
//! sent and forgotten once its answer arrives; one that failed stays recorded. When the same
//! connection joins again, the script finds its entry and admits it once (joins are idempotent
//! per peer id); when the connection ends without a seat, its recorded join is undone
//! ([`super::RedisPresence::connection_gone`]), so no seat outlives its connection.

use std::{collections::HashMap, sync::Mutex};

use shared::{PeerId, RoomName};

use super::lock;

/// The joins sent and not answered, by peer: a connection has at most one join outstanding
/// (its task waits for each), so one room per peer.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    joins: Mutex<HashMap<PeerId, RoomName>>,
}

impl InFlight {
    /// Records that `peer` is about to join `room`; returns the room of an earlier join of
    /// `peer` whose outcome is still unknown, when it is another room (that seat, if it was
    /// taken, must be given up).
    pub(super) fn start(&self, room: &RoomName, peer: &PeerId) -> Option<RoomName> {
        lock(&self.joins)
            .insert(peer.clone(), room.clone())
            .filter(|earlier| earlier != room)
    }

    /// The join of `peer` was answered: its outcome is known.
    pub(super) fn finish(&self, peer: &PeerId) {
        lock(&self.joins).remove(peer);
    }

    /// The room of `peer`'s unanswered join, forgotten here.
    pub(super) fn take(&self, peer: &PeerId) -> Option<RoomName> {
        lock(&self.joins).remove(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).expect("valid")
    }

    /// An unanswered join is kept until the connection is gone; an answered one is forgotten;
    /// a join of another room reports the earlier unanswered one.
    #[test]
    fn unanswered_joins_are_kept() {
        let joins = InFlight::default();
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        assert_eq!(joins.start(&room("r"), &a), None);
        assert_eq!(
            joins.start(&room("r"), &a),
            None,
            "a retry of the same room"
        );
        assert_eq!(joins.start(&room("other"), &a), Some(room("r")));
        assert_eq!(joins.start(&room("r"), &b), None);
        joins.finish(&b);
        assert_eq!(joins.take(&b), None);
        assert_eq!(joins.take(&a), Some(room("other")));
        assert_eq!(joins.take(&a), None);
    }
}
