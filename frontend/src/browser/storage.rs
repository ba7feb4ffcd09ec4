//! `sessionStorage`: this tab's small memory across reloads (the room seat's resume token).
//!
//! Every failure reads as "nothing stored" or is ignored: storage can be disabled, full or
//! blocked (private modes, sandboxed frames), and the page then simply joins as a newcomer.

/// The value under `key`, if storage works and holds one.
pub fn get(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

/// Stores `value` under `key`, if storage works.
pub fn set(key: &str, value: &str) {
    if let Some(storage) = session_storage() {
        // Full or blocked: the next reload joins without a token, nothing worse.
        let _ignored = storage.set_item(key, value);
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
