//! What the browser tests inspect, compiled only with the cargo feature `test-hooks` (off by
//! default; `scripts/test` turns it on for the wasm tests and the end-to-end build, never
//! `scripts/run`).
//!
//! - `window.__peerConnection`: the `RTCPeerConnection` of the current call, or `null`; the
//!   end-to-end harness calls `getStats()` on it.
//! - `window.__peerId`: this page's peer id from its last `joined` (the resilience tests tell a
//!   seat taken back from a new one by it).
//! - [`Session::peer_connection`] and [`Session::pending_remote_candidates`] for the
//!   wasm-bindgen tests.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::Session;
use crate::browser::peer::PeerConnection;

/// The window property the end-to-end tests read.
const PEER_CONNECTION_HOOK: &str = "__peerConnection";

/// Sets `window.__peerConnection` to `peer`'s connection, or to `null`.
pub(super) fn set_peer_connection(peer: Option<&PeerConnection>) {
    if let Some(window) = web_sys::window() {
        let value = peer.map_or(JsValue::NULL, |peer| JsValue::from(peer.raw().clone()));
        // Failing to set a property on `window` only blinds the tests.
        let _ignored =
            js_sys::Reflect::set(&window, &JsValue::from_str(PEER_CONNECTION_HOOK), &value);
    }
}

/// Sets `window.__peerId` to `peer`.
pub(super) fn set_peer_id(peer: &shared::PeerId) {
    if let Some(window) = web_sys::window() {
        // Failing to set a property on `window` only blinds the tests.
        let _ignored = js_sys::Reflect::set(
            &window,
            &JsValue::from_str("__peerId"),
            &JsValue::from_str(peer.as_str()),
        );
    }
}

impl Session {
    /// The current call's peer connection, if any.
    pub fn peer_connection(&self) -> Option<Rc<PeerConnection>> {
        self.state
            .borrow()
            .calls
            .values()
            .next()
            .map(super::call::Call::peer)
    }

    /// How many remote candidates wait for the remote description in the current call.
    pub fn pending_remote_candidates(&self) -> usize {
        self.state
            .borrow()
            .calls
            .values()
            .next()
            .map_or(0, super::call::Call::pending_remote_candidates)
    }
}
