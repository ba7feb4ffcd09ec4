//! How a [`PeerMessage`] is read: a hand-written `Deserialize` with the derive's wire format.
//!
//! Why not the derive: the same reason as `server_decode.rs`. serde's internally tagged enums
//! buffer the message into serde's private `Content` tree and run one visitor per variant over
//! it, which made this the second largest function of the browser's wasm (17.5 KB before
//! wasm-opt). Here every field of every variant is read in one pass into [`Fields`], then the
//! `type` picks the variant and its required fields. `tests/wire.rs` pins the JSON of every
//! variant both ways.
//!
//! One deliberate difference from the derive: a field that belongs to another variant is still
//! read, so it must have its own shape; such a message is ignored like any unreadable one.

use serde::{Deserialize, Deserializer};

use crate::server_decode::required;
use crate::{PeerId, PeerMessage, TransferSide};

/// The `type` of a peer message: the variants of [`PeerMessage`], as named on the wire.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "snake_case")]
enum Kind {
    State,
    Chat,
    Hello,
    FileOffer,
    FileDone,
    FileCancel,
}

/// Every field of every variant, each optional; the names and types are the variants' own.
#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "type")]
    kind: Kind,
    v: Option<u32>,
    muted: Option<bool>,
    camera_off: Option<bool>,
    text: Option<String>,
    peer: Option<PeerId>,
    id: Option<u32>,
    name: Option<String>,
    size: Option<u64>,
    sha256: Option<String>,
    by: Option<TransferSide>,
}

impl<'de> Deserialize<'de> for PeerMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = Fields::deserialize(deserializer)?;
        let v = required(f.v, "v")?;
        Ok(match f.kind {
            Kind::State => Self::State {
                v,
                muted: required(f.muted, "muted")?,
                camera_off: required(f.camera_off, "camera_off")?,
            },
            Kind::Chat => Self::Chat {
                v,
                text: required(f.text, "text")?,
            },
            Kind::Hello => Self::Hello {
                v,
                peer: required(f.peer, "peer")?,
            },
            Kind::FileOffer => Self::FileOffer {
                v,
                id: required(f.id, "id")?,
                name: required(f.name, "name")?,
                size: required(f.size, "size")?,
            },
            Kind::FileDone => Self::FileDone {
                v,
                id: required(f.id, "id")?,
                sha256: required(f.sha256, "sha256")?,
            },
            Kind::FileCancel => Self::FileCancel {
                v,
                id: required(f.id, "id")?,
                by: required(f.by, "by")?,
            },
        })
    }
}

/// The kind of `message`: an exhaustive match, so a variant added to [`PeerMessage`] does not
/// compile (in the tests, which CI builds) until this decoder reads it too.
#[cfg(test)]
fn kind_of(message: &PeerMessage) -> Kind {
    match message {
        PeerMessage::State { .. } => Kind::State,
        PeerMessage::Chat { .. } => Kind::Chat,
        PeerMessage::Hello { .. } => Kind::Hello,
        PeerMessage::FileOffer { .. } => Kind::FileOffer,
        PeerMessage::FileDone { .. } => Kind::FileDone,
        PeerMessage::FileCancel { .. } => Kind::FileCancel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant's `type` on the wire (the derived serializer's) is the one this decoder
    /// reads as that variant.
    #[test]
    fn every_variant_is_read_under_the_type_it_is_written_with() {
        let messages = [
            PeerMessage::State {
                v: 1,
                muted: false,
                camera_off: true,
            },
            PeerMessage::Chat {
                v: 1,
                text: "hi".into(),
            },
            PeerMessage::Hello {
                v: 1,
                peer: PeerId::new("a1f0"),
            },
            PeerMessage::FileOffer {
                v: 1,
                id: 7,
                name: "a.txt".into(),
                size: 3,
            },
            PeerMessage::FileDone {
                v: 1,
                id: 7,
                sha256: "0".repeat(64),
            },
            PeerMessage::FileCancel {
                v: 1,
                id: 7,
                by: TransferSide::Sender,
            },
        ];
        for message in messages {
            let json = serde_json::to_value(&message).expect("serializes");
            let kind: Kind = serde_json::from_value(json["type"].clone()).expect("a known type");
            assert_eq!(kind, kind_of(&message), "{json}");
            assert_eq!(
                serde_json::from_value::<PeerMessage>(json).expect("reads back"),
                message
            );
        }
    }
}
