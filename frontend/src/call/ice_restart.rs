//! ICE restarts without a click: who restarts, when, how long between tries, and how long the
//! call has been recovering (for the status line).
//!
//! The rules (issue 9): a call whose `iceConnectionState` stays `disconnected` for more than
//! [`DISCONNECTED_GRACE`], or turns `failed` (or whose `connectionState` does), or whose browser
//! reports a network change (`online`, `navigator.connection` `change`) restarts ICE; while that
//! does not bring it back, again, with exponential backoff and jitter ([`restart_delay`]), and
//! only while the signalling socket is up (the offer has to get there). Only the *impolite* side
//! ([`Role::Impolite`]) restarts on its own: both sides derive the roles from the same two peer
//! ids, so they never send restart offers at once and nobody's offer collides with the other's;
//! the polite side answers the restart offer as it answers any offer. Retry (#retry-call, on
//! either side) restarts at once and starts the backoff over.
//!
//! Plain data, driven by the session with the time (`performance.now()`) and the jitter passed
//! in, so every rule runs as a host test. It never touches the peer connection:
//! [`IceRecovery::poll`] says when to call `restartIce()`, [`IceRecovery::phase`] what to show.

use std::time::Duration;

use super::ice_state::IceConnectionState;
use super::negotiation::Role;
use super::status::CallPhase;

/// How long `disconnected` may last before a restart: the browser often recovers a short
/// blip by itself (its checks go on), and a restart costs an offer and answer.
pub const DISCONNECTED_GRACE: Duration = Duration::from_secs(3);
/// How long a recovery is shown as "reconnecting" before it is called a lost connection, when
/// the browser has not said `failed` itself. Restarts keep the browser from ever getting there
/// (each starts fresh checks), and Chromium's own verdict takes about 16 s after the network
/// stops (see e2e/tests/check.rs), so a little longer than that.
pub const FAILED_AFTER: Duration = Duration::from_secs(20);
/// The wait after the first restart; each further one doubles it.
const FIRST_DELAY_MS: u64 = 2_000;
/// Never wait longer than this between restarts: a person is looking at a frozen picture.
const MAX_DELAY_MS: u64 = 30_000;
/// No two automatic restarts closer than this, whatever triggers them (a flapping network
/// fires `navigator.connection` changes in bursts).
const MIN_GAP: Duration = Duration::from_millis(FIRST_DELAY_MS);

/// The wait after automatic restart number `attempt` (0 for the first) before the next one, if
/// the call is still not back: 2 s, 4 s, 8 s, 16 s, then 30 s, each scaled by `jitter` in
/// `[0, 1)` to between 75 % and 100 %, so that many calls cut by the same outage do not all
/// renegotiate in the same instant.
pub fn restart_delay(attempt: u32, jitter: f64) -> Duration {
    super::backoff::exponential_delay(FIRST_DELAY_MS, MAX_DELAY_MS, attempt, jitter)
}

/// A stretch of time during which media does not flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trouble {
    /// When it began: the status line counts from here.
    since: Duration,
    /// The browser said `failed`, or the trouble outlasted `fails_at`.
    failed: bool,
    /// When the trouble counts as a failure even if the browser has not said so
    /// ([`FAILED_AFTER`] after it began, or after the last Retry).
    fails_at: Duration,
}

/// The restart rules of one call. Times are offsets from any fixed origin (the page's
/// `performance.now()`); they only need to grow.
#[derive(Debug, Clone)]
pub struct IceRecovery {
    /// This side restarts on its own (the impolite side); the other only answers.
    restarts_on_its_own: bool,
    /// Set while media does not flow, cleared when ICE is connected again.
    trouble: Option<Trouble>,
    /// ICE was connected at some point: a failure then *lost* the call, else it never came up.
    was_connected: bool,
    /// Automatic restarts since the call was last connected, or since Retry: the exponent of
    /// the backoff.
    attempts: u32,
    /// When the next automatic restart is due. Only ever set on the side that restarts.
    next_restart: Option<Duration>,
    /// When ICE was last restarted, automatically or by Retry (for [`MIN_GAP`]).
    last_restart: Option<Duration>,
}

impl IceRecovery {
    /// The rules for a call in which this side plays `role`.
    pub fn new(role: Role) -> Self {
        Self {
            restarts_on_its_own: role == Role::Impolite,
            trouble: None,
            was_connected: false,
            attempts: 0,
            next_restart: None,
            last_restart: None,
        }
    }

    /// Whether this side restarts ICE by itself.
    pub fn restarts_on_its_own(&self) -> bool {
        self.restarts_on_its_own
    }

