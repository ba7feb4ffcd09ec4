//! Messages that must reach the other person through the server while the server cannot relay
//! them: the socket is down, or we are not (yet) back in the room.
//!
//! A hang-up, or an offer, answer and candidates of an ICE restart, may be needed at any
//! moment; the server relays only between members of a room. [`Outbox`] holds such messages
//! until `joined` says we are members again and the person they are for is in the room too,
//! re-addressing them when that person came back under a new id. It is bounded: a page sends a
//! handful of these per repair, and a queue growing past [`OUTBOX_CAPACITY`] means they are
//! stale (the oldest are dropped first). Messages that are not relays (`join`, `ping`...) are
//! not its business: they belong to one connection and are never held.

use std::collections::VecDeque;

use shared::{ClientMessage, PeerId};

/// The most messages held. An ICE restart is an offer or answer plus a few candidates; a
/// hang-up is one message.
pub const OUTBOX_CAPACITY: usize = 64;

/// Relays waiting for the server to relay them again.
#[derive(Debug, Default, Clone)]
pub struct Outbox {
    /// In the order they were sent: a description before its candidates.
    held: VecDeque<ClientMessage>,
}

/// Whether `message` is relayed to other members (and so needs membership to go out).
pub fn is_relay(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::Offer { .. }
            | ClientMessage::Answer { .. }
            | ClientMessage::Candidate { .. }
            | ClientMessage::HangUp { .. }
    )
}

/// The member a relay is addressed to, if it names one.
fn addressee(message: &ClientMessage) -> Option<&PeerId> {
    match message {
        ClientMessage::Offer { to, .. }
        | ClientMessage::Answer { to, .. }
        | ClientMessage::Candidate { to, .. }
        | ClientMessage::HangUp { to } => to.as_ref(),
        _ => None,
    }
}

fn addressee_mut(message: &mut ClientMessage) -> Option<&mut PeerId> {
    match message {
        ClientMessage::Offer { to, .. }
        | ClientMessage::Answer { to, .. }
        | ClientMessage::Candidate { to, .. }
        | ClientMessage::HangUp { to } => to.as_mut(),
        _ => None,
    }
}

/// Whether a relay can go out now, given the other members of our room: addressed to one of
/// them, or to nobody in particular while someone is there.
pub fn deliverable(message: &ClientMessage, members: &[PeerId]) -> bool {
    match addressee(message) {
        Some(to) => members.contains(to),
        None => !members.is_empty(),
    }
}

impl Outbox {
    /// Keeps `message` for later, dropping the oldest when full.
    pub fn hold(&mut self, message: ClientMessage) {
        if self.held.len() >= OUTBOX_CAPACITY {
            self.held.pop_front();
        }
        self.held.push_back(message);
    }

    /// The person known as `old` is now `new`: what waits for them goes to `new`.
    pub fn readdress(&mut self, old: &PeerId, new: &PeerId) {
        for message in &mut self.held {
            if let Some(to) = addressee_mut(message)
                && to == old
            {
                *to = new.clone();
            }
        }
    }

    /// Takes out, in order, every message that can go out to `members` now; the rest (for
    /// someone not back yet) stay.
    pub fn release(&mut self, members: &[PeerId]) -> Vec<ClientMessage> {
        let (ready, waiting): (Vec<_>, Vec<_>) = self
            .held
            .drain(..)
            .partition(|message| deliverable(message, members));
        self.held = waiting.into();
        ready
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str) -> PeerId {
        PeerId::new(id)
    }

    fn hang_up(to: &str) -> ClientMessage {
        ClientMessage::HangUp { to: Some(peer(to)) }
    }

    fn offer(to: &str) -> ClientMessage {
        ClientMessage::Offer {
            sdp: "v=0".into(),
            to: Some(peer(to)),
        }
    }

    /// Only relays need the room; `join`, `ping` and ICE server requests never wait.
    #[test]
    fn only_relays_are_held() {
        assert!(is_relay(&hang_up("a")));
        assert!(is_relay(&offer("a")));
        assert!(!is_relay(&ClientMessage::Ping));
        assert!(!is_relay(&ClientMessage::IceServers));
        assert!(!is_relay(&ClientMessage::Leave));
    }

    /// What is held goes out in order once its addressee is a member; messages for someone
    /// not back yet stay until they are.
    #[test]
    fn releases_in_order_only_to_members() {
        let mut outbox = Outbox::default();
        outbox.hold(offer("a"));
        outbox.hold(hang_up("z"));
        outbox.hold(ClientMessage::Candidate {
            candidate: None,
            to: Some(peer("a")),
        });
        assert!(outbox.release(&[]).is_empty(), "nobody in the room yet");
        let released = outbox.release(&[peer("a")]);
        assert_eq!(released.len(), 2);
        assert_eq!(released[0], offer("a"));
        assert!(matches!(released[1], ClientMessage::Candidate { .. }));
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox.release(&[peer("z")]), vec![hang_up("z")]);
        assert!(outbox.is_empty());
    }

    /// A message to nobody in particular goes out as soon as anyone is there.
    #[test]
    fn unaddressed_relays_wait_for_anyone() {
        let mut outbox = Outbox::default();
        outbox.hold(ClientMessage::HangUp { to: None });
        assert!(outbox.release(&[]).is_empty());
        assert_eq!(outbox.release(&[peer("b")]).len(), 1);
    }

    /// The other person came back under a new id: what waited for the old one goes to the new.
    #[test]
    fn readdressed_to_a_new_id() {
        let mut outbox = Outbox::default();
        outbox.hold(offer("old"));
        outbox.hold(hang_up("someone-else"));
        outbox.readdress(&peer("old"), &peer("new"));
        assert_eq!(outbox.release(&[peer("new")]), vec![offer("new")]);
        assert_eq!(outbox.len(), 1);
    }

    /// Bounded: past the capacity the oldest messages go.
    #[test]
    fn drops_the_oldest_when_full() {
        let mut outbox = Outbox::default();
        for n in 0..OUTBOX_CAPACITY + 3 {
            outbox.hold(ClientMessage::Offer {
                sdp: n.to_string(),
                to: Some(peer("a")),
            });
        }
        assert_eq!(outbox.len(), OUTBOX_CAPACITY);
        let released = outbox.release(&[peer("a")]);
        assert_eq!(
            released[0],
            ClientMessage::Offer {
                sdp: "3".into(),
                to: Some(peer("a"))
            }
        );
    }
}
