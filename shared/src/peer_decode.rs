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

use crate::{PeerId, PeerMessage, TransferSide};

/// The `type` of a peer message: the variants of [`PeerMessage`], as named on the wire.
#[derive(Deserialize)]
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

/// A required field of the chosen variant, or serde's `missing field` error.
fn required<T, E: serde::de::Error>(field: Option<T>, name: &'static str) -> Result<T, E> {
    field.ok_or_else(|| E::missing_field(name))
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
