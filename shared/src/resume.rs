//! The resume token: what lets a reconnecting page take its seat back.
//!
//! The server hands one out in `joined` (and a fresh one in `resume` every half grace period);
//! the page keeps the latest and sends it back in its next `join`. Its content is the server's
//! business (signed, bound to a room and a peer id, with an expiry): to everybody else it is an
//! opaque string. Any JSON string parses as a token, so a malformed or foreign token makes a
//! normal join rather than a `bad_message`.
//!
//! A token is a credential for a seat: its `Debug` never shows it, so tracing a message that
//! carries one (`?message`) gives nothing away.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An opaque resume token, as issued by the server.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(String);

impl ResumeToken {
    /// Wraps a token (issued by the server, or read back from storage by the page).
    pub fn new(token: String) -> Self {
        Self(token)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Debug` hides the token, so a traced message never leaks it.
    #[test]
    fn debug_hides_the_token() {
        let token = ResumeToken::new("secret-token-value".to_owned());
        assert_eq!(format!("{token:?}"), "ResumeToken(***)");
        assert_eq!(format!("{:?}", Some(&token)), "Some(ResumeToken(***))");
    }

    /// Any JSON string is a token; it serializes back unchanged.
    #[test]
    fn any_string_is_a_token() {
        for json in [r#""""#, r#""not base64 at all!""#, r#""a.b.c""#] {
            let token: ResumeToken = serde_json::from_str(json).expect("any string");
            assert_eq!(serde_json::to_string(&token).expect("serializes"), json);
        }
        assert!(serde_json::from_str::<ResumeToken>("7").is_err());
    }
}
