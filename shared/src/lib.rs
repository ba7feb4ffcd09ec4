//! The wire protocol between the browser app and the signalling server.
//!
//! One WebSocket per browser at `GET /ws`; every text frame holds one JSON object tagged by
//! `"type"` in snake_case. Messages are split by direction, as the two sides never send each
//! other's messages:
//!
//! - [`ClientMessage`]: browser → server;
//! - [`ServerMessage`]: server → browser;
//! - [`PeerMessage`]: browser ↔ browser, over the call's data channel (not through the server).
//!
//! Unknown fields are ignored (so an older server accepts a newer client's extras); an unknown
//! `type` fails to parse and the server answers with an [`ErrorCode::BadMessage`] error.
//!
//! This crate holds types only: no I/O, no tokio, no web-sys, so both the server and the wasm
//! app depend on it. `PROTOCOL.md` at the top of the repository walks through a whole call.

mod ice;
mod ids;
mod messages;
mod peer;
mod peer_decode;
mod resume;
mod server_decode;

pub use ice::{IceCandidate, IceServer, IceTransportPolicy};
pub use ids::{InvalidRoomName, PeerId, RoomName};
pub use messages::{ClientMessage, DEFAULT_UPLOAD_KBPS, ErrorCode, ParseError, ServerMessage};
pub use peer::{
    CHUNK_HEADER_BYTES, DATA_CHANNEL_ID, DATA_CHANNEL_LABEL, FILES_CHANNEL_ID, FILES_CHANNEL_LABEL,
    MAX_CHUNK_BYTES, MAX_CHUNK_PAYLOAD, MAX_HELLO_PEER_LEN, PEER_PROTOCOL_VERSION, PeerMessage,
    TransferSide,
};
pub use resume::ResumeToken;
