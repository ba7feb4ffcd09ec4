//! `RTCPeerConnection`, typed: configuration, events as a Rust enum, promises as `async fn`s.
//!
//! [`PeerConnection`] owns the connection and its event listeners. [`PeerConnection::close`]
//! (also run on drop) closes it and removes the listeners, dropping their closures, so a
//! hang-up followed by a new call leaks nothing. Negotiation decisions are not made here; the
//! session asks for the steps (offer, set remote, answer) in the order perfect negotiation
//! wants. Browser strings (the ICE connection state) are parsed into `call` types here, once.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{Array, Function, Reflect};
use shared::{IceCandidate, IceServer, IceTransportPolicy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcBundlePolicy, RtcConfiguration, RtcIceCandidate,
    RtcIceCandidateInit, RtcIceServer, RtcIceTransportPolicy, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState,
    RtcStatsReport, RtcTrackEvent,
};

use crate::call::bitrate::SendLimits;
use crate::call::ice_state::IceConnectionState;
use crate::call::negotiation::DescriptionKind;
use crate::call::route::{Route, StatsEntry, route_from_stats};

/// What the peer connection reports, as it happens.
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// A local candidate to send (`None`: gathering is complete).
    LocalCandidate(Option<IceCandidate>),
    /// Tracks changed: a new offer is needed.
    NegotiationNeeded,
    /// A remote track arrived; the stream holds every remote track so far.
    RemoteStream(MediaStream),
    /// `iceConnectionState` changed (states this build does not know are not reported).
    IceConnectionState(IceConnectionState),
    /// `connectionState` became `failed`. Chromium can get there (consent checks or DTLS
    /// timing out once the network stops) while `iceConnectionState` stays `disconnected`.
    ConnectionFailed,
}

/// The ICE part of the configuration, as the server hands it out.
#[derive(Debug, Clone, Default)]
pub struct IceConfig {
    pub servers: Vec<IceServer>,
    pub policy: IceTransportPolicy,
}

/// One `RTCPeerConnection` and the listeners attached to it.
pub struct PeerConnection {
    pc: RtcPeerConnection,
    /// Emptied by [`Self::close`]: dropping an `EventListener` removes it from the connection
    /// and frees its closure.
    listeners: RefCell<Vec<EventListener>>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("signaling_state", &self.pc.signaling_state())
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// A connection with one bundled transport, using `ice`; `on_event` hears everything it
    /// reports until it is closed.
    pub fn new(ice: &IceConfig, on_event: impl Fn(PeerEvent) + 'static) -> Result<Self, JsValue> {
        let pc = new_peer_connection(ice)?;
        // Tracks arrive one by one; keep them in one stream so one <video> plays them all.
        let remote_stream = MediaStream::new()?;
        let on_event: Rc<dyn Fn(PeerEvent)> = Rc::new(on_event);

        let listeners = vec![
            EventListener::new(&pc, "icecandidate", {
                let on_event = Rc::clone(&on_event);
                move |event| {
                    let Some(event) = event.dyn_ref::<RtcPeerConnectionIceEvent>() else {
                        return;
                    };
                    on_event(PeerEvent::LocalCandidate(
                        event.candidate().as_ref().map(candidate_from_js),
                    ));
                }
            }),
            EventListener::new(&pc, "negotiationneeded", {
                let on_event = Rc::clone(&on_event);
                move |_| on_event(PeerEvent::NegotiationNeeded)
            }),
            EventListener::new(&pc, "track", {
                let on_event = Rc::clone(&on_event);
                move |event| {
                    let Some(event) = event.dyn_ref::<RtcTrackEvent>() else {
                        return;
                    };
                    remote_stream.add_track(&event.track());
                    // `Clone::clone`, a second handle: `MediaStream`'s inherent `clone` is the
                    // JavaScript method, which copies the stream with a new track per track.
                    on_event(PeerEvent::RemoteStream(Clone::clone(&remote_stream)));
                }
            }),
            EventListener::new(&pc, "iceconnectionstatechange", {
                let pc = pc.clone();
                let on_event = Rc::clone(&on_event);
                move |_| {
                    if let Some(state) = ice_state(&pc) {
                        on_event(PeerEvent::IceConnectionState(state));
                    }
                }
            }),
            EventListener::new(&pc, "connectionstatechange", {
                let pc = pc.clone();
                move |_| {
                    if pc.connection_state() == RtcPeerConnectionState::Failed {
                        on_event(PeerEvent::ConnectionFailed);
                    }
                }
            }),
        ];
        Ok(Self {
            pc,
            listeners: RefCell::new(listeners),
        })
    }

