//! Is it still alive? The rules for the signalling socket after the page was hidden or the
//! machine slept, and for a call when the page is back in its room.
//!
//! A socket can look open and be dead (the laptop slept, a proxy dropped the connection
//! without a word): the page only learns it from a `ping` that gets no `pong`. Timers stall
//! while a machine sleeps and run late in a hidden tab, so a timer that fires much later than
//! asked is itself a sign to check. A call, once the page is back in the room, is kept if its
//! peer connection still carries media and dropped if it cannot any more.

use std::time::Duration;

/// How long a `pong` may take before the socket counts as dead. Generous for a slow network,
/// short enough that a person looking at the page sees it repaired quickly.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the page looks at the clock to notice a stall.
pub const STALL_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A check that fires this much later than asked means the page was frozen or the machine
/// slept. (Hidden tabs run timers at most once a second, later when throttled harder: a few
/// seconds of lateness alone is normal there, so only a longer stall counts.)
pub const STALL: Duration = Duration::from_secs(10);

/// Whether a timer that asked for `interval` and fired after `elapsed` stalled.
pub fn stalled(interval: Duration, elapsed: Duration) -> bool {
    elapsed > interval + STALL
}

/// `RTCPeerConnection.connectionState`, as far as these rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    New,
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

impl ConnectionState {
    /// Parses the browser's name for a state; `None` for any other string.
    pub fn from_browser(name: &str) -> Option<Self> {
        Some(match name {
            "new" => Self::New,
            "connecting" => Self::Connecting,
            "connected" => Self::Connected,
            "disconnected" => Self::Disconnected,
            "failed" => Self::Failed,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

/// Whether a call survives the page's return to the room (`joined` after a reconnect): kept,
/// not renegotiated, when its connection carries media or is recovering (`disconnected`,
/// `connecting` or `failed` after having connected: the automatic ICE restart, whose offer can
/// now be signalled, repairs it — the network may have failed while the server was away);
/// dropped when it never connected (its offer or answer may have been lost with the socket) or
/// closed, or when its data channel closed (the other page closed its side of the call).
pub fn survives_rejoin(state: ConnectionState, was_connected: bool, channel_closed: bool) -> bool {
    if channel_closed {
        return false;
    }
    match state {
        ConnectionState::Connected | ConnectionState::Disconnected => true,
        ConnectionState::Connecting | ConnectionState::Failed => was_connected,
        ConnectionState::New | ConnectionState::Closed => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timer firing a few seconds late (a throttled hidden tab) is not a stall; ten seconds
    /// beyond its interval is.
    #[test]
    fn only_a_long_delay_is_a_stall() {
        let interval = STALL_CHECK_INTERVAL;
        assert!(!stalled(interval, Duration::from_millis(1_000)));
        assert!(!stalled(interval, Duration::from_secs(5)));
        assert!(stalled(interval, Duration::from_secs(12)));
    }

    /// Live calls are kept across a rejoin; dead ones and ones that never connected are not.
    #[test]
    fn calls_that_carry_media_survive_a_rejoin() {
        use ConnectionState as S;
        assert!(survives_rejoin(S::Connected, true, false));
        assert!(survives_rejoin(S::Disconnected, true, false));
        assert!(survives_rejoin(S::Connecting, true, false));
        assert!(!survives_rejoin(S::Connecting, false, false));
        assert!(!survives_rejoin(S::New, false, false));
        assert!(
            survives_rejoin(S::Failed, true, false),
            "an ICE restart repairs it"
        );
        assert!(!survives_rejoin(S::Failed, false, false));
        assert!(!survives_rejoin(S::Closed, true, false));
        assert!(!survives_rejoin(S::Connected, true, true), "channel closed");
    }

    /// The browser's names parse; others do not.
    #[test]
    fn parses_browser_names() {
        assert_eq!(
            ConnectionState::from_browser("disconnected"),
            Some(ConnectionState::Disconnected)
        );
        assert_eq!(ConnectionState::from_browser("gone"), None);
    }
}
