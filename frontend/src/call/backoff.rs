//! How long to wait before reconnecting to the signalling server.
//!
//! Exponential with a cap, plus jitter so that every page of a restarted server does not
//! reconnect in the same millisecond. The randomness is passed in, so the rule is testable.

use std::time::Duration;

/// The first retry comes quickly: most drops are a server restart or a network blip.
const FIRST_DELAY_MS: u64 = 500;
/// Never wait longer than this: a person is looking at the page.
const MAX_DELAY_MS: u64 = 15_000;

/// The delay before reconnect attempt number `attempt` (0 for the first), scaled by
/// `jitter` in `[0, 1)`: the result lies between 75 % and 100 % of the exponential step.
pub fn reconnect_delay(attempt: u32, jitter: f64) -> Duration {
    exponential_delay(FIRST_DELAY_MS, MAX_DELAY_MS, attempt, jitter)
}

/// `first_ms` doubled `attempt` times, capped at `max_ms`, then scaled by `jitter` in `[0, 1)`
/// to between 75 % and 100 % of that step (jitter only ever shortens a wait). Shared by the
/// reconnects to the server and the automatic ICE restarts.
pub fn exponential_delay(first_ms: u64, max_ms: u64, attempt: u32, jitter: f64) -> Duration {
    let step = first_ms.saturating_mul(1u64 << attempt.min(16)).min(max_ms);
    let jitter = jitter.clamp(0.0, 1.0);
    // Float to integer: the value is at most `max_ms`, inside u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (step as f64 * (0.75 + 0.25 * jitter)) as u64;
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delays double from half a second and stop growing at the cap.
    #[test]
    fn doubles_up_to_the_cap() {
        let full = |attempt| reconnect_delay(attempt, 1.0).as_millis();
        assert_eq!(full(0), 500);
        assert_eq!(full(1), 1000);
        assert_eq!(full(4), 8000);
        assert_eq!(full(5), 15_000);
        assert_eq!(full(u32::MAX), 15_000);
    }

    /// Jitter only ever shortens the step, by at most a quarter.
    #[test]
    fn jitter_stays_within_a_quarter() {
        assert_eq!(reconnect_delay(2, 0.0).as_millis(), 1500);
        assert_eq!(reconnect_delay(2, 0.5).as_millis(), 1750);
        assert_eq!(reconnect_delay(2, 7.0).as_millis(), 2000);
    }
}
