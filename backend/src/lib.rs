//! The signalling server of the video-chat product.
//!
//! Map of the modules:
//! - [`config`]: command line and environment (clap);
//! - `http`: plain HTTP connections (header read timeout, their end at shutdown);
//! - [`ws`]: the WebSocket upgrade and the one task per connection;
//! - [`hub`]: the one place that announces joins and leaves (`joined`, `peer_joined`,
//!   `ready`, `peer_left`), and delivery of relayed messages;
//! - [`presence`]: who is in which room, behind one interface: [`presence::memory`] on one
//!   instance, [`presence::redis`] shared by several (scripts, bus, liveness); returns who must
//!   be told what, tells nobody;
//! - [`mailbox`]: each connection's bounded outgoing queue, and the map of them;
//! - [`redact`]: secrets shown as `***` by `Debug`;
//! - [`resume`]: the signed tokens that give a reconnecting page its seat back, and the seats
//!   held for it during the grace period;
//! - [`proxy`]: who the client is behind trusted reverse proxies ([`proxy::ClientAddr`]);
//! - [`limits`]: admission at the upgrade (Origin and host name, connections per client
//!   address and in all);
//! - [`logging`]: the log filter, which keeps message contents (and so tokens) out of logs,
//!   and the log format (text or JSON);
//! - [`metrics`]: what is counted for Prometheus, and `GET /metrics`;
//! - [`ice`]: ICE servers for browsers (Twilio, TURN REST, static list);
//! - [`static_files`]: serving the built frontend;
//! - [`tls`]: HTTPS and WSS without a proxy (certificate files reloaded on SIGHUP, or a
//!   self-signed one), and the plain-HTTP redirect to them.
//!
//! [`serve`] runs the server on a listener the caller bound, so tests use port 0 and `main`
//! stays a few lines.

pub mod config;
mod http;
pub mod hub;
pub mod ice;
pub mod limits;
pub mod logging;
pub mod mailbox;
pub mod metrics;
pub mod presence;
pub mod proxy;
pub mod redact;
pub mod resume;
pub mod static_files;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod tls;
pub mod ws;

use std::{future::Future, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::trace::TraceLayer;

use crate::{
    config::{Config, Limits},
    hub::{Hub, RoomSettings},
    ice::{Ice, quota::IceQuota},
    limits::{ConnectionCounter, OriginPolicy},
    presence::redis::RedisSettings,
    proxy::TrustedProxies,
    resume::{ResumeKey, ResumeSettings},
};

/// What every request handler and connection task shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Hub,
    pub ice: Arc<Ice>,
    pub limits: Arc<Limits>,
    pub origins: Arc<OriginPolicy>,
    /// Whose forwarding headers are believed.
    pub trusted_proxies: Arc<TrustedProxies>,
    pub connections: ConnectionCounter,
    /// ICE requests per client address, over all its connections.
    pub ice_quota: Arc<IceQuota>,
    /// Cancelled once on shutdown: every connection task closes its socket with 1001.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
}

impl AppState {
    /// Builds the shared state; with a Redis URL this starts background tasks, so it must run
    /// inside a Tokio runtime.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let key = match &config.resume.resume_key {
            Some(key) => ResumeKey::new(key)?,
            None => ResumeKey::random(),
        };
        let resume = ResumeSettings::new(&key, config.resume.resume_grace);
        let rooms = RoomSettings {
            capacity: usize::from(config.limits.room_capacity),
            upload_kbps: config.limits.upload_budget,
        };
        Ok(Self {
            hub: match &config.redis.redis_url {
                Some(url) => Hub::with_redis(
                    rooms,
                    RedisSettings {
                        url: url.clone(),
                        expiry: config.redis.redis_expiry,
                        timeout: config.redis.redis_timeout,
                    },
                    resume,
                )?,
                None => Hub::new(rooms, resume),
            },
            ice: Arc::new(Ice::from_config(&config.ice)?),
            limits: Arc::new(config.limits.clone()),
            origins: Arc::new(OriginPolicy::new(
                config.limits.public_origin.as_deref(),
                &config.limits.allowed_origins,
                config.listen,
            )),
            trusted_proxies: Arc::new(TrustedProxies::new(config.limits.trusted_proxies.clone())),
            connections: ConnectionCounter::new(
                config.limits.max_connections_per_ip,
                config
                    .limits
                    .max_connections
                    .unwrap_or_else(limits::default_max_connections),
            ),
            ice_quota: Arc::new(IceQuota::per_minute(
                NonZeroU32::new(config.limits.ice_requests_per_minute_per_ip.max(1))
                    .expect("max(1) > 0"),
            )),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        })
    }
}

/// The whole HTTP surface: `/ws`, `/healthz`, `/metrics` with `--metrics`, and the frontend
/// when `config.static_dir` is set.
pub fn router(state: AppState, config: &Config) -> anyhow::Result<Router> {
    let mut api = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .with_state(state.clone());
    if config.observability.metrics {
        api = api.merge(metrics::exporter::router(state));
    }
    let app = match &config.static_dir {
        Some(dir) => api.merge(static_files::router(dir)?),
        None => api,
    };
    Ok(app.layer(TraceLayer::new_for_http()))
}

