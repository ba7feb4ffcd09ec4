//! Screen sharing: the picked surface goes out on the video sender in place of the camera by
//! `replaceTrack` (no new offer), and the camera comes back when sharing stops — from the
//! page's button or from the browser's own "Stop sharing" (the track's `ended`).
//!
//! The camera itself is left alone while sharing: the camera button keeps turning it off and
//! on, and only decides what is sent again once sharing stops ([`VideoOut`]). Nothing is told
//! to the other side: they simply receive another picture, of another size, on the same track.

use gloo_events::EventListener;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::MediaStreamTrack;

use super::Session;
use crate::browser::devices::on_track_ended;
use crate::browser::media::{open_screen, show_stream, stream_of};
use crate::call::screen::VideoOut;

/// The shared surface. Dropping it stops the capture (the browser's sharing bar goes away).
pub(super) struct ScreenShare {
    track: MediaStreamTrack,
    /// Stops sharing when the browser ends the capture; removed with this value.
    _ended: EventListener,
}

impl ScreenShare {
    pub(super) fn track(&self) -> &MediaStreamTrack {
        &self.track
    }
}

impl Drop for ScreenShare {
    fn drop(&mut self) {
        self.track.stop();
    }
}

impl Session {
    /// `#share-screen`: starts sharing (the browser asks what to share), or stops it.
    pub fn toggle_screen_share(&self) {
        if self.state.borrow().screen.is_some() {
            self.stop_screen_share();
            return;
        }
        if self.ui.share_pending.get_untracked() {
            return;
        }
        self.ui.share_pending.set(true);
        self.ui.device_notice.set(None);
        let this = self.this.clone();
        spawn_local(async move {
            let opened = open_screen().await;
            let Some(session) = this.upgrade() else {
                if let Ok(track) = opened {
                    track.stop();
                }
                return;
            };
            session.ui.share_pending.set(false);
            match opened {
                Ok(track) => session.start_screen_share(track),
                Err(problem) => session.ui.device_notice.set(problem.sentence()),
            }
        });
    }

    fn start_screen_share(&self, track: MediaStreamTrack) {
        let this = self.this.clone();
        let ended = on_track_ended(&track, move |_| {
            // Later, not inside the listener this drops.
            let this = this.clone();
            spawn_local(async move {
                if let Some(session) = this.upgrade() {
                    session.stop_screen_share();
                }
            });
        });
        let old = {
            let mut state = self.state.borrow_mut();
            for call in state.calls.values() {
                call.replace_video(Some(&track));
            }
            state.screen.replace(ScreenShare {
                // A second handle: `track.clone()` would be JavaScript's `clone()`, a new
                // track, and stopping that one would leave the capture running.
                track: Clone::clone(&track),
                _ended: ended,
            })
        };
        drop(old);
        if let (Some(video), Ok(stream)) = (
            self.ui.local_video.get_untracked(),
            stream_of(std::slice::from_ref(&track)),
        ) {
            show_stream(&video, Some(&stream));
        }
        self.ui.sharing.set(true);
    }

    /// Stops sharing and sends the camera again (or nothing while the camera is off).
    pub(super) fn stop_screen_share(&self) {
        let screen = {
            let mut state = self.state.borrow_mut();
            let Some(screen) = state.screen.take() else {
                return;
            };
            let camera = match VideoOut::of(false, state.controls.camera_off) {
                VideoOut::Camera => state.media.as_ref().and_then(|media| media.track("video")),
                VideoOut::Screen | VideoOut::Nothing => None,
            };
            for call in state.calls.values() {
                call.replace_video(camera.as_ref());
            }
            if let (Some(video), Some(media)) =
                (self.ui.local_video.get_untracked(), state.media.as_ref())
            {
                show_stream(&video, Some(media.stream()));
            }
            screen
        };
        drop(screen);
        self.ui.sharing.set(false);
    }
}
