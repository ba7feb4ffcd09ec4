//! Registration: whether Redis still holds the members this instance registered, and putting
//! them back when it lost them.
//!
//! `registered:{id}` marks that Redis holds what instance `id` registered. It is set once all
//! of the instance's members are in their rooms' lists, and every heartbeat renews it for
//! [`MARKER_LIFETIME`], so while the instance runs it disappears only with Redis's data (a
//! restart without persistence, `FLUSHALL`, a failover to a replica that had not caught up).
//! Then the entry of every member this instance holds is put back in its room — by the
//! heartbeat within a third of the expiry, or at once by a relay refused because its sender is
//! missing — without telling anybody: the calls go on, nobody hears `peer_left`, and capacity
//! holds (a member whose room filled up meanwhile does not get its seat back; it is logged).
//!
//! The liveness key cannot be the marker: the join script sets it too, and it expires when
//! this instance is only slow. In that case other instances have removed its members and told
//! their peers they left; they are not put back (their relays are refused).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use super::RedisPresence;
use crate::presence::Unavailable;

/// How long the marker outlives this instance's last heartbeat: far longer than any expiry, so
/// only lost data removes it while the instance runs; an hour after a crash it is gone too.
const MARKER_LIFETIME: Duration = Duration::from_secs(3600);

impl RedisPresence {
    /// `PEXPIRE` of the marker, for the heartbeat's round trip: `1` when it is there (its
    /// lifetime renewed), `0` when Redis lost it.
    pub(super) fn refresh_registration(&self) -> redis::Cmd {
        let mut command = redis::cmd("PEXPIRE");
        command.arg(self.marker_key()).arg(marker_lifetime_ms());
        command
    }

    /// Re-registers in the background, for the heartbeat, which must not wait. A failure
    /// leaves the marker missing, so the next heartbeat tries again.
    pub(super) async fn register_again(self: Arc<Self>) {
        if self.ensure_registered().await.is_err() {
            tracing::debug!("re-registration interrupted: Redis unavailable");
        }
    }

    /// Makes sure Redis holds this instance's members; puts them back when it lost them.
    /// Returns whether it had to. One re-registration at a time; the marker is set only once
    /// every member is back.
    pub(super) async fn ensure_registered(&self) -> Result<bool, Unavailable> {
        if self.is_registered().await? {
            return Ok(false);
        }
        let _one_at_a_time = self.registration.lock().await;
        if self.is_registered().await? {
            return Ok(false);
        }
        // Redis lost its data: no copy read before is what it holds now.
        self.watched.cache.invalidate_all();
        let members = self.watched.members();
        let capacity = self.capacity.load(Ordering::Relaxed);
        for (room, peer) in &members {
            let entry = self.entry(peer);
            let kept = self
                .scripts
                .reregister(&self.connection, room, &entry, capacity, self.expiry_ms())
                .await?;
            let others = self.members_of(kept.others);
            self.report_dead(room, kept.dead, &others).await;
            if !kept.admitted {
                tracing::warn!(%room, %peer, "seat not taken back after Redis lost its data: the room filled up meanwhile");
            } else if !self.watched.holds(room, peer) {
                // It left while being put back, and its leave may have run first: remove it
                // again. Its departure was announced by that leave.
                self.leave_now(room, Some(peer)).await?;
            }
        }
        let key = self.marker_key();
        self.connection
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(marker_lifetime_ms())
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        self.watched.cache.invalidate_all();
        if !members.is_empty() {
            tracing::warn!(
                members = members.len(),
                "Redis had lost this instance's rooms: members registered again"
            );
        }
        Ok(true)
    }

    async fn is_registered(&self) -> Result<bool, Unavailable> {
        let key = self.marker_key();
        self.connection
            .call(|mut c| async move { redis::cmd("EXISTS").arg(key).query_async(&mut c).await })
            .await
    }

    fn marker_key(&self) -> String {
        format!("registered:{}", self.instance)
    }
}

fn marker_lifetime_ms() -> u64 {
    u64::try_from(MARKER_LIFETIME.as_millis()).expect("an hour fits")
}
