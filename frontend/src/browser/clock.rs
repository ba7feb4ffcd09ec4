//! The page's clock for timing rules (the ICE restart backoff, the seconds on the status line).

use std::time::Duration;

/// The time since the page loaded (`performance.now()`): monotonic, unlike the wall clock,
/// which the person or NTP may move.
pub fn now() -> Duration {
    let ms = web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now());
    Duration::from_secs_f64(ms.max(0.0) / 1_000.0)
}
