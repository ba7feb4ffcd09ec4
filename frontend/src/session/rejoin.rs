//! Calls that outlive the signalling socket.
//!
//! Media flows between the browsers directly; the server is needed only to set a call up and
//! repair it. So when the socket drops, the calls and the room's members are kept, a small
//! note says the page is reconnecting, and the link reconnects with backoff. Back in the room
//! (`joined`, with the resume token), the calls whose connection still carries media are kept
//! as they are, the dead ones are closed (and the other side told), and if the server gave
//! this page a new id — it restarted and could not verify the token — every live call hears
//! our new id over its data channel (`hello`), so the other side's relays reach us again.
//!
//! Also here: the seat kept in `sessionStorage` across a reload (marked released on
//! `pagehide`, see [`crate::call::seat`]); the seat taken by another tab (close code 4001) and
//! taken back; and the checks after the page was hidden or the machine slept.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use shared::{ClientMessage, MAX_HELLO_PEER_LEN, PeerId, PeerMessage, ResumeToken};
use web_sys::RtcPeerConnectionState;

use super::Session;
use super::call::{Call, CallKey};
use super::link::Transport;
use crate::browser::page_life::{PageEvent, PageLife};
use crate::browser::storage;
use crate::call::liveness::{ConnectionState, STALL_CHECK_INTERVAL, stalled, survives_rejoin};
use crate::call::seat::{StoredSeat, hang_up_stale_call};

/// What watches the page for the session: its lifecycle events and a clock that notices
/// stalls. Dropping it stops both.
pub(super) struct Watchers {
    _page: Option<PageLife>,
    _stall: Interval,
}

impl Session {
    /// Starts watching the page: leaving releases the stored seat for the next page of this
    /// tab; coming back into view, or a stalled clock, checks the link and the calls.
    pub(super) fn watch_page(&self) {
        let page = PageLife::watch({
            let this = self.this.clone();
            move |event| {
                if let Some(session) = this.upgrade() {
                    session.on_page_event(event);
                }
            }
        });
        let last_tick = Rc::new(Cell::new(js_sys::Date::now()));
        let stall = Interval::new(millis(STALL_CHECK_INTERVAL), {
            let this = self.this.clone();
            move || {
                let now = js_sys::Date::now();
                let elapsed = Duration::from_millis((now - last_tick.replace(now)).max(0.0) as u64);
                if stalled(STALL_CHECK_INTERVAL, elapsed)
                    && let Some(session) = this.upgrade()
                {
                    session.check_connections();
                }
            }
        });
        self.state.borrow_mut().watchers = Some(Watchers {
            _page: page,
            _stall: stall,
        });
    }

    fn on_page_event(&self, event: PageEvent) {
        match event {
            PageEvent::Visible => self.check_connections(),
            // A reload or a new page of this tab may take the seat now...
            PageEvent::Hiding => {
                self.mark_seat(false);
                self.hang_up_on_leaving();
            }
            // ...unless this page came back from the back-forward cache.
            PageEvent::Showing => self.mark_seat(true),
        }
    }

    /// The page is going away (closed, reloaded, navigated): its calls cannot outlive it, so
    /// they end now with `hang_up`, and the other person reads "They hung up." at once instead
    /// of watching "Reconnecting…" until the server gives up on this seat (the resume grace).
    /// A reload takes the seat back and can be called again straight away.
    fn hang_up_on_leaving(&self) {
        if !self.state.borrow().calls.is_empty() {
            self.hang_up();
        }
    }

    /// After the page was hidden or the machine slept: is the socket still answering (a
    /// `ping` that must get its `pong`, else it reconnects), and did a call fail meanwhile (then
    /// repair it as Retry would).
    pub(super) fn check_connections(&self) {
        let transport = self.state.borrow().transport.clone();
        if let Some(transport) = transport {
            transport.check();
        }
        let failed = self
            .state
            .borrow()
            .calls
            .values()
            .any(|call| call.peer().raw().connection_state() == RtcPeerConnectionState::Failed);
        if failed {
            self.retry_call();
        }
    }

    /// Marks the stored seat in use by this page, or released for the next one.
    fn mark_seat(&self, in_use: bool) {
        let Some(key) = self
            .state
            .borrow()
            .seat_key
            .clone()
            .filter(|_| self.state.borrow().owns_stored_seat)
        else {
            return;
        };
        if let Some(seat) = storage::get(&key)
            .as_deref()
            .and_then(StoredSeat::from_json)
        {
            storage::set(&key, &seat.marked(in_use).to_json());
        }
    }

    /// Keeps the latest token, for the next `join` of this page or of a reload.
    pub(super) fn save_seat(&self, token: ResumeToken, me: PeerId) {
        let Some(key) = self.state.borrow().seat_key.clone() else {
            return;
        };
        self.state.borrow_mut().owns_stored_seat = true;
        let seat = StoredSeat {
            token: token.as_str().to_owned(),
            peer: me,
            in_use: true,
        };
        storage::set(&key, &seat.to_json());
    }

