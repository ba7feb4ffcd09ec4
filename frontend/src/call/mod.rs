//! The call's logic as plain Rust: what the page should do and say, given what the server and
//! the browser report.
//!
//! Nothing here touches `web-sys`: every type is data, every function decides and returns, so
//! the rules run as ordinary `#[test]`s on the host. The [`crate::session`] module carries the
//! decisions out against the real browser objects.

pub mod backoff;
pub mod bitrate;
pub mod candidates;
pub mod chat;
pub mod check;
pub mod controls;
pub mod devices;
pub mod ice_restart;
pub mod ice_state;
pub mod liveness;
pub mod media_problem;
pub mod negotiation;
pub mod outbox;
pub mod room;
pub mod room_name;
pub mod route;
pub mod screen;
pub mod seat;
pub mod stats;
pub mod stats_entry;
pub mod stats_history;
pub mod status;
pub mod transfer;
pub mod verify_code;
