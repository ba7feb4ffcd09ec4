//! What the server counts, for Prometheus: one named function per event, so the rest of the
//! code says `metrics::joined(JoinOutcome::Full)` and never spells a metric name.
//!
//! Every name starts with `videochat_`. Every label value comes from a closed set written here
//! (an enum's `as_str`, a protocol error code, a provider's fixed name): never a room name, a
//! peer id or anything a client sent, so a hostile client cannot grow the number of series.
//!
//! The functions record through the `metrics` crate's global recorder; until
//! [`exporter::install`] has run (no `--metrics`, no `--metrics-listen`, or in unit tests)
//! they cost next to nothing and go nowhere. Gauges that describe the current state (open
//! connections, rooms, members, Redis health, memory) are not kept up to date here: they are
//! read from the state at each scrape ([`exporter::sample`]), so they can never drift.
//!
//! This module does not serve HTTP and does not decide anything; [`exporter`] renders.

pub mod exporter;

use std::time::Duration;

use shared::{ErrorCode, ServerMessage};

/// Gauge: WebSocket connections open on this instance.
pub const CONNECTIONS_OPEN: &str = "videochat_connections_open";
/// Counter: WebSocket connections accepted (upgraded) since start.
pub const CONNECTIONS_OPENED: &str = "videochat_connections_opened_total";
/// Counter: WebSocket connections ended, by `reason` ([`CloseReason`]).
pub const CONNECTIONS_CLOSED: &str = "videochat_connections_closed_total";
/// Counter: upgrade requests refused before the upgrade, by `reason` ([`UpgradeRefusal`]).
pub const UPGRADES_REFUSED: &str = "videochat_upgrades_refused_total";
/// Gauge: rooms with at least one member held by this instance.
pub const ROOMS_OPEN: &str = "videochat_rooms_open";
/// Gauge: seats held by this instance (members of its rooms, seats held for a resume
/// included).
pub const ROOM_MEMBERS: &str = "videochat_room_members";
/// Counter: `join` messages, by `outcome` ([`JoinOutcome`]).
pub const JOINS: &str = "videochat_joins_total";
/// Counter: seats given back to a reconnecting page by its resume token.
pub const RESUMES: &str = "videochat_resumes_total";
/// Counter: messages relayed to other members, by `type` (`offer`, `answer`, `candidate`,
/// `hang_up`).
pub const RELAYED: &str = "videochat_relayed_messages_total";
/// Counter: protocol `error` replies sent, by `code` (the protocol's error codes).
pub const ERRORS: &str = "videochat_errors_total";
/// Counter: outgoing queues that overflowed (each closes its connection with 1008).
pub const QUEUE_OVERFLOWS: &str = "videochat_outgoing_queue_overflows_total";
/// Counter: `ice_servers` requests, by `provider` and `outcome` ([`IceOutcome`]).
pub const ICE_GRANTS: &str = "videochat_ice_grants_total";
/// Histogram: seconds one request for a Twilio token took (successful or not).
pub const TWILIO_FETCH_SECONDS: &str = "videochat_twilio_fetch_seconds";
/// Counter: Twilio token requests that failed, by `reason` ([`TwilioFailure`]).
pub const TWILIO_FAILURES: &str = "videochat_twilio_fetch_failures_total";
/// Histogram: seconds one Redis command took, answered or not (timeouts count at the timeout).
pub const REDIS_CALL_SECONDS: &str = "videochat_redis_call_seconds";
/// Gauge: 1 while Redis answers and this instance is subscribed, else 0 (only with Redis).
pub const REDIS_UP: &str = "videochat_redis_up";
/// Gauge: always 1, labelled with the configured ICE `provider` (`twilio`, `turn-rest`,
/// `static`).
pub const ICE_PROVIDER: &str = "videochat_ice_provider_info";
/// Gauge: resident memory of the process, in bytes (Linux only).
pub const RESIDENT_MEMORY: &str = "videochat_process_resident_memory_bytes";

/// What became of a `join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// In the room (a resumed seat included).
    Joined,
    /// The room was full.
    Full,
    /// The room name broke the naming rule.
    Invalid,
    /// The presence store (Redis) could not be reached.
    Unavailable,
    /// The connection was already in a room.
    AlreadyInRoom,
}

impl JoinOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Full => "full",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::AlreadyInRoom => "already_in_room",
        }
    }
}