    /// The browser object, for the diagnostic hook and for tests.
    pub fn raw(&self) -> &RtcPeerConnection {
        &self.pc
    }

    /// Sends every track of `tracks` that is not sent yet (each `addTrack` fires
    /// `negotiationneeded`).
    pub fn add_tracks(&self, tracks: &[MediaStreamTrack], stream: &MediaStream) {
        let sent: Vec<MediaStreamTrack> = self
            .pc
            .get_senders()
            .iter()
            .filter_map(|sender| sender.unchecked_into::<RtcRtpSender>().track())
            .collect();
        for track in tracks {
            if !sent.iter().any(|sent| sent == track) {
                self.pc.add_track_0(track, stream);
            }
        }
    }

    /// Makes sure a video transceiver exists (sending nothing while the camera is off), so the
    /// camera can be turned on later by `replaceTrack`, without renegotiation.
    pub fn ensure_video_transceiver(&self) {
        if self.video_transceiver().is_none() {
            self.pc.add_transceiver_with_str("video");
        }
    }

    /// Sends `track` (or nothing, with `None`) on the video sender by `replaceTrack`: no
    /// renegotiation — unless this side answered a call while its camera was off, when the
    /// video transceiver only receives: then it is made to send, which renegotiates.
    pub fn replace_video_track(&self, track: Option<&MediaStreamTrack>) {
        let Some(transceiver) = self.video_transceiver() else {
            return;
        };
        if track.is_some()
            && matches!(
                transceiver.direction(),
                RtcRtpTransceiverDirection::Recvonly | RtcRtpTransceiverDirection::Inactive
            )
        {
            transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        }
        let sender = transceiver.sender();
        let promise = sender.replace_track(track);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = JsFuture::from(promise).await {
                super::warn("replaceTrack failed", &error);
            }
        });
    }

    /// Sends `track` on the audio sender by `replaceTrack` (another microphone): no
    /// renegotiation.
    pub fn replace_audio_track(&self, track: &MediaStreamTrack) {
        let Some(transceiver) = self.transceiver_of("audio") else {
            return;
        };
        let promise = transceiver.sender().replace_track(Some(track));
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = JsFuture::from(promise).await {
                super::warn("replaceTrack failed", &error);
            }
        });
    }

    /// Caps what this connection sends (`setParameters` on each sender's first encoding; no
    /// renegotiation). A sender without negotiated encodings yet is skipped: the session
    /// applies the limits again once the call connects.
    pub fn limit_sending(&self, limits: &SendLimits) {
        for (kind, max_bitrate, scale_down) in [
            ("video", limits.video_bps, Some(limits.scale_down)),
            ("audio", limits.audio_bps, None),
        ] {
            let Some(transceiver) = self.transceiver_of(kind) else {
                continue;
            };
            let sender = transceiver.sender();
            if let Err(error) = set_encoding_limits(&sender, max_bitrate, scale_down) {
                super::warn("could not limit what a call sends", &error);
            }
        }
    }

    /// The video transceiver.
    fn video_transceiver(&self) -> Option<RtcRtpTransceiver> {
        self.transceiver_of("video")
    }

    /// The first transceiver of `kind` (found by its receiver's kind, which stays set while the
    /// sender has no track).
    fn transceiver_of(&self, kind: &str) -> Option<RtcRtpTransceiver> {
        self.pc
            .get_transceivers()
            .iter()
            .map(JsCast::unchecked_into::<RtcRtpTransceiver>)
            .find(|transceiver| transceiver.receiver().track().kind() == kind)
    }

    /// Whether the signalling state is `stable` (no offer outstanding).
    pub fn is_stable(&self) -> bool {
        self.pc.signaling_state() == RtcSignalingState::Stable
    }

    /// Our offer, while it waits for the other side's answer (`have-local-offer`).
    pub fn pending_local_offer(&self) -> Option<String> {
        if self.pc.signaling_state() != RtcSignalingState::HaveLocalOffer {
            return None;
        }
        self.pc
            .local_description()
            .filter(|description| description.type_() == RtcSdpType::Offer)
            .map(|description| description.sdp())
    }

    /// The remote description's SDP, once set.
    pub fn remote_sdp(&self) -> Option<String> {
        self.pc
            .remote_description()
            .map(|description| description.sdp())
    }

    /// Whether a remote description has been set.
    pub fn has_remote_description(&self) -> bool {
        self.pc.remote_description().is_some()
    }

    /// Creates and sets the description the current state calls for — an offer when stable,
    /// an answer after a remote offer — and returns it with its kind.
    ///
    /// Uses the argument-less `setLocalDescription()`, which creates the description inside the
    /// connection's operations chain, so no other step can slip between create and set.
    pub async fn set_local_description(&self) -> Result<(DescriptionKind, String), JsValue> {
        let method: Function =
            Reflect::get(&self.pc, &JsValue::from_str("setLocalDescription"))?.dyn_into()?;
        let promise: js_sys::Promise = method.call0(&self.pc)?.dyn_into()?;
        JsFuture::from(promise).await?;
        let description = self
            .pc
            .local_description()
            .ok_or_else(|| JsValue::from_str("no local description after setting it"))?;
        let kind = match description.type_() {
            RtcSdpType::Offer => DescriptionKind::Offer,
            RtcSdpType::Answer => DescriptionKind::Answer,
            _ => {
                return Err(JsValue::from_str(
                    "local description is neither offer nor answer",
                ));
            }
        };
        Ok((kind, description.sdp()))
    }

    /// Sets the other side's description. (A colliding offer never gets here: the session
    /// ignores it or starts over on a fresh connection, as `call::negotiation` decides.)
    pub async fn set_remote_description(
        &self,
        kind: DescriptionKind,
        sdp: &str,
    ) -> Result<(), JsValue> {
        let init = RtcSessionDescriptionInit::new(match kind {
            DescriptionKind::Offer => RtcSdpType::Offer,
            DescriptionKind::Answer => RtcSdpType::Answer,
        });
        init.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        Ok(())
    }

    /// Adds a candidate from the other side; `None` (end of candidates) calls
    /// `addIceCandidate()` with no candidate.
    pub async fn add_remote_candidate(
        &self,
        candidate: Option<&IceCandidate>,
    ) -> Result<(), JsValue> {
        let init = candidate.map(candidate_to_js).transpose()?;
        JsFuture::from(
            self.pc
                .add_ice_candidate_with_opt_rtc_ice_candidate_init(init.as_ref()),
        )
        .await?;
        Ok(())
    }

    /// Starts an ICE restart: `negotiationneeded` follows, and the next offer carries new
    /// credentials.
    pub fn restart_ice(&self) {
        let restarted = Reflect::get(&self.pc, &JsValue::from_str("restartIce"))
            .and_then(JsCast::dyn_into::<Function>)
            .and_then(|method| method.call0(&self.pc));
        if let Err(error) = restarted {
            super::warn("restartIce failed", &error);
        }
    }

    /// The `getStats()` report, each entry reduced to the fields the call reads (`None` if the
    /// browser refused, as it does once the connection is closed).
    pub async fn stats(&self) -> Option<Vec<StatsEntry>> {
        let report: RtcStatsReport = JsFuture::from(self.pc.get_stats())
            .await
            .ok()?
            .dyn_into()
            .ok()?;
        Some(
            report
                .values()
                .into_iter()
                .flatten()
                .map(|value| stats_entry(&value))
                .collect(),
        )
    }

    /// The route of the selected candidate pair, from `getStats()`.
    pub async fn route(&self) -> Option<Route> {
        route_from_stats(&self.stats().await?)
    }

    /// Closes the connection and removes its listeners. Idempotent.
    pub fn close(&self) {
        self.listeners.borrow_mut().clear();
        self.pc.close();
    }
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        self.close();
    }
}

