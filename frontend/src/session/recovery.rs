//! Carrying a call through network trouble: what [`IceRecovery`] decides, done to the call's
//! peer connection — ICE restarts without a click, the seconds on the status line, Retry.
//!
//! The rules are in [`crate::call::ice_restart`]; this file feeds them the clock, the socket's
//! state and the browser's events, and acts: `restartIce()` (whose `negotiationneeded` makes
//! the offer with new credentials, sent and answered as any offer in `call.rs`), and the phase
//! shown. While the recovery has something to do, a timer moves it on four times a second: the
//! 3 s rule and the backoff need no finer grain, and the seconds shown change once a second.
//!
//! [`IceRecovery`]: crate::call::ice_restart::IceRecovery

use gloo_timers::callback::Interval;
use leptos::prelude::*;

use super::Session;
use super::call::CallKey;
use crate::browser::clock;
use crate::browser::peer::PeerConnection;

/// How often a recovering call's rules are moved on.
const TICK_MS: u32 = 250;

impl Session {
    /// Moves the call's recovery on to now: restarts ICE if that is due, shows how long the
    /// call has been recovering, and keeps the timer running exactly while needed.
    pub(super) fn recovery_step(&self, key: &CallKey) {
        let now = clock::now();
        let jitter = js_sys::Math::random();
        let Some((restart, phase, tile)) = self.with_call(key, |call, transport| {
            let signalling_up = transport.is_some_and(|transport| transport.is_up());
            let restart = call.recovery.poll(now, signalling_up, jitter);
            if !call.recovery.needs_ticks() {
                call.recovery_ticks = None;
            } else if call.recovery_ticks.is_none() {
                let this = self.this.clone();
                let key = key.clone();
                call.recovery_ticks = Some(Interval::new(TICK_MS, move || {
                    if let Some(session) = this.upgrade() {
                        session.recovery_step(&key);
                    }
                }));
            }
            (
                restart.then(|| call.peer()),
                call.recovery.phase(now),
                call.tile.clone(),
            )
        }) else {
            return;
        };
        if let Some(phase) = phase
            && tile.phase.get_untracked() != phase
        {
            tile.phase.set(phase);
        }
        if let Some(peer) = restart {
            self.restart_ice(key, &peer);
        }
    }

    /// The browser reports a network change: the recovery decides whether to restart.
    pub(super) fn on_network_change(&self, key: &CallKey) {
        let now = clock::now();
        self.with_call(key, |call, _| call.recovery.on_network_change(now));
        self.recovery_step(key);
    }

    /// Retry: restart ICE on every call now, on whichever side it was pressed, and start the
    /// automatic restarts' backoff over.
    pub(super) fn retry_calls(&self) {
        let now = clock::now();
        let keys: Vec<CallKey> = self
            .state
            .borrow()
            .calls
            .values()
            .map(super::call::Call::key_for_files)
            .collect();
        for key in keys {
            let jitter = js_sys::Math::random();
            if let Some(peer) = self.with_call(&key, |call, _| {
                call.recovery.on_retry(now, jitter);
                call.peer()
            }) {
                self.restart_ice(&key, &peer);
                self.recovery_step(&key);
            }
        }
    }

    /// Restarts ICE: `negotiationneeded` follows, and its offer carries new credentials. If an
    /// earlier offer still waits for its answer (it went out while the socket was down, or its
    /// answer was lost), no new offer can be made until it is answered: it goes again.
    fn restart_ice(&self, key: &CallKey, peer: &PeerConnection) {
        peer.restart_ice();
        self.with_call(key, |call, transport| call.resend_pending_offer(transport));
    }
}
