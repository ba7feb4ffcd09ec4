//! The calls of a session: one peer connection per other person, its negotiation, its
//! candidates and its route.
//!
//! [`Call`] is the state of one call; the `impl Session` below carries a call through its life:
//! created by Call (or by the other side's offer), negotiated with perfect negotiation (the
//! decisions are [`Negotiation`]'s), ended by hang-up, a departure or a new membership. Calls
//! are keyed by the other person's [`PeerId`] and told from earlier calls with the same person
//! by a generation number, so an event or async step of an ended call finds nothing to act on.
//! Each call has its tile on the page ([`TileView`]): its video, its phase, the other person's
//! controls and the call's numbers; the status line shows the calls together.
//!
//! Who calls whom in a group (a full mesh, one peer connection per pair): pressing Call offers
//! to everybody in the room; a page in the call offers to each person who joins after it; and
//! a page brought into a call by an offer offers to those who joined after it (see
//! [`crate::call::room::RoomState::later_arrivals`]). Each pair has one offerer by
//! construction; perfect negotiation stays as the safety net for two people pressing Call at
//! once.

use std::collections::BTreeMap;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shared::{ClientMessage, PeerId};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlVideoElement, MediaStream, MediaStreamTrack};

use super::Session;
use super::chat::CallFiles;
use super::link::Transport;
use super::ui::TileView;
use crate::browser::channel::{ChannelEvent, DataChannel};
use crate::browser::clock;
use crate::browser::media::{LocalMedia, show_stream};
use crate::browser::network::NetworkWatch;
use crate::browser::peer::{PeerConnection, PeerEvent};
use crate::browser::warn;
use crate::call::bitrate::limits;
use crate::call::candidates::{Candidate, LocalCandidates, RemoteCandidates};
use crate::call::controls::{Controls, RemoteControls};
use crate::call::ice_restart::IceRecovery;
use crate::call::negotiation::{Decision, DescriptionKind, Negotiation, Role};
use crate::call::stats::{Reading, Snapshot};
use crate::call::stats_history::Sample;
use crate::call::status::CallPhase;
use crate::call::verify_code::VerifyCode;

/// How often, and how many times, to ask `getStats()` for the route after connecting: the
/// selected pair can lag the `connected` event by a moment, and Firefox can start on a relayed
/// pair and move to a direct one a moment later.
const ROUTE_POLL_MS: u32 = 500;
const ROUTE_POLL_ATTEMPTS: u32 = 20;
/// How often the stats panel's numbers are read: a rate is the change over this interval.
const STATS_POLL_MS: u32 = 1_000;
/// How long a page in the call waits before offering to someone who just joined, while one of
/// its calls is with a person the room no longer lists (the server restarted and gave ids
/// anew): the newcomer may be that person, whose `hello` will re-address the call, and an
/// offer to them now would start a second call with the same person.
const ARRIVAL_HELLO_WAIT_MS: u32 = 3_000;

/// One peer connection and its negotiation state. Replaced whole on every new call, so nothing
/// of an old call can leak into the next.
pub(super) struct Call {
    /// Tells events and async steps of this call from those of an earlier one.
    generation: u64,
    /// The other person.
    other: PeerId,
    peer: Rc<PeerConnection>,
    negotiation: Negotiation,
    local_candidates: LocalCandidates,
    remote_candidates: RemoteCandidates,
    /// The negotiated data channel: the controls' state and chat go both ways on it.
    channel: DataChannel,
    /// Reads `getStats()` each second once connected; dropped with the call, which stops it.
    stats_poll: Option<Interval>,
    /// The previous report's totals, from which the next one's rates are computed.
    last_stats: Option<Snapshot>,
    /// The files channel and the transfers on it.
    pub(super) files: CallFiles,
    /// When to restart ICE by itself, and how long the call has been recovering.
    pub(super) recovery: IceRecovery,
    /// Moves `recovery` on while it has something to do (see `recovery.rs`); dropped with the
    /// call, which stops it.
    pub(super) recovery_ticks: Option<Interval>,
    /// Hears the browser's network changes while the call lasts.
    _network: NetworkWatch,
    /// What the page shows of this call.
    pub(super) tile: TileView,
    /// The tile's `<video>`, once mounted, and the other person's stream, once it came: the
    /// stream plays in it as soon as both are there.
    video: Option<HtmlVideoElement>,
    stream: Option<MediaStream>,
}

