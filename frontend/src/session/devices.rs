//! Choosing the camera, microphone and speaker, and falling back when the one in use goes.
//!
//! A new camera or microphone is opened with `getUserMedia` (`deviceId` exact) and put on the
//! sender by `replaceTrack` — no new offer — keeping the microphone's mute and the camera-off
//! state. The speaker is the remote `<video>`'s `setSinkId`. The lists are read once access is
//! granted and again on every `devicechange`; a device in use that disappears from the list,
//! or whose track ends by itself, is replaced by the default one
//! ([`DeviceLists::fallback`]) and the page says so in `#device-notice`.

use gloo_events::EventListener;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::MediaStreamTrack;

use super::Session;
use crate::browser::devices::{list_devices, on_device_change, on_track_ended, set_speaker};
use crate::browser::media::{device_id_of, open_camera, open_microphone};
use crate::call::devices::{DeviceKind, DeviceLists, DevicesInUse, fallback_sentence};

/// The session's devices: which are in use, and the listeners that notice them going.
#[derive(Default)]
pub(super) struct Devices {
    /// What is in use (or chosen, for a camera that is off).
    pub(super) in_use: DevicesInUse,
    /// The last list read; the fallback is chosen from it.
    lists: DeviceLists,
    /// `devicechange` on `navigator.mediaDevices`, once media is on.
    changes: Option<EventListener>,
    /// `ended` of the camera and microphone tracks in use.
    camera_ended: Option<EventListener>,
    microphone_ended: Option<EventListener>,
}

impl Session {
    /// After the camera and microphone started: note which devices they are, watch them, and
    /// read the lists (labels are known now).
    pub(super) fn devices_started(&self) {
        let tracks: Vec<(DeviceKind, MediaStreamTrack)> = {
            let state = self.state.borrow();
            let Some(media) = &state.media else {
                return;
            };
            [
                (DeviceKind::Camera, "video"),
                (DeviceKind::Microphone, "audio"),
            ]
            .into_iter()
            .filter_map(|(kind, name)| Some((kind, media.track(name)?)))
            .collect()
        };
        for (kind, track) in &tracks {
            self.watch_track(*kind, track);
        }
        if self.state.borrow().devices.changes.is_none() {
            let this = self.this.clone();
            let listener = on_device_change(move |_| {
                if let Some(session) = this.upgrade() {
                    session.refresh_devices();
                }
            });
            self.state.borrow_mut().devices.changes = listener;
        }
        self.refresh_devices();
    }

    /// Notes `track` as the device of `kind` in use and falls back when it ends by itself.
    pub(super) fn watch_track(&self, kind: DeviceKind, track: &MediaStreamTrack) {
        let id = device_id_of(track);
        let this = self.this.clone();
        let lost = id.clone();
        let listener = on_track_ended(track, move |_| {
            let (this, lost) = (this.clone(), lost.clone());
            // Later, not inside the listener the fallback replaces.
            spawn_local(async move {
                if let Some(session) = this.upgrade()
                    && let Some(lost) = lost
                {
                    let lists = list_devices().await;
                    session.device_lost(kind, &lost, lists);
                }
            });
        });
        let mut state = self.state.borrow_mut();
        state.devices.in_use.set(kind, id);
        match kind {
            DeviceKind::Camera => state.devices.camera_ended = Some(listener),
            DeviceKind::Microphone => state.devices.microphone_ended = Some(listener),
            DeviceKind::Speaker => {}
        }
        let in_use = state.devices.in_use.clone();
        drop(state);
        self.ui.devices_in_use.set(in_use);
    }

    /// Reads the lists again; a device in use that is gone is replaced.
    fn refresh_devices(&self) {
        let this = self.this.clone();
        spawn_local(async move {
            let lists = list_devices().await;
            let Some(session) = this.upgrade() else {
                return;
            };
            let vanished = {
                let mut state = session.state.borrow_mut();
                state.devices.lists = lists.clone();
                state.devices.in_use.vanished(&lists)
            };
            session.ui.devices.set(lists.clone());
            for (kind, lost) in vanished {
                session.device_lost(kind, &lost, lists.clone());
            }
        });
    }

    /// The device `lost` of `kind` went away: use the default one and say so.
    fn device_lost(&self, kind: DeviceKind, lost: &str, lists: DeviceLists) {
        let fallback = {
            let mut state = self.state.borrow_mut();
            // Both `ended` and `devicechange` may report one unplugging: act once.
            if state.devices.in_use.of(kind) != Some(lost) {
                return;
            }
            state.devices.lists = lists.clone();
            lists.fallback(kind, lost).cloned()
        };
        self.ui.devices.set(lists);
        self.ui
            .device_notice
            .set(Some(fallback_sentence(kind, fallback.as_ref())));
        match fallback {
            Some(device) => self.use_device(kind, device.id),
            None => {
                self.state.borrow_mut().devices.in_use.set(kind, None);
                self.ui
                    .devices_in_use
                    .set(self.state.borrow().devices.in_use.clone());
            }
        }
    }

