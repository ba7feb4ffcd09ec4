//! The status line: one sentence and one machine-readable state for where the call stands.
//!
//! Two things decide it: the page's [`Presence`] in the room (from the signalling server) and
//! the [`CallPhase`] of the peer connection, if there is one. [`Status::of`] combines them;
//! the strings it returns are part of the page's contract (`#status[data-state]`).

use super::ice_state::IceConnectionState;
use super::route::Route;

/// Where this page stands with the signalling server and the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Opening the WebSocket or waiting for `joined`.
    Connecting,
    /// The WebSocket closed; a reconnect is scheduled.
    Offline,
    /// In the room, alone.
    Waiting,
    /// In the room, alone again: the other person left.
    PeerLeft,
    /// Two people in the room: a call can start.
    Ready,
    /// Both still in the room, and the other person just ended the call (`hang_up`): either
    /// may call again.
    HungUp,
    /// Refused: the room already holds `capacity` people.
    Full { capacity: usize },
    /// Another tab or window of this browser took our seat (close code 4001): the call went
    /// on there; nothing reconnects until the person takes it back.
    Replaced,
}

/// How the peer connection is doing, once one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// Offer/answer and ICE checks under way.
    Connecting,
    /// Media flows; the route is known once `getStats` has told.
    Connected(Option<Route>),
    /// Media stopped (`iceConnectionState` `disconnected`) `seconds` ago, and the call is
    /// recovering: the browser's own checks, then ICE restarts (see [`super::ice_restart`]).
    Reconnecting { seconds: u32 },
    /// ICE failed (or the recovery outlasted [`super::ice_restart::FAILED_AFTER`]) `seconds`
    /// after media stopped; automatic ICE restarts go on, and Retry is offered. `was_connected`
    /// tells a lost call from one that never came up.
    Failed { seconds: u32, was_connected: bool },
}

impl CallPhase {
    /// The phase after an `iceConnectionState` change, or `None` for states that change nothing
    /// here (`new`, `closed`; `disconnected` and `failed`, which start a recovery whose phase
    /// [`super::ice_restart::IceRecovery::phase`] gives). A connected call keeps its known
    /// route.
    pub fn after_ice_state(self, ice_state: IceConnectionState) -> Option<Self> {
        match ice_state {
            IceConnectionState::Checking => Some(match self {
                Self::Connected(_) => self,
                _ => Self::Connecting,
            }),
            IceConnectionState::Connected | IceConnectionState::Completed => Some(match self {
                Self::Connected(_) => self,
                _ => Self::Connected(None),
            }),
            IceConnectionState::Disconnected
            | IceConnectionState::Failed
            | IceConnectionState::New
            | IceConnectionState::Closed => None,
        }
    }

    /// Whether the call is shown as failed (Retry and the connection check are offered).
    pub fn is_failed(self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// The phase the status line shows for all the calls together: the best off of them, so the
/// room reads "Connected" while anybody is connected (each tile shows its own). One call's
/// phase is its own. `None` without calls.
pub fn room_phase(phases: impl IntoIterator<Item = CallPhase>) -> Option<CallPhase> {
    let rank = |phase: &CallPhase| match phase {
        CallPhase::Connected(_) => 3,
        CallPhase::Reconnecting { .. } => 2,
        CallPhase::Connecting => 1,
        CallPhase::Failed { .. } => 0,
    };
    // The first of the best: a stable choice as the tiles keep their order.
    phases
        .into_iter()
        .fold(None, |best: Option<CallPhase>, phase| match best {
            Some(best) if rank(&best) >= rank(&phase) => Some(best),
            _ => Some(phase),
        })
}

/// The state names of [`CallPhase`]s, for each tile's `data-state`.
pub fn phase_state(phase: CallPhase) -> &'static str {
    match phase {
        CallPhase::Connecting => "calling",
        CallPhase::Connected(_) => "connected",
        CallPhase::Reconnecting { .. } => "reconnecting",
        CallPhase::Failed { .. } => "failed",
    }
}

/// What `#status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The `data-state` attribute.
    pub state: &'static str,
    /// The sentence for the person.
    pub sentence: String,
    /// The `data-route` attribute, once connected and known.
    pub route: Option<Route>,
}

