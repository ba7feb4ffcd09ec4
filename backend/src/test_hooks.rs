//! Ways for the backend's own tests to make the server misbehave on purpose, compiled only
//! with the `test-hooks` cargo feature.
//!
//! Only the backend's integration tests turn the feature on (through the backend's
//! dev-dependency on itself); `cargo build --release -p backend`, which `scripts/run` and the
//! end-to-end tests use, never does, so no client of a real server can reach these.

use shared::ClientMessage;

/// The SDP of an `offer` that makes the connection task handling it panic, as a bug would.
pub const PANIC_SDP: &str = "test-hooks: panic in the connection task";

/// Called with every parsed message before it is handled.
pub fn on_message(message: &ClientMessage) {
    if let ClientMessage::Offer { sdp, .. } = message
        && sdp == PANIC_SDP
    {
        panic!("test hook: the connection task panics on purpose");
    }
}
