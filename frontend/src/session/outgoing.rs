//! What the session sends, held while the server cannot relay it.
//!
//! [`Outgoing`] stands between the session (and its calls) and the [`Transport`]: messages for
//! the server itself (`join`, `ping`...) go straight through; a relay addressed to someone
//! (`hang_up`, an offer, an answer, a candidate) goes out only while the server counts us as a
//! member of the room and the addressee is a member too. Otherwise it waits in the
//! [`Outbox`] and goes out, re-addressed if the person came back under a new id, as soon as
//! both are back. The rules are [`crate::call::outbox`]'s; this only carries them out.

use std::cell::RefCell;
use std::rc::Rc;

use shared::{ClientMessage, PeerId};

use super::link::Transport;
use crate::call::outbox::{Outbox, deliverable, is_relay};

/// The session's sending side: a [`Transport`] that holds relays until they can be relayed.
pub(super) struct Outgoing {
    link: Rc<dyn Transport>,
    state: RefCell<OutgoingState>,
}

#[derive(Default)]
struct OutgoingState {
    /// The other members while the server counts us as a member on this connection; `None`
    /// while it does not (socket down, or not joined yet).
    members: Option<Vec<PeerId>>,
    outbox: Outbox,
}

impl Outgoing {
    pub(super) fn new(link: Rc<dyn Transport>) -> Self {
        Self {
            link,
            state: RefCell::new(OutgoingState::default()),
        }
    }

    /// Who else is in the room now (`None`: we are not, on this connection). Sends what was
    /// waiting for them.
    pub(super) fn set_members(&self, members: Option<Vec<PeerId>>) {
        let ready = {
            let mut state = self.state.borrow_mut();
            let OutgoingState {
                members: held,
                outbox,
            } = &mut *state;
            *held = members;
            held.as_deref()
                .map(|members| outbox.release(members))
                .unwrap_or_default()
        };
        for message in ready {
            self.link.send(message);
        }
    }

    /// The person known as `old` is now `new`: what waits for them goes to `new`.
    pub(super) fn readdress(&self, old: &PeerId, new: &PeerId) {
        self.state.borrow_mut().outbox.readdress(old, new);
    }
}

impl Transport for Outgoing {
    fn open(&self) {
        self.link.open();
    }

    fn send(&self, message: ClientMessage) {
        if is_relay(&message) {
            let mut state = self.state.borrow_mut();
            let can_go = state
                .members
                .as_deref()
                .is_some_and(|members| deliverable(&message, members));
            if !can_go {
                state.outbox.hold(message);
                return;
            }
        }
        self.link.send(message);
    }

    fn is_up(&self) -> bool {
        self.link.is_up()
    }

    fn reconnect(&self) {
        self.link.reconnect();
    }

    fn joined(&self) {
        self.link.joined();
    }

    fn check(&self) {
        self.link.check();
    }
}