/// A bare `RTCPeerConnection` with one bundled transport, using `ice`: the call's (wrapped in
/// [`PeerConnection`]) and the connection check's throwaway ones.
pub(super) fn new_peer_connection(ice: &IceConfig) -> Result<RtcPeerConnection, JsValue> {
    let config = RtcConfiguration::new();
    config.set_bundle_policy(RtcBundlePolicy::MaxBundle);
    config.set_ice_transport_policy(match ice.policy {
        IceTransportPolicy::All => RtcIceTransportPolicy::All,
        IceTransportPolicy::Relay => RtcIceTransportPolicy::Relay,
    });
    config.set_ice_servers(&ice_servers_to_js(&ice.servers));
    RtcPeerConnection::new_with_configuration(&config)
}

/// `iceServers` for `RTCConfiguration`.
fn ice_servers_to_js(servers: &[IceServer]) -> Array {
    servers
        .iter()
        .map(|server| {
            let js = RtcIceServer::new();
            let urls: Array = server
                .urls
                .iter()
                .map(|url| JsValue::from_str(url))
                .collect();
            js.set_urls(&urls);
            if let Some(username) = &server.username {
                js.set_username(username);
            }
            if let Some(credential) = &server.credential {
                js.set_credential(credential);
            }
            JsValue::from(js)
        })
        .collect()
}