    /// The socket dropped: the calls go on; relays wait; reconnect unless the room refused us.
    pub(super) fn on_link_lost(&self) {
        let (reconnect, presence, transport) = {
            let mut state = self.state.borrow_mut();
            let reconnect = state.room.socket_closed();
            for (other, call) in state.calls.iter_mut() {
                call.signalling(false, None, other);
            }
            (reconnect, state.room.presence(), state.transport.clone())
        };
        if let Some(transport) = transport {
            transport.set_members(None);
            if reconnect {
                transport.reconnect();
            }
        }
        self.ui.server_note.set(reconnect);
        self.ui.presence.set(presence);
    }

    /// Another tab or window took our seat (close code 4001): the call continues there, so it
    /// ends here, and nothing reconnects until the person takes it back.
    pub(super) fn on_replaced(&self) {
        let (actions, presence, transport) = {
            let mut state = self.state.borrow_mut();
            let actions = state.room.replaced();
            (actions, state.room.presence(), state.transport.clone())
        };
        if let Some(transport) = transport {
            transport.set_members(None);
        }
        self.ui.server_note.set(false);
        self.ui.presence.set(presence);
        self.run(actions);
    }

    /// Take back here the call that continued in another tab: connect again; our token takes
    /// the seat back (and the other tab hears 4001 in turn).
    pub fn take_back(&self) {
        let (presence, transport) = {
            let mut state = self.state.borrow_mut();
            state.room.take_back();
            (state.room.presence(), state.transport.clone())
        };
        self.ui.presence.set(presence);
        if let Some(transport) = transport {
            transport.open();
        }
    }

    /// Back in the room (`joined`): keep the calls that still carry media, close the dead ones
    /// (telling the other side), tell the live ones our new id if it changed, and after a
    /// reload hang up the call the other side may still show with our previous page.
    pub(super) fn on_joined(&self, previous: Option<PeerId>) {
        let dead: Vec<PeerId> = self
            .state
            .borrow()
            .calls
            .iter()
            .filter(|(_, call)| !call_survives(call))
            .map(|(other, _)| other.clone())
            .collect();
        for other in dead {
            self.end_call(&other);
            self.send(ClientMessage::HangUp { to: Some(other) });
        }
        let (me, others, claimed) = {
            let mut state = self.state.borrow_mut();
            let me = state.room.me().cloned();
            let others: Vec<(PeerId, bool)> = state
                .room
                .others()
                .into_iter()
                .map(|other| {
                    let has_call = state.calls.contains_key(&other);
                    (other, has_call)
                })
                .collect();
            (me, others, state.claimed_seat.take())
        };
        let Some(me) = me else {
            return;
        };
        #[cfg(feature = "test-hooks")]
        super::hooks::set_peer_id(&me);
        if previous.is_some() && previous.as_ref() != Some(&me) {
            for call in self.state.borrow().calls.values() {
                call.channel().send(&PeerMessage::hello(me.clone()));
            }
        }
        for (other, has_call) in others {
            if hang_up_stale_call(claimed.as_ref(), &me, Some(&other), has_call) {
                self.send(ClientMessage::HangUp { to: Some(other) });
            }
        }
    }

    /// The other side of call `key` says it is `peer` now: the call, the room and what waits
    /// to be relayed are re-addressed to it. Nothing is renegotiated.
    pub(super) fn on_hello(&self, key: &CallKey, peer: PeerId) {
        if peer.as_str().is_empty() || peer.as_str().len() > MAX_HELLO_PEER_LEN {
            return;
        }
        let Some(old) = self.with_call(key, |call, _| call.other().clone()) else {
            return;
        };
        if old == peer {
            return;
        }
        let (transport, members) = {
            let mut state = self.state.borrow_mut();
            if state.calls.contains_key(&peer) {
                return; // Another call already has that id: not ours to merge.
            }
            let Some(mut call) = state.calls.remove(&old) else {
                return;
            };
            call.readdress(peer.clone());
            state.calls.insert(peer.clone(), call);
            state.room.readdress(&old, &peer);
            (state.transport.clone(), state.room.members())
        };
        self.calls_changed();
        if let Some(transport) = transport {
            transport.readdress(&old, &peer);
            transport.set_members(members);
        }
    }
}

/// Whether `call` is alive enough to keep when the page is back in the room.
fn call_survives(call: &Call) -> bool {
    let state = match call.peer().raw().connection_state() {
        RtcPeerConnectionState::New => ConnectionState::New,
        RtcPeerConnectionState::Connecting => ConnectionState::Connecting,
        RtcPeerConnectionState::Connected => ConnectionState::Connected,
        RtcPeerConnectionState::Disconnected => ConnectionState::Disconnected,
        RtcPeerConnectionState::Failed => ConnectionState::Failed,
        RtcPeerConnectionState::Closed => ConnectionState::Closed,
        // A state added after this was written: keep the call, ICE will tell.
        _ => ConnectionState::Connecting,
    };
    survives_rejoin(state, call.has_connected(), call.channel().is_closed())
}

/// A `Duration` as the `u32` milliseconds browser timers take, saturating.
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}
