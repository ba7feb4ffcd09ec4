//! One visit to a room: the signalling link, the camera, and the call, wired together.
//!
//! [`Session`] carries out what [`crate::call`] decides. It owns the browser objects (socket,
//! local media, peer connection) and publishes their state through the signals in
//! [`SessionUi`], which the components render. Event callbacks hold only a `Weak` handle, so
//! dropping the last `Rc<Session>` (or calling [`Session::stop`]) releases everything: the peer
//! connection closes, tracks stop, listeners and timers go, the socket closes.
//!
//! A `RefCell` guards the state; it is never borrowed across an `.await`, and browser callbacks
//! arrive as separate tasks, so borrows never overlap.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use leptos::html::Video;
use leptos::prelude::*;
use shared::{ClientMessage, PeerId, RoomName, ServerMessage};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::MediaStream;

use crate::browser::location::signalling_url;
use crate::browser::media::{LocalMedia, open_camera_and_microphone, show_stream};
use crate::browser::peer::{IceConfig, PeerConnection, PeerEvent};
use crate::browser::socket::{SignallingSocket, SocketEvent};
use crate::browser::warn;
use crate::call::backoff::reconnect_delay;
use crate::call::candidates::{Candidate, LocalCandidates, RemoteCandidates};
use crate::call::media_problem::MediaProblem;
use crate::call::negotiation::{Decision, DescriptionKind, Negotiation, Role};
use crate::call::room::{Action, Notice, RoomState};
use crate::call::status::{CallPhase, Presence, Status};

/// The window property the end-to-end tests read to call `getStats()`.
const PEER_CONNECTION_HOOK: &str = "__peerConnection";
/// How often, and how many times, to ask `getStats()` for the route after connecting: the
/// selected pair can lag the `connected` event by a moment.
const ROUTE_POLL_MS: u32 = 500;
const ROUTE_POLL_ATTEMPTS: u32 = 20;

/// The session's state as signals, for the components. `Copy`: every field is a handle.
#[derive(Clone, Copy, Debug)]
pub struct SessionUi {
    pub presence: RwSignal<Presence>,
    /// `None` while there is no peer connection.
    pub phase: RwSignal<Option<CallPhase>>,
    pub has_media: RwSignal<bool>,
    /// True while `getUserMedia` is waiting (for the person or the device).
    pub media_pending: RwSignal<bool>,
    pub media_problem: RwSignal<Option<MediaProblem>>,
    pub notice: RwSignal<Option<Notice>>,
    /// Set when the other person left, cleared when a new call starts.
    pub peer_left: RwSignal<bool>,
    pub local_video: NodeRef<Video>,
    pub remote_video: NodeRef<Video>,
}

impl Default for SessionUi {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionUi {
    pub fn new() -> Self {
        Self {
            presence: RwSignal::new(Presence::Connecting),
            phase: RwSignal::new(None),
            has_media: RwSignal::new(false),
            media_pending: RwSignal::new(false),
            media_problem: RwSignal::new(None),
            notice: RwSignal::new(None),
            peer_left: RwSignal::new(false),
            local_video: NodeRef::new(),
            remote_video: NodeRef::new(),
        }
    }

    /// The status line (tracked).
    pub fn status(&self) -> Status {
        Status::of(self.presence.get(), self.phase.get())
    }

    /// Whether Call can be pressed (tracked): both people here, media on, no call yet.
    pub fn can_call(&self) -> bool {
        matches!(self.presence.get(), Presence::Ready | Presence::HungUp)
            && self.has_media.get()
            && self.phase.get().is_none()
    }
}

/// How messages reach the server.
enum Link {
    /// The signalling WebSocket, reconnected with backoff when it drops.
    Socket {
        url: String,
        socket: Option<SignallingSocket>,
        /// Reconnect attempts since the last `joined`.
        attempt: u32,
        /// The pending reconnect; dropping it cancels it.
        retry: Option<Timeout>,
    },
    /// An in-page stand-in for the server (tests): every message goes to this function, which
    /// must not call back into the session synchronously.
    Loopback(Rc<dyn Fn(ClientMessage)>),
    /// Stopped: nothing is sent any more.
    Closed,
}

impl Link {
    fn send(&self, message: ClientMessage) {
        match self {
            Self::Socket {
                socket: Some(socket),
                ..
            } => {
                if !socket.send(&message) {
                    warn(
                        "signalling queue full; dropped",
                        &JsValue::from_str(&format!("{message:?}")),
                    );
                }
            }
            Self::Loopback(deliver) => deliver(message),
            Self::Socket { socket: None, .. } | Self::Closed => {}
        }
    }
}

/// One peer connection and its negotiation state. Replaced whole on every new call, so nothing
/// of an old call can leak into the next.
struct Call {
    /// Tells events and async steps of this call from those of an earlier one.
    generation: u64,
    peer: Rc<PeerConnection>,
    negotiation: Negotiation,
    local_candidates: LocalCandidates,
    remote_candidates: RemoteCandidates,
    /// The other person: the `to` of everything this call sends.
    other: PeerId,
}

struct State {
    room: RoomState,
    link: Link,
    ice: IceConfig,
    /// Asks for fresh ICE servers before their `ttl` ends; dropping it cancels.
    ice_refresh: Option<Timeout>,
    media: Option<LocalMedia>,
    call: Option<Call>,
    next_generation: u64,
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
    /// Opens the signalling socket and joins `room`.
    pub fn start(room: RoomName, ui: SessionUi) -> Rc<Self> {
        let link = Link::Socket {
            url: signalling_url(),
            socket: None,
            attempt: 0,
            retry: None,
        };
        let session = Self::new(room, ui, link);
        session.connect_socket();
        session
    }

