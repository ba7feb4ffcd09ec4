//! Presence and relay shared by several server instances through Redis.
//!
//! Chosen with `--redis-url`; without it the in-memory [`crate::rooms::Rooms`] decides. The
//! rules are the same; only where the decision is made changes. Design (see `docs/REDIS.md`):
//!
//! - **Membership.** `room:{name}` is a Redis list of `"{peer} {instance}"` entries in join
//!   order. Every change goes through a Lua script, so a check and its change are one atomic
//!   step for all instances: capacity can never be exceeded, whatever the number of instances.
//! - **Liveness.** `instance:{id}` exists while its instance lives: a heartbeat task sets it
//!   with an expiry (`--redis-expiry`) every third of that expiry. An entry whose instance key
//!   has expired is dead. Every script removes the dead entries of the room it touches and
//!   returns them; whoever removed one announces its `peer_left` (so it is announced once).
//!   The heartbeat also visits every room this instance has members in, so a crashed
//!   instance's members are noticed within the expiry even when nobody joins or leaves.
//! - **Delivery.** One pub/sub channel per instance, `signal:{id}`, carrying
//!   `"{peer} {json}"`. A message for a member of this instance goes straight to its mailbox;
//!   one for a member elsewhere is published to that member's instance channel. Each instance
//!   publishes over one multiplexed connection in the order its connection tasks ask, and each
//!   task awaits one relay before the next, so the messages of one sender keep their order.
//!   Delivery is at most once: pub/sub keeps nothing for a subscriber that is not connected.
//! - **Failure.** Every Redis call has a timeout. Failures mark Redis down (logged once,
//!   reported by `/healthz`); joins are then refused with `unavailable` instead of waiting.
//!   The connection manager reconnects by itself and the subscriber resubscribes, so the
//!   instance recovers without a restart.
//!
//! What it does not do: Redis Cluster (scripts touch `instance:*` keys they are not given), and
//! re-registering calls in progress after Redis lost its data (they continue peer to peer;
//! only their next `join` goes through Redis again).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use shared::{PeerId, RoomName, ServerMessage};
use tokio_util::sync::CancellationToken;

use crate::{hub::Mailboxes, rooms::JoinOutcome};

/// How to reach Redis and how quickly to give up on it.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    /// How long a member of an instance that stopped heart-beating is still believed present.
    pub expiry: Duration,
    /// Longest wait for any one Redis call before it counts as a failure.
    pub timeout: Duration,
}

/// Redis cannot be reached (or did not answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the presence store (Redis) cannot be reached")]
pub struct Unavailable;

/// A room member as Redis records it: who, and which instance holds its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub peer: PeerId,
    pub instance: String,
}

impl Member {
    fn parse(entry: &str) -> Option<Self> {
        let (peer, instance) = entry.split_once(' ')?;
        Some(Self {
            peer: PeerId::new(peer),
            instance: instance.to_owned(),
        })
    }

    fn entry(&self) -> String {
        format!("{} {}", self.peer, self.instance)
    }
}

/// Removes the entries of instances whose liveness key expired; shared by every script.
const PRUNE: &str = r"
local function prune(room)
  local live, dead = {}, {}
  for _, entry in ipairs(redis.call('LRANGE', room, 0, -1)) do
    local instance = string.match(entry, ' (%S+)$')
    if instance and redis.call('EXISTS', 'instance:' .. instance) == 1 then
      table.insert(live, entry)
    else
      table.insert(dead, entry)
      redis.call('LREM', room, 0, entry)
    end
  end
  return live, dead
end
";

/// KEYS[1] room; ARGV: entry, capacity, own instance id, expiry in ms.
/// Returns {admitted (0/1), others (live, in join order), dead}.
const JOIN: &str = r"
redis.call('SET', 'instance:' .. ARGV[3], '1', 'PX', ARGV[4])
local live, dead = prune(KEYS[1])
if #live >= tonumber(ARGV[2]) then
  return {0, live, dead}
end
redis.call('RPUSH', KEYS[1], ARGV[1])
return {1, live, dead}
";

/// KEYS[1] room; ARGV[1] entry to remove ('' to only prune). Returns {remaining, dead}.
const LEAVE: &str = r"
if ARGV[1] ~= '' then
  redis.call('LREM', KEYS[1], 0, ARGV[1])
end
local live, dead = prune(KEYS[1])
return {live, dead}
";

/// KEYS[1] room; ARGV: from, to ('' for everybody), own instance id, message JSON.
/// Publishes to the recipients on other instances and returns {'ok', local recipients...},
/// or {'no_peer'} / {'unknown_peer'}.
const RELAY: &str = r"
local recipients = {}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local peer, instance = string.match(entry, '^(%S+) (%S+)$')
  if peer and peer ~= ARGV[1] then
    table.insert(recipients, {peer, instance})
  end
