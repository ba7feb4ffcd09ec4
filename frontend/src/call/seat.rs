//! The page's seat in its room across reloads: what it keeps in `sessionStorage` and what it
//! makes of it when it starts.
//!
//! The server hands out a resume token in `joined` (and a fresh one in `resume`); a page that
//! sends it back in its next `join` gets its old peer id — its seat — back. `sessionStorage`
//! survives a reload of the tab, so the page keeps the latest token there under
//! `resume:<room>`, with the peer id it names and whether a live page is using it. A duplicated
//! tab starts with a *copy* of that storage: it must not take the seat of the tab it was copied
//! from (the call would jump to the copy), so the page marks the token "released" on `pagehide`
//! (a reload, or leaving) and "in use" while it is alive; a page that finds it in use is a
//! duplicate and joins without it. This module decides; `crate::browser::storage` reads and
//! writes.

use shared::PeerId;

/// The `sessionStorage` key for `room`'s seat.
pub fn storage_key(room: &str) -> String {
    format!("resume:{room}")
}

/// What is stored: the latest token, the peer id it gives back, and whether a live page uses
/// it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSeat {
    pub token: String,
    pub peer: PeerId,
    pub in_use: bool,
}

impl StoredSeat {
    /// The stored text: `{"token":"…","peer":"…","in_use":true}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "token": self.token,
            "peer": self.peer.as_str(),
            "in_use": self.in_use,
        })
        .to_string()
    }

    /// Reads the stored text back; `None` for anything else (an older format, a hand edit).
    pub fn from_json(text: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Self {
            token: value.get("token")?.as_str()?.to_owned(),
            peer: PeerId::new(value.get("peer")?.as_str()?),
            in_use: value.get("in_use")?.as_bool()?,
        })
    }

    /// The same seat, marked in use or released.
    pub fn marked(&self, in_use: bool) -> Self {
        Self {
            in_use,
            ..self.clone()
        }
    }
}

/// What a starting page takes from storage: the token to send in its first `join`, and the
/// peer id it expects back. `None` when there is nothing, nothing readable, or the seat is in
/// use by the live tab this one was duplicated from.
pub fn claim_at_start(stored: Option<&str>) -> Option<StoredSeat> {
    stored
        .and_then(StoredSeat::from_json)
        .filter(|seat| !seat.in_use)
}

/// After `joined`: whether to send `hang_up` to `other`, the member already in the room. Yes
/// when the server gave this page back the seat it claimed at start (`you` is the id the token
/// named) while this page has no call with them: the page was reloaded, so the call they still
/// show is with a page that no longer exists. The hang-up closes it at once, and they can call
/// again, instead of waiting for their side to notice the silence.
pub fn hang_up_stale_call(
    claimed: Option<&PeerId>,
    you: &PeerId,
    other: Option<&PeerId>,
    has_call_with_other: bool,
) -> bool {
    claimed == Some(you) && other.is_some() && !has_call_with_other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(in_use: bool) -> StoredSeat {
        StoredSeat {
            token: "tok".into(),
            peer: PeerId::new("a1"),
            in_use,
        }
    }

    /// The key is the one the protocol names.
    #[test]
    fn keyed_by_room() {
        assert_eq!(storage_key("blue-fox"), "resume:blue-fox");
    }

    /// What is written reads back the same; anything else reads as nothing.
    #[test]
    fn round_trips_and_rejects_other_text() {
        for in_use in [false, true] {
            let text = seat(in_use).to_json();
            assert_eq!(StoredSeat::from_json(&text), Some(seat(in_use)));
        }
        assert_eq!(StoredSeat::from_json("tok"), None);
        assert_eq!(StoredSeat::from_json(r#"{"token":"t","peer":"p"}"#), None);
        assert_eq!(
            StoredSeat::from_json(r#"{"token":1,"peer":"p","in_use":false}"#),
            None
        );
    }

    /// A reload finds the token released (by `pagehide`) and takes it; a duplicate of a live
    /// tab finds it in use and joins as a newcomer; a first visit finds nothing.
    #[test]
    fn only_a_released_token_is_claimed() {
        assert_eq!(
            claim_at_start(Some(&seat(false).to_json())),
            Some(seat(false))
        );
        assert_eq!(claim_at_start(Some(&seat(true).to_json())), None);
        assert_eq!(claim_at_start(None), None);
        assert_eq!(claim_at_start(Some("garbage")), None);
        assert!(seat(false).marked(true).in_use);
    }

    /// The stale call is hung up only when the seat came back, someone is there, and this
    /// page has no call with them.
    #[test]
    fn hangs_up_the_stale_call_only_after_getting_the_seat_back() {
        let (me, other) = (PeerId::new("a1"), PeerId::new("b2"));
        assert!(hang_up_stale_call(Some(&me), &me, Some(&other), false));
        assert!(!hang_up_stale_call(Some(&me), &me, Some(&other), true));
        assert!(!hang_up_stale_call(Some(&me), &me, None, false));
        let new_id = PeerId::new("c3");
        assert!(!hang_up_stale_call(Some(&me), &new_id, Some(&other), false));
        assert!(!hang_up_stale_call(None, &me, Some(&other), false));
    }
}