    /// A session whose messages go to `deliver` instead of a server; feed it answers with
    /// [`Self::handle_server_message`]. It joins at once. For tests.
    pub fn with_loopback(
        room: RoomName,
        ui: SessionUi,
        deliver: impl Fn(ClientMessage) + 'static,
    ) -> Rc<Self> {
        let session = Self::new(room, ui, Link::Loopback(Rc::new(deliver)));
        let actions = session.state.borrow_mut().room.socket_opened();
        session.run(actions);
        session
    }

    fn new(room: RoomName, ui: SessionUi, link: Link) -> Rc<Self> {
        Rc::new_cyclic(|this| Self {
            this: this.clone(),
            ui,
            state: RefCell::new(State {
                room: RoomState::new(room),
                link,
                ice: IceConfig::default(),
                ice_refresh: None,
                media: None,
                call: None,
                next_generation: 0,
            }),
        })
    }

    pub fn ui(&self) -> SessionUi {
        self.ui
    }

    /// The current peer connection, if any (tests inspect it).
    pub fn peer_connection(&self) -> Option<Rc<PeerConnection>> {
        self.state
            .borrow()
            .call
            .as_ref()
            .map(|call| Rc::clone(&call.peer))
    }

    /// How many remote candidates wait for the remote description (a diagnostic for tests).
    pub fn pending_remote_candidates(&self) -> usize {
        self.state
            .borrow()
            .call
            .as_ref()
            .map_or(0, |call| call.remote_candidates.pending())
    }

    /// Releases everything: the call, the camera, timers and the socket. Idempotent.
    pub fn stop(&self) {
        let (call, media, link, timer) = {
            let mut state = self.state.borrow_mut();
            (
                state.call.take(),
                state.media.take(),
                std::mem::replace(&mut state.link, Link::Closed),
                state.ice_refresh.take(),
            )
        };
        // Closed outside the borrow: closing things may fire events synchronously. Async steps
        // may still hold the peer connection, so close it rather than wait for the last `Rc`.
        if let Some(call) = &call {
            call.peer.close();
        }
        drop((call, media, link, timer));
        set_peer_connection_hook(None);
    }

    // ----- signalling -------------------------------------------------------------------

    fn connect_socket(&self) {
        let url = match &self.state.borrow().link {
            Link::Socket { url, .. } => url.clone(),
            _ => return,
        };
        let this = self.this.clone();
        let connected = SignallingSocket::connect(&url, move |event| {
            if let Some(session) = this.upgrade() {
                session.on_socket_event(event);
            }
        });
        match connected {
            Ok(socket) => {
                let actions = {
                    let mut state = self.state.borrow_mut();
                    if let Link::Socket {
                        socket: slot,
                        retry,
                        ..
                    } = &mut state.link
                    {
                        *slot = Some(socket);
                        *retry = None;
                    }
                    if let Some(call) = &mut state.call {
                        let flushed = call.local_candidates.signalling(true);
                        let other = call.other.clone();
                        send_candidates(&state.link, flushed, &other);
                    }
                    state.room.socket_opened()
                };
                self.run(actions);
            }
            Err(error) => {
                warn("cannot open the signalling socket", &error);
                self.on_socket_event(SocketEvent::Closed);
            }
        }
    }

