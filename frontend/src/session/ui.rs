//! The session's state as signals: written by the session, read by the components.
//!
//! [`SessionUi`] holds the writable signals and stays inside [`super`]; components get a
//! [`SessionView`], whose signals are read-only, so only the session changes what the page
//! shows. The two `<video>` node refs are the exception: the page binds them to its elements
//! and the session plays streams in them.

use leptos::html::Video;
use leptos::prelude::*;

use super::chat_ui::{ChatUi, ChatView};
use crate::call::controls::{Controls, RemoteControls};
use crate::call::devices::{DeviceLists, DevicesInUse};
use crate::call::media_problem::MediaProblem;
use crate::call::room::Notice;
use crate::call::stats::Reading;
use crate::call::stats_history::History;
use crate::call::status::{CallPhase, Presence, Status};

/// The signals the session writes. `Copy`: every field is a handle.
#[derive(Clone, Copy, Debug)]
pub(super) struct SessionUi {
    pub(super) presence: RwSignal<Presence>,
    /// `None` while there is no call.
    pub(super) phase: RwSignal<Option<CallPhase>>,
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
    /// What the other person last said of their controls (reset when a call begins or ends).
    pub(super) remote_controls: RwSignal<RemoteControls>,
    /// The letter shown in place of their video while their camera is off.
    pub(super) remote_initial: RwSignal<String>,
    /// The call's live numbers, each second while connected (`None` without a call).
    pub(super) stats: RwSignal<Option<Reading>>,
    /// The last minute of them, for the graph (emptied when a call begins).
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
    pub(super) remote_video: NodeRef<Video>,
}

impl SessionUi {
    /// Fresh signals, owned by the current reactive owner (the room page).
    pub(super) fn new() -> Self {
        Self {
            presence: RwSignal::new(Presence::Connecting),
            phase: RwSignal::new(None),
            has_media: RwSignal::new(false),
            media_pending: RwSignal::new(false),
            media_problem: RwSignal::new(None),
            notice: RwSignal::new(None),
            peer_left: RwSignal::new(false),
            server_note: RwSignal::new(false),
            controls: RwSignal::new(Controls::default()),
            remote_controls: RwSignal::new(RemoteControls::default()),
            remote_initial: RwSignal::new("?".to_owned()),
            stats: RwSignal::new(None),
            stats_history: RwSignal::new(History::default()),
            sharing: RwSignal::new(false),
            share_pending: RwSignal::new(false),
            devices: RwSignal::new(DeviceLists::default()),
            devices_in_use: RwSignal::new(DevicesInUse::default()),
            device_notice: RwSignal::new(None),
            chat: ChatUi::new(),
            local_video: NodeRef::new(),
            remote_video: NodeRef::new(),
        }
    }

    pub(super) fn view(&self) -> SessionView {
        SessionView {
            presence: self.presence.read_only(),
            phase: self.phase.read_only(),
            has_media: self.has_media.read_only(),
            media_pending: self.media_pending.read_only(),
            media_problem: self.media_problem.read_only(),
            notice: self.notice.read_only(),
            peer_left: self.peer_left.read_only(),
            server_note: self.server_note.read_only(),
            controls: self.controls.read_only(),
            remote_controls: self.remote_controls.read_only(),
            remote_initial: self.remote_initial.read_only(),
            stats: self.stats.read_only(),
            stats_history: self.stats_history.read_only(),
            sharing: self.sharing.read_only(),
            share_pending: self.share_pending.read_only(),
            devices: self.devices.read_only(),
            devices_in_use: self.devices_in_use.read_only(),
            device_notice: self.device_notice.read_only(),
            chat: self.chat.view(),
            local_video: self.local_video,
            remote_video: self.remote_video,
        }
    }
}

/// The session's state for the components, read-only. `Copy`: every field is a handle.
#[derive(Clone, Copy, Debug)]
pub struct SessionView {
    pub presence: ReadSignal<Presence>,
    /// `None` while there is no call.
    pub phase: ReadSignal<Option<CallPhase>>,
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
    /// What the other person last said of their controls.
    pub remote_controls: ReadSignal<RemoteControls>,
    /// The letter shown in place of their video while their camera is off.
    pub remote_initial: ReadSignal<String>,
    /// The call's live numbers, each second while connected (`None` without a call).
    pub stats: ReadSignal<Option<Reading>>,
    /// The last minute of them, for the graph.
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
    /// Bound to `#remote-video` by the page; the session shows the other person in it.
    pub remote_video: NodeRef<Video>,
}

impl SessionView {
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
