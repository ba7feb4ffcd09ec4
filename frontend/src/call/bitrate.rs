//! How much each call may send: the page's upload budget shared among its calls.
//!
//! In a mesh every page sends its camera once per other person, so with n people in the room
//! it sends n − 1 copies. Left alone, the browser gives each copy up to ~2.5 Mbit/s, which a
//! home uplink cannot carry for three or more. [`limits`] splits the budget (the server's
//! `upload_kbps`, 2.5 Mbit/s by default) evenly: a fixed share for each copy of the sound, the
//! rest for the video, and the picture scaled down as the room grows, so that the encoder
//! spends its fewer bits on fewer pixels rather than on a blurred full-size picture. The
//! session applies them with `RTCRtpSender.setParameters` (no renegotiation).

/// What each call's senders may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendLimits {
    /// `maxBitrate` of the video sender, in bit/s.
    pub video_bps: u32,
    /// `maxBitrate` of the audio sender, in bit/s.
    pub audio_bps: u32,
    /// `scaleResolutionDownBy` of the video sender (1 = full size).
    pub scale_down: f64,
}

/// Opus speech sounds good at this; it is taken first from each call's share.
pub const AUDIO_BPS: u32 = 40_000;
/// Below this a video stream is not worth sending: a budget too small for every call gets this
/// much each anyway (the operator set it; the page does not drop calls for it).
pub const MIN_VIDEO_BPS: u32 = 100_000;

/// The limits for each of `calls` calls within `budget_kbps` in all; `None` without calls.
pub fn limits(budget_kbps: u32, calls: usize) -> Option<SendLimits> {
    let calls_u32 = u32::try_from(calls).ok().filter(|&n| n > 0)?;
    let share = budget_kbps.saturating_mul(1_000) / calls_u32;
    let video_bps = share.saturating_sub(AUDIO_BPS).max(MIN_VIDEO_BPS);
    let scale_down = match calls {
        1 => 1.0,
        2 => 1.5,
        3 => 2.0,
        _ => 2.5,
    };
    Some(SendLimits {
        video_bps,
        audio_bps: AUDIO_BPS,
        scale_down,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the number of calls, what the page sends in all stays within the budget.
    #[test]
    fn the_total_stays_within_the_budget() {
        for calls in 1..=7 {
            let limits = limits(2_500, calls).expect("limits");
            let total = u64::from(limits.video_bps + limits.audio_bps) * calls as u64;
            assert!(total <= 2_500_000, "{calls} calls send {total} bit/s");
        }
    }

    /// More people: less for each copy, and a smaller picture; one call keeps full size.
    #[test]
    fn more_people_smaller_pictures() {
        let one = limits(2_500, 1).expect("limits");
        let three = limits(2_500, 3).expect("limits");
        assert_eq!(one.scale_down, 1.0);
        assert_eq!(one.video_bps, 2_460_000);
        assert!(three.video_bps < one.video_bps);
        assert!(three.scale_down > limits(2_500, 2).expect("limits").scale_down);
        assert!(limits(2_500, 7).expect("limits").scale_down >= three.scale_down);
    }

    /// No calls, no limits; a budget too small still leaves each video a usable floor.
    #[test]
    fn edge_cases() {
        assert_eq!(limits(2_500, 0), None);
        assert_eq!(limits(100, 4).expect("limits").video_bps, MIN_VIDEO_BPS);
    }
}