    fn on_socket_event(&self, event: SocketEvent) {
        match event {
            SocketEvent::Message(message) => self.handle_server_message(message),
            SocketEvent::Closed => {
                let mut state = self.state.borrow_mut();
                let reconnect = state.room.socket_closed();
                if let Some(call) = &mut state.call {
                    call.local_candidates.signalling(false);
                }
                let State { link, .. } = &mut *state;
                if let Link::Socket {
                    socket,
                    attempt,
                    retry,
                    ..
                } = link
                {
                    *socket = None;
                    if reconnect {
                        let delay = reconnect_delay(*attempt, js_sys::Math::random());
                        *attempt = attempt.saturating_add(1);
                        let this = self.this.clone();
                        *retry = Some(Timeout::new(millis(delay), move || {
                            if let Some(session) = this.upgrade() {
                                session.connect_socket();
                            }
                        }));
                    }
                }
                let presence = state.room.presence();
                drop(state);
                self.ui.presence.set(presence);
            }
        }
    }

    /// Applies one message from the server (or, in tests, from the loopback).
    pub fn handle_server_message(&self, message: ServerMessage) {
        let joined = matches!(message, ServerMessage::Joined { .. });
        let (actions, presence) = {
            let mut state = self.state.borrow_mut();
            if joined && let Link::Socket { attempt, .. } = &mut state.link {
                *attempt = 0;
            }
            let actions = state.room.on_message(message);
            (actions, state.room.presence())
        };
        self.ui.presence.set(presence);
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
                Action::Send(message) => self.state.borrow().link.send(message),
                Action::ClosePeer => self.end_call(),
                Action::UseIceServers {
                    servers,
                    policy,
                    refresh_after,
                } => {
                    let this = self.this.clone();
                    let refresh = Timeout::new(millis(refresh_after), move || {
                        if let Some(session) = this.upgrade() {
                            session.state.borrow().link.send(ClientMessage::IceServers);
                        }
                    });
                    let mut state = self.state.borrow_mut();
                    state.ice = IceConfig { servers, policy };
                    state.ice_refresh = Some(refresh);
                }
                Action::RemoteOffer { sdp, from } => {
                    self.on_remote_description(DescriptionKind::Offer, sdp, Some(from));
                }
                Action::RemoteAnswer { sdp } => {
                    self.on_remote_description(DescriptionKind::Answer, sdp, None);
                }
                Action::RemoteCandidate(candidate) => self.on_remote_candidate(candidate),
                Action::Notify(notice) => self.ui.notice.set(Some(notice)),
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
            if let Some(call) = &state.call {
                call.peer.add_tracks(&media.tracks(), media.stream());
            }
            state.media.replace(media)
        };
        drop(old);
        self.ui.has_media.set(true);
    }

    // ----- the call ---------------------------------------------------------------------

    /// Starts a call: a peer connection with the local tracks, whose `negotiationneeded`
    /// sends the offer. Does nothing unless the room is ready, media is on and no call runs.
    pub fn call(&self) {
        let other = {
            let state = self.state.borrow();
            // Without tracks there would be nothing to negotiate, and no offer would go out.
            if state.call.is_some() || state.media.is_none() || !state.room.is_ready() {
                return;
            }
            state.room.other().cloned()
        };
        if let Some(other) = other {
            self.begin_call(other);
        }
    }

    /// Ends the call for both sides with `hang_up`; both stay in the room.
    pub fn hang_up(&self) {
        let actions = self.state.borrow_mut().room.hang_up();
        self.run(actions);
    }

    /// After ICE failed: restart ICE, which renegotiates with fresh candidates.
    pub fn retry_call(&self) {
        if let Some(peer) = self.peer_connection() {
            self.ui.phase.set(Some(CallPhase::Connecting));
            peer.restart_ice();
        }
    }

    /// Creates the peer connection for a call with `other`; returns its generation.
    fn begin_call(&self, other: PeerId) -> Option<u64> {
        let mut state = self.state.borrow_mut();
        let role = Role::between(state.room.me()?, &other);
        let generation = state.next_generation;
        state.next_generation += 1;
        let this = self.this.clone();
        let peer = PeerConnection::new(&state.ice, move |event| {
            if let Some(session) = this.upgrade() {
                session.on_peer_event(generation, event);
            }
        });
        let peer = match peer {
            Ok(peer) => Rc::new(peer),
            Err(error) => {
                warn("cannot create the peer connection", &error);
                return None;
            }
        };
        // Events fire as later tasks, so adding tracks here cannot re-enter the session.
        if let Some(media) = &state.media {
            peer.add_tracks(&media.tracks(), media.stream());
        }
        set_peer_connection_hook(Some(&peer));
        let signalling_up = !matches!(state.link, Link::Socket { socket: None, .. } | Link::Closed);
        state.call = Some(Call {
            generation,
            peer,
            negotiation: Negotiation::new(role),
            local_candidates: LocalCandidates::new(signalling_up),
            remote_candidates: RemoteCandidates::default(),
            other,
        });
        drop(state);
        self.ui.phase.set(Some(CallPhase::Connecting));
        self.ui.peer_left.set(false);
        Some(generation)
    }

