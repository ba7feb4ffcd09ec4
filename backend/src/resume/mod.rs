//! Resuming a seat: what lets a page whose connection dropped take its place back.
//!
//! - [`token`]: the signed tokens handed out in `joined` and `resume`, and their check. A
//!   token names a room, a peer id and an expiry, signed with HMAC-SHA256 under a key every
//!   instance sharing rooms (or a restarted one) can be given, so any of them accepts it.
//!
//! This module decides nothing about rooms: the hub asks it whether a token is good and for
//! which seat, then asks presence whether that seat is still held.

pub mod token;

pub use token::{KeyTooShort, Rejected, ResumeKey, Tokens};