/// A browser candidate as it goes on the wire (the fields of its `toJSON()`).
/// Sets `maxBitrate` (and `scaleResolutionDownBy`) on `sender`'s first encoding. Through
/// `Reflect`, as the parameters are a plain dictionary the sender hands back and takes again.
fn set_encoding_limits(
    sender: &RtcRtpSender,
    max_bitrate: u32,
    scale_down: Option<f64>,
) -> Result<(), JsValue> {
    let get: Function = Reflect::get(sender, &"getParameters".into())?.dyn_into()?;
    let parameters = get.call0(sender)?;
    let encodings = Reflect::get(&parameters, &"encodings".into())?;
    let Some(first) = Array::from(&encodings).iter().next() else {
        return Ok(());
    };
    Reflect::set(&first, &"maxBitrate".into(), &max_bitrate.into())?;
    if let Some(scale_down) = scale_down {
        Reflect::set(&first, &"scaleResolutionDownBy".into(), &scale_down.into())?;
    }
    let set: Function = Reflect::get(sender, &"setParameters".into())?.dyn_into()?;
    let promise: js_sys::Promise = set.call1(sender, &parameters)?.dyn_into()?;
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = JsFuture::from(promise).await {
            super::warn("setParameters failed", &error);
        }
    });
    Ok(())
}

pub fn candidate_from_js(candidate: &RtcIceCandidate) -> IceCandidate {
    IceCandidate {
        candidate: Some(candidate.candidate()),
        sdp_mid: candidate.sdp_mid(),
        sdp_m_line_index: candidate.sdp_m_line_index(),
        username_fragment: Reflect::get(candidate, &JsValue::from_str("usernameFragment"))
            .ok()
            .and_then(|fragment| fragment.as_string()),
    }
}

/// A candidate from the wire as `RTCIceCandidateInit`.
pub fn candidate_to_js(candidate: &IceCandidate) -> Result<RtcIceCandidateInit, JsValue> {
    let init = RtcIceCandidateInit::new(candidate.candidate.as_deref().unwrap_or_default());
    init.set_sdp_mid(candidate.sdp_mid.as_deref());
    init.set_sdp_m_line_index(candidate.sdp_m_line_index);
    if let Some(fragment) = &candidate.username_fragment {
        Reflect::set(
            &init,
            &JsValue::from_str("usernameFragment"),
            &JsValue::from_str(fragment),
        )?;
    }
    Ok(init)
}

/// `iceConnectionState`, parsed once from the browser's string (a state this build does not
/// know gives `None`).
fn ice_state(pc: &RtcPeerConnection) -> Option<IceConnectionState> {
    let name = Reflect::get(pc, &JsValue::from_str("iceConnectionState")).ok()?;
    IceConnectionState::from_browser(&name.as_string()?)
}

fn stats_entry(value: &JsValue) -> StatsEntry {
    let field = |name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
    let text = |name: &str| field(name).and_then(|value| value.as_string());
    let number = |name: &str| field(name).and_then(|value| value.as_f64());
    StatsEntry {
        id: text("id").unwrap_or_default(),
        kind: text("type").unwrap_or_default(),
        timestamp: number("timestamp"),
        selected_candidate_pair_id: text("selectedCandidatePairId"),
        local_candidate_id: text("localCandidateId"),
        remote_candidate_id: text("remoteCandidateId"),
        selected: field("selected")
            .and_then(|value| value.as_bool())
            .unwrap_or(false),
        state: text("state"),
        nominated: field("nominated")
            .and_then(|value| value.as_bool())
            .unwrap_or(false),
        current_round_trip_time: number("currentRoundTripTime"),
        candidate_type: text("candidateType"),
        media_kind: text("kind"),
        bytes_received: number("bytesReceived"),
        bytes_sent: number("bytesSent"),
        packets_received: number("packetsReceived"),
        packets_lost: number("packetsLost"),
        frame_width: number("frameWidth"),
        frame_height: number("frameHeight"),
        frames_per_second: number("framesPerSecond"),
        codec_id: text("codecId"),
        mime_type: text("mimeType"),
        dtls_state: text("dtlsState"),
        local_certificate_id: text("localCertificateId"),
        remote_certificate_id: text("remoteCertificateId"),
        fingerprint: text("fingerprint"),
    }
}
