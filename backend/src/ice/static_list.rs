//! The static ICE list from configuration: the default provider and everyone's fallback.

use shared::IceServer;

use super::IceGrant;
use crate::config::IceConfig;

/// How long a browser keeps a static list before asking again. Short on purpose: when the list
/// is a fallback for a failing Twilio, browsers come back soon and get real TURN credentials.
const STATIC_TTL_SECS: u64 = 300;

/// STUN URLs as one entry, TURN URLs as another with the configured credentials.
#[derive(Debug, Clone, Default)]
pub struct StaticList {
    servers: Vec<IceServer>,
}

impl StaticList {
    pub fn from_config(config: &IceConfig) -> Self {
        let urls = config
            .ice_urls
            .iter()
            .map(|url| url.trim())
            .filter(|url| !url.is_empty());
        let (turn, stun): (Vec<&str>, Vec<&str>) =
            urls.partition(|url| url.starts_with("turn:") || url.starts_with("turns:"));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(IceServer::open(stun));
        }
        if !turn.is_empty() {
            servers.push(IceServer {
                urls: turn.into_iter().map(str::to_owned).collect(),
                username: config.ice_username.clone(),
                credential: config.ice_credential.clone(),
            });
        }
        Self { servers }
    }

    pub fn servers(&self) -> &[IceServer] {
        &self.servers
    }

    pub fn grant(&self) -> IceGrant {
        IceGrant {
            servers: self.servers.clone(),
            ttl: STATIC_TTL_SECS,
        }
    }
}
