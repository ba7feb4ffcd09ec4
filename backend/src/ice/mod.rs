//! ICE servers for browsers: which provider, and what a connection is handed.
//!
//! Three providers, chosen by configuration in this order: Twilio's Network Traversal Service
//! ([`twilio`]), TURN REST credentials minted from a shared secret ([`turn_rest`]), and a static
//! list ([`static_list`]) that is also the fallback whenever Twilio cannot answer. TURN entries
//! go only to connections whose page has an allowed `Origin` (unless `--allow-originless-turn`):
//! a script harvesting relay credentials gets STUN only. Rate limits: [`quota`] per client
//! address; the connection task adds its own per connection.

pub mod quota;
pub mod static_list;
pub mod turn_rest;
pub mod twilio;

use std::time::Duration;

use shared::{IceServer, IceTransportPolicy, PeerId};

use crate::{
    config::IceConfig,
    metrics::{self, IceOutcome},
};
use static_list::StaticList;
use turn_rest::TurnRest;
use twilio::Twilio;

/// What a connection is handed: servers, and how long they stay valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceGrant {
    pub servers: Vec<IceServer>,
    /// Seconds after which the browser should ask again.
    pub ttl: u64,
}

/// No ICE server can be handed out (the provider failed and the fallback list is empty).
#[derive(Debug, Clone, thiserror::Error)]
#[error("no ICE servers are available")]
pub struct IceUnavailable;

/// The configured provider.
#[derive(Debug)]
pub enum Provider {
    Twilio(Twilio),
    TurnRest(TurnRest),
    Static(StaticList),
}

/// The ICE service every connection shares.
#[derive(Debug)]
pub struct Ice {
    provider: Provider,
    pub policy: IceTransportPolicy,
    /// `--allow-originless-turn`: TURN entries for connections without an `Origin` too.
    originless_turn: bool,
}

impl Ice {
    /// Chooses the provider from configuration.
    pub fn from_config(config: &IceConfig) -> anyhow::Result<Self> {
        let fallback = StaticList::from_config(config);
        let provider = match (&config.twilio_account_sid, &config.twilio_auth_token) {
            (Some(sid), Some(token)) if !sid.is_empty() && !token.is_empty() => {
                Provider::Twilio(Twilio::new(config, sid, token, fallback)?)
            }
            _ => match &config.turn_secret {
                Some(secret) if !secret.is_empty() && !config.turn_urls.is_empty() => {
                    Provider::TurnRest(TurnRest::new(
                        config.turn_urls.clone(),
                        secret.clone(),
                        config.turn_ttl,
                        fallback,
                    ))
                }
                _ => Provider::Static(fallback),
            },
        };
        Ok(Self {
            provider,
            policy: config.ice_transport_policy,
            originless_turn: config.allow_originless_turn,
        })
    }

    /// A one-word name of the provider, for logs and `/metrics`.
    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            Provider::Twilio(_) => "twilio",
            Provider::TurnRest(_) => "turn-rest",
            Provider::Static(_) => "static",
        }
    }

    /// The servers for `peer`, whose upgrade request had an (allowed) `Origin` header when
    /// `has_origin`: without one, STUN entries only (unless `--allow-originless-turn`).
    pub async fn grant(&self, peer: &PeerId, has_origin: bool) -> Result<IceGrant, IceUnavailable> {
        let turn_allowed = has_origin || self.originless_turn;
        let grant = match &self.provider {
            Provider::Twilio(twilio) => twilio.grant().await,
            Provider::TurnRest(turn) => turn.grant(peer, std::time::SystemTime::now()),
            Provider::Static(list) => list.grant(),
        };
        let (grant, outcome) = if turn_allowed {
            (grant, IceOutcome::Granted)
        } else {
            (grant.stun_only(), IceOutcome::StunOnly)
        };
        if grant.servers.is_empty() {
            metrics::ice_grant(self.provider_name(), IceOutcome::Unavailable);
            return Err(IceUnavailable);
        }
        metrics::ice_grant(self.provider_name(), outcome);
        Ok(grant)
    }
}

impl IceGrant {
    /// The same grant without any `turn:` / `turns:` URL, nor the credentials that went with
    /// them; entries left with no URL are dropped.
    pub fn stun_only(self) -> Self {
        let servers = self
            .servers
            .into_iter()
            .filter_map(|server| {
                let urls: Vec<String> = server
                    .urls
                    .into_iter()
                    .filter(|url| !is_turn(url))
                    .collect();
                (!urls.is_empty()).then(|| IceServer::open(urls))
            })
            .collect();
        Self {
            servers,
            ttl: self.ttl,
        }
    }
}

/// Whether `url` names a relay (`turn:` or `turns:`, in any case).
fn is_turn(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("turn:") || url.starts_with("turns:")
}

/// Whole seconds of `duration`, at least one: a TTL of zero would make browsers spin.
fn ttl_secs(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripping TURN keeps STUN URLs (without credentials) and drops relay entries whole,
    /// whatever the case of the scheme.
    #[test]
    fn stun_only_drops_every_relay() {
        let grant = IceGrant {
            servers: vec![
                IceServer::open(vec!["stun:stun.example:3478".to_owned()]),
                IceServer {
                    urls: vec![
                        "stun:mixed.example".to_owned(),
                        "TURN:relay.example?transport=udp".to_owned(),
                        "turns:relay.example:443".to_owned(),
                    ],
                    username: Some("user".to_owned()),
                    credential: Some("secret".to_owned()),
                },
                IceServer {
                    urls: vec!["turn:only.example".to_owned()],
                    username: Some("user".to_owned()),
                    credential: Some("secret".to_owned()),
                },
            ],
            ttl: 600,
        };
        let stripped = grant.stun_only();
        assert_eq!(
            stripped.servers,
            vec![
                IceServer::open(vec!["stun:stun.example:3478".to_owned()]),
                IceServer::open(vec!["stun:mixed.example".to_owned()]),
            ]
        );
        assert_eq!(stripped.ttl, 600);
    }
}
