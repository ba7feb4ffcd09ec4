//! What the browser tests inspect, compiled only with the cargo feature `test-hooks` (off by
//! default; `scripts/test` turns it on for the wasm tests and the end-to-end build, never
//! `scripts/run`).
//!
//! - `window.__peerConnections`: an object from each other person's peer id to the
//!   `RTCPeerConnection` of the call with them; `window.__peerConnection`: the first call's
//!   connection, or `null`. The end-to-end harness calls `getStats()` on them.
//! - `window.__peerId`: this page's peer id from its last `joined` (the resilience tests tell a
//!   seat taken back from a new one by it).
//! - [`Session::peer_connection`] and [`Session::pending_remote_candidates`] for the
//!   wasm-bindgen tests.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::Session;
use crate::browser::peer::PeerConnection;

/// Publishes the calls: `window.__peerConnections` (by the other person's id) and
/// `window.__peerConnection` (the first call's connection, or `null`).
pub(super) fn publish_calls<'a>(
    calls: impl IntoIterator<Item = (&'a shared::PeerId, &'a PeerConnection)>,
) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let all = js_sys::Object::new();
    let mut first = JsValue::NULL;
    for (other, peer) in calls {
        let connection = JsValue::from(peer.raw().clone());
        if first.is_null() {
            first = connection.clone();
        }
        // Failing to set a property only blinds the tests.
        let _ignored = js_sys::Reflect::set(&all, &JsValue::from_str(other.as_str()), &connection);
    }
    let _ignored = js_sys::Reflect::set(&window, &JsValue::from_str("__peerConnections"), &all);
    let _ignored = js_sys::Reflect::set(&window, &JsValue::from_str("__peerConnection"), &first);
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