/// What `/healthz` says: public, so nothing more than whether to send people here. Counts are
/// on `/metrics`.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    /// The server's version (`Cargo.toml`).
    version: &'static str,
    /// `up` or `down` with `--redis-url`; absent when presence is in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

/// `GET /healthz`: liveness for load balancers. 503 while Redis (when used) cannot be
/// reached, so a load balancer sends new people elsewhere.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (code, status, redis) = match state.hub.store_health() {
        presence::Health::Memory => (StatusCode::OK, "ok", None),
        presence::Health::Up => (StatusCode::OK, "ok", Some("up")),
        presence::Health::Down => (StatusCode::SERVICE_UNAVAILABLE, "degraded", Some("down")),
    };
    let health = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        redis,
    };
    (code, Json(health))
}

/// Serves `app` on `listener` until `shutdown` completes. Then it stops accepting, writes what
/// is queued for each WebSocket followed by a close frame (1001), lets plain HTTP requests in
/// progress finish (idle and half-sent ones close at once), and returns once all of that is
/// done or `grace` has passed, whichever comes first: nothing a client does can hold it longer.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, None, app, state, grace, shutdown).await
}

/// [`serve`] over TLS: every connection on `listener` starts with a handshake (in its own task),
/// and `tls.redirect`, when given, answers plain HTTP with redirects to this listener's port.
pub async fn serve_tls(
    listener: TcpListener,
    tls: tls::Serving,
    app: Router,
    state: AppState,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, Some(tls), app, state, grace, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    tls: Option<tls::Serving>,
    app: Router,
    state: AppState,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeout = state.limits.header_read_timeout;
    let (server, redirect) = tls.map_or((None, None), |tls| (Some(tls.server), tls.redirect));
    let http = http::HttpConnections::new(timeout, state.shutdown.clone(), server);
    let redirects = http::HttpConnections::new(timeout, state.shutdown.clone(), None);
    let redirect_app = tls::redirect::router(listener.local_addr()?.port());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => http.spawn(stream, remote, app.clone()),
                Err(error) => accept_failed(error).await,
            },
            accepted = accept_if_any(redirect.as_ref()) => match accepted {
                Ok((stream, remote)) => redirects.spawn(stream, remote, redirect_app.clone()),
                Err(error) => accept_failed(error).await,
            },
        }
    }
    drop(listener);
    drop(redirect);
    tracing::info!("shutting down: closing connections");
    state.shutdown.cancel();
    state.tracker.close();
    let closed = async {
        tokio::join!(http.wait(), redirects.wait(), state.tracker.wait());
    };
    if tokio::time::timeout(grace, closed).await.is_err() {
        tracing::warn!(?grace, "some connections did not close in time");
        http.abandon();
        redirects.abandon();
    }
    state.hub.close();
    Ok(())
}

/// The next connection on `listener`; never, without one.
async fn accept_if_any(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_failed(error: std::io::Error) {
    // Out of file descriptors, typically: accepting again at once would spin.
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Pause after a failed `accept` (no file descriptor left, typically) before the next one.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    /// `Debug` of the configuration and of the Redis settings shows no secret (Twilio token,
    /// TURN secret, static TURN credential, Redis password, resume key) but still shows the
    /// rest.
    #[test]
    fn debug_output_hides_every_secret() {
        let config = Config::parse_from_args([
            "backend",
            "--twilio-account-sid",
            "ACvisible-sid",
            "--twilio-auth-token",
            "token-secret-1",
            "--turn-urls",
            "turn:visible.example:3478",
            "--turn-secret",
            "turn-secret-2",
            "--ice-username",
            "visible-user",
            "--ice-credential",
            "credential-secret-3",
            "--redis-url",
            "redis://visible-redis-user:redis-secret-4@redis.visible.example:6379/0",
            "--resume-key",
            "resume-secret-7-resume-secret-7-resume",
        ])
        .expect("parses");
        let settings = RedisSettings {
            url: "redis://:redis-secret-5@redis.visible.example/0?password=redis-secret-6&db=1"
                .to_owned(),
            expiry: Duration::from_secs(6),
            timeout: Duration::from_secs(2),
        };
        let printed = format!("{config:?}\n{settings:?}");
        for secret in [
            "token-secret-1",
            "turn-secret-2",
            "credential-secret-3",
            "redis-secret-4",
            "redis-secret-5",
            "redis-secret-6",
            "resume-secret-7",
        ] {
            assert!(!printed.contains(secret), "{secret} shown in {printed}");
        }
        for visible in [
            "ACvisible-sid",
            "turn:visible.example:3478",
            "visible-user",
            "redis://visible-redis-user:***@redis.visible.example:6379/0",
            "redis://:***@redis.visible.example/0?password=***&db=1",
            "twilio_auth_token: Some(***)",
            "turn_secret: Some(***)",
            "ice_credential: Some(***)",
            "resume_key: Some(***)",
            "heartbeat_timeout",
        ] {
            assert!(
                printed.contains(visible),
                "{visible} missing from {printed}"
            );
        }
    }
}
