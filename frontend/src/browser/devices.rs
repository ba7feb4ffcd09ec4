//! The browser's device list, its `devicechange` event, a track's `ended` event, and the
//! speaker a `<video>` plays through (`setSinkId`).
//!
//! Thin wrappers only: what to do when a device comes or goes is decided in
//! [`crate::call::devices`]. Listeners are returned as [`EventListener`]s, removed when
//! dropped.

use gloo_events::EventListener;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlMediaElement, MediaDeviceInfo, MediaStreamTrack};

use crate::call::devices::DeviceLists;

fn media_devices() -> Option<web_sys::MediaDevices> {
    let devices = web_sys::window()?.navigator().media_devices().ok()?;
    (!JsValue::from(devices.clone()).is_undefined()).then_some(devices)
}

/// The cameras, microphones and speakers the browser lists now (labelled once the person
/// granted access); empty lists when it cannot say.
pub async fn list_devices() -> DeviceLists {
    let Some(promise) = media_devices().and_then(|devices| devices.enumerate_devices().ok()) else {
        return DeviceLists::default();
    };
    let Ok(entries) = JsFuture::from(promise).await else {
        return DeviceLists::default();
    };
    let entries: Vec<(String, String, String)> = Array::from(&entries)
        .iter()
        .map(JsCast::unchecked_into::<MediaDeviceInfo>)
        .map(|info| {
            let kind = Reflect::get(&info, &"kind".into())
                .ok()
                .and_then(|kind| kind.as_string())
                .unwrap_or_default();
            (kind, info.device_id(), info.label())
        })
        .collect();
    DeviceLists::from_entries(
        entries
            .iter()
            .map(|(kind, id, label)| (kind.as_str(), id.as_str(), label.as_str())),
    )
}

/// Calls `on_change` on every `devicechange` (a device plugged in or out) while kept.
pub fn on_device_change(on_change: impl FnMut(&web_sys::Event) + 'static) -> Option<EventListener> {
    media_devices().map(|devices| EventListener::new(&devices, "devicechange", on_change))
}

/// Calls `on_ended` when `track` ends by itself (device unplugged, or the browser's own "Stop
/// sharing"); `stop()` from the page does not fire it.
pub fn on_track_ended(
    track: &MediaStreamTrack,
    on_ended: impl FnMut(&web_sys::Event) + 'static,
) -> EventListener {
    EventListener::new(track, "ended", on_ended)
}

/// Whether this browser can choose the speaker (`HTMLMediaElement.setSinkId`).
pub fn can_choose_speaker() -> bool {
    let global = js_sys::global();
    Reflect::get(&global, &"HTMLMediaElement".into())
        .and_then(|class| Reflect::get(&class, &"prototype".into()))
        .and_then(|prototype| Reflect::get(&prototype, &"setSinkId".into()))
        .is_ok_and(|f| f.is_function())
}

/// Plays `video` through the speaker with this `deviceId`.
pub async fn set_speaker(video: &HtmlMediaElement, id: &str) -> Result<(), JsValue> {
    let set_sink_id: Function = Reflect::get(video, &"setSinkId".into())?.dyn_into()?;
    let promise: Promise = set_sink_id.call1(video, &id.into())?.dyn_into()?;
    JsFuture::from(promise).await.map(drop)
}