/// The sentence while alone in the room; the tests look for its start.
pub const WAITING_SENTENCE: &str = "Waiting for someone — share this link";
/// How the sentence starts while the call recovers; the seconds since media stopped follow.
pub const RECONNECTING_SENTENCE: &str = "Reconnecting…";
/// The sentence after the other person hung up (they are still in the room).
pub const HUNG_UP_SENTENCE: &str = "They hung up. Press Call to call them again.";
/// The sentence after another tab or window took the call.
pub const REPLACED_SENTENCE: &str = "The call continued in another tab or window.";
/// The separate note while the socket to the server is down (the call goes on without it).
pub const SERVER_NOTE: &str = "Reconnecting to the server…";
/// The sentence after the other person left.
pub const PEER_LEFT_SENTENCE: &str = "The other person left. Waiting for someone — share this link";

/// What a refused page says: how many the room holds, in the words the contract spells.
pub fn full_sentence(capacity: usize) -> String {
    format!("This room is full ({capacity} people).")
}

/// The sentence while others are here and no call runs yet.
pub fn ready_sentence(others: usize) -> String {
    if others > 1 {
        format!("{others} people are here. Press Call to start.")
    } else {
        "The other person is here. Press Call to start.".to_owned()
    }
}

impl Status {
    /// The status for a presence and, when a peer connection exists, its phase. A refused
    /// connection outranks the call; a lost one does not: the call goes on without the server,
    /// and a separate note ([`SERVER_NOTE`]) says the page is reconnecting.
    pub fn of(presence: Presence, phase: Option<CallPhase>) -> Self {
        let plain = |state, sentence: &str| Self {
            state,
            sentence: sentence.to_owned(),
            route: None,
        };
        match (presence, phase) {
            (Presence::Full { capacity }, _) => Self {
                state: "full",
                sentence: full_sentence(capacity),
                route: None,
            },
            (Presence::Replaced, _) => plain("replaced", REPLACED_SENTENCE),
            (_, Some(CallPhase::Connecting)) => plain("calling", "Connecting the call…"),
            (_, Some(CallPhase::Connected(route))) => Self {
                state: "connected",
                sentence: match route {
                    None => "Connected".to_owned(),
                    Some(Route::Direct) => "Connected (direct)".to_owned(),
                    Some(Route::Relayed) => "Connected (relayed through TURN)".to_owned(),
                },
                route,
            },
            (_, Some(CallPhase::Reconnecting { seconds })) => Self {
                state: "reconnecting",
                sentence: format!("{RECONNECTING_SENTENCE} {seconds} s"),
                route: None,
            },
            (
                _,
                Some(CallPhase::Failed {
                    seconds,
                    was_connected,
                }),
            ) => Self {
                state: "failed",
                sentence: if was_connected {
                    format!(
                        "The connection was lost. Reconnecting automatically… {seconds} s — or press Retry."
                    )
                } else {
                    format!(
                        "The call could not connect. Trying again automatically… {seconds} s — or press Retry."
                    )
                },
                route: None,
            },
            (Presence::Offline, None) => {
                plain("offline", "Connection to the server lost. Reconnecting…")
            }
            (Presence::Connecting, None) => {
                plain("connecting-signalling", "Connecting to the server…")
            }
            (Presence::Waiting, None) => plain("waiting", WAITING_SENTENCE),
            (Presence::PeerLeft, None) => plain("peer-left", PEER_LEFT_SENTENCE),
            (Presence::HungUp, None) => plain("hung-up", HUNG_UP_SENTENCE),
            (Presence::Ready, None) => plain("ready", &ready_sentence(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a call, the room decides: each presence has its own state name.
    #[test]
    fn presence_alone_maps_to_states() {
        let state = |presence| Status::of(presence, None).state;
        assert_eq!(state(Presence::Connecting), "connecting-signalling");
        assert_eq!(state(Presence::Waiting), "waiting");
        assert_eq!(state(Presence::Ready), "ready");
        assert_eq!(state(Presence::Full { capacity: 4 }), "full");
        assert_eq!(state(Presence::PeerLeft), "peer-left");
        assert_eq!(state(Presence::Offline), "offline");
    }

    /// The sentences carry the words the page contract promises.
    #[test]
    fn sentences_are_plain_words() {
        assert!(
            Status::of(Presence::Waiting, None)
                .sentence
                .starts_with("Waiting for someone — share this link")
        );
        assert!(
            Status::of(Presence::PeerLeft, None)
                .sentence
                .contains("The other person left")
        );
        assert!(
            Status::of(Presence::Full { capacity: 4 }, None)
                .sentence
                .contains("This room is full (4 people)")
        );
    }

    /// With a call, its phase decides, and the route shows once known.
    #[test]
    fn call_phase_outranks_presence() {
        let connected = Status::of(Presence::Ready, Some(CallPhase::Connected(None)));
        assert_eq!((connected.state, connected.route), ("connected", None));
        let relayed = Status::of(
            Presence::Ready,
            Some(CallPhase::Connected(Some(Route::Relayed))),
        );
        assert_eq!(relayed.route, Some(Route::Relayed));
        assert!(relayed.sentence.contains("relayed through TURN"));
        assert_eq!(
            Status::of(Presence::Ready, Some(CallPhase::Connecting)).state,
            "calling"
        );
        assert_eq!(
            Status::of(
                Presence::Ready,
                Some(CallPhase::Reconnecting { seconds: 3 })
            )
            .state,
            "reconnecting"
        );
        let failed = CallPhase::Failed {
            seconds: 3,
            was_connected: true,
        };
        assert_eq!(Status::of(Presence::Ready, Some(failed)).state, "failed");
    }

    /// While the call recovers, the sentence starts "Reconnecting…" and says for how long; a
    /// failure says that reconnecting goes on by itself and that Retry is there.
    #[test]
    fn recovery_says_how_long() {
        let reconnecting = Status::of(
            Presence::Ready,
            Some(CallPhase::Reconnecting { seconds: 12 }),
        );
        assert_eq!(reconnecting.sentence, "Reconnecting… 12 s");
        assert!(reconnecting.sentence.starts_with(RECONNECTING_SENTENCE));
        let lost = CallPhase::Failed {
            seconds: 35,
            was_connected: true,
        };
        assert_eq!(
            Status::of(Presence::Ready, Some(lost)).sentence,
            "The connection was lost. Reconnecting automatically… 35 s — or press Retry."
        );
        let never = CallPhase::Failed {
            seconds: 4,
            was_connected: false,
        };
        assert_eq!(
            Status::of(Presence::Ready, Some(never)).sentence,
            "The call could not connect. Trying again automatically… 4 s — or press Retry."
        );
        assert!(lost.is_failed() && never.is_failed());
        assert!(!CallPhase::Reconnecting { seconds: 1 }.is_failed());
    }

    /// A lost server connection does not hide a call that goes on without it; without a
    /// call it is what the page says. A seat taken by another tab outranks everything.
    #[test]
    fn the_call_outranks_a_lost_server() {
        let status = Status::of(Presence::Offline, Some(CallPhase::Connected(None)));
        assert_eq!(
            (status.state, status.sentence.as_str()),
            ("connected", "Connected")
        );
        assert_eq!(Status::of(Presence::Offline, None).state, "offline");
        let replaced = Status::of(Presence::Replaced, Some(CallPhase::Connected(None)));
        assert_eq!(replaced.state, "replaced");
        assert_eq!(replaced.sentence, REPLACED_SENTENCE);
    }

    /// With several calls the room shows the best off; a single call shows its own phase.
    #[test]
    fn the_room_shows_the_best_call() {
        let lost = CallPhase::Failed {
            seconds: 3,
            was_connected: true,
        };
        assert_eq!(room_phase([]), None);
        assert_eq!(room_phase([lost]), Some(lost));
        assert_eq!(
            room_phase([lost, CallPhase::Connecting, CallPhase::Connected(None)]),
            Some(CallPhase::Connected(None))
        );
        assert_eq!(
            room_phase([CallPhase::Connecting, lost]),
            Some(CallPhase::Connecting)
        );
        assert_eq!(phase_state(lost), "failed");
        assert_eq!(
            phase_state(CallPhase::Connecting),
            Status::of(Presence::Ready, Some(CallPhase::Connecting)).state
        );
    }

    /// ICE states move the phase towards connected, and a connected call keeps its route.
    #[test]
    fn ice_states_drive_the_phase() {
        use IceConnectionState as Ice;
        let connected = CallPhase::Connecting
            .after_ice_state(Ice::Connected)
            .expect("a change");
        assert_eq!(connected, CallPhase::Connected(None));
        let with_route = CallPhase::Connected(Some(Route::Direct));
        assert_eq!(with_route.after_ice_state(Ice::Completed), Some(with_route));
        assert_eq!(with_route.after_ice_state(Ice::Checking), Some(with_route));
        assert_eq!(
            CallPhase::Reconnecting { seconds: 9 }.after_ice_state(Ice::Connected),
            Some(CallPhase::Connected(None))
        );
        // Trouble is the recovery's to show (call::ice_restart).
        assert_eq!(with_route.after_ice_state(Ice::Disconnected), None);
        assert_eq!(CallPhase::Connecting.after_ice_state(Ice::Failed), None);
        assert_eq!(CallPhase::Connecting.after_ice_state(Ice::New), None);
        assert_eq!(with_route.after_ice_state(Ice::Closed), None);
    }
}
