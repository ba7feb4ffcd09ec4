//! Seats kept for connections that ended without `leave`, during the grace period.
//!
//! When a connection in a room ends for any other reason (closed, failed, silent, server
//! shutting down), its seat stays in the presence store and a hold is recorded here with a
//! timer. A resume of that seat within the grace releases the hold (the timer then does
//! nothing); otherwise the timer fires and the hub announces the departure as usual. Each hold
//! has a generation, so a timer of an earlier hold of the same peer id never ends a later one.
//!
//! Plain data: the timers themselves are tasks of the hub, which does the announcing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, RoomName};
use tokio_util::sync::CancellationToken;

/// One held seat.
#[derive(Debug)]
struct Hold {
    room: RoomName,
    /// Tells this hold's timer apart from the timer of an earlier hold of the same peer id.
    generation: u64,
    /// Cancelled when the hold is released, so its timer ends at once.
    released: CancellationToken,
}

/// The seats held on this instance. A std mutex: held for one map operation at a time, never
/// across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    holds: HashMap<PeerId, Hold>,
    next_generation: u64,
}

/// What a timer needs to know about its hold.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub room: RoomName,
    pub peer: PeerId,
    pub generation: u64,
    /// Cancelled when the hold is released before the grace is over.
    pub released: CancellationToken,
}

impl Holds {
    /// Holds `peer`'s seat in `room` (replacing any earlier hold of it) and returns the ticket
    /// its timer waits with.
    pub fn hold(&self, room: &RoomName, peer: &PeerId) -> Ticket {
        let mut state = self.lock();
        state.next_generation += 1;
        let generation = state.next_generation;
        let released = CancellationToken::new();
        let earlier = state.holds.insert(
            peer.clone(),
            Hold {
                room: room.clone(),
                generation,
                released: released.clone(),
            },
        );
        if let Some(earlier) = earlier {
            earlier.released.cancel();
        }
        Ticket {
            room: room.clone(),
            peer: peer.clone(),
            generation,
            released,
        }
    }

    /// Releases `peer`'s hold (its seat was resumed); says whether there was one.
    pub fn release(&self, peer: &PeerId) -> bool {
        match self.lock().holds.remove(peer) {
            Some(hold) => {
                hold.released.cancel();
                true
            }
            None => false,
        }
    }

    /// Ends the hold of `ticket` when its grace is over; false when it was released or
    /// replaced meanwhile, in which case nobody must be told anything.
    pub fn expire(&self, ticket: &Ticket) -> bool {
        let mut state = self.lock();
        match state.holds.get(&ticket.peer) {
            Some(hold) if hold.generation == ticket.generation && hold.room == ticket.room => {
                state.holds.remove(&ticket.peer);
                true
            }
            _ => false,
        }
    }

    /// Whether `peer`'s seat is held here.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.lock().holds.contains_key(peer)
    }

    /// How many seats are held.
    pub fn len(&self) -> usize {
        self.lock().holds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Each critical section is one map operation: a panic cannot leave it half-done.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomName {
        RoomName::new("r").expect("valid")
    }

    /// A hold expires once; a released hold never does, and its timer is told at once.
    #[test]
    fn holds_expire_unless_released() {
        let holds = Holds::default();
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        let a_ticket = holds.hold(&room(), &a);
        let b_ticket = holds.hold(&room(), &b);
        assert!(holds.release(&b));
        assert!(b_ticket.released.is_cancelled());
        assert!(!holds.expire(&b_ticket));
        assert!(holds.expire(&a_ticket));
        assert!(!holds.expire(&a_ticket), "expires once");
        assert!(holds.is_empty());
    }

    /// The timer of an earlier hold of the same peer does not end a later hold.
    #[test]
    fn a_later_hold_outlives_an_earlier_timer() {
        let holds = Holds::default();
        let a = PeerId::new("a");
        let first = holds.hold(&room(), &a);
        let second = holds.hold(&room(), &a);
        assert!(first.released.is_cancelled());
        assert!(!holds.expire(&first));
        assert!(holds.contains(&a));
        assert!(holds.expire(&second));
    }
}
