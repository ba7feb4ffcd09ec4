//! The proof, shared by every end-to-end call, that media really flows both ways.
//!
//! [`wait_media_flowing`] takes each side's inbound counters from `getStats()` and polls, within
//! [`PATIENCE`], until every one of them has risen on both sides: audio and video packets and
//! bytes, video frames decoded, audio energy (Chromium's fake microphone beeps, so energy rises
//! by a beep's worth only while sound arrives), and audio samples that were received rather than made up by the
//! jitter buffer (`totalSamplesReceived - concealedSamples`: the total alone rises through
//! silence concealment even when no packet arrives). A counter that stays put fails the test
//! with the counters of both sides and the pages' diagnostics.
//!
//! It does not wait for the call to connect (the tests say what state they expect first) and
//! does not judge the picture (TOOLCHAIN.md: a disabled camera still sends black frames).

use std::time::Duration;

use anyhow::bail;

use crate::{Browser, CallStats, PATIENCE};

/// One counter that must rise while a call carries media.
struct Counter {
    what: &'static str,
    value: fn(&CallStats) -> f64,
    /// The least rise that counts.
    min_rise: f64,
}

/// The least rise of `totalAudioEnergy` that counts as sound. Measured here: one beep of the
/// fake microphone adds about 0.027, while a muted microphone (or the gap between beeps) still
/// adds about 1e-8 of decoding noise, so "rose at all" would pass with no sound.
pub const MIN_ENERGY_RISE: f64 = 0.001;

/// Exact for the counters of a test call (far below 2^53).
fn float(count: u64) -> f64 {
    count as f64
}

const COUNTERS: &[Counter] = &[
    Counter {
        what: "audio packets received",
        value: |s| float(s.audio_packets_received),
        min_rise: 1.0,
    },
    Counter {
        what: "audio bytes received",
        value: |s| float(s.audio_bytes_received),
        min_rise: 1.0,
    },
    Counter {
        what: "audio samples received, not concealed",
        value: |s| {
            float(
                s.audio_samples_received
                    .saturating_sub(s.audio_concealed_samples),
            )
        },
        min_rise: 1.0,
    },
    Counter {
        what: "audio energy received",
        value: |s| s.audio_energy,
        min_rise: MIN_ENERGY_RISE,
    },
    Counter {
        what: "video packets received",
        value: |s| float(s.video_packets_received),
        min_rise: 1.0,
    },
    Counter {
        what: "video bytes received",
        value: |s| float(s.video_bytes_received),
        min_rise: 1.0,
    },
    Counter {
        what: "video frames decoded",
        value: |s| float(s.video_frames_decoded),
        min_rise: 1.0,
    },
];

/// The counters that did not rise enough from `before` to `after`, by name.
fn still(before: &CallStats, after: &CallStats) -> Vec<&'static str> {
    let mut still: Vec<&'static str> = COUNTERS
        .iter()
        .filter(|counter| (counter.value)(after) - (counter.value)(before) < counter.min_rise)
        .map(|counter| counter.what)
        .collect();
    if after.video_width == 0 {
        still.push("remote video size");
    }
    still
}

/// Waits until both sides receive rising audio and video from each other (see the module
/// doc); returns each side's last stats.
pub async fn wait_media_flowing(
    a: &Browser,
    b: &Browser,
) -> anyhow::Result<(CallStats, CallStats)> {
    let before = (a.stats().await?, b.stats().await?);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = (a.stats().await?, b.stats().await?);
        let missing = (still(&before.0, &after.0), still(&before.1, &after.1));
        if missing.0.is_empty() && missing.1.is_empty() {
            return Ok(after);
        }
        if tokio::time::Instant::now() > deadline {
            for side in [a, b] {
                let _ = side.screenshot(&format!("no-media-{}", side.name)).await;
            }
            bail!(
                "media did not flow both ways within {PATIENCE:?}\n\
                 {} did not see rising {:?}: {:?} → {:?}\n\
                 {} did not see rising {:?}: {:?} → {:?}\n{}\n{}",
                a.name,
                missing.0,
                before.0,
                after.0,
                b.name,
                missing.1,
                before.1,
                after.1,
                a.diagnostics().await,
                b.diagnostics().await,
            );
        }
    }
}