end
if #recipients == 0 then
  return {'no_peer'}
end
if ARGV[2] ~= '' then
  local found = nil
  for _, recipient in ipairs(recipients) do
    if recipient[1] == ARGV[2] then found = recipient end
  end
  if not found then return {'unknown_peer'} end
  recipients = {found}
end
local here = {'ok'}
for _, recipient in ipairs(recipients) do
  if recipient[2] == ARGV[3] then
    table.insert(here, recipient[1])
  else
    redis.call('PUBLISH', 'signal:' .. recipient[2], recipient[1] .. ' ' .. ARGV[4])
  end
end
return here
";

/// What a relay through Redis decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayOutcome {
    /// Published to remote recipients; these are the recipients on this instance.
    Sent {
        here: Vec<PeerId>,
    },
    NoPeer,
    UnknownPeer,
}

/// The Redis side of the hub. Held in an `Arc` by [`crate::hub::Hub`].
pub struct RedisPresence {
    /// This instance's id: names its liveness key and its channel.
    instance: String,
    settings: RedisSettings,
    client: redis::Client,
    /// Created on first use and then reused: the manager multiplexes every call over one
    /// connection and reconnects by itself. A std mutex, held only to clone the handle.
    connection: Mutex<Option<ConnectionManager>>,
    mailboxes: Mailboxes,
    /// Rooms with members on this instance: the heartbeat checks them for dead members.
    local: Mutex<HashMap<RoomName, Vec<PeerId>>>,
    /// Leaves that could not reach Redis; retried by the heartbeat until they do.
    pending_leaves: Mutex<Vec<(RoomName, PeerId)>>,
    /// The last Redis command succeeded.
    commands_up: AtomicBool,
    /// The subscriber is subscribed to this instance's channel.
    subscribed: AtomicBool,
    /// Cancelled at the end of shutdown (or to simulate a crash): stops the background tasks,
    /// which hold the last references to this.
    stopped: CancellationToken,
    join_script: Script,
    leave_script: Script,
    relay_script: Script,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence")
            .field("instance", &self.instance)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Starts the heartbeat and the subscriber; must be called inside a Tokio runtime. Does not
    /// wait for Redis: an instance whose Redis is down starts and reports it.
    pub fn start(settings: RedisSettings, mailboxes: Mailboxes) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|error| anyhow::anyhow!("invalid --redis-url: {error}"))?;
        let presence = Arc::new(Self {
            instance: format!("{:016x}", rand::random::<u64>()),
            settings,
            client,
            connection: Mutex::default(),
            mailboxes,
            local: Mutex::default(),
            pending_leaves: Mutex::default(),
            // Optimistic until the first call says otherwise; joins also need `subscribed`.
            commands_up: AtomicBool::new(true),
            subscribed: AtomicBool::new(false),
            stopped: CancellationToken::new(),
            join_script: Script::new(&format!("{PRUNE}{JOIN}")),
            leave_script: Script::new(&format!("{PRUNE}{LEAVE}")),
            relay_script: Script::new(RELAY),
        });
        tracing::info!(instance = %presence.instance, "presence and relay through Redis");
        tokio::spawn(Arc::clone(&presence).heartbeat());
        tokio::spawn(Arc::clone(&presence).subscriber());
        Ok(presence)
    }

    /// Redis answers and this instance's channel is subscribed.
    pub fn is_up(&self) -> bool {
        self.commands_up.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed)
    }

    /// Rooms with members on this instance.
    pub fn local_rooms(&self) -> usize {
        lock(&self.local).len()
    }

    /// Stops heart-beating and receiving without telling anybody, as a crash would. For
    /// tests of failure detection.
    pub fn stop(&self) {
        self.stopped.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.is_cancelled()
    }

    pub async fn join(
        &self,
        room: &RoomName,
        peer: &PeerId,
        capacity: usize,
    ) -> Result<JoinOutcome, Unavailable> {
        if !self.subscribed.load(Ordering::Relaxed) || self.is_stopped() {
            return Err(Unavailable);
        }
        let me = self.member(peer);
        let expiry_ms = u64::try_from(self.settings.expiry.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.join_script.key(room_key(room));
        invocation
            .arg(me.entry())
            .arg(capacity)
            .arg(&self.instance)
            .arg(expiry_ms);
        let (admitted, live, dead): (i64, Vec<String>, Vec<String>) = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let others = parse_members(&live);
        self.announce_dead(room, &parse_members(&dead), &others)
            .await;
        if admitted == 0 {
            return Ok(JoinOutcome::Full { capacity });
        }
        lock(&self.local)
            .entry(room.clone())
            .or_default()
            .push(peer.clone());
        for other in &others {
            self.send(other, ServerMessage::PeerJoined { peer: peer.clone() })
                .await;
            if others.len() == 1 {
                self.send(other, ServerMessage::Ready { room: room.clone() })
                    .await;
            }
        }
        Ok(JoinOutcome::Joined {
            others: others.into_iter().map(|member| member.peer).collect(),
        })
    }

    /// Takes `peer` out of `room` and announces it. When Redis cannot be reached the leave is
    /// kept and retried by the heartbeat, so the seat is freed once Redis is back.
    pub async fn leave(&self, room: &RoomName, peer: &PeerId) {
        forget_local(&mut lock(&self.local), room, peer);
        if self.is_stopped() {
            return;
        }
        if self.leave_now(room, Some(peer)).await.is_err() {
            lock(&self.pending_leaves).push((room.clone(), peer.clone()));
        }
    }

    /// Relays `message` from `from` within `room`; the caller delivers to `here`.
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: &ServerMessage,
    ) -> Result<RelayOutcome, Unavailable> {
        if self.is_stopped() {
            return Err(Unavailable);
        }
        let json = serde_json::to_string(message).expect("server messages always serialize");
        let mut invocation = self.relay_script.key(room_key(room));
        invocation
            .arg(from.as_str())
            .arg(to.map_or("", PeerId::as_str))
            .arg(&self.instance)
            .arg(json);
        let reply: Vec<String> = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let mut reply = reply.into_iter();
        Ok(match reply.next().as_deref() {
            Some("no_peer") => RelayOutcome::NoPeer,
            Some("unknown_peer") => RelayOutcome::UnknownPeer,
            _ => RelayOutcome::Sent {
                here: reply.map(PeerId::new).collect(),
            },
        })
    }

    fn member(&self, peer: &PeerId) -> Member {
        Member {
            peer: peer.clone(),
            instance: self.instance.clone(),
        }
    }

    /// Removes `peer` (or nobody: only the dead) and tells the remaining members.
    async fn leave_now(&self, room: &RoomName, peer: Option<&PeerId>) -> Result<(), Unavailable> {
        let entry = peer.map_or_else(String::new, |peer| self.member(peer).entry());
        let mut invocation = self.leave_script.key(room_key(room));
        invocation.arg(entry);
        let (live, dead): (Vec<String>, Vec<String>) = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let remaining = parse_members(&live);
        if let Some(peer) = peer {
            for other in &remaining {
                self.send(other, ServerMessage::PeerLeft { peer: peer.clone() })
                    .await;
            }
        }
        self.announce_dead(room, &parse_members(&dead), &remaining)
            .await;
        Ok(())
    }

    /// Tells `remaining` that the `dead` members (of crashed instances) left.
    async fn announce_dead(&self, room: &RoomName, dead: &[Member], remaining: &[Member]) {
        for gone in dead {
            tracing::info!(%room, peer = %gone.peer, instance = %gone.instance, "member of a dead instance removed");
            for other in remaining {
                self.send(
                    other,
                    ServerMessage::PeerLeft {
                        peer: gone.peer.clone(),
                    },
                )
                .await;
            }
        }
    }

    /// Delivers to a member here, or publishes to its instance's channel. At most once: a
    /// failed publish is logged and dropped (the sender's next relay reports Redis down).
    async fn send(&self, to: &Member, message: ServerMessage) {
        if to.instance == self.instance {
            self.mailboxes.deliver(&to.peer, message);
            return;
        }
        let json = serde_json::to_string(&message).expect("server messages always serialize");
        let channel = format!("signal:{}", to.instance);
        let payload = format!("{} {json}", to.peer);
        let published: Result<i64, Unavailable> = self
            .call(|mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async(&mut c)
                    .await
            })
            .await;
        if published.is_err() {
            tracing::debug!(peer = %to.peer, "message for another instance dropped: Redis down");
        }
    }

    /// Runs one Redis call with the timeout, and records whether Redis answered.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let result = tokio::time::timeout(self.settings.timeout, async {
            let connection = self.connection().await?;
            call(connection).await
        })
        .await;
        match result {
            Ok(Ok(value)) => {
                self.set_commands_up(true, None);
                Ok(value)
            }
            Ok(Err(error)) => {
                self.set_commands_up(false, Some(&error.to_string()));
                Err(Unavailable)
            }
            Err(_) => {
                self.set_commands_up(false, Some("timed out"));
                Err(Unavailable)
            }
        }
    }

    /// The shared connection, created on first use.
    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(connection) = lock(&self.connection).clone() {
            return Ok(connection);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.settings.timeout)
            .set_response_timeout(self.settings.timeout)
            .set_number_of_retries(1)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        // Two tasks may race to create it; the second simply replaces the first.
        *lock(&self.connection) = Some(connection.clone());
        Ok(connection)
    }

    fn set_commands_up(&self, up: bool, error: Option<&str>) {
        let was = self.commands_up.swap(up, Ordering::Relaxed);
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

    /// Every third of the expiry: proves this instance alive, retries failed leaves, and
    /// removes (and announces) dead members of the rooms this instance has members in.
    async fn heartbeat(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.settings.expiry / 3);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.stopped.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let key = format!("instance:{}", self.instance);
            let expiry = self.settings.expiry;
            let alive: Result<(), Unavailable> = self
                .call(|mut c| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(1)
                        .arg("PX")
                        .arg(u64::try_from(expiry.as_millis()).unwrap_or(u64::MAX))
                        .query_async(&mut c)
                        .await
                })
                .await;
            if alive.is_err() {
                continue;
            }
            let pending = std::mem::take(&mut *lock(&self.pending_leaves));
            for (room, peer) in pending {
                if self.leave_now(&room, Some(&peer)).await.is_err() {
                    lock(&self.pending_leaves).push((room, peer));
                }
            }
            let rooms: Vec<RoomName> = lock(&self.local).keys().cloned().collect();
            for room in rooms {
                if self.stopped.is_cancelled() || self.leave_now(&room, None).await.is_err() {
                    break;
                }
            }
        }
    }

    /// Receives the messages other instances publish for this instance's members; reconnects
    /// and resubscribes (with a growing pause) whenever the subscription is lost.
    async fn subscriber(self: Arc<Self>) {
        let channel = format!("signal:{}", self.instance);
        let mut pause = Duration::from_millis(100);
        loop {
            let subscription = tokio::time::timeout(self.settings.timeout, async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                redis::RedisResult::Ok(pubsub)
            })
            .await;
            match subscription {
                Ok(Ok(pubsub)) if self.commands_work().await => {
                    pause = Duration::from_millis(100);
                    self.set_subscribed(true);
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            () = self.stopped.cancelled() => return,
                            message = messages.next() => match message {
                                Some(message) => self.on_published(message.get_payload_bytes()),
                                None => break,
                            },
                        }
                    }
                    self.set_subscribed(false);
                }
                Ok(Ok(_)) => self.set_subscribed(false),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "cannot subscribe to Redis");
                    self.set_subscribed(false);
                }
                Err(_) => self.set_subscribed(false),
            }
            tokio::select! {
                () = self.stopped.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Whether the command connection answers, tried a few times: after Redis restarted, the
    /// first command on the old connection fails and makes the manager reconnect, and joins
    /// must not be accepted again before that has happened.
    async fn commands_work(&self) -> bool {
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

    fn set_subscribed(&self, up: bool) {
        let was = self.subscribed.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                tracing::info!(instance = %self.instance, "subscribed to Redis");
            } else {
                tracing::error!("Redis subscription lost: refusing joins until it is back");
            }
        }
    }

    fn on_published(&self, payload: &[u8]) {
        let parsed = std::str::from_utf8(payload)
            .ok()
            .and_then(|text| text.split_once(' '))
            .and_then(|(peer, json)| {
                let message = serde_json::from_str::<ServerMessage>(json).ok()?;
                Some((PeerId::new(peer), message))
            });
        match parsed {
            Some((peer, message)) => self.mailboxes.deliver(&peer, message),
            None => tracing::warn!("ignored a malformed message on this instance's channel"),
        }
    }
}

fn room_key(room: &RoomName) -> String {
    format!("room:{room}")
}

fn parse_members(entries: &[String]) -> Vec<Member> {
    entries
        .iter()
        .filter_map(|entry| Member::parse(entry))
        .collect()
}

fn forget_local(local: &mut HashMap<RoomName, Vec<PeerId>>, room: &RoomName, peer: &PeerId) {
    if let Some(members) = local.get_mut(room) {
        members.retain(|member| member != peer);
        if members.is_empty() {
            local.remove(room);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is one map or vector operation: nothing can be left
    // half-done by a panic, so a poisoned lock is safe to keep using.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries are `"{peer} {instance}"` and parse back to the member they were made from.
    #[test]
    fn entries_round_trip() {
        let member = Member {
            peer: PeerId::new("a1f0"),
            instance: "0badc0de".to_owned(),
        };
        assert_eq!(Member::parse(&member.entry()), Some(member));
        assert_eq!(Member::parse("no-instance"), None);
    }
}
