//! One visit to a room: the signalling link, the camera and the calls, wired together.
//!
//! [`Session`] carries out what [`crate::call`] decides. It owns the browser objects (the link
//! to the server, local media, a peer connection per call) and publishes their state through
//! signals that components read as a [`SessionView`]. Event callbacks hold only a `Weak`
//! handle, so dropping the last `Rc<Session>` (or calling [`Session::stop`]) releases
//! everything: peer connections close, tracks stop, listeners and timers go, the socket closes.
//!
//! The module is cut by job:
//! - this file: starting and stopping, server messages turned into actions, the camera;
//! - [`link`]: the [`Transport`] to the server (the WebSocket with reconnects) and the ICE
//!   server refresh; `outgoing.rs`: relays held while the server cannot relay them;
//! - `rejoin.rs`: the calls outliving the socket — back in the room after a reconnect or a
//!   reload, a new id told to the other side, the page's seat kept across reloads, checks
//!   after sleep;
//! - `call.rs`: the calls — peer connection, negotiation, candidates, route, live stats — keyed by the
//!   other person's [`PeerId`] (at most one entry while rooms hold two people);
//! - `chat.rs`: chat and file transfers over the call's data channels, and [`chat_ui`] the
//!   chat log's signals;
//! - [`ui`]: the signals, writable here and read-only for components;
//! - `screen.rs`: screen sharing; `devices.rs`: choosing devices and falling back;
//! - `recovery.rs`: ICE restarts without a click, the recovery's seconds, Retry;
//! - `hooks.rs` (cargo feature `test-hooks` only): what the browser tests inspect.
//!
//! A `RefCell` guards the state; it is never borrowed across an `.await`, and browser callbacks
//! arrive as separate tasks, so borrows never overlap.

mod call;
mod chat;
pub mod chat_ui;
mod devices;
#[cfg(feature = "test-hooks")]
mod hooks;
pub mod link;
mod outgoing;
mod recovery;
mod rejoin;
mod screen;
pub mod ui;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use shared::{ClientMessage, PeerId, RoomName, ServerMessage};
use wasm_bindgen_futures::spawn_local;

use crate::browser::location::signalling_url;
use crate::browser::media::{LocalMedia, open_camera, open_camera_and_microphone, show_stream};
use crate::browser::peer::IceConfig;
use crate::call::controls::{Controls, Toggle};
use crate::call::room::{Action, RoomState};
use crate::call::seat::StoredSeat;
use crate::call::status::Presence;

use call::Call;
pub use link::{LinkEvent, LinkEvents, SocketLink, Transport};
use outgoing::Outgoing;
use ui::SessionUi;
pub use ui::SessionView;

struct State {
    room: RoomState,
    /// `None` once stopped: nothing is sent any more.
    transport: Option<Rc<Outgoing>>,
    /// The `sessionStorage` key the seat is kept under; `None` for sessions that must not
    /// touch storage (the browser tests' stand-in servers).
    seat_key: Option<String>,
    /// The peer id of the seat claimed from storage at start (a reload), until the first
    /// `joined` tells whether it came back.
    claimed_seat: Option<PeerId>,
    /// Whether the stored seat is this page's: claimed at start or saved from our own
    /// `joined`. Only then may leaving release it: a copy of a live tab that joined without it
    /// must not hand the original's seat to its own next load.
    owns_stored_seat: bool,
    /// Page-lifecycle listeners and the stall watch; dropped on stop.
    watchers: Option<rejoin::Watchers>,
    ice: IceConfig,
    /// The most this page sends in all, in kbit/s, shared among its calls (from `joined`).
    upload_kbps: u32,
    /// Asks for fresh ICE servers before their `ttl` ends; dropping it cancels.
    ice_refresh: Option<Timeout>,
    media: Option<LocalMedia>,
    /// The calls, by the other person: one per other member at most (a full mesh).
    calls: BTreeMap<PeerId, Call>,
    /// Tells a call from an earlier one with the same person.
    next_generation: u64,
    /// The microphone and camera buttons; applied to `media` and told to the other side.
    controls: Controls,
    /// True while the camera is being turned back on (`getUserMedia` pending).
    camera_pending: bool,
    /// The shared screen while sharing: sent in place of the camera.
    screen: Option<screen::ScreenShare>,
    /// Which camera, microphone and speaker are in use, and what watches them.
    devices: devices::Devices,
    /// Received files offered for saving; their URLs are revoked when the session goes.
    saved_files: Vec<crate::browser::files::ObjectUrl>,
}

