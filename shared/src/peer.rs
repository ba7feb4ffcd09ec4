//! What two browsers tell each other directly, over their call's data channel (never through
//! the server).
//!
//! One negotiated `RTCDataChannel` per call (`negotiated: true`, `id: 0`, label `"app"`,
//! ordered), created by both sides with the peer connection, so it needs no signalling of its
//! own. Each text message is one JSON object tagged by `"type"` in snake_case; every message
//! carries the protocol version `"v":1`, so a later, incompatible version is recognised and
//! ignored instead of misread. Both directions use the same [`PeerMessage`]. Chat and files
//! will be further variants.

use serde::{Deserialize, Serialize};

/// The version of the data-channel protocol this build speaks.
pub const PEER_PROTOCOL_VERSION: u32 = 1;

/// The data channel's label.
pub const DATA_CHANNEL_LABEL: &str = "app";

/// The data channel's negotiated id (the same on both sides).
pub const DATA_CHANNEL_ID: u16 = 0;

/// One message on the data channel, either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The message's version.
    pub fn version(&self) -> u32 {
        match self {
            Self::State { v, .. } => *v,
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
