//! Resume tokens: issued for a seat, checked when a page comes back with one.
//!
//! A token is base64url (no padding) of
//! `version (1 byte) | expiry (ms since the Unix epoch, u64 big-endian) | nonce (16 random
//! bytes) | room length (1 byte) | room | peer id | HMAC-SHA256 of everything before it (32
//! bytes)`. The nonce makes every token unguessable even to someone who knows the room, the
//! peer id and the time; the tag makes it unforgeable without the key. The tag is checked in
//! constant time, before anything in the token is believed.
//!
//! Tokens are credentials: nothing here logs one, and [`ResumeKey`]'s `Debug` hides the key.

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::{PeerId, ResumeToken, RoomName};

type HmacSha256 = Hmac<Sha256>;

/// The layout version; a token of another version is refused as malformed.
const VERSION: u8 = 1;
const NONCE_BYTES: usize = 16;
const TAG_BYTES: usize = 32;
/// Version, expiry, nonce and the room's length byte.
const HEADER_BYTES: usize = 1 + 8 + NONCE_BYTES + 1;
/// Longer tokens are refused before decoding: the room is at most 64 bytes and peer ids are
/// short, so a genuine token is about 120 characters.
const MAX_TOKEN_CHARS: usize = 512;
/// The shortest key accepted: HMAC-SHA256 gains nothing from more than 32 bytes, and a
/// shorter key could be guessed.
pub const MIN_KEY_BYTES: usize = 32;

/// The key tokens are signed with. `Debug` shows `ResumeKey(***)`.
#[derive(Clone)]
pub struct ResumeKey(Vec<u8>);

/// A `--resume-key` shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the resume key must be at least {MIN_KEY_BYTES} bytes long (it is {0})")]
pub struct KeyTooShort(pub usize);

impl ResumeKey {
    /// A configured key: any string of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(key: &str) -> Result<Self, KeyTooShort> {
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyTooShort(key.len()));
        }
        Ok(Self(key.as_bytes().to_vec()))
    }

    /// A fresh random key, for an instance started without one: its tokens are good only
    /// until it restarts.
    pub fn random() -> Self {
        Self(rand::random::<[u8; MIN_KEY_BYTES]>().to_vec())
    }
}

impl fmt::Debug for ResumeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeKey(***)")
    }
}

/// Why a token does not give a seat back. Each means the same to the joiner (a normal join);
/// the reasons are kept apart for tests and for a debug line that never shows the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not base64url, too short or too long, or of another layout version.
    #[error("not a resume token")]
    Malformed,
    /// Signed with another key (a restart without `--resume-key`, another deployment) or
    /// altered.
    #[error("bad signature")]
    BadSignature,
    /// Past its expiry.
    #[error("expired")]
    Expired,
    /// Issued for another room.
    #[error("issued for another room")]
    OtherRoom,
}

/// Issues and checks tokens under one key. Cheap to share (`Arc`): the keyed HMAC state is
/// prepared once and cloned per token.
#[derive(Clone)]
pub struct Tokens {
    mac: HmacSha256,
    /// How long a token stays good after it is issued.
    lifetime: Duration,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens signed with `key`, each good for `lifetime` after it is issued.
    pub fn new(key: &ResumeKey, lifetime: Duration) -> Self {
        Self {
            mac: HmacSha256::new_from_slice(&key.0).expect("HMAC takes a key of any length"),
            lifetime,
        }
    }

    /// A fresh token for `peer`'s seat in `room`.
    pub fn issue(&self, room: &RoomName, peer: &PeerId) -> ResumeToken {
        self.issue_at(room, peer, SystemTime::now())
    }

    /// The peer id whose seat in `room` the token names, when the token is genuine, unexpired
    /// and for `room`.
    pub fn verify(&self, token: &ResumeToken, room: &RoomName) -> Result<PeerId, Rejected> {
        self.verify_at(token, room, SystemTime::now())
    }

