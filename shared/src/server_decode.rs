//! How a [`ServerMessage`] is read: a hand-written `Deserialize` with the derive's wire format.
//!
//! Why not the derive: serde's internally tagged enums (`#[serde(tag = "type")]`) buffer the
//! whole message into serde's private `Content` tree and then run one struct visitor per
//! variant over that tree; in the browser's wasm that one function was the largest of the app
//! (35.6 KB before wasm-opt). Here every field any variant has is read in one pass into
//! [`Fields`] (a plain struct, no buffering), then the `type` picks the variant and its
//! required fields. `tests/wire.rs` pins the JSON of every variant both ways.
//!
//! One deliberate difference from the derive: a field that belongs to another variant is still
//! read, so it must have its own shape (`{"type":"pong","room":"Not A Room"}` is refused). The
//! server never sends such a message.

use serde::{Deserialize, Deserializer};

use crate::{
    ErrorCode, IceCandidate, IceServer, IceTransportPolicy, PeerId, ResumeToken, RoomName,
    ServerMessage,
};

/// The `type` of a server message: the variants of [`ServerMessage`], as named on the wire.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "snake_case")]
enum Kind {
    Joined,
    Ready,
    Full,
    PeerJoined,
    PeerLeft,
    IceServers,
    Offer,
    Answer,
    Candidate,
    HangUp,
    Pong,
    Resume,
    Error,
}

/// Every field of every variant, each optional; the names and types are the variants' own.
#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "type")]
    kind: Kind,
    room: Option<RoomName>,
    you: Option<PeerId>,
    peers: Option<Vec<PeerId>>,
    resume: Option<ResumeToken>,
    upload_kbps: Option<u32>,
    capacity: Option<usize>,
    peer: Option<PeerId>,
    ice_servers: Option<Vec<IceServer>>,
    ttl: Option<u64>,
    ice_transport_policy: Option<IceTransportPolicy>,
    sdp: Option<String>,
    from: Option<PeerId>,
    to: Option<PeerId>,
    candidate: Option<IceCandidate>,
    code: Option<ErrorCode>,
    message: Option<String>,
}

/// A required field of the chosen variant, or serde's `missing field` error (also used by
/// `peer_decode.rs`).
pub(crate) fn required<T, E: serde::de::Error>(
    field: Option<T>,
    name: &'static str,
) -> Result<T, E> {
    field.ok_or_else(|| E::missing_field(name))
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = Fields::deserialize(deserializer)?;
        Ok(match f.kind {
            Kind::Joined => Self::Joined {
                room: required(f.room, "room")?,
                you: required(f.you, "you")?,
                peers: required(f.peers, "peers")?,
                resume: required(f.resume, "resume")?,
                upload_kbps: f.upload_kbps,
            },
            Kind::Ready => Self::Ready {
                room: required(f.room, "room")?,
            },
            Kind::Full => Self::Full {
                room: required(f.room, "room")?,
                capacity: required(f.capacity, "capacity")?,
            },
            Kind::PeerJoined => Self::PeerJoined {
                peer: required(f.peer, "peer")?,
            },
            Kind::PeerLeft => Self::PeerLeft {
                peer: required(f.peer, "peer")?,
            },
            Kind::IceServers => Self::IceServers {
                ice_servers: required(f.ice_servers, "ice_servers")?,
                ttl: required(f.ttl, "ttl")?,
                ice_transport_policy: f.ice_transport_policy.unwrap_or_default(),
            },
            Kind::Offer => Self::Offer {
                sdp: required(f.sdp, "sdp")?,
                from: required(f.from, "from")?,
                to: f.to,
            },
            Kind::Answer => Self::Answer {
                sdp: required(f.sdp, "sdp")?,
                from: required(f.from, "from")?,
                to: f.to,
            },
            Kind::Candidate => Self::Candidate {
                candidate: f.candidate,
                from: required(f.from, "from")?,
                to: f.to,
            },
            Kind::HangUp => Self::HangUp {
                from: required(f.from, "from")?,
                to: f.to,
            },
            Kind::Pong => Self::Pong,
            Kind::Resume => Self::Resume {
                resume: required(f.resume, "resume")?,
            },
            Kind::Error => Self::Error {
                code: required(f.code, "code")?,
                message: required(f.message, "message")?,
            },
        })
    }
}

/// The kind of `message`: an exhaustive match, so a variant added to [`ServerMessage`] does not
/// compile (in the tests, which CI builds) until this decoder reads it too.
#[cfg(test)]
fn kind_of(message: &ServerMessage) -> Kind {
    match message {
        ServerMessage::Joined { .. } => Kind::Joined,
        ServerMessage::Ready { .. } => Kind::Ready,
        ServerMessage::Full { .. } => Kind::Full,
        ServerMessage::PeerJoined { .. } => Kind::PeerJoined,
        ServerMessage::PeerLeft { .. } => Kind::PeerLeft,
        ServerMessage::IceServers { .. } => Kind::IceServers,
        ServerMessage::Offer { .. } => Kind::Offer,
        ServerMessage::Answer { .. } => Kind::Answer,
        ServerMessage::Candidate { .. } => Kind::Candidate,
        ServerMessage::HangUp { .. } => Kind::HangUp,
        ServerMessage::Pong => Kind::Pong,
        ServerMessage::Resume { .. } => Kind::Resume,
        ServerMessage::Error { .. } => Kind::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant's `type` on the wire (the derived serializer's) is the one this decoder
    /// reads as that variant.
    #[test]
    fn every_variant_is_read_under_the_type_it_is_written_with() {
        let peer = PeerId::new("a1f0");
        let room = RoomName::new("blue-fox").expect("valid");
        let messages = [
            ServerMessage::Joined {
                room: room.clone(),
                you: peer.clone(),
                peers: vec![],
                resume: ResumeToken::new("t".into()),
                upload_kbps: None,
            },
            ServerMessage::Ready { room: room.clone() },
            ServerMessage::Full { room, capacity: 2 },
            ServerMessage::PeerJoined { peer: peer.clone() },
            ServerMessage::PeerLeft { peer: peer.clone() },
            ServerMessage::IceServers {
                ice_servers: vec![],
                ttl: 1,
                ice_transport_policy: IceTransportPolicy::default(),
            },
            ServerMessage::Offer {
                sdp: "v=0".into(),
                from: peer.clone(),
                to: None,
            },
            ServerMessage::Answer {
                sdp: "v=0".into(),
                from: peer.clone(),
                to: None,
            },
            ServerMessage::Candidate {
                candidate: None,
                from: peer.clone(),
                to: None,
            },
            ServerMessage::HangUp {
                from: peer,
                to: None,
            },
            ServerMessage::Pong,
            ServerMessage::Resume {
                resume: ResumeToken::new("t".into()),
            },
            ServerMessage::Error {
                code: ErrorCode::BadMessage,
                message: "m".into(),
            },
        ];
        for message in messages {
            let json = serde_json::to_value(&message).expect("serializes");
            let kind: Kind = serde_json::from_value(json["type"].clone()).expect("a known type");
            assert_eq!(kind, kind_of(&message), "{json}");
            assert_eq!(
                serde_json::from_value::<ServerMessage>(json).expect("reads back"),
                message
            );
        }
    }
}
