//! Why the camera or microphone could not be started, in words a person can act on.
//!
//! `getUserMedia` rejects with a `DOMException` whose `name` says what went wrong; this module
//! maps those names to explanations. It does not retry: the page offers a button for that.

/// A failed `getUserMedia`, by the `DOMException` name that matters to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaProblem {
    /// `NotAllowedError`: the person (or a policy) refused the permission.
    Denied,
    /// `NotFoundError`: no camera and no microphone at all.
    NoDevice,
    /// `NotReadableError`: the device exists but another program holds it.
    Busy,
    /// No `navigator.mediaDevices`: the page is not in a secure context (plain http).
    Insecure,
    /// Anything else, with the browser's name for it.
    Other(String),
}

impl MediaProblem {
    /// Classifies a `DOMException` name.
    pub fn from_dom_name(name: &str) -> Self {
        match name {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => Self::Denied,
            "NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError" => Self::NoDevice,
            "NotReadableError" | "TrackStartError" | "AbortError" => Self::Busy,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The explanation shown in `#media-error`.
    pub fn explanation(&self) -> String {
        match self {
            Self::Denied => "Camera and microphone access was denied. Allow it for this site \
                             in your browser's address bar or settings, then try again."
                .to_owned(),
            Self::NoDevice => {
                "No camera or microphone was found. Connect one, then try again.".to_owned()
            }
            Self::Busy => "Your camera or microphone is in use by another app or tab. Close \
                           it there, then try again."
                .to_owned(),
            Self::Insecure => "This page cannot use the camera over an insecure connection. \
                               Open it through https."
                .to_owned(),
            Self::Other(name) => {
                format!("The camera or microphone could not be started ({name}). Try again.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three failures people hit most get their own explanation, naming what to do.
    #[test]
    fn common_failures_are_explained() {
        assert!(
            MediaProblem::from_dom_name("NotAllowedError")
                .explanation()
                .contains("Camera and microphone access was denied")
        );
        assert_eq!(
            MediaProblem::from_dom_name("NotFoundError"),
            MediaProblem::NoDevice
        );
        assert!(
            MediaProblem::from_dom_name("NotReadableError")
                .explanation()
                .contains("in use by another app")
        );
    }

    /// An unexpected error keeps the browser's name, so a bug report can quote it.
    #[test]
    fn unknown_failures_keep_their_name() {
        let problem = MediaProblem::from_dom_name("WeirdError");
        assert_eq!(problem, MediaProblem::Other("WeirdError".to_owned()));
        assert!(problem.explanation().contains("WeirdError"));
    }
}
