//! The session's state as signals: written by the session, read by the components.
//!
//! [`SessionUi`] holds the writable signals and stays inside [`super`]; components get a
//! [`SessionView`], whose signals are read-only, so only the session changes what the page
//! shows. Two exceptions: the local `<video>` node ref, which the page binds and the session
//! plays the camera in, and each tile's `<video>`, which the tile hands to the session when it
//! mounts ([`crate::session::Session::attach_video`]).

use leptos::html::Video;
use leptos::prelude::*;

use super::chat_ui::{ChatUi, ChatView};
use crate::call::controls::{Controls, RemoteControls};
use crate::call::devices::{DeviceLists, DevicesInUse};
use crate::call::media_problem::MediaProblem;
use crate::call::room::Notice;
use crate::call::stats::Reading;
use crate::call::stats_history::History;
use crate::call::status::{CallPhase, Presence, Status, ready_sentence, room_phase};
use crate::call::verify_code::VerifyCode;
use shared::PeerId;

/// One other person's tile: the state of the call with them, as the session updates it. Arc
/// signals, because tiles are made in browser callbacks, where no reactive owner would free
/// plain ones; they go with the tile.
#[derive(Clone, Debug)]
pub struct TileView {
    /// The call's generation: tells this call from every other, for keyed rendering.
    pub key: u64,
    /// Their peer id (it changes if they come back under a new one).
    pub peer: ArcRwSignal<PeerId>,
    pub phase: ArcRwSignal<CallPhase>,
    /// What they last said of their controls.
    pub controls: ArcRwSignal<RemoteControls>,
    /// The call's live numbers, each second while connected.
    pub stats: ArcRwSignal<Option<Reading>>,
    /// The code both people compare ([`VerifyCode`]), read with the numbers each second;
    /// `None` until DTLS is connected, and again while the call is not connected.
    pub verify: ArcRwSignal<Option<VerifyCode>>,
}

impl TileView {
    pub(super) fn new(key: u64, peer: PeerId) -> Self {
        Self {
            key,
            peer: ArcRwSignal::new(peer),
            phase: ArcRwSignal::new(CallPhase::Connecting),
            controls: ArcRwSignal::new(RemoteControls::default()),
            stats: ArcRwSignal::new(None),
            verify: ArcRwSignal::new(None),
        }
    }

    /// The letter shown in place of their video while their camera is off.
    pub fn initial(&self) -> String {
        crate::call::controls::initial(Some(self.peer.read().as_str()))
    }
}

/// The signals the session writes. `Copy`: every field is a handle.
#[derive(Clone, Copy, Debug)]
pub(super) struct SessionUi {
    pub(super) presence: RwSignal<Presence>,
    /// How many other people are in the room.
    pub(super) others: RwSignal<usize>,
    /// One tile per call, in the order the calls began.
    pub(super) tiles: RwSignal<Vec<TileView>>,
    /// The calls' phase together (see [`room_phase`]); `None` while there is no call.
    pub(super) phase: Memo<Option<CallPhase>>,
    pub(super) has_media: RwSignal<bool>,
    /// True while `getUserMedia` is waiting (for the person or the device).
    pub(super) media_pending: RwSignal<bool>,
    pub(super) media_problem: RwSignal<Option<MediaProblem>>,
    pub(super) notice: RwSignal<Option<Notice>>,
    /// Set when the other person left, cleared when a new call starts.
    pub(super) peer_left: RwSignal<bool>,
    /// True while the socket to the server is down and being reconnected (cleared by the next
    /// `joined`): the call goes on, and a small note says so.
    pub(super) server_note: RwSignal<bool>,
    /// The microphone and camera buttons.
    pub(super) controls: RwSignal<Controls>,
    /// The last minute of the first call's numbers, for the graph.
    pub(super) stats_history: RwSignal<History>,
    /// True while a screen is shared (the preview shows it, not mirrored).
    pub(super) sharing: RwSignal<bool>,
    /// True while the browser's share picker is open.
    pub(super) share_pending: RwSignal<bool>,
    /// The cameras, microphones and speakers the menus offer.
    pub(super) devices: RwSignal<DeviceLists>,
    /// The devices in use (the menus' selected entries).
    pub(super) devices_in_use: RwSignal<DevicesInUse>,
    /// A sentence about devices or sharing: a fallback after a device went, a failed switch.
    pub(super) device_notice: RwSignal<Option<String>>,
    /// The chat log and its refusals.
    pub(super) chat: ChatUi,
    pub(super) local_video: NodeRef<Video>,
}

