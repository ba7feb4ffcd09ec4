//! The typed browser layer: thin owners of the browser objects the call needs.
//!
//! Each type here owns one kind of browser object and releases it when dropped — tracks are
//! stopped, peer connections closed, listeners removed, sockets closed — so whoever holds them
//! only has to drop them. No call logic lives here: decisions are in [`crate::call`], and
//! [`crate::session`] wires the two together.

pub mod channel;
pub mod check;
pub mod clock;
pub mod devices;
pub mod files;
pub mod location;
pub mod media;
pub mod network;
pub mod page_life;
pub mod peer;
pub mod random;
pub mod socket;
pub mod storage;

use wasm_bindgen::JsValue;

/// Logs a warning to the browser console. Used where an error is expected to be rare and
/// nothing on the page depends on it (a failed `addIceCandidate`, an unparsable frame).
pub fn warn(context: &str, error: &JsValue) {
    web_sys::console::warn_2(&JsValue::from_str(context), error);
}

/// The `name` of a rejected promise's `DOMException` (`NotAllowedError`...), if it is one.
pub fn dom_exception_name(error: &JsValue) -> Option<String> {
    js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()?
        .as_string()
}