/// Why a WebSocket connection ended (the close code it got is in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The browser closed, or the socket failed (no close frame from the server).
    Gone,
    /// Server shutdown (1001).
    Shutdown,
    /// Its outgoing queue overflowed (1008).
    TooSlow,
    /// Nothing heard within the heartbeat timeout (1001).
    HeartbeatTimeout,
    /// One write did not finish within the write timeout (dropped, no close frame).
    WriteTimeout,
    /// A newer connection resumed its seat (4001).
    Resumed,
    /// A frame over the hard cap (1009).
    TooBig,
    /// A text frame that is not UTF-8 (1007).
    NotUtf8,
    /// The connection's task panicked, a bug (1011).
    Panicked,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Shutdown => "shutdown",
            Self::TooSlow => "too_slow",
            Self::HeartbeatTimeout => "heartbeat_timeout",
            Self::WriteTimeout => "write_timeout",
            Self::Resumed => "resumed",
            Self::TooBig => "too_big",
            Self::NotUtf8 => "not_utf8",
            Self::Panicked => "panicked",
        }
    }
}

/// Why an upgrade request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeRefusal {
    /// `Origin` or host name not allowed (403).
    Origin,
    /// The server holds `--max-connections` already (503).
    ServerFull,
    /// The client address holds `--max-connections-per-ip` already (429).
    TooManyFromAddress,
}

impl UpgradeRefusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::ServerFull => "server_full",
            Self::TooManyFromAddress => "too_many_from_address",
        }
    }
}

/// What an `ice_servers` request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceOutcome {
    /// The provider's servers, TURN included.
    Granted,
    /// STUN entries only: the connection had no `Origin`.
    StunOnly,
    /// Refused: too many requests from this connection or client address.
    RateLimited,
    /// Nothing to hand out (`ice_unavailable`).
    Unavailable,
}

impl IceOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::StunOnly => "stun_only",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Why a Twilio token request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwilioFailure {
    /// The request could not be made or the answer not read.
    Transport,
    /// No answer within `--twilio-timeout`.
    Timeout,
    /// Twilio answered with an error status.
    Refused,
    /// Twilio's answer could not be understood.
    Malformed,
}

impl TwilioFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Timeout => "timeout",
            Self::Refused => "refused",
            Self::Malformed => "malformed",
        }
    }
}

/// A WebSocket connection was accepted.
pub fn connection_opened() {
    ::metrics::counter!(CONNECTIONS_OPENED).increment(1);
}

/// A WebSocket connection ended.
pub fn connection_closed(reason: CloseReason) {
    ::metrics::counter!(CONNECTIONS_CLOSED, "reason" => reason.as_str()).increment(1);
}

/// An upgrade request was refused.
pub fn upgrade_refused(reason: UpgradeRefusal) {
    ::metrics::counter!(UPGRADES_REFUSED, "reason" => reason.as_str()).increment(1);
}

/// A `join` was answered.
pub fn joined(outcome: JoinOutcome) {
    ::metrics::counter!(JOINS, "outcome" => outcome.as_str()).increment(1);
}

/// A seat was given back by its resume token.
pub fn resumed() {
    ::metrics::counter!(RESUMES).increment(1);
}

/// The kind of a relayed message, taken before the message moves into the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayKind(&'static str);

impl RelayKind {
    /// `None` for anything that is not a relayed message.
    pub fn of(message: &ServerMessage) -> Option<Self> {
        let kind = match message {
            ServerMessage::Offer { .. } => "offer",
            ServerMessage::Answer { .. } => "answer",
            ServerMessage::Candidate { .. } => "candidate",
            ServerMessage::HangUp { .. } => "hang_up",
            _ => return None,
        };
        Some(Self(kind))
    }
}

/// A message of `kind` was relayed.
pub fn relayed(kind: RelayKind) {
    ::metrics::counter!(RELAYED, "type" => kind.0).increment(1);
}

/// `message` is about to be sent: counted when it is a protocol `error`.
pub fn replied(message: &ServerMessage) {
    if let ServerMessage::Error { code, .. } = message {
        error_sent(*code);
    }
}

/// A protocol `error` with `code` was sent.
pub fn error_sent(code: ErrorCode) {
    ::metrics::counter!(ERRORS, "code" => code.as_str()).increment(1);
}

/// A connection's outgoing queue overflowed.
pub fn queue_overflowed() {
    ::metrics::counter!(QUEUE_OVERFLOWS).increment(1);
}

/// An `ice_servers` request to `provider` (its fixed one-word name) had `outcome`.
pub fn ice_grant(provider: &'static str, outcome: IceOutcome) {
    ::metrics::counter!(ICE_GRANTS, "provider" => provider, "outcome" => outcome.as_str())
        .increment(1);
}

/// One Twilio token request took `elapsed`.
pub fn twilio_fetched(elapsed: Duration) {
    ::metrics::histogram!(TWILIO_FETCH_SECONDS).record(elapsed.as_secs_f64());
}

/// One Twilio token request failed.
pub fn twilio_failed(reason: TwilioFailure) {
    ::metrics::counter!(TWILIO_FAILURES, "reason" => reason.as_str()).increment(1);
}

/// One Redis command took `elapsed`.
pub fn redis_call(elapsed: Duration) {
    ::metrics::histogram!(REDIS_CALL_SECONDS).record(elapsed.as_secs_f64());
}
