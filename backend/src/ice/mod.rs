//! ICE servers for browsers: which provider, and what a connection is handed.
//!
//! Three providers, chosen by configuration in this order: Twilio's Network Traversal Service
//! ([`twilio`]), TURN REST credentials minted from a shared secret ([`turn_rest`]), and a static
//! list ([`static_list`]) that is also the fallback whenever Twilio cannot answer. This module
//! does not rate-limit: the connection task does, per connection.

pub mod static_list;
pub mod turn_rest;
pub mod twilio;

use std::time::Duration;

use shared::{IceServer, IceTransportPolicy, PeerId};

use crate::config::IceConfig;
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
        })
    }

    /// A one-word name of the provider, for logs and `/healthz`.
    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            Provider::Twilio(_) => "twilio",
            Provider::TurnRest(_) => "turn-rest",
            Provider::Static(_) => "static",
        }
    }

    /// The servers for `peer`'s browser.
    pub async fn grant(&self, peer: &PeerId) -> Result<IceGrant, IceUnavailable> {
        let grant = match &self.provider {
            Provider::Twilio(twilio) => twilio.grant().await,
            Provider::TurnRest(turn) => turn.grant(peer, std::time::SystemTime::now()),
            Provider::Static(list) => list.grant(),
        };
        if grant.servers.is_empty() {
            return Err(IceUnavailable);
        }
        Ok(grant)
    }
}

/// Whole seconds of `duration`, at least one: a TTL of zero would make browsers spin.
fn ttl_secs(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}
