//! Resuming a seat: what lets a page whose connection dropped take its place back.
//!
//! - [`token`]: the signed tokens handed out in `joined` and `resume`, and their check. A
//!   token names a room, a peer id and an expiry, signed with HMAC-SHA256 under a key every
//!   instance sharing rooms (or a restarted one) can be given, so any of them accepts it.
//! - [`holds`]: the seats kept during the grace period for connections that ended without
//!   `leave`, each with the ticket its timer waits with.
//!
//! This module decides nothing about rooms: the hub asks it whether a token is good and for
//! which seat, then asks presence whether that seat is still held.

pub mod holds;
pub mod token;

use std::time::Duration;

pub use holds::{Holds, Ticket};
pub use token::{KeyTooShort, Rejected, ResumeKey, Tokens};

/// How seats are resumed on this instance.
#[derive(Debug)]
pub struct ResumeSettings {
    pub tokens: Tokens,
    /// How long the seat of a connection that ended without `leave` is held.
    pub grace: Duration,
}

impl ResumeSettings {
    /// Tokens signed with `key`, and seats held for `grace`. A token is good for the grace
    /// plus the refresh interval (half the grace) after it is issued: members get a fresh one
    /// every refresh interval, so the latest a page holds is good for at least the grace after
    /// its connection last worked.
    pub fn new(key: &ResumeKey, grace: Duration) -> Self {
        Self {
            tokens: Tokens::new(key, grace + grace / 2),
            grace,
        }
    }
}
