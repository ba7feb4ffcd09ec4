//! Does the remote video keep moving? A sampler inside the page and the longest pause it saw.
//!
//! [`FrameWatch::start`] installs a timer in the page that every 200 ms records the remote
//! `<video>`'s `totalVideoFrames` (`getVideoPlaybackQuality()`) and the call's `framesDecoded`
//! (`getStats()`, inbound video). Sampling in the page, not over WebDriver, keeps the samples
//! evenly spaced while the test is busy restarting servers. [`FrameWatch::finish`] stops it and
//! returns the longest time either counter stood still ([`FrameGaps`]).

use std::time::Duration;

use anyhow::Context;

use crate::Browser;

const START: &str = r#"
if (window.__frameWatch) clearInterval(window.__frameWatch);
window.__frameSamples = [];
window.__frameWatch = setInterval(async () => {
  const video = document.getElementById('remote-video');
  const shown = video && video.getVideoPlaybackQuality
    ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
  let decoded = 0;
  const pc = window.__peerConnection;
  if (pc) {
    const stats = await pc.getStats();
    stats.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') decoded += r.framesDecoded || 0; });
  }
  window.__frameSamples.push([performance.now(), shown, decoded]);
}, 200);
return true;
"#;

const FINISH: &str = r#"
clearInterval(window.__frameWatch);
window.__frameWatch = null;
return window.__frameSamples || [];
"#;

/// The longest time each counter stood still while watched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameGaps {
    /// `totalVideoFrames` of the remote `<video>`: frames the page showed.
    pub shown: Duration,
    /// `framesDecoded` of the call's inbound video.
    pub decoded: Duration,
    /// How many samples were taken (about five a second).
    pub samples: usize,
}

impl FrameGaps {
    /// The longer of the two gaps.
    pub fn worst(&self) -> Duration {
        self.shown.max(self.decoded)
    }
}

/// A sampler running in one page.
pub struct FrameWatch<'a> {
    browser: &'a Browser,
}

impl<'a> FrameWatch<'a> {
    /// Starts sampling in `browser`'s page.
    pub async fn start(browser: &'a Browser) -> anyhow::Result<Self> {
        browser.eval(START).await?;
        Ok(Self { browser })
    }

    /// Stops sampling and measures the longest pause of each counter.
    pub async fn finish(self) -> anyhow::Result<FrameGaps> {
        let samples: Vec<(f64, f64, f64)> =
            serde_json::from_value(self.browser.eval(FINISH).await?)
                .context("reading the frame samples")?;
        Ok(FrameGaps {
            shown: longest_pause(samples.iter().map(|&(t, shown, _)| (t, shown))),
            decoded: longest_pause(samples.iter().map(|&(t, _, decoded)| (t, decoded))),
            samples: samples.len(),
        })
    }
}

/// The longest time between two rises of a counter sampled as `(milliseconds, value)`,
/// counting from the first sample and up to the last (a counter that never rises pauses for
/// the whole watch).
pub fn longest_pause(samples: impl IntoIterator<Item = (f64, f64)>) -> Duration {
    let mut samples = samples.into_iter();
    let Some((first_time, first_value)) = samples.next() else {
        return Duration::ZERO;
    };
    let (mut since, mut value, mut longest, mut last_time) =
        (first_time, first_value, 0.0_f64, first_time);
    for (time, next) in samples {
        if next > value {
            longest = longest.max(time - since);
            since = time;
            value = next;
        }
        last_time = time;
    }
    longest = longest.max(last_time - since);
    Duration::from_secs_f64(longest.max(0.0) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady counter pauses one sample interval; a stall counts until the next rise; a
    /// stall at the end counts until the last sample.
    #[test]
    fn longest_pause_measures_stalls() {
        let steady = [(0.0, 1.0), (200.0, 5.0), (400.0, 9.0)];
        assert_eq!(longest_pause(steady), Duration::from_millis(200));
        let stall = [
            (0.0, 1.0),
            (200.0, 2.0),
            (400.0, 2.0),
            (1400.0, 2.0),
            (1600.0, 3.0),
        ];
        assert_eq!(longest_pause(stall), Duration::from_millis(1400));
        let frozen_at_end = [(0.0, 1.0), (200.0, 2.0), (2200.0, 2.0)];
        assert_eq!(longest_pause(frozen_at_end), Duration::from_millis(2000));
        assert_eq!(longest_pause([]), Duration::ZERO);
    }
}
