//! The per-client-address allowance of ICE requests, shared by all of that client's
//! connections.
//!
//! Each connection also has its own allowance (in [`crate::ws`]), but a client that closes
//! and reopens its socket starts that one afresh; this one is keyed by the client address (an
//! IPv6 client by its prefix, see [`crate::proxy::ClientAddr::limit_key`]), so reconnecting
//! gains nothing. It does not decide what is handed out, only whether anything is.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU32, Ordering},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Every this many checks, the entries of clients whose allowance is full again are dropped,
/// so the map holds only recent askers.
const SWEEP_EVERY: u32 = 1024;

/// ICE requests allowed per client key per minute.
#[derive(Debug)]
pub struct IceQuota {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU32,
}

impl IceQuota {
    /// `per_minute` requests a minute, all of which may come at once.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one request from `key`'s allowance; `false` when it has none left.
    pub fn check(&self, key: IpAddr) -> bool {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key has its own allowance; using it up does not touch another key's.
    #[test]
    fn allowance_is_per_key() {
        let quota = IceQuota::per_minute(NonZeroU32::new(3).expect("non-zero"));
        let one: IpAddr = "192.0.2.1".parse().expect("ip");
        let two: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!((0..3).all(|_| quota.check(one)));
        assert!(!quota.check(one));
        assert!(quota.check(two));
    }
}
