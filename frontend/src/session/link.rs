//! The signalling link: how the session's messages reach the server and the server's reach
//! the session.
//!
//! [`Transport`] is the small interface the session talks to; [`SocketLink`] implements it
//! with the signalling WebSocket, reconnecting with backoff when it drops, and the browser tests
//! implement it with an in-page stand-in for the server. A transport reports what happens as
//! [`LinkEvent`]s through [`LinkEvents`], which holds the session weakly. Whether to reconnect is
//! not the link's decision (a full room must not come back): the session asks for it.
//! [`refresh_ice_after`] is the timer that asks the server for fresh ICE servers.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use gloo_timers::callback::Timeout;
use shared::{ClientMessage, ServerMessage};
use wasm_bindgen::JsValue;

use super::Session;
use crate::browser::socket::{SignallingSocket, SocketEvent};
use crate::browser::warn;
use crate::call::backoff::reconnect_delay;

/// What a transport reports to its session.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// Messages can be sent now (they may wait in a queue until the socket is open).
    Opened,
    /// A message from the server.
    Message(ServerMessage),
    /// The link went down; nothing sent now arrives.
    Closed,
}

/// Where a transport reports its events: the session, held weakly, so a transport never keeps
/// a stopped session alive.
#[derive(Clone)]
pub struct LinkEvents(pub(super) Weak<Session>);

impl LinkEvents {
    /// Hands `event` to the session, if it still exists. Must not be called while the
    /// transport holds a borrow of its own state: the session may call back into it.
    pub fn report(&self, event: LinkEvent) {
        if let Some(session) = self.0.upgrade() {
            session.on_link_event(event);
        }
    }
}

impl std::fmt::Debug for LinkEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LinkEvents").finish_non_exhaustive()
    }
}

/// How the session reaches the server.
pub trait Transport {
    /// Starts connecting; `Opened` (or `Closed`) is reported, possibly before this returns.
    fn open(&self);
    /// Queues `message` for the server. Dropped while the link is down: the room is re-joined
    /// on reconnect, and the call's candidates are held back by the session meanwhile.
    fn send(&self, message: ClientMessage);
    /// Whether the link is up now.
    fn is_up(&self) -> bool;
    /// The link went down and the session wants it back: reconnect later (when is the
    /// transport's business).
    fn reconnect(&self) {}
    /// The server let us in (`joined`): the link works again, so the next drop starts the
    /// backoff from the beginning.
    fn joined(&self) {}
}

/// The signalling WebSocket, reconnected with exponential backoff and jitter.
pub struct SocketLink {
    this: Weak<SocketLink>,
    url: String,
    events: LinkEvents,
    state: RefCell<SocketState>,
}

#[derive(Default)]
struct SocketState {
    /// `None` while down.
    socket: Option<SignallingSocket>,
    /// Reconnect attempts since the last `joined`.
    attempt: u32,
    /// The pending reconnect; dropping it cancels it.
    retry: Option<Timeout>,
}

impl SocketLink {
    /// A link to `url`, not yet connected ([`Transport::open`] connects).
    pub fn new(url: String, events: LinkEvents) -> Rc<Self> {
        Rc::new_cyclic(|this| Self {
            this: this.clone(),
            url,
            events,
            state: RefCell::new(SocketState::default()),
        })
    }

    fn connect(&self) {
        let this = self.this.clone();
        let connected = SignallingSocket::connect(&self.url, move |event| {
            if let Some(link) = this.upgrade() {
                link.on_socket_event(event);
            }
        });
        match connected {
            Ok(socket) => {
                {
                    let mut state = self.state.borrow_mut();
                    state.socket = Some(socket);
                    state.retry = None;
                }
                self.events.report(LinkEvent::Opened);
            }
            Err(error) => {
                warn("cannot open the signalling socket", &error);
                self.on_socket_event(SocketEvent::Closed);
            }
        }
    }

    fn on_socket_event(&self, event: SocketEvent) {
        match event {
            SocketEvent::Message(message) => self.events.report(LinkEvent::Message(message)),
            SocketEvent::Closed => {
                // Dropped outside the borrow: dropping the socket aborts its task.
                let socket = self.state.borrow_mut().socket.take();
                drop(socket);
                self.events.report(LinkEvent::Closed);
            }
        }
    }
}

impl Transport for SocketLink {
    fn open(&self) {
        self.connect();
    }

    fn send(&self, message: ClientMessage) {
        if let Some(socket) = &self.state.borrow().socket
            && !socket.send(&message)
        {
            warn(
                "signalling queue full; dropped",
                &JsValue::from_str(&format!("{message:?}")),
            );
        }
    }

    fn is_up(&self) -> bool {
        self.state.borrow().socket.is_some()
    }

    fn reconnect(&self) {
        let mut state = self.state.borrow_mut();
        let delay = reconnect_delay(state.attempt, js_sys::Math::random());
        state.attempt = state.attempt.saturating_add(1);
        let this = self.this.clone();
        state.retry = Some(Timeout::new(millis(delay), move || {
            if let Some(link) = this.upgrade() {
                link.connect();
            }
        }));
    }

    fn joined(&self) {
        self.state.borrow_mut().attempt = 0;
    }
}

/// A timer that asks the server for fresh ICE servers after `after`; dropping it cancels it.
pub(super) fn refresh_ice_after(session: Weak<Session>, after: Duration) -> Timeout {
    Timeout::new(millis(after), move || {
        if let Some(session) = session.upgrade() {
            session.send(ClientMessage::IceServers);
        }
    })
}

/// A `Duration` as the `u32` milliseconds browser timers take, saturating.
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}