    fn issue_at(&self, room: &RoomName, peer: &PeerId, now: SystemTime) -> ResumeToken {
        let expiry = millis_since_epoch(now).saturating_add(millis(self.lifetime));
        let room = room.as_str().as_bytes();
        let mut bytes = Vec::with_capacity(HEADER_BYTES + room.len() + peer.as_str().len() + 32);
        bytes.push(VERSION);
        bytes.extend_from_slice(&expiry.to_be_bytes());
        bytes.extend_from_slice(&rand::random::<[u8; NONCE_BYTES]>());
        bytes.push(u8::try_from(room.len()).expect("room names are at most 64 bytes"));
        bytes.extend_from_slice(room);
        bytes.extend_from_slice(peer.as_str().as_bytes());
        let mut mac = self.mac.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        ResumeToken::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn verify_at(
        &self,
        token: &ResumeToken,
        room: &RoomName,
        now: SystemTime,
    ) -> Result<PeerId, Rejected> {
        let text = token.as_str();
        if text.len() > MAX_TOKEN_CHARS {
            return Err(Rejected::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Rejected::Malformed)?;
        let Some(signed_len) = bytes.len().checked_sub(TAG_BYTES) else {
            return Err(Rejected::Malformed);
        };
        let (signed, tag) = bytes.split_at(signed_len);
        if signed.len() <= HEADER_BYTES || signed[0] != VERSION {
            return Err(Rejected::Malformed);
        }
        let mut mac = self.mac.clone();
        mac.update(signed);
        // Constant time: how much of a forged tag matches says nothing.
        mac.verify_slice(tag).map_err(|_| Rejected::BadSignature)?;
        let expiry = u64::from_be_bytes(signed[1..9].try_into().expect("8 bytes"));
        if millis_since_epoch(now) >= expiry {
            return Err(Rejected::Expired);
        }
        let room_len = usize::from(signed[HEADER_BYTES - 1]);
        let rest = &signed[HEADER_BYTES..];
        if rest.len() <= room_len {
            return Err(Rejected::Malformed);
        }
        let (token_room, peer) = rest.split_at(room_len);
        if token_room != room.as_str().as_bytes() {
            return Err(Rejected::OtherRoom);
        }
        let peer = std::str::from_utf8(peer).map_err(|_| Rejected::Malformed)?;
        Ok(PeerId::new(peer))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn millis_since_epoch(time: SystemTime) -> u64 {
    millis(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).expect("valid")
    }

    fn tokens(key: &str) -> Tokens {
        Tokens::new(
            &ResumeKey::new(key).expect("long enough"),
            Duration::from_secs(45),
        )
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210";

    /// A token names the seat it was issued for, in the room it was issued for.
    #[test]
    fn a_token_gives_back_its_peer_id() {
        let tokens = tokens(KEY);
        let peer = PeerId::new("a1f0c3d4e5f60718");
        let token = tokens.issue(&room("blue-fox"), &peer);
        assert_eq!(tokens.verify(&token, &room("blue-fox")), Ok(peer));
    }

    /// Another instance (or a restarted one) with the same key accepts it; with another key
    /// it is refused.
    #[test]
    fn the_key_decides() {
        let token = tokens(KEY).issue(&room("r"), &PeerId::new("p"));
        assert_eq!(tokens(KEY).verify(&token, &room("r")), Ok(PeerId::new("p")));
        assert_eq!(
            tokens(OTHER_KEY).verify(&token, &room("r")),
            Err(Rejected::BadSignature)
        );
    }

    /// A token is refused at its expiry, not a millisecond before.
    #[test]
    fn tokens_expire_after_their_lifetime() {
        let tokens = tokens(KEY);
        let issued = SystemTime::now();
        let token = tokens.issue_at(&room("r"), &PeerId::new("p"), issued);
        let almost = issued + Duration::from_secs(45) - Duration::from_millis(1);
        assert!(tokens.verify_at(&token, &room("r"), almost).is_ok());
        assert_eq!(
            tokens.verify_at(&token, &room("r"), issued + Duration::from_secs(45)),
            Err(Rejected::Expired)
        );
    }

    /// A token for one room does not open another.
    #[test]
    fn tokens_are_bound_to_their_room() {
        let tokens = tokens(KEY);
        let token = tokens.issue(&room("room"), &PeerId::new("p"));
        assert_eq!(
            tokens.verify(&token, &room("room2")),
            Err(Rejected::OtherRoom)
        );
        assert_eq!(
            tokens.verify(&token, &room("roo")),
            Err(Rejected::OtherRoom)
        );
    }

    /// Changing any byte, or any character, breaks the signature or the encoding; garbage is
    /// malformed.
    #[test]
    fn tampering_and_garbage_are_refused() {
        let tokens = tokens(KEY);
        let token = tokens.issue(&room("r"), &PeerId::new("p"));
        let bytes = URL_SAFE_NO_PAD.decode(token.as_str()).expect("base64url");
        for index in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[index] ^= 0x01;
            let altered = ResumeToken::new(URL_SAFE_NO_PAD.encode(altered));
            assert!(
                tokens.verify(&altered, &room("r")).is_err(),
                "byte {index} altered and still accepted"
            );
        }
        for garbage in ["", "garbage!", "AAAA", &"A".repeat(2000), "a.b.c"] {
            assert_eq!(
                tokens.verify(&ResumeToken::new(garbage.to_owned()), &room("r")),
                Err(Rejected::Malformed),
                "{garbage}"
            );
        }
    }

    /// Two tokens for the same seat at the same time differ (the nonce), and both are good.
    #[test]
    fn every_token_is_unique() {
        let tokens = tokens(KEY);
        let now = SystemTime::now();
        let first = tokens.issue_at(&room("r"), &PeerId::new("p"), now);
        let second = tokens.issue_at(&room("r"), &PeerId::new("p"), now);
        assert_ne!(first, second);
        assert!(tokens.verify(&first, &room("r")).is_ok());
        assert!(tokens.verify(&second, &room("r")).is_ok());
    }

    /// Keys shorter than 32 bytes are refused; `Debug` never shows a key.
    #[test]
    fn keys_are_long_and_hidden() {
        assert_eq!(ResumeKey::new("short").err(), Some(KeyTooShort(5)));
        let key = ResumeKey::new(KEY).expect("32 bytes");
        assert_eq!(format!("{key:?}"), "ResumeKey(***)");
        assert!(!format!("{:?}", Tokens::new(&key, Duration::from_secs(1))).contains(KEY));
    }
}