/// Names one call: the other person, and which of the calls with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CallKey {
    other: PeerId,
    generation: u64,
}

impl CallKey {
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }
}

impl Call {
    pub(super) fn peer(&self) -> Rc<PeerConnection> {
        Rc::clone(&self.peer)
    }

    pub(super) fn channel(&self) -> &DataChannel {
        &self.channel
    }

    /// The other person's id, as relays address them now.
    pub(super) fn other(&self) -> &PeerId {
        &self.other
    }

    /// The other person came back under `new` (their `hello`): relays go there from now on.
    /// Keys and events of this call stay valid: they find it by its generation.
    pub(super) fn readdress(&mut self, new: PeerId) {
        self.tile.peer.set(new.clone());
        self.other = new;
    }

    /// The tile's `<video>`, once mounted.
    pub(super) fn video(&self) -> Option<&HtmlVideoElement> {
        self.video.as_ref()
    }

    /// Whether this call ever connected (its stats timer starts then).
    pub(super) fn has_connected(&self) -> bool {
        self.stats_poll.is_some()
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// This call's key, for the file-sending task.
    pub(super) fn key_for_files(&self) -> CallKey {
        CallKey {
            other: self.other.clone(),
            generation: self.generation,
        }
    }

    /// Sends the local tracks not sent yet (a renegotiation follows).
    pub(super) fn add_tracks(&self, media: &LocalMedia) {
        self.peer.add_tracks(&media.tracks(), media.stream());
    }

    /// The link came up or went down: held candidates go out to `other` once it is up.
    pub(super) fn signalling(
        &mut self,
        up: bool,
        transport: Option<&dyn Transport>,
        other: &PeerId,
    ) {
        let ready = self.local_candidates.signalling(up);
        send_candidates(transport, ready, other);
    }

    /// Sends our offer or answer to `other`, then the local candidates that waited for it.
    fn send_description(
        &mut self,
        transport: Option<&dyn Transport>,
        other: &PeerId,
        kind: DescriptionKind,
        sdp: String,
    ) {
        let to = Some(other.clone());
        send(
            transport,
            match kind {
                DescriptionKind::Offer => ClientMessage::Offer { sdp, to },
                DescriptionKind::Answer => ClientMessage::Answer { sdp, to },
            },
        );
        let ready = self.local_candidates.description_sent();
        send_candidates(transport, ready, other);
    }

    /// Tells the other side the state of the controls, if the channel is open (when it opens,
    /// the state goes anyway).
    pub(super) fn send_controls(&self, controls: Controls) {
        self.channel.send(&controls.message());
    }

    /// Sends `track` (or nothing) as the video, without renegotiation.
    pub(super) fn replace_video(&self, track: Option<&MediaStreamTrack>) {
        self.peer.replace_video_track(track);
    }

    /// Sends `track` as the audio (another microphone), without renegotiation.
    pub(super) fn replace_audio(&self, track: &MediaStreamTrack) {
        self.peer.replace_audio_track(track);
    }

    /// Makes sure the first offer has a video section even with the camera off, so turning it
    /// on needs no new offer. Only for the caller: a transceiver added before the other side's
    /// offer would not be matched to it and would itself need an offer.
    pub(super) fn ensure_video(&self) {
        self.peer.ensure_video_transceiver();
    }

    /// Sends our offer again if it still waits for an answer: the socket may have been down
    /// when it went, and no new offer can be made before this one is answered. Returns whether
    /// one was waiting.
    pub(super) fn resend_pending_offer(&mut self, transport: Option<&dyn Transport>) -> bool {
        let Some(sdp) = self.peer.pending_local_offer() else {
            return false;
        };
        let other = self.other.clone();
        self.send_description(transport, &other, DescriptionKind::Offer, sdp);
        true
    }

    /// How many remote candidates wait for the remote description.
    #[cfg(feature = "test-hooks")]
    pub(super) fn pending_remote_candidates(&self) -> usize {
        self.remote_candidates.pending()
    }
}

impl Session {
    /// Creates the peer connection for a call with `other`.
    pub(super) fn begin_call(&self, other: PeerId) -> Option<CallKey> {
        let mut state = self.state.borrow_mut();
        let role = Role::between(state.room.me()?, &other);
        let key = CallKey {
            other: other.clone(),
            generation: state.next_generation,
        };
        state.next_generation += 1;
        let this = self.this.clone();
        let peer = PeerConnection::new(&state.ice, {
            let key = key.clone();
            move |event| {
                if let Some(session) = this.upgrade() {
                    session.on_peer_event(&key, event);
                }
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
        // Sharing before the call: the screen goes out from the start.
        if let Some(screen) = &state.screen {
            peer.replace_video_track(Some(screen.track()));
        }
        let channel = DataChannel::negotiated(peer.raw(), {
            let this = self.this.clone();
            let key = key.clone();
            move |event| {
                if let Some(session) = this.upgrade() {
                    session.on_channel_event(&key, event);
                }
            }
        });
        let files = DataChannel::files(peer.raw(), {
            let this = self.this.clone();
            let key = key.clone();
            move |event| {
                if let Some(session) = this.upgrade() {
                    session.on_files_event(&key, event);
                }
            }
        });
        let network = NetworkWatch::new({
            let this = self.this.clone();
            let key = key.clone();
            move || {
                if let Some(session) = this.upgrade() {
                    session.on_network_change(&key);
                }
            }
        });
        let signalling_up = state.link_up();
        let tile = TileView::new(key.generation, other.clone());
        state.calls.insert(
            other.clone(),
            Call {
                generation: key.generation,
                other,
                peer,
                negotiation: Negotiation::new(role),
                local_candidates: LocalCandidates::new(signalling_up),
                remote_candidates: RemoteCandidates::default(),
                channel,
                stats_poll: None,
                last_stats: None,
                files: CallFiles::new(files),
                recovery: IceRecovery::new(role),
                recovery_ticks: None,
                _network: network,
                tile: tile.clone(),
                video: None,
                stream: None,
            },
        );
        let first = state.calls.len() == 1;
        drop(state);
        if first {
            self.ui.stats_history.set(Default::default());
        }
        self.ui.tiles.update(|tiles| tiles.push(tile));
        self.ui.peer_left.set(false);
        self.calls_changed();
        Some(key)
    }

    /// The set of calls changed: each call's share of the upload budget follows, and the test
    /// hooks see the new set.
    pub(super) fn calls_changed(&self) {
        let state = self.state.borrow();
        if let Some(limits) = limits(state.upload_kbps, state.calls.len()) {
            for call in state.calls.values() {
                call.peer.limit_sending(&limits);
            }
        }
        #[cfg(feature = "test-hooks")]
        super::hooks::publish_calls(state.calls.iter().map(|(other, call)| (other, &*call.peer)));
    }

    /// Offers a call to `other`, unless one runs with them already: the first offer has a
    /// video section even with the camera off (turning it on then needs no offer), and the
    /// shared screen if sharing.
    pub(super) fn offer_to(&self, other: PeerId) {
        if self.state.borrow().calls.contains_key(&other) {
            return;
        }
        if self.begin_call(other.clone()).is_some()
            && let Some(call) = self.state.borrow().calls.get(&other)
        {
            // `negotiationneeded` fires as a later task: this still goes in the first offer.
            call.ensure_video();
            if let Some(screen) = &self.state.borrow().screen {
                call.replace_video(Some(screen.track()));
            }
        }
    }

    /// Someone joined the room after us: if we are in the call, we offer to them (they never
    /// offer to those already there). Waits for a `hello` first when the newcomer may be one
    /// of our own calls coming back under a new id.
    pub(super) fn on_peer_arrived(&self, peer: PeerId) {
        let (in_call, may_be_back) = {
            let state = self.state.borrow();
            let may_be_back = state
                .calls
                .keys()
                .any(|other| !state.room.has_member(other));
            (!state.calls.is_empty(), may_be_back)
        };
        if !in_call {
            return;
        }
        if !may_be_back {
            self.offer_to(peer);
            return;
        }
        let this = self.this.clone();
        spawn_local(async move {
            TimeoutFuture::new(ARRIVAL_HELLO_WAIT_MS).await;
            let Some(session) = this.upgrade() else {
                return;
            };
            let still = {
                let state = session.state.borrow();
                !state.calls.is_empty() && state.room.has_member(&peer)
            };
            if still {
                session.offer_to(peer);
            }
        });
    }

    /// Brought into a call by someone's offer: offer to those who joined the room after us
    /// (the earlier arrival of each pair offers).
    fn offer_to_later_arrivals(&self) {
        let later = self.state.borrow().room.later_arrivals();
        for peer in later {
            self.offer_to(peer);
        }
    }

    /// The tile of call `key` mounted its `<video>`: the other person plays in it (now, or
    /// when their stream comes), through the chosen speaker.
    pub fn attach_video(&self, key: u64, video: HtmlVideoElement) {
        {
            let mut state = self.state.borrow_mut();
            let Some(call) = state.calls.values_mut().find(|call| call.generation == key) else {
                return;
            };
            if let Some(stream) = &call.stream {
                show_stream(&video, Some(stream));
            }
            call.video = Some(video.clone());
        }
        self.route_sound(video);
    }

    /// Ends every call and clears the remote video.
    pub(super) fn end_calls(&self) {
        let calls = std::mem::take(&mut self.state.borrow_mut().calls);
        self.close_calls(calls);
    }

    /// Ends the call with `other`, if any, and clears the remote video.
    pub(super) fn end_call(&self, other: &PeerId) {
        let call = self.state.borrow_mut().calls.remove_entry(other);
        self.close_calls(call.into_iter().collect());
    }

    /// Closes `calls` (taken out of the state: closing may fire events synchronously).
    pub(super) fn close_calls(&self, mut calls: BTreeMap<PeerId, Call>) {
        if calls.is_empty() {
            return;
        }
        // Async steps may still hold a peer connection: close it rather than wait for the
        // last `Rc`.
        for call in calls.values_mut() {
            call.channel.close();
            call.files.close();
            call.peer.close();
        }
        // The calls' stats timers stop as `calls` drops at the end of this function.
        for call in calls.values() {
            if let Some(video) = &call.video {
                show_stream(video, None);
            }
        }
        let ended: Vec<u64> = calls.values().map(|call| call.generation).collect();
        self.ui
            .tiles
            .update(|tiles| tiles.retain(|tile| !ended.contains(&tile.key)));
        self.calls_changed();
    }

    /// The data channel opened (each side then sends its state) or said something.
    fn on_channel_event(&self, key: &CallKey, event: ChannelEvent) {
        match event {
            ChannelEvent::Open => {
                let controls = self.state.borrow().controls;
                self.with_call(key, |call, _| call.send_controls(controls));
            }
            ChannelEvent::Text(text) => {
                if let Some(remote) = RemoteControls::from_text(&text) {
                    self.with_call(key, |call, _| call.tile.controls.set(remote));
                } else if let Some(message) = shared::PeerMessage::parse(&text) {
                    self.on_chat_message(key, message);
                }
            }
            // Binary messages belong on the files channel.
            ChannelEvent::Binary(_) => {}
            ChannelEvent::Closed => self.on_call_closed_remotely(key),
        }
    }

    /// The other page closed its peer connection (its person hung up, reloaded or closed the
    /// tab): the call cannot come back, so it ends now, as a `hang_up` would end it, rather
    /// than showing "Reconnecting…" until the server gives up on their seat (the resume grace).
    /// A reloaded page takes its seat back and can be called again at once.
    fn on_call_closed_remotely(&self, key: &CallKey) {
        let Some(other) = self.with_call(key, |call, _| call.other().clone()) else {
            return;
        };
        let actions = self.state.borrow_mut().room.call_closed_by(&other);
        self.ui.presence.set(self.state.borrow().room.presence());
        self.run(actions);
    }

    /// Runs `f` on the call `key`, if it is still running, with the link to send on.
    pub(super) fn with_call<R>(
        &self,
        key: &CallKey,
        f: impl FnOnce(&mut Call, Option<&dyn Transport>) -> R,
    ) -> Option<R> {
        let mut state = self.state.borrow_mut();
        let super::State {
            calls, transport, ..
        } = &mut *state;
        // By generation, which is unique: the other person's id may have changed since the
        // key was made (see `Call::readdress`).
        calls
            .values_mut()
            .find(|call| call.generation == key.generation)
            .map(|call| f(call, transport.as_deref().map(|t| t as &dyn Transport)))
    }

    fn on_peer_event(&self, key: &CallKey, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate(candidate) => {
                self.with_call(key, |call, transport| {
                    let ready = call.local_candidates.push(candidate);
                    send_candidates(transport, ready, &call.other);
                });
            }
            PeerEvent::NegotiationNeeded => self.make_offer(key),
            PeerEvent::RemoteStream(stream) => self.show_remote(key, &stream),
            // The same failure as ICE's, seen from the whole connection (see `ConnectionFailed`).
            PeerEvent::ConnectionFailed => {
                let now = clock::now();
                self.with_call(key, |call, _| call.recovery.on_connection_failed(now));
                self.recovery_step(key);
            }
            PeerEvent::IceConnectionState(ice_state) => {
                let now = clock::now();
                // While media does not flow, the recovery says what to show.
                let Some((recovering, tile)) = self.with_call(key, |call, _| {
                    call.recovery.on_ice_state(ice_state, now);
                    (call.recovery.phase(now), call.tile.clone())
                }) else {
                    return;
                };
                let current = tile.phase.get_untracked();
                if let Some(next) = recovering.or_else(|| current.after_ice_state(ice_state)) {
                    if next != current {
                        tile.phase.set(next);
                    }
                    if next == CallPhase::Connected(None) {
                        self.find_route(key);
                    }
                    if matches!(next, CallPhase::Connected(_)) {
                        self.start_stats(key);
                        // The senders' encodings exist now: the call takes its share.
                        self.calls_changed();
                    }
                }
                self.recovery_step(key);
            }
        }
    }

    fn show_remote(&self, key: &CallKey, stream: &MediaStream) {
        self.with_call(key, |call, _| {
            // The stream gains the tracks one by one and the element follows it: setting it
            // again would only restart the element's loading.
            let shown = call.video.as_ref().and_then(|video| video.src_object());
            if let Some(video) = &call.video
                && shown.as_ref().map(AsRef::<JsValue>::as_ref) != Some(stream.as_ref())
            {
                show_stream(video, Some(stream));
            }
            // A second handle (`stream.clone()` would be JavaScript's `clone()`: new tracks).
            call.stream = Some(Clone::clone(stream));
        });
    }

    /// `negotiationneeded`: set an offer locally and send it (perfect negotiation's first half).
    fn make_offer(&self, key: &CallKey) {
        let Some(peer) = self.with_call(key, |call, _| {
            call.negotiation.offer_started();
            call.peer()
        }) else {
            return;
        };
        let this = self.this.clone();
        let key = key.clone();
        spawn_local(async move {
            let made = peer.set_local_description().await;
            let Some(session) = this.upgrade() else {
                return;
            };
            session.with_call(&key, |call, transport| {
                call.negotiation.offer_finished();
                match made {
                    Ok((DescriptionKind::Offer, sdp)) => {
                        let to = call.other.clone();
                        call.send_description(transport, &to, DescriptionKind::Offer, sdp);
                    }
                    // The other side's offer won meanwhile; its answer path sends ours.
                    Ok((DescriptionKind::Answer, _)) => {}
                    Err(error) => warn("could not make an offer", &error),
                }
            });
        });
    }

    /// What the call with `from` (if any) makes of a description: its key, its connection and
    /// the negotiation's decision.
    fn decide(
        &self,
        kind: DescriptionKind,
        from: &PeerId,
    ) -> Option<(CallKey, Rc<PeerConnection>, Decision)> {
        let mut state = self.state.borrow_mut();
        let call = state.calls.get_mut(from)?;
        let decision = call.negotiation.on_description(kind, call.peer.is_stable());
        let key = CallKey {
            other: from.clone(),
            generation: call.generation,
        };
        Some((key, call.peer(), decision))
    }

    /// An offer from `from`: answered on the running call, or on a new one (the callee's side
    /// of a call, or the polite side starting over after offers collided).
    pub(super) fn on_remote_offer(&self, sdp: String, from: PeerId) {
        let decided = match self.decide(DescriptionKind::Offer, &from) {
            Some((_, _, Decision::Ignore)) => return,
            Some((key, peer, Decision::Accept)) => Some((key, peer)),
            Some((_, _, Decision::StartOver)) => {
                self.end_call(&from);
                None
            }
            None => None,
        };
        let mut entered = false;
        let decided = decided.or_else(|| {
            entered = self.state.borrow().calls.is_empty();
            self.begin_call(from.clone())?;
            match self.decide(DescriptionKind::Offer, &from)? {
                (key, peer, Decision::Accept) => Some((key, peer)),
                // A fresh connection is stable and idle: it accepts every offer.
                _ => None,
            }
        });
        if let Some((key, peer)) = decided {
            self.set_remote_description(key, peer, DescriptionKind::Offer, sdp);
        }
        if entered {
            self.offer_to_later_arrivals();
        }
    }

    /// An answer from `from` to our offer; dropped if the call is over.
    pub(super) fn on_remote_answer(&self, sdp: String, from: &PeerId) {
        if let Some((key, peer, Decision::Accept)) = self.decide(DescriptionKind::Answer, from) {
            self.set_remote_description(key, peer, DescriptionKind::Answer, sdp);
        }
    }

    /// Sets an accepted description, then answers an offer and adds the candidates that
    /// waited, together.
    fn set_remote_description(
        &self,
        key: CallKey,
        peer: Rc<PeerConnection>,
        kind: DescriptionKind,
        sdp: String,
    ) {
        let this = self.this.clone();
        spawn_local(async move {
            let set = peer.set_remote_description(kind, &sdp).await;
            let Some(session) = this.upgrade() else {
                return;
            };
            let Some(pending) = session.with_call(&key, |call, _| {
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
            // The held candidates go in at once, beside the answer (this task reaches the
            // answer's `setLocalDescription` before the spawned one runs, so the operations
            // chain makes the answer first): the answerer starts its connectivity checks as
            // soon as the answer is set, rather than after it was sent and the upload budget
            // applied, one candidate's round trip after another.
            {
                let this = this.clone();
                let key = key.clone();
                let peer = Rc::clone(&peer);
                spawn_local(async move {
                    let Some(session) = this.upgrade() else {
                        return;
                    };
                    futures::future::join_all(
                        pending
                            .into_iter()
                            .map(|candidate| session.add_remote_candidate(&key, &peer, candidate)),
                    )
                    .await;
                });
            }
            if kind == DescriptionKind::Offer {
                let answered = peer.set_local_description().await;
                session.with_call(&key, |call, transport| match answered {
                    Ok((DescriptionKind::Answer, sdp)) => {
                        let to = call.other.clone();
                        call.send_description(transport, &to, DescriptionKind::Answer, sdp);
                    }
                    Ok((DescriptionKind::Offer, _)) => {}
                    Err(error) => warn("could not answer", &error),
                });
            }
            // A negotiation may have made senders (or their encodings) anew: each takes its
            // share of the upload budget again.
            session.calls_changed();
        });
    }

    /// A candidate from `from`: added now, or held until the remote description is set.
    pub(super) fn on_remote_candidate(&self, candidate: Candidate, from: &PeerId) {
        let Some((key, peer, ready)) = ({
            let mut state = self.state.borrow_mut();
            state.calls.get_mut(from).map(|call| {
                let key = CallKey {
                    other: from.clone(),
                    generation: call.generation,
                };
                (key, call.peer(), call.remote_candidates.push(candidate))
            })
        }) else {
            return; // No call: a stray candidate from one that ended.
        };
        if let Some(candidate) = ready {
            let this = self.this.clone();
            spawn_local(async move {
                if let Some(session) = this.upgrade() {
                    session.add_remote_candidate(&key, &peer, candidate).await;
                }
            });
        }
    }

    async fn add_remote_candidate(
        &self,
        key: &CallKey,
        peer: &PeerConnection,
        candidate: Candidate,
    ) {
        if let Err(error) = peer.add_remote_candidate(candidate.as_ref()).await {
            let matters = self
                .with_call(key, |call, _| call.negotiation.candidate_error_matters())
                .unwrap_or(false);
            if matters {
                warn("could not add a remote candidate", &error);
            }
        }
    }

    /// Polls `getStats()` for a while after connecting and shows whether the selected pair is
    /// relayed, updated when the browser moves to another pair.
    fn find_route(&self, key: &CallKey) {
        let Some(peer) = self.with_call(key, |call, _| call.peer()) else {
            return;
        };
        let this = self.this.clone();
        let key = key.clone();
        spawn_local(async move {
            for _ in 0..ROUTE_POLL_ATTEMPTS {
                let route = peer.route().await;
                let Some(session) = this.upgrade() else {
                    return;
                };
                let Some(tile) = session.with_call(&key, |call, _| call.tile.clone()) else {
                    return;
                };
                let phase = tile.phase.get_untracked();
                if !matches!(phase, CallPhase::Connected(_)) {
                    return;
                }
                if let Some(route) = route
                    && phase != CallPhase::Connected(Some(route))
                {
                    tile.phase.set(CallPhase::Connected(Some(route)));
                }
                drop(session);
                TimeoutFuture::new(ROUTE_POLL_MS).await;
            }
        });
    }

    /// Starts reading the call's numbers now and every second, unless already reading. The
    /// timer lives in the [`Call`], so it stops when the call ends, however it ends.
    fn start_stats(&self, key: &CallKey) {
        let started = self.with_call(key, |call, _| {
            if call.stats_poll.is_some() {
                return false;
            }
            let this = self.this.clone();
            let key = key.clone();
            call.stats_poll = Some(Interval::new(STATS_POLL_MS, move || {
                if let Some(session) = this.upgrade() {
                    session.read_stats(&key);
                }
            }));
            true
        });
        if started == Some(true) {
            self.read_stats(key);
        }
    }

    /// Reads one `getStats()` report and shows its numbers and the verification code, if the
    /// call is still on.
    fn read_stats(&self, key: &CallKey) {
        let Some(peer) = self.with_call(key, |call, _| call.peer()) else {
            return;
        };
        let this = self.this.clone();
        let key = key.clone();
        spawn_local(async move {
            let Some(entries) = peer.stats().await else {
                return;
            };
            let remote_sdp = peer.remote_sdp();
            let Some(session) = this.upgrade() else {
                return;
            };
            let snapshot = Snapshot::from_stats(&entries);
            let reading = session.with_call(&key, |call, _| {
                let reading = Reading::between(call.last_stats.as_ref(), &snapshot);
                call.last_stats = Some(snapshot);
                (reading, call.tile.clone())
            });
            if let Some((reading, tile)) = reading {
                // The graph follows the first tile's call.
                let first = session
                    .ui
                    .tiles
                    .with_untracked(|tiles| tiles.first().map(|first| first.key))
                    == Some(tile.key);
                if first {
                    session
                        .ui
                        .stats_history
                        .update(|history| history.push(Sample::from(&reading)));
                }
                tile.stats.set(Some(reading));
                // Only a connected call has a code to compare: an ICE restart or a lost
                // connection clears it, and it is read anew once connected again.
                let code = matches!(tile.phase.get_untracked(), CallPhase::Connected(_))
                    .then(|| VerifyCode::from_stats(&entries, remote_sdp.as_deref()))
                    .flatten();
                if tile.verify.get_untracked() != code {
                    tile.verify.set(code);
                }
            }
        });
    }
}

fn send(transport: Option<&dyn Transport>, message: ClientMessage) {
    if let Some(transport) = transport {
        transport.send(message);
    }
}

fn send_candidates(transport: Option<&dyn Transport>, candidates: Vec<Candidate>, to: &PeerId) {
    for candidate in candidates {
        send(
            transport,
            ClientMessage::Candidate {
                candidate,
                to: Some(to.clone()),
            },
        );
    }
}
