//! ICE types: the servers a browser may use and the candidates the peers trade.

use serde::{Deserialize, Serialize};

/// One entry of `RTCConfiguration.iceServers`, ready to hand to `RTCPeerConnection` as it is.
///
/// `urls` is always an array here, even where a provider (Twilio) answers a single string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl IceServer {
    /// A server without credentials (STUN, usually).
    pub fn open(urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            username: None,
            credential: None,
        }
    }
}

/// `RTCConfiguration.iceTransportPolicy`: which candidates the browser may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Direct, reflexive and relayed candidates (the browser's default).
    #[default]
    All,
    /// Relayed (TURN) candidates only: hides the people's addresses from each other.
    Relay,
}

impl IceTransportPolicy {
    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }

    /// The value `RTCConfiguration.iceTransportPolicy` takes.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Relay => "relay",
        }
    }
}

/// An ICE candidate, mirroring the browser's `RTCIceCandidateInit`: every field optional, names
/// in the browser's camelCase so the object passes to `addIceCandidate` untouched.
///
/// A candidate whose `candidate` is the empty string is the browser's end-of-candidates marker
/// for one generation; the whole end of gathering travels as `"candidate": null` in
/// [`crate::ClientMessage::Candidate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}
