//! One task per WebSocket connection: read, validate, rate-limit, dispatch, write.
//!
//! The upgrade handler only checks admission (Origin and host name, connections in all and per
//! client address, as [`crate::proxy::ClientAddr`] names it) and upgrades. The
//! connection task then selects over the socket, its bounded mailbox (what the hub queues for it:
//! relays, announcements), the heartbeat timer, the resume-token refresh, the overflow and
//! takeover switches and server shutdown. A refused message gets a protocol `error` and the
//! loop goes on; a dead connection ends the task, and the hub holds its seat for a resume
//! ([`crate::hub::Hub::disconnected`]), announcing its departure only when the grace is over.
//! A connection whose seat a newer one resumed closes with 4001 and leaves nothing behind.
//! Every write is bounded by `--write-timeout`, so a peer that stopped reading cannot hold its
//! task (and its seat) inside a write; at shutdown what is queued goes out before the close
//! frame.
//!
//! This module announces nothing itself: the replies to a `join` (`joined`, `ready`, `full`)
//! come from [`crate::hub::Hub::join`], and the task only writes them, before anything waiting
//! in its mailbox.

use std::{borrow::Cow, num::NonZeroU32, panic::AssertUnwindSafe, time::Duration};

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket, close_code},
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::{FutureExt, SinkExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter, clock::DefaultClock};
use shared::{ClientMessage, ErrorCode, ParseError, PeerId, ResumeToken, RoomName, ServerMessage};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    AppState,
    hub::Admission,
    limits::{ConnectionSlot, SlotRefusal},
    mailbox::{Frame, Mailbox, frame},
    metrics::{self, CloseReason, IceOutcome, JoinOutcome, RelayKind, UpgradeRefusal},
    presence::{RelayError, Unavailable},
    proxy::ClientAddr,
};

/// How far past the configured message limit the WebSocket layer itself accepts a frame before
/// closing the connection (1009). Between the two, the frame is read and refused with
/// `too_large` while the connection stays usable.
const HARD_FRAME_FACTOR: usize = 4;
/// Size of each connection's read buffer, which tungstenite allocates and fills at once and
/// keeps for the connection's life: it is most of what an idle connection costs. Tungstenite's
/// default (128 KiB) would cost ~140 KiB per idle connection; 8 KiB cost ~7 KiB more than
/// this, and 1 KiB about 0.5 KiB more than 512 B (7.9 against 8.4 KiB per joined idle
/// connection, `scripts/bench node`). Signalling messages are a few hundred bytes, and a larger
/// frame (an SDP) is read whole anyway: the buffer grows to its length once its header is read.
const READ_BUFFER_BYTES: usize = 512;
/// How many bytes of frames tungstenite gathers before writing them to the socket. Nothing is
/// allocated ahead for it: the buffer grows as frames are queued. Writes are flushed at the
/// end of each batch ([`WRITE_BATCH`]), so this only lets a batch go out in few system calls.
const WRITE_BUFFER_BYTES: usize = 8 * 1024;
/// At most this many queued messages are written before one flush: under a burst a
/// connection's mailbox holds several, and one system call for all of them instead of one
/// each is most of what a relay costs the server (the loopback `send` dominates its profile).
const WRITE_BATCH: usize = 32;
/// How long a close frame may take to go out before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// At most this many characters of the parser's complaint go back in a `bad_message`: serde
/// quotes the offending input (an unknown `type` of 50 KB is quoted whole), and a reply must
/// not echo kilobytes of the client's own message back at it.
const MAX_DETAIL_CHARS: usize = 100;
/// The close code of a connection whose seat a newer connection resumed (a private code, in
/// the 4000–4999 range applications may use): the page must not reconnect by itself.
pub const CLOSE_RESUMED: u16 = 4001;

