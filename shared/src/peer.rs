//! What two browsers tell each other directly, over their call's data channel (never through
//! the server).
//!
//! One negotiated `RTCDataChannel` per call (`negotiated: true`, `id: 0`, label `"app"`,
//! ordered), created by both sides with the peer connection, so it needs no signalling of its
//! own. Each text message is one JSON object tagged by `"type"` in snake_case; every message
//! carries the protocol version `"v":1`, so a later, incompatible version is recognised and
//! ignored instead of misread. Both directions use the same [`PeerMessage`].
//!
//! Files go on a second negotiated channel ([`FILES_CHANNEL_LABEL`], id [`FILES_CHANNEL_ID`]):
//! its text messages are the `file_*` variants and its binary messages are chunks (a 4-byte
//! big-endian transfer id, then at most [`MAX_CHUNK_PAYLOAD`] bytes), so a file's offer, its
//! chunks and its end arrive in order, and chat on `"app"` never waits behind a file.
//! Everything here comes from the other browser, which is not trusted: the receiving side
//! validates every field (lengths, sizes, counts) before acting on it.

use serde::{Deserialize, Serialize};

use crate::PeerId;

/// The version of the data-channel protocol this build speaks.
pub const PEER_PROTOCOL_VERSION: u32 = 1;

/// The data channel's label.
pub const DATA_CHANNEL_LABEL: &str = "app";

/// The data channel's negotiated id (the same on both sides).
pub const DATA_CHANNEL_ID: u16 = 0;

/// The longest peer id a `hello` may carry (the server's ids are 16 characters).
pub const MAX_HELLO_PEER_LEN: usize = 64;

/// The files channel's label.
pub const FILES_CHANNEL_LABEL: &str = "files";

/// The files channel's negotiated id (the same on both sides).
pub const FILES_CHANNEL_ID: u16 = 1;

/// The largest binary message on the files channel: 16 KiB, the size every browser sends
/// and receives without splitting.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024;

/// The bytes of a chunk's header: the transfer id, big-endian `u32`.
pub const CHUNK_HEADER_BYTES: usize = 4;

/// The most file bytes one chunk carries.
pub const MAX_CHUNK_PAYLOAD: usize = MAX_CHUNK_BYTES - CHUNK_HEADER_BYTES;

/// Who sent a `file_cancel`, in the transfer it cancels: transfer ids are chosen by the file's
/// sender, so the same id may name a file going each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferSide {
    /// The one sending the file.
    Sender,
    /// The one receiving it.
    Receiver,
}

/// One message on the data channel, either way. Read by the hand-written `Deserialize` of
/// `peer_decode.rs` (the same wire format as the derive, with less code in the browser's wasm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// The sender's controls: sent when the channel opens and on every change.
    State {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// The sender's microphone is off.
        muted: bool,
        /// The sender's camera is off.
        camera_off: bool,
    },
    /// A chat message, on `"app"`. The receiver refuses text longer than its limit.
    Chat {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// What the person typed, shown as text (never as HTML).
        text: String,
    },
    /// On `"app"`: the sender rejoined the room under a new peer id (the server restarted and
    /// could not give its old seat back), sent on every live call right after its `joined`.
    /// The receiver addresses the call's relays (`to`) to this id from now on; the call itself
    /// goes on, not renegotiated. The id comes from the other browser: the receiver ignores one
    /// that is empty or longer than [`MAX_HELLO_PEER_LEN`].
    Hello {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// The sender's new peer id, as the server gave it in `joined`.
        peer: PeerId,
    },
    /// A file is coming, on `"files"`, before its first chunk.
    FileOffer {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// Chosen by the sender, unique among its transfers of this call; chunks carry it.
        id: u32,
        /// The file's name (no path).
        name: String,
        /// The file's size in bytes: exactly this many arrive in chunks.
        size: u64,
    },
    /// Every chunk of a file was sent, on `"files"` after its last chunk.
    FileDone {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// The transfer.
        id: u32,
        /// SHA-256 of the whole file, 64 lowercase hex digits: the receiver offers the file
        /// only if what arrived has the same.
        sha256: String,
    },
    /// A transfer is cancelled (by either side), on `"files"`; the other side stops too.
    FileCancel {
        /// The protocol version ([`PEER_PROTOCOL_VERSION`]).
        v: u32,
        /// The transfer, in the sender's numbering.
        id: u32,
        /// The role of whoever cancels it, which tells whose numbering `id` is in.
        by: TransferSide,
    },
}

impl PeerMessage {
    /// The state message of this version.
    pub fn state(muted: bool, camera_off: bool) -> Self {
        Self::State {
            v: PEER_PROTOCOL_VERSION,
            muted,
            camera_off,
        }
    }

    /// A chat message of this version.
    pub fn chat(text: impl Into<String>) -> Self {
        Self::Chat {
            v: PEER_PROTOCOL_VERSION,
            text: text.into(),
        }
    }

    /// A hello of this version: "I am `peer` now".
    pub fn hello(peer: PeerId) -> Self {
        Self::Hello {
            v: PEER_PROTOCOL_VERSION,
            peer,
        }
    }

    /// A file offer of this version.
    pub fn file_offer(id: u32, name: impl Into<String>, size: u64) -> Self {
        Self::FileOffer {
            v: PEER_PROTOCOL_VERSION,
            id,
            name: name.into(),
            size,
        }
    }

    /// A file's end of this version.
    pub fn file_done(id: u32, sha256: impl Into<String>) -> Self {
        Self::FileDone {
            v: PEER_PROTOCOL_VERSION,
            id,
            sha256: sha256.into(),
        }
    }

    /// A cancel of this version.
    pub fn file_cancel(id: u32, by: TransferSide) -> Self {
        Self::FileCancel {
            v: PEER_PROTOCOL_VERSION,
            id,
            by,
        }
    }

    /// The message's version.
    pub fn version(&self) -> u32 {
        match self {
            Self::State { v, .. }
            | Self::Chat { v, .. }
            | Self::Hello { v, .. }
            | Self::FileOffer { v, .. }
            | Self::FileDone { v, .. }
            | Self::FileCancel { v, .. } => *v,
        }
    }

    /// Parses one data-channel message; `None` for invalid JSON, an unknown `type` or another
    /// version (the other side may be newer; nothing it sends is understood then).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text)
            .ok()
            .filter(|message| message.version() == PEER_PROTOCOL_VERSION)
    }

    /// The JSON text to send.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a peer message always serializes")
    }
}
