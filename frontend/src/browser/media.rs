//! Camera and microphone: `getUserMedia`, and stopping the tracks so the camera light goes off.
//!
//! When the camera and microphone cannot both be had because one of them does not exist, the
//! call goes on with what there is: video only, else audio only. Refusals and busy devices are
//! not retried here — the page explains them and offers a button.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlMediaElement, MediaDevices, MediaStream, MediaStreamConstraints, MediaStreamTrack,
};

use crate::call::media_problem::MediaProblem;
use crate::call::screen::ShareProblem;

/// The local camera/microphone stream. Dropping it stops every track.
#[derive(Debug)]
pub struct LocalMedia {
    stream: MediaStream,
}

impl LocalMedia {
    /// Takes ownership of a stream: its tracks stop when this value drops.
    pub fn from_stream(stream: MediaStream) -> Self {
        Self { stream }
    }

    pub fn stream(&self) -> &MediaStream {
        &self.stream
    }

    /// The tracks, for `addTrack`.
    pub fn tracks(&self) -> Vec<MediaStreamTrack> {
        tracks_of(&self.stream)
    }

    /// Mutes or unmutes the microphone: the audio tracks' `enabled` (they keep being sent,
    /// silent, so nothing is renegotiated).
    pub fn set_muted(&self, muted: bool) {
        for track in self.tracks().iter().filter(|track| track.kind() == "audio") {
            track.set_enabled(!muted);
        }
    }

    /// Stops the camera (its light goes off) and takes its tracks out of the stream.
    pub fn stop_camera(&self) {
        for track in self.tracks().iter().filter(|track| track.kind() == "video") {
            track.stop();
            self.stream.remove_track(track);
        }
    }

    /// Adds a new camera track to the stream (the preview shows it).
    pub fn add_camera(&self, track: &MediaStreamTrack) {
        self.stream.add_track(track);
    }

    /// The first track of `kind` (`"audio"` or `"video"`), if any.
    pub fn track(&self, kind: &str) -> Option<MediaStreamTrack> {
        self.tracks().into_iter().find(|track| track.kind() == kind)
    }

    /// Puts `track` in place of the tracks of its kind, which are stopped (another device
    /// chosen, or a fallback after one was lost).
    pub fn replace_track(&self, track: &MediaStreamTrack) {
        let kind = track.kind();
        for old in self.tracks().iter().filter(|old| old.kind() == kind) {
            old.stop();
            self.stream.remove_track(old);
        }
        self.stream.add_track(track);
    }
}

impl Drop for LocalMedia {
    fn drop(&mut self) {
        for track in self.tracks() {
            track.stop();
        }
    }
}

/// Every track of a stream, typed.
pub fn tracks_of(stream: &MediaStream) -> Vec<MediaStreamTrack> {
    stream
        .get_tracks()
        .iter()
        .map(JsCast::unchecked_into::<MediaStreamTrack>)
        .collect()
}

/// Asks for camera and microphone, falling back to one kind when the other is missing.
pub async fn open_camera_and_microphone() -> Result<LocalMedia, MediaProblem> {
    let devices = media_devices().ok_or(MediaProblem::Insecure)?;
    let mut last_problem = MediaProblem::NoDevice;
    // Both first; a `NotFoundError` means at least one kind is missing, so try each alone.
    for (audio, video) in [(true, true), (false, true), (true, false)] {
        match get_user_media(&devices, audio, video).await {
            Ok(stream) => return Ok(LocalMedia::from_stream(stream)),
            Err(MediaProblem::NoDevice) => last_problem = MediaProblem::NoDevice,
            Err(problem) => return Err(problem),
        }
    }
    Err(last_problem)
}

/// Asks for the camera alone (turning it back on, or another camera): its video track.
/// `device` is a `deviceId` the browser must honour (`exact`), or `None` for its default.
pub async fn open_camera(device: Option<&str>) -> Result<MediaStreamTrack, MediaProblem> {
    open_one(false, device).await
}

/// Asks for the microphone alone (another microphone, or the default after one was lost).
pub async fn open_microphone(device: Option<&str>) -> Result<MediaStreamTrack, MediaProblem> {
    open_one(true, device).await
}

async fn open_one(audio: bool, device: Option<&str>) -> Result<MediaStreamTrack, MediaProblem> {
    let devices = media_devices().ok_or(MediaProblem::Insecure)?;
    let constraint = device.map_or(JsValue::TRUE, device_constraint);
    let constraints = MediaStreamConstraints::new();
    if audio {
        constraints.set_audio(&constraint);
    } else {
        constraints.set_video(&constraint);
    }
    let stream = request(&devices, &constraints).await?;
    tracks_of(&stream)
        .into_iter()
        .next()
        .ok_or(MediaProblem::NoDevice)
}

