//! Twilio's Network Traversal Service: ephemeral STUN/TURN credentials from the Tokens endpoint.
//!
//! `POST {base}/2010-04-01/Accounts/{sid}/Tokens.json`, HTTP Basic auth, form body `Ttl`.
//! Unlike the original tutorial (one Twilio request per call), a token is fetched once and
//! shared by every connection until a safety margin before it expires; concurrent requests wait
//! for the one fetch in flight. When Twilio fails (401/403/429/5xx, timeout, garbage), the
//! static fallback list is handed out, the reason is logged without the secret, and the next
//! attempt waits for an exponential backoff.

use std::time::Duration;

use serde::Deserialize;
use shared::IceServer;
use tokio::{sync::Mutex, time::Instant};

use super::{IceGrant, static_list::StaticList, ttl_secs};
use crate::{
    config::IceConfig,
    metrics::{self, TwilioFailure},
};

/// The longest wait between attempts after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Refresh this long before expiry at most (a tenth of the TTL for short TTLs), so a browser
/// never receives credentials about to lapse mid-call set-up.
const MAX_SAFETY_MARGIN: Duration = Duration::from_secs(300);

/// Why a Twilio request produced no token.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("Twilio answered {status} (code {code:?}): {message}")]
    Refused {
        status: reqwest::StatusCode,
        code: Option<i64>,
        message: String,
    },
    #[error("unexpected response: {0}")]
    Malformed(String),
}

impl TwilioError {
    /// The failure's kind, for `/metrics`.
    fn kind(&self) -> TwilioFailure {
        match self {
            Self::Transport(_) => TwilioFailure::Transport,
            Self::Timeout(_) => TwilioFailure::Timeout,
            Self::Refused { .. } => TwilioFailure::Refused,
            Self::Malformed(_) => TwilioFailure::Malformed,
        }
    }
}

/// The Twilio provider with its token cache.
pub struct Twilio {
    client: reqwest::Client,
    tokens_url: String,
    account_sid: String,
    /// Secret: sent only in the Authorization header to Twilio; `Debug` leaves it out.
    auth_token: String,
    ttl: u32,
    timeout: Duration,
    first_backoff: Duration,
    fallback: StaticList,
    /// An async mutex, held across the HTTP request on purpose: callers arriving while a fetch
    /// is in flight wait for it and then read its result instead of starting their own.
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio")
            .field("tokens_url", &self.tokens_url)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Cache {
    token: Option<Token>,
    /// No request before this instant (backoff after a failure).
    retry_at: Option<Instant>,
    consecutive_failures: u32,
}

#[derive(Debug, Clone)]
struct Token {
    servers: Vec<IceServer>,
    expires_at: Instant,
    refresh_at: Instant,
}

/// The 201 body, reduced to what is used. `ttl` is a string in Twilio's API.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    ice_servers: Vec<TwilioIceServer>,
    ttl: String,
}

#[derive(Debug, Deserialize)]
struct TwilioIceServer {
    /// A single string in practice; an array is accepted too.
    #[serde(default)]
    urls: Option<OneOrMany>,
    /// The legacy duplicate of `urls`, used only when `urls` is absent.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    credential: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Twilio's error body: `{code, message, more_info, status}`.
#[derive(Debug, Deserialize)]
struct ErrorResponse {
    code: Option<i64>,
    message: Option<String>,
}

impl Twilio {
    pub fn new(
        config: &IceConfig,
        account_sid: &str,
        auth_token: &str,
        fallback: StaticList,
    ) -> anyhow::Result<Self> {
        let valid_sid = account_sid.len() == 34
            && account_sid.starts_with("AC")
            && account_sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
        anyhow::ensure!(
            valid_sid,
            "TWILIO_ACCOUNT_SID must be `AC` followed by 32 hexadecimal digits"
        );
        let base = config.twilio_base_url.trim_end_matches('/');
        Ok(Self {
            client: reqwest::Client::builder()
                .user_agent(concat!("video-chat-backend/", env!("CARGO_PKG_VERSION")))
                .build()?,
            tokens_url: format!("{base}/2010-04-01/Accounts/{account_sid}/Tokens.json"),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            ttl: config.twilio_ttl,
            timeout: config.twilio_timeout,
            first_backoff: config.twilio_retry_backoff,
            fallback,
            cache: Mutex::default(),
        })
    }

