//! TURN REST credentials (coturn `use-auth-secret`): short-lived, minted locally, per peer.
//!
//! The scheme from draft-uberti-behave-turn-rest: username `"<expiry unix time>:<user>"`,
//! password `base64(HMAC-SHA1(secret, username))`. The TURN server recomputes it from the same
//! secret, so nothing is stored and nothing is fetched.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use shared::{IceServer, PeerId};

use super::{IceGrant, static_list::StaticList, ttl_secs};

/// Mints TURN credentials from a shared secret.
pub struct TurnRest {
    urls: Vec<String>,
    /// The coturn `static-auth-secret`. Never logged: `Debug` below leaves it out.
    secret: String,
    ttl: Duration,
    /// STUN (and other static) entries handed out alongside the TURN entry.
    extra: StaticList,
}

impl std::fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRest")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TurnRest {
    pub fn new(urls: Vec<String>, secret: String, ttl: Duration, extra: StaticList) -> Self {
        Self {
            urls,
            secret,
            ttl,
            extra,
        }
    }

    /// The static entries plus one TURN entry with credentials for `peer`, valid from `now`.
    pub fn grant(&self, peer: &PeerId, now: SystemTime) -> IceGrant {
        // Saturating: `--turn-ttl` is range-checked, but a minting must never panic a task.
        let expiry = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(self.ttl);
        let username = format!("{}:{}", expiry.as_secs(), peer);
        let credential = credential(&self.secret, &username);
        let mut servers = self.extra.servers().to_vec();
        servers.push(IceServer {
            urls: self.urls.clone(),
            username: Some(username),
            credential: Some(credential),
        });
        IceGrant {
            servers,
            ttl: ttl_secs(self.ttl),
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`, the password coturn expects.
pub fn credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known vector, computed independently with Python's `hmac`:
    /// `base64.b64encode(hmac.new(b"north-secret", b"1700000000:alice", "sha1").digest())`.
    #[test]
    fn credential_matches_known_hmac_sha1_vector() {
        assert_eq!(
            credential("north-secret", "1700000000:alice"),
            "g+jb180fcj+xlpA/2mP60OdIgU0="
        );
        // RFC 2202, test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(
            credential("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    /// The username carries the expiry (now + ttl) and the peer id; the credential is the HMAC
    /// of exactly that username.
    #[test]
    fn grant_mints_expiring_per_peer_credentials() {
        let turn = TurnRest::new(
            vec!["turn:127.0.0.1:3478?transport=udp".into()],
            "s3cret".into(),
            Duration::from_secs(600),
            StaticList::default(),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let grant = turn.grant(&PeerId::new("p1"), now);
        assert_eq!(grant.ttl, 600);
        let [server] = grant.servers.as_slice() else {
            panic!("one TURN entry expected: {grant:?}");
        };
        assert_eq!(server.username.as_deref(), Some("1700000600:p1"));
        assert_eq!(
            server.credential,
            Some(credential("s3cret", "1700000600:p1"))
        );
        assert!(
            !format!("{turn:?}").contains("s3cret"),
            "Debug must not show the secret"
        );
    }
}