impl SessionUi {
    /// Fresh signals, owned by the current reactive owner (the room page).
    pub(super) fn new() -> Self {
        let tiles: RwSignal<Vec<TileView>> = RwSignal::new(Vec::new());
        Self {
            presence: RwSignal::new(Presence::Connecting),
            others: RwSignal::new(0),
            tiles,
            phase: Memo::new(move |_| room_phase(tiles.read().iter().map(|tile| tile.phase.get()))),
            has_media: RwSignal::new(false),
            media_pending: RwSignal::new(false),
            media_problem: RwSignal::new(None),
            notice: RwSignal::new(None),
            peer_left: RwSignal::new(false),
            server_note: RwSignal::new(false),
            controls: RwSignal::new(Controls::default()),
            stats_history: RwSignal::new(History::default()),
            sharing: RwSignal::new(false),
            share_pending: RwSignal::new(false),
            devices: RwSignal::new(DeviceLists::default()),
            devices_in_use: RwSignal::new(DevicesInUse::default()),
            device_notice: RwSignal::new(None),
            chat: ChatUi::new(),
            local_video: NodeRef::new(),
        }
    }

    pub(super) fn view(&self) -> SessionView {
        SessionView {
            presence: self.presence.read_only(),
            others: self.others.read_only(),
            tiles: self.tiles.read_only(),
            phase: self.phase,
            has_media: self.has_media.read_only(),
            media_pending: self.media_pending.read_only(),
            media_problem: self.media_problem.read_only(),
            notice: self.notice.read_only(),
            peer_left: self.peer_left.read_only(),
            server_note: self.server_note.read_only(),
            controls: self.controls.read_only(),
            stats_history: self.stats_history.read_only(),
            sharing: self.sharing.read_only(),
            share_pending: self.share_pending.read_only(),
            devices: self.devices.read_only(),
            devices_in_use: self.devices_in_use.read_only(),
            device_notice: self.device_notice.read_only(),
            chat: self.chat.view(),
            local_video: self.local_video,
        }
    }
}

/// The session's state for the components, read-only. `Copy`: every field is a handle.
#[derive(Clone, Copy, Debug)]
pub struct SessionView {
    pub presence: ReadSignal<Presence>,
    /// How many other people are in the room.
    pub others: ReadSignal<usize>,
    /// One tile per call, in the order the calls began.
    pub tiles: ReadSignal<Vec<TileView>>,
    /// The calls' phase together; `None` while there is no call.
    pub phase: Memo<Option<CallPhase>>,
    pub has_media: ReadSignal<bool>,
    /// True while `getUserMedia` is waiting (for the person or the device).
    pub media_pending: ReadSignal<bool>,
    pub media_problem: ReadSignal<Option<MediaProblem>>,
    pub notice: ReadSignal<Option<Notice>>,
    /// Set when the other person left, cleared when a new call starts.
    pub peer_left: ReadSignal<bool>,
    /// True while the page reconnects to the server (shown as a note beside the status).
    pub server_note: ReadSignal<bool>,
    /// The microphone and camera buttons.
    pub controls: ReadSignal<Controls>,
    /// The last minute of the first call's numbers, for the graph.
    pub stats_history: ReadSignal<History>,
    /// True while a screen is shared.
    pub sharing: ReadSignal<bool>,
    /// True while the browser's share picker is open.
    pub share_pending: ReadSignal<bool>,
    /// The cameras, microphones and speakers the menus offer.
    pub devices: ReadSignal<DeviceLists>,
    /// The devices in use.
    pub devices_in_use: ReadSignal<DevicesInUse>,
    /// A sentence about devices or sharing, if any.
    pub device_notice: ReadSignal<Option<String>>,
    /// The chat log and why the last message or file was not sent.
    pub chat: ChatView,
    /// Bound to `#local-video` by the page; the session shows the camera in it.
    pub local_video: NodeRef<Video>,
}

impl SessionView {
    /// The status line (tracked).
    pub fn status(&self) -> Status {
        let mut status = Status::of(self.presence.get(), self.phase.get());
        if status.state == "ready" {
            status.sentence = ready_sentence(self.others.get());
        }
        status
    }

    /// Whether a call is shown as failed (tracked): Retry and the connection check are offered.
    pub fn any_failed(&self) -> bool {
        self.tiles
            .read()
            .iter()
            .any(|tile| tile.phase.get().is_failed())
    }

    /// Whether Call can be pressed (tracked): both people here, media on, no call yet.
    pub fn can_call(&self) -> bool {
        matches!(self.presence.get(), Presence::Ready | Presence::HungUp)
            && self.has_media.get()
            && self.phase.get().is_none()
    }
}