impl State {
    fn send(&self, message: ClientMessage) {
        if let Some(transport) = &self.transport {
            transport.send(message);
        }
    }

    fn link_up(&self) -> bool {
        self.transport
            .as_ref()
            .is_some_and(|transport| transport.is_up())
    }
}

/// One room visit. Create with [`Session::start`]; release with [`Session::stop`] or by
/// dropping the last `Rc`.
pub struct Session {
    this: Weak<Session>,
    ui: SessionUi,
    state: RefCell<State>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// Opens the signalling socket and joins `room`, with the seat this tab had in it before
    /// a reload (kept in `sessionStorage`), and watches the page for sleep and leaving.
    pub fn start(room: RoomName) -> Rc<Self> {
        let key = crate::call::seat::storage_key(room.as_str());
        let claimed =
            crate::call::seat::claim_at_start(crate::browser::storage::get(&key).as_deref());
        if let Some(seat) = &claimed {
            crate::browser::storage::set(&key, &seat.marked(true).to_json());
        }
        let session = Self::build(room, Some(key), claimed, |events| {
            SocketLink::new(signalling_url(), events)
        });
        session.watch_page();
        session
    }

    /// A session reaching the server through the transport `connect` builds, handing it where
    /// to report; joins `room` as soon as the transport reports `Opened`.
    pub fn with_transport<T: Transport + 'static>(
        room: RoomName,
        connect: impl FnOnce(LinkEvents) -> Rc<T>,
    ) -> Rc<Self> {
        Self::build(room, None, None, connect)
    }

    fn build<T: Transport + 'static>(
        room: RoomName,
        seat_key: Option<String>,
        claimed: Option<StoredSeat>,
        connect: impl FnOnce(LinkEvents) -> Rc<T>,
    ) -> Rc<Self> {
        let token = claimed
            .as_ref()
            .map(|seat| shared::ResumeToken::new(seat.token.clone()));
        let session = Rc::new_cyclic(|this: &Weak<Self>| Self {
            this: this.clone(),
            ui: SessionUi::new(),
            state: RefCell::new(State {
                room: RoomState::resuming(room, token),
                transport: None,
                seat_key,
                owns_stored_seat: claimed.is_some(),
                claimed_seat: claimed.map(|seat| seat.peer),
                watchers: None,
                ice: IceConfig::default(),
                upload_kbps: shared::DEFAULT_UPLOAD_KBPS,
                ice_refresh: None,
                media: None,
                calls: BTreeMap::new(),
                next_generation: 0,
                controls: Controls::default(),
                camera_pending: false,
                screen: None,
                devices: devices::Devices::default(),
                saved_files: Vec::new(),
            }),
        });
        let link: Rc<dyn Transport> = connect(LinkEvents(Rc::downgrade(&session)));
        let transport = Rc::new(Outgoing::new(link));
        session.state.borrow_mut().transport = Some(Rc::clone(&transport));
        transport.open();
        session
    }

    /// The state for components, read-only.
    pub fn view(&self) -> SessionView {
        self.ui.view()
    }

    /// Releases everything: the calls, the camera, timers and the link. Idempotent.
    pub fn stop(&self) {
        let (calls, media, transport, timer, screen, watchers) = {
            let mut state = self.state.borrow_mut();
            (
                std::mem::take(&mut state.calls),
                state.media.take(),
                state.transport.take(),
                state.ice_refresh.take(),
                state.screen.take(),
                state.watchers.take(),
            )
        };
        // Released outside the borrow: closing things may fire events synchronously.
        self.close_calls(calls);
        drop((media, transport, timer, screen, watchers));
    }

    fn send(&self, message: ClientMessage) {
        self.state.borrow().send(message);
    }

    // ----- the link ---------------------------------------------------------------------

    fn on_link_event(&self, event: LinkEvent) {
        match event {
            LinkEvent::Opened => {
                let actions = {
                    let mut state = self.state.borrow_mut();
                    let State {
                        calls, transport, ..
                    } = &mut *state;
                    // Candidates held while the link was down go to the outbox, which keeps
                    // them until we are back in the room.
                    let transport = transport.as_deref().map(|t| t as &dyn Transport);
                    for (other, call) in calls.iter_mut() {
                        call.signalling(true, transport, other);
                    }
                    state.room.socket_opened()
                };
                self.run(actions);
            }
            LinkEvent::Message(message) => self.on_server_message(message),
            LinkEvent::Closed => self.on_link_lost(),
            LinkEvent::Replaced => self.on_replaced(),
        }
    }

    /// Applies one message from the server.
    fn on_server_message(&self, message: ServerMessage) {
        let joined = matches!(message, ServerMessage::Joined { .. });
        if let ServerMessage::HangUp { from, .. } = &message
            && !self.state.borrow().calls.contains_key(from)
        {
            // No call with them: nothing to end (a reloaded page hangs up the call its
            // previous page had, in case this side still shows it).
            return;
        }
        let (actions, presence, transport, members, others) = {
            let mut state = self.state.borrow_mut();
            let actions = state.room.on_message(message);
            (
                actions,
                state.room.presence(),
                state.transport.clone(),
                state.room.members(),
                state.room.others().len(),
            )
        };
        // Every relayed message passes here (a call's candidates come one message each):
        // unchanged values are not set again, which would re-run what reads them.
        if self.ui.others.get_untracked() != others {
            self.ui.others.set(others);
        }
        if let Some(transport) = transport {
            if joined {
                transport.joined();
            }
            // Relays that waited for us or for them to be back in the room go out now.
            transport.set_members(members);
        }
        if (joined || matches!(presence, Presence::Full { .. }))
            && self.ui.server_note.get_untracked()
        {
            self.ui.server_note.set(false);
        }
        if self.ui.presence.get_untracked() != presence {
            self.ui.presence.set(presence);
        }
        if presence == Presence::PeerLeft {
            self.ui.peer_left.set(true);
        }
        if joined {
            // A notice from an earlier membership no longer applies.
            self.ui.notice.set(None);
        }
        self.run(actions);
    }

    fn run(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(message) => self.send(message),
                Action::ClosePeer => self.end_calls(),
                Action::CloseCall(other) => self.end_call(&other),
                Action::PeerArrived(peer) => self.on_peer_arrived(peer),
                Action::UseUploadBudget(kbps) => {
                    self.state.borrow_mut().upload_kbps = kbps;
                    self.calls_changed();
                }
                Action::UseIceServers {
                    servers,
                    policy,
                    refresh_after,
                } => {
                    let refresh = link::refresh_ice_after(self.this.clone(), refresh_after);
                    let mut state = self.state.borrow_mut();
                    state.ice = IceConfig { servers, policy };
                    state.ice_refresh = Some(refresh);
                }
                Action::RemoteOffer { sdp, from } => self.on_remote_offer(sdp, from),
                Action::RemoteAnswer { sdp, from } => self.on_remote_answer(sdp, &from),
                Action::RemoteCandidate { candidate, from } => {
                    self.on_remote_candidate(candidate, &from);
                }
                Action::Notify(notice) => self.ui.notice.set(Some(notice)),
                Action::Joined { previous } => self.on_joined(previous),
                Action::SaveSeat { token, me } => self.save_seat(token, me),
            }
        }
    }

    // ----- media ------------------------------------------------------------------------

    /// Asks for camera and microphone and shows the preview; adds the tracks to a running call.
    pub fn get_video(&self) {
        if self.ui.media_pending.get_untracked() {
            return;
        }
        self.ui.media_pending.set(true);
        self.ui.media_problem.set(None);
        let this = self.this.clone();
        spawn_local(async move {
            let opened = open_camera_and_microphone().await;
            let Some(session) = this.upgrade() else {
                return; // The page is gone; `opened` drops here and stops the tracks.
            };
            session.ui.media_pending.set(false);
            match opened {
                Ok(media) => session.use_media(media),
                Err(problem) => session.ui.media_problem.set(Some(problem)),
            }
        });
    }

    /// Uses `media` as the local camera/microphone (replacing any before).
    pub fn use_media(&self, media: LocalMedia) {
        if let Some(video) = self.ui.local_video.get_untracked() {
            show_stream(&video, Some(media.stream()));
        }
        let old = {
            let mut state = self.state.borrow_mut();
            media.set_muted(state.controls.muted);
            if state.controls.camera_off {
                media.stop_camera();
            }
            for call in state.calls.values() {
                call.add_tracks(&media);
            }
            state.media.replace(media)
        };
        drop(old);
        self.calls_changed();
        self.ui.has_media.set(true);
        self.devices_started();
    }

    // ----- the person's commands --------------------------------------------------------

    /// Starts a call with everybody in the room: a peer connection each, with the local
    /// tracks, whose `negotiationneeded` sends the offer. Does nothing unless someone else is
    /// here, media is on and no call runs.
    pub fn call(&self) {
        let others = {
            let state = self.state.borrow();
            if !state.calls.is_empty() || state.media.is_none() || !state.room.is_ready() {
                return;
            }
            state.room.others()
        };
        for other in others {
            self.offer_to(other);
        }
    }

    /// Turns the microphone or the camera off or on, and tells the other side. Muting sets the
    /// audio track's `enabled`; the camera is stopped (its light goes off) and the video sender
    /// sends nothing, then a new camera track is asked for and put in its place. Neither needs
    /// a new offer.
    pub fn toggle(&self, toggle: Toggle) {
        let mut state = self.state.borrow_mut();
        let next = state.controls.toggled(toggle);
        match toggle {
            Toggle::Mute => {
                if let Some(media) = &state.media {
                    media.set_muted(next.muted);
                }
            }
            Toggle::Camera if next.camera_off => {
                if let Some(media) = &state.media {
                    media.stop_camera();
                }
                // While sharing, the screen stays on the sender.
                if state.screen.is_none() {
                    for call in state.calls.values() {
                        call.replace_video(None);
                    }
                }
            }
            Toggle::Camera => {
                if state.camera_pending {
                    return;
                }
                if state.media.is_some() {
                    // Stays off until the camera is back.
                    state.camera_pending = true;
                    drop(state);
                    self.turn_camera_on();
                    return;
                }
            }
        }
        state.controls = next;
        drop(state);
        self.controls_changed(next);
    }

    /// Asks for the camera again and sends it in place of nothing.
    fn turn_camera_on(&self) {
        let this = self.this.clone();
        let chosen = self.state.borrow().devices.in_use.camera.clone();
        spawn_local(async move {
            let opened = open_camera(chosen.as_deref()).await;
            let Some(session) = this.upgrade() else {
                if let Ok(track) = opened {
                    track.stop();
                }
                return;
            };
            let mut state = session.state.borrow_mut();
            state.camera_pending = false;
            let track = match opened {
                Ok(track) => track,
                Err(problem) => {
                    drop(state);
                    session.ui.media_problem.set(Some(problem));
                    return;
                }
            };
            let Some(media) = &state.media else {
                track.stop();
                return;
            };
            media.add_camera(&track);
            if state.screen.is_none() {
                for call in state.calls.values() {
                    call.replace_video(Some(&track));
                }
            }
            state.controls.camera_off = false;
            let controls = state.controls;
            drop(state);
            session.watch_track(crate::call::devices::DeviceKind::Camera, &track);
            session.controls_changed(controls);
        });
    }

    /// Shows the new state of the controls and tells the other side.
    fn controls_changed(&self, controls: Controls) {
        self.ui.controls.set(controls);
        for call in self.state.borrow().calls.values() {
            call.send_controls(controls);
        }
    }

    /// Leaves the call: every call ends, and each person of them hears `hang_up`; everybody
    /// stays in the room.
    pub fn hang_up(&self) {
        let actions = {
            let mut state = self.state.borrow_mut();
            let calls_with = state.calls.keys().cloned().collect();
            state.room.hang_up(calls_with)
        };
        self.run(actions);
    }

    /// After ICE failed: restart ICE now, which renegotiates with fresh candidates (the
    /// automatic restarts go on too, their backoff started over).
    pub fn retry_call(&self) {
        self.retry_calls();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Fields drop on their own (closing calls, stopping tracks, closing the socket); only
        // the test hook, a global, would outlive them.
        #[cfg(feature = "test-hooks")]
        if !self.state.borrow().calls.is_empty() {
            hooks::publish_calls(std::iter::empty());
        }
    }
}
