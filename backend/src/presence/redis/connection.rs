//! The command connection to Redis: one multiplexed connection, a timeout on every call, and
//! whether Redis answered the last one.
//!
//! Every command of this instance (scripts, heartbeat, publishes) goes through [`Connection`]
//! in the order its callers ask, which is what keeps one sender's messages in order. The
//! subscription has its own connection ([`super::bus`]); this one does not subscribe.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::lock;
use crate::presence::Unavailable;

/// The shared command connection, created on first use.
pub(super) struct Connection {
    client: redis::Client,
    /// Longest wait for any one call.
    timeout: Duration,
    /// Created on first use and then reused: the manager multiplexes every call over one
    /// connection and reconnects by itself. A std mutex, held only to clone the handle.
    manager: Mutex<Option<ConnectionManager>>,
    /// The last command succeeded. Optimistic until the first call says otherwise.
    up: AtomicBool,
    /// How many calls have failed so far: the membership cache trusts nothing it read before
    /// the latest failure (the connection may have been re-established to a restarted Redis).
    failures: AtomicU64,
}

impl Connection {
    pub(super) fn new(client: redis::Client, timeout: Duration) -> Self {
        Self {
            client,
            timeout,
            manager: Mutex::default(),
            up: AtomicBool::new(true),
            failures: AtomicU64::new(0),
        }
    }

    pub(super) fn client(&self) -> &redis::Client {
        &self.client
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The last command succeeded.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// How many calls have failed since start.
    pub(super) fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// Runs one Redis call with the timeout, and records whether Redis answered.
    pub(super) async fn call<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, async {
            let manager = self.manager().await?;
            call(manager).await
        })
        .await;
        crate::metrics::redis_call(started.elapsed());
        match result {
            Ok(Ok(value)) => {
                self.set_up(true, None);
                Ok(value)
            }
            Ok(Err(error)) => {
                self.failures.fetch_add(1, Ordering::SeqCst);
                self.set_up(false, Some(&error.to_string()));
                Err(Unavailable)
            }
            Err(_) => {
                self.failures.fetch_add(1, Ordering::SeqCst);
                self.set_up(false, Some("timed out"));
                Err(Unavailable)
            }
        }
    }

    /// Whether commands get answers, tried a few times: after Redis restarted, the first
    /// command on the old connection fails and makes the manager reconnect, and joins must not
    /// be accepted again before that has happened.
    pub(super) async fn answers(&self) -> bool {
        for _ in 0..3 {
            let pong: Result<String, Unavailable> = self
                .call(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
                .await;
            if pong.is_ok() {
                return true;
            }
        }
        false
    }

    async fn manager(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(manager) = lock(&self.manager).clone() {
            return Ok(manager);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(500);
        let manager = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        // Two tasks may race to create it; the second simply replaces the first.
        *lock(&self.manager) = Some(manager.clone());
        Ok(manager)
    }

    fn set_up(&self, up: bool, error: Option<&str>) {
        let was = self.up.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                tracing::info!("Redis reachable again");
            } else {
                tracing::error!(
                    error = error.unwrap_or(""),
                    "Redis unreachable: refusing joins"
                );
            }
        }
    }
}
