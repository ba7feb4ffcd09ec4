//! The Lua scripts that make every membership change atomic across instances, and their typed
//! calls.
//!
//! `room:{name}` is a Redis list of `"{peer} {instance}"` entries ([`Entry`]) in join order.
//! Every change goes through a script, so a check and its change are one atomic step for all
//! instances: capacity can never be exceeded, whatever the number of instances. The join and
//! leave scripts also remove the entries of dead instances and return them, so that whoever
//! removed one reports it (once). Joins are idempotent per entry (a retried join never adds a
//! peer twice), and a resume moves a seat to the instance the page reconnected to in place.
//! The relay script publishes to recipients on other instances itself, whatever the number of
//! recipients, and returns the room it read (for the membership cache, which spares most
//! relays this round trip); it refuses a sender that is not in the room, and a relay without
//! `to` in a room of more than two. The re-register script puts back the entries of this
//! instance's members after Redis lost its data.
//!
//! This module decides nothing about announcements: it returns what Redis decided.

use redis::Script;
use shared::{PeerId, RoomName};

use super::connection::Connection;
use crate::presence::{Home, InstanceId, Member, RelayError, Unavailable};

/// Removes the entries of instances whose liveness key expired; shared by join and leave.
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

/// `KEYS[1]` room; `ARGV`: entry, capacity, own instance id, expiry in ms.
/// Returns {admitted (0/1), others (live, in join order), dead}.
///
/// Idempotent per entry: when the entry is already there (an earlier join whose reply timed
/// out did complete), the joiner is admitted again without a second entry.
const JOIN: &str = r"
redis.call('SET', 'instance:' .. ARGV[3], '1', 'PX', ARGV[4])
local live, dead = prune(KEYS[1])
local others, present = {}, false
for _, entry in ipairs(live) do
  if entry == ARGV[1] then present = true else table.insert(others, entry) end
end
if present then
  return {1, others, dead}
end
if #live >= tonumber(ARGV[2]) then
  return {0, live, dead}
end
redis.call('RPUSH', KEYS[1], ARGV[1])
return {1, live, dead}
";

/// `KEYS[1]` room; `ARGV[1]` entry to remove (`''` to only prune).
/// Returns {removed (0/1), remaining, dead}: nothing was removed when the seat had moved to
/// another instance by a resume (or was already gone), and then nobody is told.
const LEAVE: &str = r"
local removed = 0
if ARGV[1] ~= '' then
  removed = redis.call('LREM', KEYS[1], 0, ARGV[1])
end
local live, dead = prune(KEYS[1])
return {removed, live, dead}
";

/// `KEYS[1]` room; `ARGV`: peer, own instance id, expiry in ms, room name.
/// Moves `peer`'s live entry, wherever its connection was, to this instance, in place (its
/// join order kept), and tells every other instance with members in the room that its
/// membership changed (`"- !changed {room}"`: nobody announces a resume, and their cached
/// copies would still send that member's messages to its old instance).
/// Returns {previous instance (`''`: no such seat), others, dead}.
const TAKE: &str = r"
redis.call('SET', 'instance:' .. ARGV[2], '1', 'PX', ARGV[3])
local live, dead = prune(KEYS[1])
local previous, others = '', {}
for index, entry in ipairs(live) do
  local peer, instance = string.match(entry, '^(%S+) (%S+)$')
  if peer == ARGV[1] then
    previous = instance
    redis.call('LSET', KEYS[1], index - 1, ARGV[1] .. ' ' .. ARGV[2])
  else
    table.insert(others, entry)
  end
end
if previous ~= '' then
  local told = {[ARGV[2]] = true}
  for _, entry in ipairs(live) do
    local instance = string.match(entry, ' (%S+)$')
    if instance and not told[instance] then
      told[instance] = true
      redis.call('PUBLISH', 'signal:' .. instance, '- !changed ' .. ARGV[4])
    end
  end
end
return {previous, others, dead}
";

/// `KEYS[1]` room; `ARGV`: from, to (`''` for everybody), own instance id, channel payload
/// suffix (`"@{room} {json}"`). Publishes `"{peer} @{room} {json}"` to the recipients on other
/// instances and returns {'ok', {local recipients...}, entries}, or {'not_member' /
/// 'no_peer' / 'unknown_peer' / 'recipient_required', {}, entries} (no `to` in a room of more
/// than two: it names nobody). `entries` is the whole room list as read, for this instance's
/// membership cache.
/// A sender that is not (or no longer) in the room is refused: another instance that took this
/// one for dead has removed it and told the others it left, and they must not hear from it.
const RELAY: &str = r"
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local recipients, member = {}, false
for _, entry in ipairs(entries) do
  local peer, instance = string.match(entry, '^(%S+) (%S+)$')
  if peer == ARGV[1] and instance == ARGV[3] then
    member = true
  elseif peer and peer ~= ARGV[1] then
    table.insert(recipients, {peer, instance})
  end