    /// Closes the peer connection, if any, and clears the remote video.
    fn end_call(&self) {
        let call = self.state.borrow_mut().call.take();
        if let Some(call) = call {
            call.peer.close();
            set_peer_connection_hook(None);
        }
        if let Some(video) = self.ui.remote_video.get_untracked() {
            show_stream(&video, None);
        }
        self.ui.phase.set(None);
    }

    /// Runs `f` on the call of `generation`, if it is still the current one.
    fn with_call<R>(&self, generation: u64, f: impl FnOnce(&mut Call, &Link) -> R) -> Option<R> {
        let mut state = self.state.borrow_mut();
        let State { call, link, .. } = &mut *state;
        call.as_mut()
            .filter(|call| call.generation == generation)
            .map(|call| f(call, link))
    }

    fn on_peer_event(&self, generation: u64, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate(candidate) => {
                self.with_call(generation, |call, link| {
                    let ready = call.local_candidates.push(candidate);
                    send_candidates(link, ready, &call.other);
                });
            }
            PeerEvent::NegotiationNeeded => self.make_offer(generation),
            PeerEvent::RemoteStream(stream) => self.show_remote(generation, &stream),
            PeerEvent::IceConnectionState(name) => {
                if self.with_call(generation, |_, _| ()).is_none() {
                    return;
                }
                let current = self
                    .ui
                    .phase
                    .get_untracked()
                    .unwrap_or(CallPhase::Connecting);
                if let Some(next) = current.after_ice_state(name) {
                    self.ui.phase.set(Some(next));
                    if next == CallPhase::Connected(None) {
                        self.find_route(generation);
                    }
                }
            }
        }
    }

    fn show_remote(&self, generation: u64, stream: &MediaStream) {
        if self.with_call(generation, |_, _| ()).is_some()
            && let Some(video) = self.ui.remote_video.get_untracked()
        {
            show_stream(&video, Some(stream));
        }
    }

    /// `negotiationneeded`: set an offer locally and send it (perfect negotiation's first half).
    fn make_offer(&self, generation: u64) {
        let Some(peer) = self.with_call(generation, |call, _| {
            call.negotiation.offer_started();
            Rc::clone(&call.peer)
        }) else {
            return;
        };
        let this = self.this.clone();
        spawn_local(async move {
            let made = peer.set_local_description().await;
            let Some(session) = this.upgrade() else {
                return;
            };
            session.with_call(generation, |call, link| {
                call.negotiation.offer_finished();
                match made {
                    Ok((DescriptionKind::Offer, sdp)) => {
                        link.send(ClientMessage::Offer {
                            sdp,
                            to: Some(call.other.clone()),
                        });
                        let ready = call.local_candidates.description_sent();
                        send_candidates(link, ready, &call.other);
                    }
                    // The other side's offer won meanwhile; its answer path sends ours.
                    Ok((DescriptionKind::Answer, _)) => {}
                    Err(error) => warn("could not make an offer", &error),
                }
            });
        });
    }

    /// An offer or answer from the other side (perfect negotiation's second half).
    fn on_remote_description(&self, kind: DescriptionKind, sdp: String, from: Option<PeerId>) {
        let glare = self.state.borrow().call.as_ref().is_some_and(|call| {
            kind == DescriptionKind::Offer
                && call.negotiation.role() == Role::Polite
                && (call.negotiation.making_offer() || !call.peer.is_stable())
        });
        if glare {
            // Both pressed Call: the polite side yields. Rather than rolling its own offer
            // back, it starts over with a fresh peer connection, since nothing has flowed yet.
            // Chromium sometimes stops gathering for good after rolling back an offer whose
            // gathering had begun (ICE stays "new" on both sides: seen in the both-press-Call
            // end-to-end test, about one run in ten); a fresh connection never does.
            self.end_call();
        }
        let has_call = self.state.borrow().call.is_some();
        if !has_call {
            // The callee's side of a call: an offer creates the peer connection.
            let Some(from) = from.clone().filter(|_| kind == DescriptionKind::Offer) else {
                return; // A late answer to a call that is over.
            };
            if self.begin_call(from).is_none() {
                return;
            }
        }
        let Some((generation, peer, decision)) = ({
            let mut state = self.state.borrow_mut();
            state.call.as_mut().map(|call| {
                if let Some(from) = &from {
                    call.other = from.clone();
                }
                let decision = call.negotiation.on_description(kind, call.peer.is_stable());
                (call.generation, Rc::clone(&call.peer), decision)
            })
        }) else {
            return;
        };
        if decision == Decision::Ignore {
            return;
        }
        let this = self.this.clone();
        spawn_local(async move {
            let set = peer.set_remote_description(kind, &sdp).await;
            let Some(session) = this.upgrade() else {
                return;
            };
            let Some(pending) = session.with_call(generation, |call, _| {
                if kind == DescriptionKind::Answer {
                    call.negotiation.answer_set();
                }
                set.is_ok()
                    .then(|| call.remote_candidates.remote_description_set())
            }) else {
                return;
            };
            let Some(pending) = pending else {
                if let Err(error) = set {
                    warn("could not set the remote description", &error);
                }
                return;
            };
            if kind == DescriptionKind::Offer {
                let answered = peer.set_local_description().await;
                session.with_call(generation, |call, link| match answered {
                    Ok((DescriptionKind::Answer, sdp)) => {
                        link.send(ClientMessage::Answer {
                            sdp,
                            to: Some(call.other.clone()),
                        });
                        let ready = call.local_candidates.description_sent();
                        send_candidates(link, ready, &call.other);
                    }
                    Ok((DescriptionKind::Offer, _)) => {}
                    Err(error) => warn("could not answer", &error),
                });
            }
            for candidate in pending {
                session
                    .add_remote_candidate(generation, &peer, candidate)
                    .await;
            }
        });
    }

    fn on_remote_candidate(&self, candidate: Candidate) {
        let Some((generation, peer, ready)) = ({
            let mut state = self.state.borrow_mut();
            state.call.as_mut().map(|call| {
                (
                    call.generation,
                    Rc::clone(&call.peer),
                    call.remote_candidates.push(candidate),
                )
            })
        }) else {
            return; // No call: a stray candidate from one that ended.
        };
        if let Some(candidate) = ready {
            let this = self.this.clone();
            spawn_local(async move {
                if let Some(session) = this.upgrade() {
                    session
                        .add_remote_candidate(generation, &peer, candidate)
                        .await;
                }
            });
        }
    }

    async fn add_remote_candidate(
        &self,
        generation: u64,
        peer: &PeerConnection,
        candidate: Candidate,
    ) {
        if let Err(error) = peer.add_remote_candidate(candidate.as_ref()).await {
            let matters = self
                .with_call(generation, |call, _| {
                    call.negotiation.candidate_error_matters()
                })
                .unwrap_or(false);
            if matters {
                warn("could not add a remote candidate", &error);
            }
        }
    }

    /// Polls `getStats()` until the selected pair tells whether the call is relayed.
    fn find_route(&self, generation: u64) {
        let Some(peer) = self.with_call(generation, |call, _| Rc::clone(&call.peer)) else {
            return;
        };
        let this = self.this.clone();
        spawn_local(async move {
            for _ in 0..ROUTE_POLL_ATTEMPTS {
                let route = peer.route().await;
                let Some(session) = this.upgrade() else {
                    return;
                };
                if session.with_call(generation, |_, _| ()).is_none()
                    || session.ui.phase.get_untracked() != Some(CallPhase::Connected(None))
                {
                    return;
                }
                if let Some(route) = route {
                    session
                        .ui
                        .phase
                        .set(Some(CallPhase::Connected(Some(route))));
                    return;
                }
                drop(session);
                TimeoutFuture::new(ROUTE_POLL_MS).await;
            }
        });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Fields drop on their own (closing the call, stopping tracks, closing the socket);
        // only the global hook would outlive them.
        if self.state.borrow().call.is_some() {
            set_peer_connection_hook(None);
        }
    }
}

fn send_candidates(link: &Link, candidates: Vec<Candidate>, to: &PeerId) {
    for candidate in candidates {
        link.send(ClientMessage::Candidate {
            candidate,
            to: Some(to.clone()),
        });
    }
}

/// A `Duration` as the `u32` milliseconds browser timers take, saturating.
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// Sets `window.__peerConnection` to the current connection (or `null`) for the end-to-end
/// tests' `getStats()` calls.
fn set_peer_connection_hook(peer: Option<&PeerConnection>) {
    if let Some(window) = web_sys::window() {
        let value = peer.map_or(JsValue::NULL, |peer| JsValue::from(peer.raw().clone()));
        let _ignored =
            js_sys::Reflect::set(&window, &JsValue::from_str(PEER_CONNECTION_HOOK), &value);
    }
}