    /// `iceConnectionState` changed at `now`.
    pub fn on_ice_state(&mut self, state: IceConnectionState, now: Duration) {
        match state {
            IceConnectionState::Connected | IceConnectionState::Completed => {
                self.was_connected = true;
                self.trouble = None;
                self.attempts = 0;
                self.next_restart = None;
            }
            IceConnectionState::Disconnected => {
                if self.trouble.is_none() {
                    self.trouble = Some(Trouble::since(now));
                }
                // Within a recovery the backoff's schedule stands; this only starts one.
                if self.next_restart.is_none() {
                    self.restart_at(now + DISCONNECTED_GRACE);
                }
            }
            IceConnectionState::Failed => self.on_failed(now),
            // `checking` comes and goes with each restart: the recovery goes on meanwhile.
            IceConnectionState::New | IceConnectionState::Checking | IceConnectionState::Closed => {
            }
        }
    }

    /// `connectionState` became `failed` at `now` (Chromium can get there while ICE still says
    /// `disconnected`).
    pub fn on_connection_failed(&mut self, now: Duration) {
        self.on_failed(now);
    }

    fn on_failed(&mut self, now: Duration) {
        let trouble = self.trouble.get_or_insert_with(|| Trouble::since(now));
        trouble.failed = true;
        // The first failure restarts at once; later ones leave the backoff to its schedule.
        if self.attempts == 0 {
            self.restart_at(now);
        }
    }

    /// The browser reports another network (`online`, a `navigator.connection` change) at
    /// `now`: the pair in use may be gone, so restart at once (or as soon as [`MIN_GAP`]
    /// allows), whatever ICE says yet, and start the backoff over.
    pub fn on_network_change(&mut self, now: Duration) {
        self.attempts = 0;
        let earliest = self
            .last_restart
            .map_or(now, |last| (last + MIN_GAP).max(now));
        self.next_restart = None;
        self.restart_at(earliest);
    }

    /// The person pressed Retry at `now`; the caller restarts ICE right away (on either side).
    /// That restart counts as the first of a fresh backoff (the next automatic one, if the call
    /// is still down, comes one first step later), and a failure shown so far goes back to
    /// "reconnecting" for another [`FAILED_AFTER`].
    pub fn on_retry(&mut self, now: Duration, jitter: f64) {
        self.attempts = 0;
        self.last_restart = Some(now);
        self.next_restart = None;
        if let Some(trouble) = &mut self.trouble {
            trouble.failed = false;
            trouble.fails_at = now + FAILED_AFTER;
            self.attempts = 1;
            self.restart_at(now + restart_delay(0, jitter));
        }
    }

    /// Moves the rules on to `now`; true when ICE must be restarted now. `signalling_up` tells
    /// whether the socket is up: a due restart waits for it, since its offer must get through.
    /// `jitter` in `[0, 1)` spreads the wait before the next one.
    pub fn poll(&mut self, now: Duration, signalling_up: bool, jitter: f64) -> bool {
        if let Some(trouble) = &mut self.trouble
            && now >= trouble.fails_at
        {
            trouble.failed = true;
        }
        let due = self.next_restart.is_some_and(|at| at <= now);
        if !due || !signalling_up {
            return false;
        }
        self.last_restart = Some(now);
        // Without trouble (a network change while connected) one restart is all.
        self.next_restart = self
            .trouble
            .is_some()
            .then(|| now + restart_delay(self.attempts, jitter));
        self.attempts = self.attempts.saturating_add(1);
        true
    }

    /// What the status line shows while the call recovers at `now` (`None` while it is fine).
    pub fn phase(&self, now: Duration) -> Option<CallPhase> {
        let trouble = self.trouble?;
        let seconds =
            u32::try_from(now.saturating_sub(trouble.since).as_secs()).unwrap_or(u32::MAX);
        Some(if trouble.failed {
            CallPhase::Failed {
                seconds,
                was_connected: self.was_connected,
            }
        } else {
            CallPhase::Reconnecting { seconds }
        })
    }

    /// Whether [`Self::poll`] and [`Self::phase`] have anything to do: a recovery is under way
    /// or a restart is due. The session ticks a timer only then.
    pub fn needs_ticks(&self) -> bool {
        self.trouble.is_some() || self.next_restart.is_some()
    }

    /// Schedules an automatic restart at `at`, unless one is due earlier; only on the side
    /// that restarts.
    fn restart_at(&mut self, at: Duration) {
        if self.restarts_on_its_own {
            self.next_restart = Some(self.next_restart.map_or(at, |next| next.min(at)));
        }
    }
}