/// `GET /ws`: admission checks (Origin and host name: 403; connections in all: 503; from this
/// client: 429), then the upgrade.
pub async fn upgrade(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(refusal) = state.origins.check(&headers, client.via_proxy()) {
        tracing::info!(%client, origin = ?headers.get("origin"), host = ?headers.get("host"), %refusal, "refused WebSocket");
        metrics::upgrade_refused(UpgradeRefusal::Origin);
        return (StatusCode::FORBIDDEN, format!("{refusal}\n")).into_response();
    }
    let slot = match state
        .connections
        .acquire(client.limit_key(state.limits.ipv6_prefix))
    {
        Ok(slot) => slot,
        Err(refusal) => {
            tracing::info!(%client, %refusal, "refused WebSocket");
            let (status, counted) = match refusal {
                SlotRefusal::ServerFull => {
                    (StatusCode::SERVICE_UNAVAILABLE, UpgradeRefusal::ServerFull)
                }
                SlotRefusal::TooManyFromAddress => (
                    StatusCode::TOO_MANY_REQUESTS,
                    UpgradeRefusal::TooManyFromAddress,
                ),
            };
            metrics::upgrade_refused(counted);
            return (status, format!("{refusal}\n")).into_response();
        }
    };
    let has_origin = headers.contains_key("origin");
    let hard_cap = state
        .limits
        .max_message_bytes
        .saturating_mul(HARD_FRAME_FACTOR);
    let tracker = state.tracker.clone();
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| {
            // Every event of the connection carries who it is: the client address at once, the
            // peer id once minted (and again if a resume gives an older one back).
            let span = tracing::info_span!("connection", %client, peer = tracing::field::Empty);
            tracker.track_future(run(socket, state, slot, client, has_origin).instrument(span))
        })
}

/// Why a connection ended, and so which close frame (if any) it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The browser closed or the socket failed: nothing more to say.
    Gone,
    /// The server is shutting down.
    Shutdown,
    /// Its mailbox overflowed: it reads too slowly.
    TooSlow,
    /// Nothing heard within the heartbeat timeout.
    Silent,
    /// One write did not finish within the write timeout: the peer stopped reading.
    Stalled,
    /// A newer connection resumed this one's seat.
    Resumed,
    /// A frame larger than the hard cap (`HARD_FRAME_FACTOR` × the message limit): too big
    /// to read into memory even to answer `too_large`.
    TooBig,
    /// A text frame that is not UTF-8: the protocol says close with 1007.
    NotUtf8,
    /// The task panicked (a bug): its room was left at once.
    Panicked,
}

impl End {
    /// The end a read error calls for: a frame too big or not UTF-8 is the client's fault and
    /// gets a close frame saying so (the socket can still be written); anything else means the
    /// socket is gone.
    fn unreadable(error: axum::Error) -> Self {
        match error
            .into_inner()
            .downcast::<tungstenite::Error>()
            .map(|error| *error)
        {
            Ok(tungstenite::Error::Capacity(_)) => Self::TooBig,
            Ok(tungstenite::Error::Utf8(_)) => Self::NotUtf8,
            _ => Self::Gone,
        }
    }

