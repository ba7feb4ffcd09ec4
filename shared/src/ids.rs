//! Identifiers: room names chosen by people and peer ids chosen by the server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A room's name, as it appears in `/room/<name>` links.
///
/// Invariant: 1–64 characters, each an ASCII letter, digit, `-` or `_`. The limit keeps names
/// safe in URLs, log lines and Redis keys without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

/// The longest room name accepted, in characters.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// Why a string is not a [`RoomName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoomName {
    #[error("a room name cannot be empty")]
    Empty,
    #[error("a room name has at most {MAX_ROOM_NAME_LEN} characters")]
    TooLong,
    #[error("a room name may only hold letters, digits, '-' and '_'")]
    BadCharacter,
}

impl RoomName {
    /// Validates `name` as a room name.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidRoomName> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidRoomName::Empty);
        }
        if name.len() > MAX_ROOM_NAME_LEN {
            return Err(InvalidRoomName::TooLong);
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidRoomName::BadCharacter);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = InvalidRoomName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<RoomName> for String {
    fn from(value: RoomName) -> Self {
        value.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An opaque peer id, assigned by the server to each connection.
///
/// Clients only compare and echo it (the browser derives its "polite" role in perfect
/// negotiation by comparing its own id with the other's), so its format is not part of the
/// contract. Ids are only ever created by the server; a client may send one back in `to`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

impl PeerId {
    /// Wraps an id. Only the server mints new ids; clients get theirs in `joined`.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of letters, digits, '-' and '_' up to 64 characters are rooms.
    #[test]
    fn accepts_url_safe_names() {
        for name in ["a", "Room-1_x", &"z".repeat(64), "0123456789"] {
            assert_eq!(RoomName::new(name).map(String::from), Ok(name.to_owned()));
        }
    }

    /// Empty, overlong and non-URL-safe names are refused with the reason.
    #[test]
    fn refuses_everything_else() {
        assert_eq!(RoomName::new(""), Err(InvalidRoomName::Empty));
        assert_eq!(RoomName::new("a".repeat(65)), Err(InvalidRoomName::TooLong));
        for name in ["a b", "a/b", "é", "a.b", "a%20", "<script>"] {
            assert_eq!(
                RoomName::new(name),
                Err(InvalidRoomName::BadCharacter),
                "{name}"
            );
        }
    }

    /// Deserializing validates too, so a `RoomName` from JSON is always valid.
    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<RoomName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RoomName>("\"not ok\"").is_err());
    }
}
