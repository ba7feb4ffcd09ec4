//! The last minute of a call's numbers, one sample a second, and the lines of its graph.
//!
//! [`History`] is a ring of [`CAPACITY`] samples: pushing the 61st drops the oldest, so the
//! graph's memory is fixed however long the call. [`History::path`] turns one series into the
//! `d` attribute of an SVG `<path>` in a box of the caller's size, newest at the right edge,
//! so the component only draws. A missing value (the first second has no bitrate) breaks the
//! line rather than drawing a false zero.

use std::collections::VecDeque;

use super::stats::Reading;

/// Samples kept: one a second for the last 60 s.
pub const CAPACITY: usize = 60;

/// One second of the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Bits per second.
    pub bitrate_in: Option<f64>,
    pub bitrate_out: Option<f64>,
    pub rtt_ms: Option<f64>,
}

impl From<&Reading> for Sample {
    fn from(reading: &Reading) -> Self {
        Self {
            bitrate_in: reading.bitrate_in,
            bitrate_out: reading.bitrate_out,
            rtt_ms: reading.rtt_ms,
        }
    }
}

/// Which line of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    BitrateIn,
    BitrateOut,
    Rtt,
}

impl Series {
    fn of(self, sample: &Sample) -> Option<f64> {
        match self {
            Self::BitrateIn => sample.bitrate_in,
            Self::BitrateOut => sample.bitrate_out,
            Self::Rtt => sample.rtt_ms,
        }
    }
}

/// The last [`CAPACITY`] samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Never longer than [`CAPACITY`].
    samples: VecDeque<Sample>,
}

impl History {
    /// Adds the newest sample, dropping the oldest beyond [`CAPACITY`].
    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The largest value of `series` in the window (0 when it has none): the top of its scale.
    pub fn max(&self, series: Series) -> f64 {
        self.samples
            .iter()
            .filter_map(|sample| series.of(sample))
            .fold(0.0, f64::max)
    }

    /// The SVG path of `series` in a `width` × `height` box, scaled so that `top` is the top
    /// edge: the newest sample at the right, one step per second to the left. Empty when there
    /// is nothing to draw.
    pub fn path(&self, series: Series, top: f64, width: f64, height: f64) -> String {
        let step = width / (CAPACITY - 1) as f64;
        let offset = CAPACITY - self.samples.len();
        let mut path = String::new();
        let mut drawing = false;
        for (index, sample) in self.samples.iter().enumerate() {
            let Some(value) = series.of(sample) else {
                drawing = false;
                continue;
            };
            let x = (offset + index) as f64 * step;
            let fraction = if top > 0.0 {
                (value / top).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let y = height - fraction * height;
            let command = if drawing { 'L' } else { 'M' };
            if !path.is_empty() {
                path.push(' ');
            }
            path.push_str(&format!("{command}{x:.1} {y:.1}"));
            drawing = true;
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtt(ms: f64) -> Sample {
        Sample {
            rtt_ms: Some(ms),
            ..Sample::default()
        }
    }

    /// The ring keeps the last 60 samples, the oldest going first.
    #[test]
    fn keeps_the_last_sixty_samples() {
        let mut history = History::default();
        for second in 0..100 {
            history.push(rtt(f64::from(second)));
        }
        assert_eq!(history.len(), CAPACITY);
        assert_eq!(history.max(Series::Rtt), 99.0);
        let path = history.path(Series::Rtt, 99.0, 59.0, 99.0);
        // The oldest kept is second 40, at the left edge; the newest (99) at the top right.
        assert!(path.starts_with("M0.0 59.0 L1.0 58.0"), "{path}");
        assert!(path.ends_with("L59.0 0.0"), "{path}");
    }

    /// A short history sits at the right edge: the newest sample is always "now".
    #[test]
    fn newest_sample_is_at_the_right_edge() {
        let mut history = History::default();
        history.push(rtt(0.0));
        history.push(rtt(10.0));
        assert_eq!(
            history.path(Series::Rtt, 10.0, 118.0, 50.0),
            "M116.0 50.0 L118.0 0.0"
        );
    }

    /// A second without a value breaks the line instead of drawing a zero.
    #[test]
    fn a_missing_value_breaks_the_line() {
        let mut history = History::default();
        history.push(rtt(5.0));
        history.push(Sample::default());
        history.push(rtt(5.0));
        let path = history.path(Series::Rtt, 10.0, 59.0, 10.0);
        assert_eq!(path, "M57.0 5.0 M59.0 5.0");
        assert_eq!(history.path(Series::BitrateIn, 10.0, 59.0, 10.0), "");
    }

    /// Values above the scale's top are drawn at the top, and a zero scale draws at the bottom.
    #[test]
    fn values_stay_inside_the_box() {
        let mut history = History::default();
        history.push(rtt(50.0));
        assert_eq!(history.path(Series::Rtt, 10.0, 59.0, 10.0), "M59.0 0.0");
        assert_eq!(history.path(Series::Rtt, 0.0, 59.0, 10.0), "M59.0 10.0");
    }
}