impl Trouble {
    fn since(now: Duration) -> Self {
        Self {
            since: now,
            failed: false,
            fails_at: now + FAILED_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IceConnectionState as Ice;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// A connected call on the side that restarts (impolite) or only answers (polite).
    fn connected(role: Role) -> IceRecovery {
        let mut recovery = IceRecovery::new(role);
        recovery.on_ice_state(Ice::Checking, at(0));
        recovery.on_ice_state(Ice::Connected, at(100));
        recovery
    }

    /// Polls every 250 ms from `from` to `to` (as the session's timer does) and returns the
    /// times at which a restart was asked for.
    fn restarts_between(recovery: &mut IceRecovery, from: u64, to: u64, jitter: f64) -> Vec<u64> {
        (from..=to)
            .step_by(250)
            .filter(|&ms| recovery.poll(at(ms), true, jitter))
            .collect()
    }

    /// Exactly one side of a call restarts on its own: the impolite one, the same side the
    /// negotiation lets win a collision, so its restart offer is never ignored.
    #[test]
    fn only_the_impolite_side_restarts() {
        assert!(IceRecovery::new(Role::Impolite).restarts_on_its_own());
        assert!(!IceRecovery::new(Role::Polite).restarts_on_its_own());
        let mut polite = connected(Role::Polite);
        polite.on_ice_state(Ice::Disconnected, at(1_000));
        polite.on_ice_state(Ice::Failed, at(20_000));
        polite.on_network_change(at(21_000));
        assert!(restarts_between(&mut polite, 1_000, 120_000, 0.5).is_empty());
        // It still shows the recovery.
        assert!(matches!(
            polite.phase(at(30_000)),
            Some(CallPhase::Failed { seconds: 29, .. })
        ));
    }

    /// `disconnected` restarts only after more than 3 s; a browser that recovers by itself
    /// within them costs no restart.
    #[test]
    fn disconnected_waits_three_seconds() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Disconnected, at(1_000));
        assert!(!recovery.poll(at(3_999), true, 0.5));
        assert!(recovery.poll(at(4_000), true, 0.5));

        let mut blip = connected(Role::Impolite);
        blip.on_ice_state(Ice::Disconnected, at(1_000));
        assert!(!blip.poll(at(2_500), true, 0.5));
        blip.on_ice_state(Ice::Connected, at(2_600));
        assert!(restarts_between(&mut blip, 2_600, 60_000, 0.5).is_empty());
        assert_eq!(blip.phase(at(3_000)), None);
        assert!(!blip.needs_ticks());
    }

