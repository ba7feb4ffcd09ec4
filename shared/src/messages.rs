//! The messages themselves, one enum per direction.

use serde::{Deserialize, Serialize};

use crate::{
    IceCandidate, IceServer, IceTransportPolicy, InvalidRoomName, PeerId, ResumeToken, RoomName,
};

/// The upload budget a page uses when the server does not give one: 2.5 Mbit/s in all.
pub const DEFAULT_UPLOAD_KBPS: u32 = 2_500;

/// Browser → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Sent once the page knows its room (and again after every reconnect). Answered by
    /// `joined` (and `ready` for everyone when the room fills up) or by `full`. `resume` is the
    /// latest token the page received for this room (`joined` or `resume`): when it is valid
    /// and its seat still held, the page gets its old peer id back and nobody else hears of
    /// it; any other token makes a normal join.
    Join {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
    },
    /// Asks for ICE servers; only answered once the connection has joined a room, because relay
    /// credentials cost money. Answered by `ice_servers`.
    IceServers,
    /// An SDP offer, relayed unchanged to `to` only. `to` may be left out in a room of two
    /// (the other member gets it); in a larger room a relay without it is refused with
    /// `recipient_required`. The same holds for `answer`, `candidate` and `hang_up`.
    Offer {
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// An SDP answer, relayed like an offer.
    Answer {
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A trickled ICE candidate, relayed like an offer. `null` means gathering is complete.
    Candidate {
        candidate: Option<IceCandidate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// Ends the call with the other member (or with `to` only) without leaving the room:
    /// relayed like an offer, so the other side can show "They hung up." rather than
    /// "The other person left." Both stay in the room and either may call again.
    HangUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// Leaves the room; the connection stays open and may join again.
    Leave,
    /// Application-level keep-alive, answered by `pong`.
    Ping,
}

/// Why a text frame is not a [`ClientMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A well-formed `join` whose room name is not valid.
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoomName),
    /// Not JSON, not an object, an unknown `type` or a field of the wrong shape.
    #[error("{0}")]
    Malformed(String),
}

impl ClientMessage {
    /// Parses one text frame, telling a bad room name apart from a malformed message so the
    /// server can answer `invalid_room` rather than `bad_message`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        /// A `join` whose room is any string: parsed only when the typed parse failed.
        #[derive(Deserialize)]
        #[serde(tag = "type", rename = "join")]
        struct LooseJoin {
            room: String,
        }
        serde_json::from_str(text).map_err(|error| {
            match serde_json::from_str::<LooseJoin>(text) {
                Ok(join) => match RoomName::new(join.room) {
                    Err(invalid) => ParseError::InvalidRoom(invalid),
                    // Unreachable in practice: a valid name would have parsed the first time.
                    Ok(_) => ParseError::Malformed(error.to_string()),
                },
                Err(_) => ParseError::Malformed(error.to_string()),
            }
        })
    }
}

/// Server → browser. Read by the hand-written `Deserialize` of `server_decode.rs` (the same
/// wire format as the derive, with less code in the browser's wasm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// To the joiner: you are in, this is your id, these people were already here.
    ///
    /// `resume` is the token to send in the next `join` to take this seat back after the
    /// connection drops (valid for the server's grace period).
    Joined {
        room: RoomName,
        you: PeerId,
        peers: Vec<PeerId>,
        resume: ResumeToken,
        /// The most the page should send in all, in kbit/s, shared among its peer connections
        /// (the operator's `--upload-budget`); absent from older servers: the page then uses
        /// [`DEFAULT_UPLOAD_KBPS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upload_kbps: Option<u32>,
    },
    /// To every member, when the room reaches two members: a call can start.
    Ready { room: RoomName },
    /// To a refused joiner: the room already holds `capacity` people.
    Full { room: RoomName, capacity: usize },
    /// To the members already there, when someone joins.
    PeerJoined { peer: PeerId },
    /// To the remaining members, when someone leaves, closes, errors out or stops answering.
    PeerLeft { peer: PeerId },
    /// The answer to `ice_servers`: pass `ice_servers` (and `ice_transport_policy`, when
    /// present) to `RTCPeerConnection`; ask again before `ttl` seconds have passed.
    IceServers {
        ice_servers: Vec<IceServer>,
        ttl: u64,
        /// Sent only when the operator restricts the browser to TURN relays.
        #[serde(default, skip_serializing_if = "IceTransportPolicy::is_all")]
        ice_transport_policy: IceTransportPolicy,
    },
    /// A relayed offer, as sent, with the sender's id.
    Offer {
        sdp: String,
        from: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A relayed answer, as sent, with the sender's id.
    Answer {
        sdp: String,
        from: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A relayed candidate (`null`: the sender finished gathering), with the sender's id.
    Candidate {
        candidate: Option<IceCandidate>,
        from: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A relayed `hang_up`, with the sender's id: the sender ended the call but is still in
    /// the room.
    HangUp {
        from: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// The answer to `ping`.
    Pong,
    /// To a member, every half grace period: a fresh token for the same seat, so the token the
    /// page holds stays valid for the grace period after its connection last worked. The page
    /// keeps the latest one it received.
    Resume { resume: ResumeToken },
    /// A refused message: the connection stays usable unless the server also closes it.
    Error { code: ErrorCode, message: String },
}

impl ServerMessage {
    /// An `error` with its code and a sentence for a person.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }
}

/// Why the server refused a message. Stable: clients match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, an unknown `type`, a field of the wrong shape, or a binary frame.
    BadMessage,
    /// The frame is larger than the server's limit.
    TooLarge,
    /// The room name breaks the naming rule.
    InvalidRoom,
    /// The message needs a room and the connection has not joined one.
    NotInRoom,
    /// `join` while already in a room (send `leave` first).
    AlreadyInRoom,
    /// A relay while nobody else is in the room.
    NoPeer,
    /// A relay whose `to` names nobody in the room.
    UnknownPeer,
    /// A relay without `to` in a room of more than two people: it must say whom it is for.
    RecipientRequired,
    /// Too many messages (or ICE requests) too fast; the message was dropped.
    RateLimited,
    /// No ICE servers can be handed out right now.
    IceUnavailable,
    /// The presence store cannot be reached; try again shortly.
    Unavailable,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::BadMessage => "bad_message",
            Self::TooLarge => "too_large",
            Self::InvalidRoom => "invalid_room",
            Self::NotInRoom => "not_in_room",
            Self::AlreadyInRoom => "already_in_room",
            Self::NoPeer => "no_peer",
            Self::UnknownPeer => "unknown_peer",
            Self::RecipientRequired => "recipient_required",
            Self::RateLimited => "rate_limited",
            Self::IceUnavailable => "ice_unavailable",
            Self::Unavailable => "unavailable",
        }
    }
}