end
if not member then
  return {'not_member', {}, entries}
end
if #recipients == 0 then
  return {'no_peer', {}, entries}
end
if ARGV[2] ~= '' then
  local found = nil
  for _, recipient in ipairs(recipients) do
    if recipient[1] == ARGV[2] then found = recipient end
  end
  if not found then return {'unknown_peer', {}, entries} end
  recipients = {found}
elseif #recipients > 1 then
  return {'recipient_required', {}, entries}
end
local here = {}
for _, recipient in ipairs(recipients) do
  if recipient[2] == ARGV[3] then
    table.insert(here, recipient[1])
  else
    redis.call('PUBLISH', 'signal:' .. recipient[2], recipient[1] .. ' ' .. ARGV[4])
  end
end
return {'ok', here, entries}
";

/// `KEYS[1]` room; `ARGV`: entry, capacity, own instance id, expiry in ms. Puts back the entry
/// of a member this instance holds after Redis lost it (or finds it still there), unless the
/// room has meanwhile filled up. Refreshes the instance key first, as a join does, so that this
/// instance's own entries never look dead to the prune.
/// Returns {kept (0/1), others (live, in join order), dead}.
const REREGISTER: &str = r"
redis.call('SET', 'instance:' .. ARGV[3], '1', 'PX', ARGV[4])
local live, dead = prune(KEYS[1])
local others = {}
for _, entry in ipairs(live) do
  if entry ~= ARGV[1] then table.insert(others, entry) end
end
if #others == #live then
  if #live >= tonumber(ARGV[2]) then
    return {0, others, dead}
  end
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
return {1, others, dead}
";

/// A room member as Redis records it: who, and which instance holds its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) peer: PeerId,
    pub(super) instance: InstanceId,
}

impl Entry {
    fn parse(entry: &str) -> Option<Self> {
        let (peer, instance) = entry.split_once(' ')?;
        Some(Self {
            peer: PeerId::new(peer),
            instance: InstanceId::new(instance),
        })
    }

    fn to_redis(&self) -> String {
        format!("{} {}", self.peer, self.instance)
    }

    /// The member this entry records, seen from instance `here`.
    pub(super) fn member(self, here: &InstanceId) -> Member {
        let home = if &self.instance == here {
            Home::Here
        } else {
            Home::Elsewhere(self.instance)
        };
        Member {
            peer: self.peer,
            home,
        }
    }
}

/// What the join script decided.
pub(super) struct Admission {
    pub(super) admitted: bool,
    /// Live members found in the room (without the joiner), in join order.
    pub(super) others: Vec<Entry>,
    /// Entries of dead instances it removed.
    pub(super) dead: Vec<Entry>,
}

/// What the take script found.
pub(super) struct Taken {
    /// The instance that held the seat, `None` when the seat is gone.
    pub(super) previous: Option<InstanceId>,
    /// The other live members, in join order.
    pub(super) others: Vec<Entry>,
    /// Entries of dead instances it removed.
    pub(super) dead: Vec<Entry>,
}

/// What the relay script decided, and the room it read.
pub(super) struct Relayed {
    /// The recipients held by this instance (those elsewhere were published to), or why the
    /// relay went nowhere.
    pub(super) outcome: Result<Vec<PeerId>, RelayError>,
    /// Every entry of the room, as read in the same step.
    pub(super) entries: Vec<Entry>,
}

/// What the leave script left behind.
pub(super) struct Remains {
    /// The entry was there and is removed: its departure is to be announced.
    pub(super) removed: bool,
    pub(super) live: Vec<Entry>,
    /// Entries of dead instances it removed.
    pub(super) dead: Vec<Entry>,
}