    /// How `/metrics` names this end.
    fn reason(self) -> CloseReason {
        match self {
            Self::Gone => CloseReason::Gone,
            Self::Shutdown => CloseReason::Shutdown,
            Self::TooSlow => CloseReason::TooSlow,
            Self::Silent => CloseReason::HeartbeatTimeout,
            Self::Stalled => CloseReason::WriteTimeout,
            Self::Resumed => CloseReason::Resumed,
            Self::TooBig => CloseReason::TooBig,
            Self::NotUtf8 => CloseReason::NotUtf8,
            Self::Panicked => CloseReason::Panicked,
        }
    }

    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            // A peer that stopped reading would find a close frame only behind everything it
            // did not read: drop the socket at once.
            Self::Gone | Self::Stalled => return None,
            Self::Shutdown => (close_code::AWAY, "server shutting down"),
            Self::TooSlow => (
                close_code::POLICY,
                "outgoing queue overflow: reading too slowly",
            ),
            Self::Silent => (close_code::AWAY, "heartbeat timeout"),
            Self::Resumed => (CLOSE_RESUMED, "resumed by a newer connection"),
            Self::TooBig => (close_code::SIZE, "frame too large"),
            Self::NotUtf8 => (close_code::INVALID, "text frame is not UTF-8"),
            Self::Panicked => (close_code::ERROR, "internal server error"),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// The state of one connection.
struct Connection {
    /// This connection's id: minted at connect, replaced by the old one when a `join` resumes
    /// a seat.
    peer: PeerId,
    state: AppState,
    /// The room this connection is in; `None` before `join` and after `leave`.
    room: Option<RoomName>,
    messages: DefaultDirectRateLimiter,
    ice_requests: DefaultDirectRateLimiter,
    /// Set once a `rate_limited` error was sent, cleared when a message passes again: one error
    /// per flood, so a flooding client does not get a second flood back.
    told_rate_limited: bool,
    overflowed: CancellationToken,
    /// Cancelled when a newer connection resumed this one's seat.
    taken_over: CancellationToken,
    /// The sending end of this connection's own mailbox: tells it apart from a newer
    /// connection that took its peer id over.
    own: mpsc::Sender<Frame>,
    /// Who is at the other end (behind trusted proxies: the client they named).
    client: ClientAddr,
    /// Whether the upgrade request had an (allowed) `Origin`: only then TURN entries.
    has_origin: bool,
}

async fn run(
    mut socket: WebSocket,
    state: AppState,
    _slot: ConnectionSlot,
    client: ClientAddr,
    has_origin: bool,
) {
    let peer = PeerId::new(format!("{:016x}", rand::random::<u64>()));
    tracing::Span::current().record("peer", tracing::field::display(&peer));
    metrics::connection_opened();
    let (sender, mut mailbox) = mpsc::channel(state.limits.outgoing_queue.max(1));
    let overflowed = CancellationToken::new();
    let taken_over = CancellationToken::new();
    state.hub.register(
        peer.clone(),
        Mailbox {
            messages: sender.clone(),
            overflowed: overflowed.clone(),
            taken_over: taken_over.clone(),
        },
    );
    let limits = &state.limits;
    let per_second = NonZeroU32::new(limits.messages_per_second.max(1)).expect("max(1) > 0");
    let burst = NonZeroU32::new(limits.message_burst.max(1)).expect("max(1) > 0");
    let ice_per_minute =
        NonZeroU32::new(limits.ice_requests_per_minute.max(1)).expect("max(1) > 0");
    let mut connection = Connection {
        peer: peer.clone(),
        room: None,
        messages: RateLimiter::direct_with_clock(
            Quota::per_second(per_second).allow_burst(burst),
            clock(),
        ),
        ice_requests: RateLimiter::direct_with_clock(Quota::per_minute(ice_per_minute), clock()),
        told_rate_limited: false,
        overflowed,
        taken_over,
        own: sender,
        client,
        has_origin,
        state: state.clone(),
    };
    tracing::debug!(%peer, "connected");

    // A panic in the connection's own code (a bug) must not leave its seat taken and its room
    // waiting for a `peer_left` that never comes: it is caught here, and the connection leaves
    // its room at once (no resume grace: a state that panicked is not one to resume).
    let end = match AssertUnwindSafe(connection.serve(&mut socket, &mut mailbox))
        .catch_unwind()
        .await
    {
        Ok(end) => end,
        Err(_) => {
            tracing::error!(peer = %connection.peer, "connection task panicked; leaving its room");
            if let Some(room) = connection.room.take() {
                Box::pin(state.hub.leave(&room, &connection.peer, &connection.own)).await;
            }
            End::Panicked
        }
    };

    let peer = connection.peer.clone();
    // A resumed seat, and the mailbox under this id, belong to the newer connection now.
    if end != End::Resumed {
        // Boxed, like every step that may wait for the store: see `pump`.
        Box::pin(
            state
                .hub
                .disconnected(connection.room.take(), &peer, &connection.own),
        )
        .await;
    }
    if let Some(frame) = end.close_frame() {
        // Best effort: a peer that stopped reading may never take the frame.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    }
    metrics::connection_closed(end.reason());
    tracing::debug!(%peer, ?end, "disconnected");
}

impl Connection {
    /// Runs until the connection ends, and says why.
    async fn serve(&mut self, socket: &mut WebSocket, mailbox: &mut mpsc::Receiver<Frame>) -> End {
        match self.pump(socket, mailbox).await {
            Err(end) => end,
        }
    }

    async fn pump(
        &mut self,
        socket: &mut WebSocket,
        mailbox: &mut mpsc::Receiver<Frame>,
    ) -> Result<std::convert::Infallible, End> {
        let shutdown = self.state.shutdown.clone();
        let mut heartbeat = tokio::time::interval(self.state.limits.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut refresh = tokio::time::interval(self.state.hub.refresh_interval());
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        refresh.tick().await;
        let mut last_heard = Instant::now();
        loop {
            // Biased, in this order: closing first; then messages already queued for this
            // connection before its next frame is read, so a reply never overtakes something
            // relayed earlier (tests rely on it: a `pong` proves nothing was waiting).
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Err(Box::pin(self.flush(socket, mailbox)).await),
                () = self.overflowed.cancelled() => return Err(End::TooSlow),
                () = self.taken_over.cancelled() => return Err(End::Resumed),
                Some(first) = mailbox.recv() => {
                    // What else is already waiting goes out with it, in one flush.
                    let queued = std::iter::from_fn(|| mailbox.try_recv().ok()).take(WRITE_BATCH - 1);
                    let frames = std::iter::once(first).chain(queued).map(Message::Text);
                    self.send_raw(socket, frames).await?;
                }
                frame = socket.recv() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(error)) => return Err(End::unreadable(error)),
                        None => return Err(End::Gone),
                    };
                    last_heard = Instant::now();
                    // Handling a frame may wait for the store or the ICE provider: its future
                    // is boxed, so that its size (kilobytes, with Redis and HTTP clients inside)
                    // is paid while a frame is handled, not by every idle connection's task.
                    let replies = match frame {
                        Message::Text(text) => Box::pin(self.on_frame(Some(text.as_str()), text.len())).await,
                        Message::Binary(bytes) => Box::pin(self.on_frame(None, bytes.len())).await,
                        // Pings are answered by the WebSocket layer; pongs only prove liveness.
                        Message::Ping(_) | Message::Pong(_) => Vec::new(),
                        Message::Close(_) => return Err(End::Gone),
                    };
                    for reply in &replies {
                        metrics::replied(reply);
                    }
                    self.send_raw(socket, replies.iter().map(text_frame)).await?;
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= self.state.limits.heartbeat_timeout {
                        return Err(End::Silent);
                    }
                    self.send_raw(socket, std::iter::once(Message::Ping(Default::default()))).await?;
                }
                _ = refresh.tick() => {
                    if let Some(room) = &self.room {
                        let fresh = self.state.hub.fresh_token(room, &self.peer);
                        self.send(socket, &fresh).await?;
                    }
                }
            }
        }
    }

    /// Writes one message, giving up when the mailbox overflows meanwhile.
    async fn send(&self, socket: &mut WebSocket, message: &ServerMessage) -> Result<(), End> {
        self.send_raw(socket, std::iter::once(text_frame(message)))
            .await
    }

    /// Writes `messages`, then flushes once, giving up when the mailbox overflows meanwhile.
    /// Not cut short by shutdown: a write already started finishes (within the write timeout),
    /// so the messages are not lost, and shutdown then flushes the rest of the mailbox.
    async fn send_raw(
        &self,
        socket: &mut WebSocket,
        messages: impl Iterator<Item = Message> + Send,
    ) -> Result<(), End> {
        tokio::select! {
            result = self.write(socket, messages) => result,
            () = self.overflowed.cancelled() => Err(End::TooSlow),
            () = self.taken_over.cancelled() => Err(End::Resumed),
        }
    }

    /// One write of a batch of messages and its flush, bounded by the write timeout: a peer
    /// that stopped reading makes the kernel's buffers fill and the write wait for ever, and
    /// while it waits nothing else of this connection runs (not even the heartbeat check), so
    /// it is dropped instead.
    async fn write(
        &self,
        socket: &mut WebSocket,
        messages: impl Iterator<Item = Message> + Send,
    ) -> Result<(), End> {
        let written = async {
            for message in messages {
                socket.feed(message).await?;
            }
            SinkExt::flush(socket).await
        };
        match tokio::time::timeout(self.state.limits.write_timeout, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::info!(peer = %self.peer, "write timed out: dropping a connection that stopped reading");
                Err(End::Stalled)
            }
        }
    }

    /// At shutdown: writes what is already queued for this connection before its close frame,
    /// each write bounded by the write timeout (and the whole by the server's grace period,
    /// after which the process stops waiting).
    async fn flush(&self, socket: &mut WebSocket, mailbox: &mut mpsc::Receiver<Frame>) -> End {
        let queued = std::iter::from_fn(|| mailbox.try_recv().ok()).map(Message::Text);
        match self.write(socket, queued).await {
            Ok(()) => End::Shutdown,
            Err(end) => end,
        }
    }

    /// One frame from the browser (`text` is `None` for a binary frame): the replies to send.
    async fn on_frame(&mut self, text: Option<&str>, len: usize) -> Vec<ServerMessage> {
        if self.messages.check().is_err() {
            if std::mem::replace(&mut self.told_rate_limited, true) {
                return Vec::new();
            }
            return vec![ServerMessage::error(
                ErrorCode::RateLimited,
                "You are sending messages too fast; some were dropped. Slow down.",
            )];
        }
        self.told_rate_limited = false;
        let Some(text) = text else {
            return vec![ServerMessage::error(
                ErrorCode::BadMessage,
                "Binary frames are not supported: send JSON text.",
            )];
        };
        if len > self.state.limits.max_message_bytes {
            return vec![ServerMessage::error(
                ErrorCode::TooLarge,
                format!(
                    "That message is {len} bytes; the limit is {} bytes.",
                    self.state.limits.max_message_bytes
                ),
            )];
        }
        match ClientMessage::parse(text) {
            Ok(message) => self.on_message(message).await,
            Err(ParseError::InvalidRoom(reason)) => {
                metrics::joined(JoinOutcome::Invalid);
                vec![ServerMessage::error(
                    ErrorCode::InvalidRoom,
                    format!("That room name cannot be used: {reason}."),
                )]
            }
            Err(ParseError::Malformed(detail)) => vec![ServerMessage::error(
                ErrorCode::BadMessage,
                format!(
                    "That message could not be understood ({}).",
                    bounded(&detail)
                ),
            )],
        }
    }

    async fn on_message(&mut self, message: ClientMessage) -> Vec<ServerMessage> {
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::on_message(&message);
        let peer = self.peer.clone();
        match message {
            ClientMessage::Ping => vec![ServerMessage::Pong],
            ClientMessage::Join { room, resume } => self.join(room, resume).await,
            ClientMessage::Leave => match self.room.take() {
                Some(room) => {
                    self.state.hub.leave(&room, &peer, &self.own).await;
                    Vec::new()
                }
                None => vec![not_in_room()],
            },
            ClientMessage::IceServers => self.ice_servers().await,
            ClientMessage::Offer { sdp, to } => {
                let relayed = ServerMessage::Offer {
                    sdp,
                    from: peer,
                    to: to.clone(),
                };
                self.relay(to, relayed).await
            }
            ClientMessage::Answer { sdp, to } => {
                let relayed = ServerMessage::Answer {
                    sdp,
                    from: peer,
                    to: to.clone(),
                };
                self.relay(to, relayed).await
            }
            ClientMessage::Candidate { candidate, to } => {
                let relayed = ServerMessage::Candidate {
                    candidate,
                    from: peer,
                    to: to.clone(),
                };
                self.relay(to, relayed).await
            }
            ClientMessage::HangUp { to } => {
                let relayed = ServerMessage::HangUp {
                    from: peer,
                    to: to.clone(),
                };
                self.relay(to, relayed).await
            }
        }
    }

    async fn join(&mut self, room: RoomName, resume: Option<ResumeToken>) -> Vec<ServerMessage> {
        if self.room.is_some() {
            metrics::joined(JoinOutcome::AlreadyInRoom);
            return vec![ServerMessage::error(
                ErrorCode::AlreadyInRoom,
                "You are already in a room; leave it before joining another.",
            )];
        }
        match self
            .state
            .hub
            .join(&room, &self.peer, resume.as_ref())
            .await
        {
            Err(Unavailable) => {
                metrics::joined(JoinOutcome::Unavailable);
                vec![unavailable()]
            }
            Ok(Admission::Joined { you, replies }) => {
                metrics::joined(JoinOutcome::Joined);
                if you != self.peer {
                    tracing::Span::current().record("peer", tracing::field::display(&you));
                }
                self.peer = you;
                self.room = Some(room);
                replies
            }
            Ok(Admission::Refused(reply)) => {
                metrics::joined(JoinOutcome::Full);
                vec![reply]
            }
        }
    }

    async fn ice_servers(&mut self) -> Vec<ServerMessage> {
        if self.room.is_none() {
            return vec![ServerMessage::error(
                ErrorCode::NotInRoom,
                "Join a room before asking for ICE servers.",
            )];
        }
        let key = self.client.limit_key(self.state.limits.ipv6_prefix);
        if self.ice_requests.check().is_err() || !self.state.ice_quota.check(key) {
            tracing::info!(peer = %self.peer, client = %self.client, "ICE request refused: rate limited");
            metrics::ice_grant(self.state.ice.provider_name(), IceOutcome::RateLimited);
            return vec![ServerMessage::error(
                ErrorCode::RateLimited,
                "ICE servers were requested too often; reuse the ones you have.",
            )];
        }
        match self.state.ice.grant(&self.peer, self.has_origin).await {
            Ok(grant) => vec![ServerMessage::IceServers {
                ice_servers: grant.servers,
                ttl: grant.ttl,
                ice_transport_policy: self.state.ice.policy,
            }],
            Err(_) => vec![ServerMessage::error(
                ErrorCode::IceUnavailable,
                "No STUN/TURN servers are available right now; a direct connection may still work.",
            )],
        }
    }

    async fn relay(&self, to: Option<PeerId>, message: ServerMessage) -> Vec<ServerMessage> {
        let Some(room) = &self.room else {
            return vec![not_in_room()];
        };
        tracing::trace!(peer = %self.peer, ?to, ?message, "relay");
        let kind = RelayKind::of(&message);
        match self
            .state
            .hub
            .relay(room, &self.peer, to.as_ref(), message)
            .await
        {
            Ok(()) => {
                if let Some(kind) = kind {
                    metrics::relayed(kind);
                }
                Vec::new()
            }
            Err(RelayError::NotInRoom) => vec![not_in_room()],
            Err(RelayError::NoPeer) => vec![ServerMessage::error(
                ErrorCode::NoPeer,
                "Nobody else is in the room yet.",
            )],
            Err(RelayError::UnknownPeer) => vec![ServerMessage::error(
                ErrorCode::UnknownPeer,
                "That person is not in this room.",
            )],
            Err(RelayError::RecipientRequired) => vec![ServerMessage::error(
                ErrorCode::RecipientRequired,
                "In a room of more than two people, say whom this is for: add \"to\" with their peer id.",
            )],
            Err(RelayError::Unavailable(Unavailable)) => vec![unavailable()],
        }
    }
}