    /// A device picked in `#camera-select`, `#mic-select` or `#speaker-select`.
    pub fn choose_device(&self, kind: DeviceKind, id: String) {
        if self.state.borrow().devices.in_use.of(kind) == Some(id.as_str()) {
            return;
        }
        self.ui.device_notice.set(None);
        self.use_device(kind, id);
    }

    /// Switches to the device `id` of `kind`. A camera that is off is only remembered: turning
    /// it on opens that one.
    fn use_device(&self, kind: DeviceKind, id: String) {
        let idle = {
            let mut state = self.state.borrow_mut();
            state.devices.in_use.set(kind, Some(id.clone()));
            let no_track = state.media.as_ref().is_none_or(|media| {
                media
                    .track(if kind == DeviceKind::Camera {
                        "video"
                    } else {
                        "audio"
                    })
                    .is_none()
            });
            match kind {
                DeviceKind::Camera => state.controls.camera_off || state.camera_pending || no_track,
                DeviceKind::Microphone => no_track,
                DeviceKind::Speaker => false,
            }
        };
        self.ui
            .devices_in_use
            .set(self.state.borrow().devices.in_use.clone());
        if idle {
            return;
        }
        let this = self.this.clone();
        spawn_local(async move {
            match kind {
                DeviceKind::Speaker => {
                    let Some(videos) = this.upgrade().map(|s| s.remote_videos()) else {
                        return;
                    };
                    let mut failed = false;
                    for video in videos {
                        failed |= set_speaker(&video, &id).await.is_err();
                    }
                    if failed && let Some(session) = this.upgrade() {
                        session.ui.device_notice.set(Some(
                            "The sound could not be sent to that speaker. Pick another one."
                                .to_owned(),
                        ));
                    }
                }
                DeviceKind::Camera => {
                    let opened = open_camera(Some(&id)).await;
                    if let Some(session) = this.upgrade() {
                        session.switched(kind, opened);
                    } else if let Ok(track) = opened {
                        track.stop();
                    }
                }
                DeviceKind::Microphone => {
                    let opened = open_microphone(Some(&id)).await;
                    if let Some(session) = this.upgrade() {
                        session.switched(kind, opened);
                    } else if let Ok(track) = opened {
                        track.stop();
                    }
                }
            }
        });
    }

    /// A camera or microphone opened for a switch: sent in place of the old one.
    fn switched(
        &self,
        kind: DeviceKind,
        opened: Result<MediaStreamTrack, crate::call::media_problem::MediaProblem>,
    ) {
        let track = match opened {
            Ok(track) => track,
            Err(problem) => {
                let noun = kind.noun();
                self.ui.device_notice.set(Some(format!(
                    "That {noun} could not be started: {}",
                    problem.explanation()
                )));
                return;
            }
        };
        {
            let state = self.state.borrow();
            let Some(media) = &state.media else {
                track.stop();
                return;
            };
            match kind {
                DeviceKind::Camera => {
                    // Turned off while the new camera was opening: keep it off.
                    if state.controls.camera_off {
                        track.stop();
                        return;
                    }
                    media.replace_track(&track);
                    if state.screen.is_none() {
                        for call in state.calls.values() {
                            call.replace_video(Some(&track));
                        }
                    }
                }
                DeviceKind::Microphone => {
                    track.set_enabled(!state.controls.muted);
                    media.replace_track(&track);
                    for call in state.calls.values() {
                        call.replace_audio(&track);
                    }
                }
                DeviceKind::Speaker => return,
            }
        }
        self.watch_track(kind, &track);
    }
}

impl Session {
    /// Every tile's `<video>` (each plays one person's sound).
    fn remote_videos(&self) -> Vec<web_sys::HtmlVideoElement> {
        self.state
            .borrow()
            .calls
            .values()
            .filter_map(|call| call.video().cloned())
            .collect()
    }

    /// A tile's `<video>` just mounted: its sound goes to the chosen speaker, if one was chosen.
    pub(super) fn route_sound(&self, video: web_sys::HtmlVideoElement) {
        let Some(id) = self.state.borrow().devices.in_use.speaker.clone() else {
            return;
        };
        spawn_local(async move {
            if set_speaker(&video, &id).await.is_err() {
                crate::browser::warn(
                    "could not route the sound to the speaker",
                    &wasm_bindgen::JsValue::from_str(&id),
                );
            }
        });
    }
}