/// The loaded scripts (`EVALSHA`, loaded again by the client after a Redis restart).
pub(super) struct Scripts {
    join: Script,
    leave: Script,
    take: Script,
    relay: Script,
    reregister: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            join: Script::new(&format!("{PRUNE}{JOIN}")),
            leave: Script::new(&format!("{PRUNE}{LEAVE}")),
            take: Script::new(&format!("{PRUNE}{TAKE}")),
            relay: Script::new(RELAY),
            reregister: Script::new(&format!("{PRUNE}{REREGISTER}")),
        }
    }

    /// Adds `entry` to `room` unless `capacity` live members are there; also refreshes the
    /// joiner's instance key, so a join right after a Redis restart never looks dead.
    pub(super) async fn join(
        &self,
        connection: &Connection,
        room: &RoomName,
        entry: &Entry,
        capacity: usize,
        expiry_ms: u64,
    ) -> Result<Admission, Unavailable> {
        seat(&self.join, connection, room, entry, capacity, expiry_ms).await
    }

    /// Removes `entry` (or nobody, to only prune the dead) from `room`.
    pub(super) async fn leave(
        &self,
        connection: &Connection,
        room: &RoomName,
        entry: Option<&Entry>,
    ) -> Result<Remains, Unavailable> {
        let mut invocation = self.leave.key(room_key(room));
        invocation.arg(entry.map_or_else(String::new, Entry::to_redis));
        let (removed, live, dead): (i64, Vec<String>, Vec<String>) = connection
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(Remains {
            removed: removed > 0,
            live: parse(&live),
            dead: parse(&dead),
        })
    }

    /// Moves `entry.peer`'s seat in `room` to `entry.instance` if the seat is still there.
    pub(super) async fn take(
        &self,
        connection: &Connection,
        room: &RoomName,
        entry: &Entry,
        expiry_ms: u64,
    ) -> Result<Taken, Unavailable> {
        let mut invocation = self.take.key(room_key(room));
        invocation
            .arg(entry.peer.as_str())
            .arg(entry.instance.as_str())
            .arg(expiry_ms)
            .arg(room.as_str());
        let (previous, others, dead): (String, Vec<String>, Vec<String>) = connection
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(Taken {
            previous: (!previous.is_empty()).then(|| InstanceId::new(previous)),
            others: parse(&others),
            dead: parse(&dead),
        })
    }

    /// Publishes `json` from `from` to `to` (or, in a room of two, the other member) on other
    /// instances; answers the recipients held by `here` (or why there are none) and the whole
    /// room as it was read.
    pub(super) async fn relay(
        &self,
        connection: &Connection,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        here: &InstanceId,
        payload_suffix: String,
    ) -> Result<Relayed, Unavailable> {
        let mut invocation = self.relay.key(room_key(room));
        invocation
            .arg(from.as_str())
            .arg(to.map_or("", PeerId::as_str))
            .arg(here.as_str())
            .arg(payload_suffix);
        let (status, here, entries): (String, Vec<String>, Vec<String>) = connection
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let outcome = match status.as_str() {
            "not_member" => Err(RelayError::NotInRoom),
            "no_peer" => Err(RelayError::NoPeer),
            "unknown_peer" => Err(RelayError::UnknownPeer),
            "recipient_required" => Err(RelayError::RecipientRequired),
            _ => Ok(here.into_iter().map(PeerId::new).collect()),
        };
        Ok(Relayed {
            outcome,
            entries: parse(&entries),
        })
    }

    /// Puts `entry` back in `room` (see [`REREGISTER`]); nothing changes when it is there.
    pub(super) async fn reregister(
        &self,
        connection: &Connection,
        room: &RoomName,
        entry: &Entry,
        capacity: usize,
        expiry_ms: u64,
    ) -> Result<Admission, Unavailable> {
        seat(
            &self.reregister,
            connection,
            room,
            entry,
            capacity,
            expiry_ms,
        )
        .await
    }
}

/// The entries of `room`, read without changing anything (dead ones included).
pub(super) async fn entries(
    connection: &Connection,
    room: &RoomName,
) -> Result<Vec<Entry>, Unavailable> {
    let key = room_key(room);
    let entries: Vec<String> = connection
        .call(|mut c| async move {
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(parse(&entries))
}

fn room_key(room: &RoomName) -> String {
    format!("room:{room}")
}

fn parse(entries: &[String]) -> Vec<Entry> {
    entries
        .iter()
        .filter_map(|entry| Entry::parse(entry))
        .collect()
}

/// Runs a script that seats `entry` in `room` within `capacity` (the join and re-register
/// scripts take the same arguments and answer `[seated, live others, dead entries]`).
async fn seat(
    script: &Script,
    connection: &Connection,
    room: &RoomName,
    entry: &Entry,
    capacity: usize,
    expiry_ms: u64,
) -> Result<Admission, Unavailable> {
    let mut invocation = script.key(room_key(room));
    invocation
        .arg(entry.to_redis())
        .arg(capacity)
        .arg(entry.instance.as_str())
        .arg(expiry_ms);
    let (seated, others, dead): (i64, Vec<String>, Vec<String>) = connection
        .call(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(Admission {
        admitted: seated != 0,
        others: parse(&others),
        dead: parse(&dead),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries are `"{peer} {instance}"` and parse back to the member they were made from.
    #[test]
    fn entries_round_trip() {
        let entry = Entry {
            peer: PeerId::new("a1f0"),
            instance: InstanceId::new("0badc0de"),
        };
        assert_eq!(Entry::parse(&entry.to_redis()), Some(entry));
        assert_eq!(Entry::parse("no-instance"), None);
    }

    /// An entry of this instance is a member here; one of another instance is reached there.
    #[test]
    fn entries_know_where_their_member_is() {
        let here = InstanceId::new("aaaa");
        let entry = |instance: &str| Entry {
            peer: PeerId::new("p"),
            instance: InstanceId::new(instance),
        };
        assert_eq!(entry("aaaa").member(&here).home, Home::Here);
        assert_eq!(
            entry("bbbb").member(&here).home,
            Home::Elsewhere(InstanceId::new("bbbb"))
        );
    }
}
