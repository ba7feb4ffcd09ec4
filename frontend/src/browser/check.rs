//! The browser measurements behind the connection check at `/check`.
//!
//! The measuring itself (throwaway `RTCPeerConnection`s, a loopback data channel through the
//! relay, a WebAudio level meter, a feature probe) lives in `check.js` next to this file: the
//! peer connections there are never wired to the call, and live only as long as one
//! measurement. Values cross as JSON strings and come out typed here.

use shared::IceServer;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::call::check::Support;

#[wasm_bindgen(module = "/src/browser/check.js")]
extern "C" {
    #[wasm_bindgen(js_name = gatherCandidates)]
    fn gather_candidates_js(servers: &str, relay_only: bool, timeout_ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = relayLoopback)]
    fn relay_loopback_js(servers: &str, timeout_ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = startLevelMeter)]
    fn start_level_meter_js(
        stream: &web_sys::MediaStream,
        meter: &web_sys::Element,
    ) -> js_sys::Function;
    #[wasm_bindgen(js_name = browserSupport)]
    fn browser_support_js() -> String;
    #[wasm_bindgen(js_name = copyText)]
    fn copy_text_js(text: &str) -> js_sys::Promise;
}

/// How long gathering may take; a silent STUN or TURN server is given up on after this.
const GATHER_TIMEOUT_MS: u32 = 8_000;
/// How long the data channel through the relay may take to open and echo one message.
const LOOPBACK_TIMEOUT_MS: u32 = 10_000;

fn describe(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn servers_json(servers: &[IceServer]) -> String {
    serde_json::to_string(servers).expect("ICE servers always serialize")
}

/// The candidate lines a throwaway peer connection gathers with `servers` (relay only, or all).
pub async fn gather_candidates(
    servers: &[IceServer],
    relay_only: bool,
) -> Result<Vec<String>, String> {
    let promise = gather_candidates_js(&servers_json(servers), relay_only, GATHER_TIMEOUT_MS);
    let value = JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?;
    let text = value.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|error| error.to_string())
}

/// The round trip in milliseconds of one message over a data channel between two local peer
/// connections that may only use relayed candidates.
pub async fn relay_loopback(servers: &[IceServer]) -> Result<f64, String> {
    let promise = relay_loopback_js(&servers_json(servers), LOOPBACK_TIMEOUT_MS);
    let value = JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?;
    value.as_f64().ok_or_else(|| "no round-trip time".into())
}

/// Feeds `meter` (a `<meter>` from 0 to 1) with the level of `stream`'s microphone until the
/// returned handle is dropped.
pub struct LevelMeter {
    stop: js_sys::Function,
}

impl LevelMeter {
    pub fn start(stream: &web_sys::MediaStream, meter: &web_sys::Element) -> Self {
        Self {
            stop: start_level_meter_js(stream, meter),
        }
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        let _ignored = self.stop.call0(&JsValue::NULL);
    }
}

/// What this browser offers of what the app uses.
pub fn browser_support() -> Support {
    let probe: serde_json::Value =
        serde_json::from_str(&browser_support_js()).unwrap_or(serde_json::Value::Null);
    let has = |name: &str| probe.get(name).and_then(serde_json::Value::as_bool) == Some(true);
    Support {
        get_user_media: has("get_user_media"),
        peer_connection: has("peer_connection"),
        data_channel: has("data_channel"),
        web_socket: has("web_socket"),
        display_media: has("display_media"),
        sink_id: has("sink_id"),
    }
}

/// Puts `text` on the clipboard.
pub async fn copy_text(text: &str) -> Result<(), String> {
    JsFuture::from(copy_text_js(text))
        .await
        .map(|_| ())
        .map_err(|error| describe(&error))
}
