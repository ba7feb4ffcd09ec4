//! What the video sender carries: the shared screen, the camera, or nothing.
//!
//! The screen share and the camera button are independent: sharing replaces the camera on the
//! sender without touching the camera itself, and the camera button keeps working while
//! sharing (its light goes off or on) without taking the screen off the sender. When sharing
//! stops, the sender goes back to whatever the camera button says.

/// The video the other side receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoOut {
    /// The surface picked in the browser's share dialog.
    Screen,
    Camera,
    /// Camera off and no screen: the sender has no track (`replaceTrack(null)`).
    Nothing,
}

impl VideoOut {
    /// What to send while sharing (or not) with the camera off (or not).
    pub fn of(sharing: bool, camera_off: bool) -> Self {
        match (sharing, camera_off) {
            (true, _) => Self::Screen,
            (false, false) => Self::Camera,
            (false, true) => Self::Nothing,
        }
    }
}

/// Why sharing did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareProblem {
    /// The person closed the browser's picker (or a policy refused): nothing to say.
    #[error("Screen sharing was cancelled.")]
    Cancelled,
    /// No `getDisplayMedia` (the button is hidden then; kept for a browser that lies).
    #[error("This browser cannot share a screen. Try a desktop browser.")]
    Unsupported,
    /// Anything else, with the browser's name for it.
    #[error("Your screen could not be shared ({0}). Try again, or pick another window.")]
    Failed(String),
}

impl ShareProblem {
    /// The sentence to show, or `None` when the person cancelled on purpose.
    pub fn sentence(&self) -> Option<String> {
        (self != &Self::Cancelled).then(|| self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cancelling the picker is the person's choice and says nothing; a failure says what to do.
    #[test]
    fn only_real_failures_are_told() {
        assert_eq!(ShareProblem::Cancelled.sentence(), None);
        let text = ShareProblem::Failed("NotReadableError".to_owned())
            .sentence()
            .unwrap_or_default();
        assert!(
            text.contains("NotReadableError") && text.contains("Try again"),
            "{text}"
        );
    }

    /// Sharing wins over the camera either way; without it the camera button decides.
    #[test]
    fn the_screen_wins_then_the_camera_button_decides() {
        assert_eq!(VideoOut::of(true, false), VideoOut::Screen);
        assert_eq!(VideoOut::of(true, true), VideoOut::Screen);
        assert_eq!(VideoOut::of(false, false), VideoOut::Camera);
        assert_eq!(VideoOut::of(false, true), VideoOut::Nothing);
    }
}
