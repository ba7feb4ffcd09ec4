//! The state of a peer connection's ICE transport, as the rules see it.
//!
//! The browser reports `iceConnectionState` as a string; the browser layer
//! ([`crate::browser::peer`]) turns it into an [`IceConnectionState`] once, so the rules in
//! [`super::status`] match on variants and a misspelt state cannot compile. States the browser
//! may add later are not represented: the browser layer drops them.

/// `RTCIceConnectionState`, one variant per state of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceConnectionState {
    New,
    Checking,
    Connected,
    Completed,
    Disconnected,
    Failed,
    Closed,
}

impl IceConnectionState {
    /// Parses the browser's name for a state (`"checking"`...); `None` for any other string.
    pub fn from_browser(name: &str) -> Option<Self> {
        Some(match name {
            "new" => Self::New,
            "checking" => Self::Checking,
            "connected" => Self::Connected,
            "completed" => Self::Completed,
            "disconnected" => Self::Disconnected,
            "failed" => Self::Failed,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state of the specification parses; anything else is refused.
    #[test]
    fn browser_names_parse() {
        for (name, state) in [
            ("new", IceConnectionState::New),
            ("checking", IceConnectionState::Checking),
            ("connected", IceConnectionState::Connected),
            ("completed", IceConnectionState::Completed),
            ("disconnected", IceConnectionState::Disconnected),
            ("failed", IceConnectionState::Failed),
            ("closed", IceConnectionState::Closed),
        ] {
            assert_eq!(IceConnectionState::from_browser(name), Some(state));
        }
        assert_eq!(IceConnectionState::from_browser("Connected"), None);
        assert_eq!(IceConnectionState::from_browser(""), None);
    }
}