fn unavailable() -> ServerMessage {
    ServerMessage::error(
        ErrorCode::Unavailable,
        "The server cannot reach its room directory right now; try again shortly.",
    )
}

fn not_in_room() -> ServerMessage {
    ServerMessage::error(ErrorCode::NotInRoom, "Join a room first.")
}

fn text_frame(message: &ServerMessage) -> Message {
    Message::Text(frame(message))
}

/// The clock of every connection's rate limiters, made once: making one reads the CPU's
/// features and calibrates (a few percent of the server's time when thousands connect at
/// once, in a profile), and a clone is a copy.
fn clock() -> DefaultClock {
    static CLOCK: std::sync::LazyLock<DefaultClock> =
        std::sync::LazyLock::new(DefaultClock::default);
    CLOCK.clone()
}

/// `detail` cut to [`MAX_DETAIL_CHARS`] characters, with an ellipsis when something was cut.
fn bounded(detail: &str) -> Cow<'_, str> {
    match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        None => Cow::Borrowed(detail),
        Some((end, _)) => Cow::Owned(format!("{}…", &detail[..end])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short complaint is kept whole; a long one is cut at a character boundary (never
    /// inside a multi-byte character) and marked with an ellipsis.
    #[test]
    fn details_are_bounded() {
        assert_eq!(bounded("expected value"), "expected value");
        let exact = "x".repeat(MAX_DETAIL_CHARS);
        assert_eq!(bounded(&exact), exact);
        let long = "é".repeat(5 * MAX_DETAIL_CHARS);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(cut.ends_with("é…"), "{cut}");
    }
}