/// `{deviceId: {exact: id}}`: that device or an error, never a silent substitute.
fn device_constraint(id: &str) -> JsValue {
    let exact = Object::new();
    let constraint = Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(&exact, &"exact".into(), &id.into());
    let _ = Reflect::set(&constraint, &"deviceId".into(), &exact);
    constraint.into()
}

/// The `deviceId` a track was opened from (`getSettings()`), if the browser says.
pub fn device_id_of(track: &MediaStreamTrack) -> Option<String> {
    let settings = Reflect::get(track, &"getSettings".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?
        .call0(track)
        .ok()?;
    Reflect::get(&settings, &"deviceId".into())
        .ok()?
        .as_string()
        .filter(|id| !id.is_empty())
}

/// Whether this browser can share a screen (`getDisplayMedia`; phones have none).
pub fn can_share_screen() -> bool {
    media_devices().is_some_and(|devices| {
        Reflect::get(&devices, &"getDisplayMedia".into()).is_ok_and(|f| f.is_function())
    })
}

/// Asks the person to pick a screen, window or tab: the picked surface's video track.
pub async fn open_screen() -> Result<MediaStreamTrack, ShareProblem> {
    let devices = media_devices().ok_or(ShareProblem::Unsupported)?;
    let get = Reflect::get(&devices, &"getDisplayMedia".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or(ShareProblem::Unsupported)?;
    let constraints = Object::new();
    let _ = Reflect::set(&constraints, &"video".into(), &JsValue::TRUE);
    let promise: Promise = get
        .call1(&devices, &constraints)
        .and_then(JsCast::dyn_into)
        .map_err(|error| ShareProblem::from_error(&error))?;
    let stream: MediaStream = JsFuture::from(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|error| ShareProblem::from_error(&error))?;
    let tracks = tracks_of(&stream);
    // Only the picture is sent; a tab's audio, if offered, is not asked for nor kept.
    let video = tracks.iter().find(|track| track.kind() == "video").cloned();
    for track in tracks.iter().filter(|track| track.kind() != "video") {
        track.stop();
    }
    video.ok_or(ShareProblem::Failed("no video".to_owned()))
}

impl ShareProblem {
    fn from_error(error: &JsValue) -> Self {
        match super::dom_exception_name(error).as_deref() {
            // The person closed the picker, or the browser's policy refused.
            Some("NotAllowedError") | Some("AbortError") => Self::Cancelled,
            Some("NotSupportedError") => Self::Unsupported,
            Some(name) => Self::Failed(name.to_owned()),
            None => Self::Failed("unknown".to_owned()),
        }
    }
}

/// `navigator.mediaDevices`, absent outside secure contexts.
fn media_devices() -> Option<MediaDevices> {
    let navigator = web_sys::window()?.navigator();
    let devices = navigator.media_devices().ok()?;
    // The getter "succeeds" with `undefined` on plain-http pages.
    (!JsValue::from(devices.clone()).is_undefined()).then_some(devices)
}

async fn get_user_media(
    devices: &MediaDevices,
    audio: bool,
    video: bool,
) -> Result<MediaStream, MediaProblem> {
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio_bool(audio);
    constraints.set_video_bool(video);
    request(devices, &constraints).await
}

async fn request(
    devices: &MediaDevices,
    constraints: &MediaStreamConstraints,
) -> Result<MediaStream, MediaProblem> {
    let promise = devices
        .get_user_media_with_constraints(constraints)
        .map_err(|error| problem_of(&error))?;
    JsFuture::from(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|error| problem_of(&error))
}

fn problem_of(error: &JsValue) -> MediaProblem {
    super::dom_exception_name(error).map_or_else(
        || MediaProblem::Other("unknown".to_owned()),
        |name| MediaProblem::from_dom_name(&name),
    )
}

/// Shows `stream` in a `<video>` (or clears it with `None`) and starts playback.
///
/// `play()` is called explicitly because `autoplay` alone may wait for a visibility change;
/// its rejection (autoplay policy, or a newer `srcObject` replacing this one) is harmless.
pub fn show_stream(video: &HtmlMediaElement, stream: Option<&MediaStream>) {
    video.set_src_object(stream);
    if stream.is_some()
        && let Ok(promise) = video.play()
    {
        wasm_bindgen_futures::spawn_local(async move {
            let _ignored = JsFuture::from(promise).await;
        });
    }
}

/// A stream holding `tracks`, for tests and for the remote side's tracks.
pub fn stream_of(tracks: &[MediaStreamTrack]) -> Result<MediaStream, JsValue> {
    let array: Array = tracks.iter().collect();
    MediaStream::new_with_tracks(&array)
}