    /// A cached token while fresh; otherwise one fetch (shared by concurrent callers); on
    /// failure a still-valid older token or else the fallback list.
    pub async fn grant(&self) -> IceGrant {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(token) = cache.token.as_ref().filter(|token| now < token.refresh_at) {
            return token.grant(now);
        }
        if cache.retry_at.is_some_and(|retry_at| now < retry_at) {
            return self.stale_or_fallback(&cache, now);
        }
        let started = Instant::now();
        let fetched = self.fetch().await;
        metrics::twilio_fetched(started.elapsed());
        match fetched {
            Ok(token) => {
                let grant = token.grant(Instant::now());
                cache.token = Some(token);
                cache.retry_at = None;
                cache.consecutive_failures = 0;
                tracing::info!(ttl = grant.ttl, "fetched ICE servers from Twilio");
                grant
            }
            Err(error) => {
                metrics::twilio_failed(error.kind());
                cache.consecutive_failures += 1;
                let backoff = self
                    .first_backoff
                    .saturating_mul(2u32.saturating_pow(cache.consecutive_failures - 1))
                    .min(MAX_BACKOFF);
                cache.retry_at = Some(Instant::now() + backoff);
                tracing::warn!(
                    %error,
                    retry_in = ?backoff,
                    "Twilio ICE token request failed; handing out the fallback list"
                );
                self.stale_or_fallback(&cache, Instant::now())
            }
        }
    }

    fn stale_or_fallback(&self, cache: &Cache, now: Instant) -> IceGrant {
        match cache.token.as_ref().filter(|token| now < token.expires_at) {
            Some(token) => token.grant(now),
            None => self.fallback.grant(),
        }
    }

    async fn fetch(&self) -> Result<Token, TwilioError> {
        let request = self
            .client
            .post(&self.tokens_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("Ttl", self.ttl.to_string())])
            .send();
        let response = tokio::time::timeout(self.timeout, async {
            let response = request.await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        })
        .await
        .map_err(|_| TwilioError::Timeout(self.timeout))?
        .map_err(TwilioError::Transport)?;
        let fetched_at = Instant::now();
        let (status, body) = response;
        if status != reqwest::StatusCode::CREATED && !status.is_success() {
            let error: Option<ErrorResponse> = serde_json::from_slice(&body).ok();
            return Err(TwilioError::Refused {
                status,
                code: error.as_ref().and_then(|e| e.code),
                message: error
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "no error body".to_owned()),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|error| TwilioError::Malformed(error.to_string()))?;
        Token::from_response(parsed, fetched_at, Duration::from_secs(self.ttl.into()))
    }
}

impl Token {
    /// The token in Twilio's answer to a request for `asked` of lifetime. A `ttl` longer than
    /// asked (Twilio never gives more; a huge one would overflow `fetched_at + ttl`) is clamped
    /// to `asked`: the token is then refreshed no later than the operator chose.
    fn from_response(
        response: TokenResponse,
        fetched_at: Instant,
        asked: Duration,
    ) -> Result<Self, TwilioError> {
        let ttl: u64 = response.ttl.trim().parse().map_err(|_| {
            TwilioError::Malformed(format!("ttl {:?} is not a number", response.ttl))
        })?;
        let answered = Duration::from_secs(ttl);
        if answered > asked {
            tracing::warn!(
                answered = ttl,
                asked = asked.as_secs(),
                "Twilio answered a longer ttl than asked; keeping the token for the ttl asked"
            );
        }
        let ttl = answered.min(asked);
        let servers: Vec<IceServer> = response
            .ice_servers
            .into_iter()
            .filter_map(|server| {
                let urls = match (server.urls, server.url) {
                    (Some(OneOrMany::One(url)), _) | (None, Some(url)) => vec![url],
                    (Some(OneOrMany::Many(urls)), _) => urls,
                    (None, None) => return None,
                };
                Some(IceServer {
                    urls,
                    username: server.username,
                    credential: server.credential,
                })
            })
            .collect();
        if servers.is_empty() {
            return Err(TwilioError::Malformed("no ice_servers".to_owned()));
        }
        let margin = (ttl / 10).min(MAX_SAFETY_MARGIN);
        Ok(Self {
            servers,
            expires_at: fetched_at + ttl,
            refresh_at: fetched_at + ttl - margin,
        })
    }

    /// The servers with the time left before this server refreshes them (or, for a token
    /// kept past its refresh time because Twilio is failing, before it expires).
    fn grant(&self, now: Instant) -> IceGrant {
        let left = self
            .refresh_at
            .checked_duration_since(now)
            .unwrap_or_else(|| self.expires_at.saturating_duration_since(now));
        IceGrant {
            servers: self.servers.clone(),
            ttl: ttl_secs(left),
        }
    }
}
