//! The signalling link: how the session's messages reach the server and the server's reach
//! the session.
//!
//! [`Transport`] is the small interface the session talks to; [`SocketLink`] implements it
//! with the signalling WebSocket, reconnecting with backoff when it drops, and the browser tests
//! implement it with an in-page stand-in for the server. A transport reports what happens as
//! [`LinkEvent`]s through [`LinkEvents`], which holds the session weakly. Whether to reconnect is
//! not the link's decision (a full room must not come back): the session asks for it.
//! [`refresh_ice_after`] is the timer that asks the server for fresh ICE servers.
//!
//! A socket can look open and be dead (after sleep, or a proxy that dropped it silently):
//! [`Transport::check`] sends a `ping` and, without a `pong` within
//! [`PONG_TIMEOUT`](crate::call::liveness::PONG_TIMEOUT), drops the socket and reports it
//! closed, so the session reconnects.

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
use crate::call::liveness::PONG_TIMEOUT;

/// What a transport reports to its session.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// Messages can be sent now (they may wait in a queue until the socket is open).
    Opened,
    /// A message from the server.
    Message(ServerMessage),
    /// The link went down; nothing sent now arrives.
    Closed,
    /// The server closed the link because a newer connection with our resume token (another
    /// tab or window) took our seat (close code [`REPLACED_CLOSE_CODE`]).
    Replaced,
}

/// The close code the server uses when a newer connection took this one's seat.
pub const REPLACED_CLOSE_CODE: u16 = 4001;

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
    /// The page may have slept or been frozen: make sure the link still works (a `ping` that
    /// must be answered), and if it is down, reconnect now rather than after the backoff.
    fn check(&self) {}
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
    /// Set while a `ping` of [`Transport::check`] waits for its `pong`: the socket is declared
    /// dead when it fires. Dropping it (on the `pong`) cancels it.
    pong_due: Option<Timeout>,
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
                self.on_socket_event(SocketEvent::Closed { code: None });
            }
        }
    }

    fn on_socket_event(&self, event: SocketEvent) {
        match event {
            SocketEvent::Message(message) => {
                if message == ServerMessage::Pong {
                    let due = self.state.borrow_mut().pong_due.take();
                    drop(due);
                }
                self.events.report(LinkEvent::Message(message));
            }
            SocketEvent::Closed { code } => {
                // Dropped outside the borrow: dropping the socket aborts its task.
                let (socket, due) = {
                    let mut state = self.state.borrow_mut();
                    (state.socket.take(), state.pong_due.take())
                };
                drop((socket, due));
                self.events.report(if code == Some(REPLACED_CLOSE_CODE) {
                    LinkEvent::Replaced
                } else {
                    LinkEvent::Closed
                });
            }
        }
    }

    /// No `pong` in time: the socket is dead even if the browser has not noticed. Dropping it
    /// closes it (a late close event is not reported: the handle is gone).
    fn pong_missed(&self) {
        let socket = {
            let mut state = self.state.borrow_mut();
            state.pong_due = None;
            state.socket.take()
        };
        if socket.is_some() {
            drop(socket);
            warn(
                "the signalling socket did not answer a ping; reconnecting",
                &JsValue::UNDEFINED,
            );
            self.events.report(LinkEvent::Closed);
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

    fn check(&self) {
        let mut state = self.state.borrow_mut();
        match &state.socket {
            Some(socket) => {
                if state.pong_due.is_some() {
                    return; // A check is already waiting for its pong.
                }
                if !socket.send(&ClientMessage::Ping) {
                    return; // The queue is stuck; the socket's own close will tell.
                }
                let this = self.this.clone();
                state.pong_due = Some(Timeout::new(millis(PONG_TIMEOUT), move || {
                    if let Some(link) = this.upgrade() {
                        link.pong_missed();
                    }
                }));
            }
            None if state.retry.is_some() => {
                // Waiting out a backoff that may have grown long while the page slept: the
                // person is looking now, so try at once.
                state.retry = None;
                drop(state);
                self.connect();
            }
            None => {}
        }
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