    /// `failed` (of ICE or of the whole connection) restarts at once, without the 3 s.
    #[test]
    fn failed_restarts_at_once() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Failed, at(5_000));
        assert!(recovery.poll(at(5_000), true, 0.5));

        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Disconnected, at(1_000));
        recovery.on_connection_failed(at(2_000));
        assert!(recovery.poll(at(2_000), true, 0.5));
    }

    /// While the call stays down, restarts repeat 2 s, 4 s, 8 s, 16 s apart, then every 30 s.
    #[test]
    fn restarts_back_off_to_thirty_seconds() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Disconnected, at(0));
        let times = restarts_between(&mut recovery, 0, 130_000, 1.0);
        let gaps: Vec<u64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert_eq!(times[0], 3_000);
        assert_eq!(gaps, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        // `checking` and `failed` during the recovery leave the schedule alone.
        recovery.on_ice_state(Ice::Checking, at(130_000));
        recovery.on_ice_state(Ice::Failed, at(130_100));
        recovery.on_ice_state(Ice::Disconnected, at(130_200));
        assert!(!recovery.poll(at(130_200), true, 1.0));
    }

    /// Jitter only ever shortens a step, by at most a quarter; the cap holds for any attempt.
    #[test]
    fn jitter_stays_within_a_quarter() {
        assert_eq!(restart_delay(0, 1.0), at(2_000));
        assert_eq!(restart_delay(0, 0.0), at(1_500));
        assert_eq!(restart_delay(2, 0.5), at(7_000));
        assert_eq!(restart_delay(9, 0.99), restart_delay(40, 0.99));
        assert!(restart_delay(u32::MAX, 1.0) <= at(30_000));
        assert_eq!(restart_delay(1, -3.0), at(3_000), "clamped");
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Failed, at(0));
        let times = restarts_between(&mut recovery, 0, 10_000, 0.0);
        assert_eq!(times[..2], [0, 1_500]);
    }

    /// Connected again resets the backoff: the next outage starts from 3 s and 2 s again.
    #[test]
    fn connected_resets_the_backoff() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Disconnected, at(0));
        assert_eq!(restarts_between(&mut recovery, 0, 20_000, 1.0).len(), 4);
        recovery.on_ice_state(Ice::Connected, at(20_000));
        assert!(!recovery.needs_ticks());
        recovery.on_ice_state(Ice::Disconnected, at(30_000));
        assert_eq!(
            restarts_between(&mut recovery, 30_000, 36_000, 1.0),
            [33_000, 35_000]
        );
    }

    /// Retry restarts the backoff: the next automatic restart comes one first step later, and
    /// a failure shown goes back to "reconnecting".
    #[test]
    fn retry_resets_the_backoff() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Disconnected, at(0));
        assert_eq!(restarts_between(&mut recovery, 0, 40_000, 1.0).len(), 5);
        assert!(matches!(
            recovery.phase(at(40_000)),
            Some(CallPhase::Failed {
                seconds: 40,
                was_connected: true
            })
        ));
        recovery.on_retry(at(40_000), 1.0);
        assert_eq!(
            recovery.phase(at(41_000)),
            Some(CallPhase::Reconnecting { seconds: 41 })
        );
        assert_eq!(
            restarts_between(&mut recovery, 40_250, 47_000, 1.0),
            [42_000, 46_000]
        );
        // Retry on the side that does not restart on its own schedules nothing more.
        let mut polite = connected(Role::Polite);
        polite.on_ice_state(Ice::Failed, at(0));
        polite.on_retry(at(1_000), 0.5);
        assert!(restarts_between(&mut polite, 1_000, 60_000, 0.5).is_empty());
    }

    /// Nothing restarts while the socket is down; the due restart goes as soon as it is up.
    #[test]
    fn restarts_wait_for_the_socket() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_ice_state(Ice::Failed, at(0));
        assert!(!recovery.poll(at(0), false, 0.5));
        assert!(!recovery.poll(at(9_000), false, 0.5));
        assert!(recovery.poll(at(9_250), true, 0.5));
        assert!(!recovery.poll(at(9_500), true, 0.5));
    }

    /// A network change restarts at once even while ICE still says connected, once only, and
    /// never closer than 2 s to the previous restart.
    #[test]
    fn network_change_restarts_once() {
        let mut recovery = connected(Role::Impolite);
        recovery.on_network_change(at(1_000));
        assert!(recovery.poll(at(1_000), true, 0.5));
        assert!(!recovery.needs_ticks());
        recovery.on_network_change(at(1_500));
        assert!(!recovery.poll(at(2_999), true, 0.5));
        assert!(recovery.poll(at(3_000), true, 0.5));
        assert!(restarts_between(&mut recovery, 3_250, 60_000, 0.5).is_empty());
        assert_eq!(recovery.phase(at(10_000)), None, "nothing is wrong to show");
    }

    /// The status counts whole seconds from the start of the trouble, through restarts and
    /// `checking`; "reconnecting" turns into a failure when the browser says so or after 20 s.
    #[test]
    fn phase_counts_seconds_and_calls_a_failure() {
        let mut recovery = connected(Role::Impolite);
        assert_eq!(recovery.phase(at(500)), None);
        recovery.on_ice_state(Ice::Disconnected, at(1_000));
        assert_eq!(
            recovery.phase(at(1_999)),
            Some(CallPhase::Reconnecting { seconds: 0 })
        );
        recovery.poll(at(4_000), true, 0.5);
        recovery.on_ice_state(Ice::Checking, at(4_100));
        assert_eq!(
            recovery.phase(at(13_000)),
            Some(CallPhase::Reconnecting { seconds: 12 })
        );
        recovery.poll(at(20_999), true, 0.5);
        assert!(matches!(
            recovery.phase(at(20_999)),
            Some(CallPhase::Reconnecting { .. })
        ));
        recovery.poll(at(21_000), true, 0.5);
        assert_eq!(
            recovery.phase(at(36_000)),
            Some(CallPhase::Failed {
                seconds: 35,
                was_connected: true
            })
        );
        recovery.on_ice_state(Ice::Connected, at(37_000));
        assert_eq!(recovery.phase(at(37_000)), None);
    }

    /// A call that never connected and fails is shown as such, and is retried by itself too.
    #[test]
    fn a_call_that_never_connected() {
        let mut recovery = IceRecovery::new(Role::Impolite);
        recovery.on_ice_state(Ice::Checking, at(0));
        assert_eq!(recovery.phase(at(1_000)), None);
        recovery.on_ice_state(Ice::Failed, at(9_000));
        assert_eq!(
            recovery.phase(at(10_000)),
            Some(CallPhase::Failed {
                seconds: 1,
                was_connected: false
            })
        );
        assert!(recovery.poll(at(10_000), true, 0.5));
    }
}
