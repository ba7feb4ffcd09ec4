//! Joins this instance sent to Redis without knowing the outcome.
//!
//! A join whose reply times out may still have happened in Redis: the seat is then taken by a
//! peer this instance believes is not in the room. Every join (and every resume, which moves a
//! seat here) is recorded here before it is sent, under the connection that asked, and
//! forgotten once its answer arrives; one that failed stays recorded. When the same connection
//! tries again, the script finds its entry and admits it once (joins are idempotent per
//! entry); when the connection ends without a seat, its recorded attempt is undone
//! ([`super::RedisPresence::connection_gone`]), so no seat outlives its connection.

use std::{collections::HashMap, sync::Mutex};

use shared::{PeerId, RoomName};

use super::lock;

/// A join sent and not answered: the seat it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attempt {
    pub(super) room: RoomName,
    /// The peer id of the seat: the connection's own, or the one its resume token named.
    pub(super) seat: PeerId,
}

/// The joins sent and not answered, by the connection that asked: a connection has at most
/// one join outstanding (its task waits for each), so one attempt per connection.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    attempts: Mutex<HashMap<PeerId, Attempt>>,
}

impl InFlight {
    /// Records that `connection` is about to take `seat` in `room`; returns an earlier
    /// attempt of the same connection whose outcome is still unknown, when it asked for
    /// another seat (that seat, if it was taken, must be given up).
    pub(super) fn start(
        &self,
        connection: &PeerId,
        room: &RoomName,
        seat: &PeerId,
    ) -> Option<Attempt> {
        let attempt = Attempt {
            room: room.clone(),
            seat: seat.clone(),
        };
        lock(&self.attempts)
            .insert(connection.clone(), attempt.clone())
            .filter(|earlier| *earlier != attempt)
    }

    /// The attempt of `connection` was answered: its outcome is known.
    pub(super) fn finish(&self, connection: &PeerId) {
        lock(&self.attempts).remove(connection);
    }

    /// Whether a join or resume for `seat` in `room` is under way (or unanswered): a message
    /// relayed to that seat may arrive before the join's answer.
    pub(super) fn seeks(&self, room: &RoomName, seat: &PeerId) -> bool {
        lock(&self.attempts)
            .values()
            .any(|attempt| &attempt.room == room && &attempt.seat == seat)
    }

    /// The unanswered attempt of `connection`, forgotten here.
    pub(super) fn take(&self, connection: &PeerId) -> Option<Attempt> {
        lock(&self.attempts).remove(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).expect("valid")
    }

    fn attempt(name: &str, seat: &PeerId) -> Attempt {
        Attempt {
            room: room(name),
            seat: seat.clone(),
        }
    }

    /// An unanswered attempt is kept until the connection is gone; an answered one is
    /// forgotten; an attempt at another seat reports the earlier unanswered one.
    #[test]
    fn unanswered_attempts_are_kept() {
        let attempts = InFlight::default();
        let (a, b, old) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("old"));
        assert_eq!(attempts.start(&a, &room("r"), &a), None);
        assert_eq!(attempts.start(&a, &room("r"), &a), None, "a retry");
        assert_eq!(
            attempts.start(&a, &room("other"), &a),
            Some(attempt("r", &a))
        );
        assert_eq!(
            attempts.start(&a, &room("other"), &old),
            Some(attempt("other", &a))
        );
        assert_eq!(attempts.start(&b, &room("r"), &b), None);
        attempts.finish(&b);
        assert_eq!(attempts.take(&b), None);
        assert_eq!(attempts.take(&a), Some(attempt("other", &old)));
        assert_eq!(attempts.take(&a), None);
    }
}
