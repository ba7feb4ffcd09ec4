//! `GET /metrics`: the Prometheus text rendering of what [`super`] counts, plus the gauges
//! read from the state at each scrape.
//!
//! The recorder is the `metrics` crate's global one, installed once per process by
//! [`install`] (the exporter's own HTTP listener is not used: axum serves the rendering). It is
//! mounted on the main port with `--metrics`, or served alone on `--metrics-listen` by
//! [`serve`], a listener that answers `/metrics` and nothing else: meant for an internal
//! network, it has none of the main port's per-IP limits and is not the public's business.
//!
//! Gauges are this instance's view: with Redis, rooms and members count the seats this
//! instance holds, not the whole cluster (sum over instances for that).

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use super::{
    CONNECTIONS_CLOSED, CONNECTIONS_OPEN, CONNECTIONS_OPENED, ERRORS, ICE_GRANTS, ICE_PROVIDER,
    JOINS, QUEUE_OVERFLOWS, REDIS_CALL_SECONDS, REDIS_UP, RELAYED, RESIDENT_MEMORY, RESUMES,
    ROOM_MEMBERS, ROOMS_OPEN, TWILIO_FAILURES, TWILIO_FETCH_SECONDS, UPGRADES_REFUSED,
};
use crate::{AppState, http::HttpConnections, presence::Health};

/// Bucket bounds of the Redis round-trip histogram, in seconds: a healthy Redis on the same
/// network answers in well under a millisecond; the default `--redis-timeout` is 2 s.
const REDIS_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Bucket bounds of the Twilio fetch histogram, in seconds: an HTTPS request across the
/// internet, bounded by `--twilio-timeout`.
const TWILIO_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// How often recorded histogram samples are folded into their buckets when nobody scrapes
/// (each scrape does it too), so that they never pile up in memory.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a scrape in progress may take to finish at shutdown on the metrics listener.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// The process's one recorder, once installed.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder (once per process; later calls return the same handle) and,
/// inside a Tokio runtime, the task that keeps histograms folded.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REDIS_CALL_SECONDS.to_owned()), REDIS_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(TWILIO_FETCH_SECONDS.to_owned()),
                        TWILIO_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let upkeep = handle.clone();
                runtime.spawn(async move {
                    let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
                    loop {
                        interval.tick().await;
                        upkeep.run_upkeep();
                    }
                });
            }
            handle
        })
        .clone()
}

/// The route serving `GET /metrics`, to merge into the main router (`--metrics`) or to serve
/// alone (`--metrics-listen`). Installs the recorder.
pub fn router(state: AppState) -> Router {
    install();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Serves `app` (the [`router`]) on `listener` until the server's shutdown begins; a scrape
/// in progress then gets a moment to finish.
pub async fn serve(listener: TcpListener, app: Router, state: AppState) {
    let http = HttpConnections::new(
        state.limits.header_read_timeout,
        state.shutdown.clone(),
        None,
    );
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => http.spawn(stream, remote, app.clone()),
                Err(error) => {
                    tracing::warn!(%error, "metrics listener cannot accept a connection");
                    tokio::time::sleep(SHUTDOWN_WAIT / 10).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_WAIT, http.wait())
        .await
        .is_err()
    {
        http.abandon();
    }
}

/// Binds `address` for [`serve`]; the error names the address.
pub async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|error| anyhow::anyhow!("listening for metrics on {address}: {error}"))
}

async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    sample(&state);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Sets the gauges that describe the current state from `state`: read at each scrape, never
/// counted up and down, so they cannot drift.
pub fn sample(state: &AppState) {
    let (rooms, connections) = state.hub.counts();
    ::metrics::gauge!(CONNECTIONS_OPEN).set(connections as f64);
    ::metrics::gauge!(ROOMS_OPEN).set(rooms as f64);
    ::metrics::gauge!(ROOM_MEMBERS).set(state.hub.members_here() as f64);
    ::metrics::gauge!(ICE_PROVIDER, "provider" => state.ice.provider_name()).set(1.0);
    match state.hub.store_health() {
        Health::Memory => {}
        Health::Up => ::metrics::gauge!(REDIS_UP).set(1.0),
        Health::Down => ::metrics::gauge!(REDIS_UP).set(0.0),
    }
    if let Some(bytes) = resident_memory() {
        ::metrics::gauge!(RESIDENT_MEMORY).set(bytes as f64);
    }
}

/// The process's resident set size, from `/proc/self/status` (`VmRSS`, in kB); `None` where
/// there is no such file.
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

/// The `# HELP` lines.
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        CONNECTIONS_OPEN,
        "WebSocket connections open on this instance."
    );
    describe_counter!(CONNECTIONS_OPENED, "WebSocket connections accepted.");
    describe_counter!(
        CONNECTIONS_CLOSED,
        "WebSocket connections ended, by reason."
    );
    describe_counter!(UPGRADES_REFUSED, "WebSocket upgrades refused, by reason.");
    describe_gauge!(ROOMS_OPEN, "Rooms with a member held by this instance.");
    describe_gauge!(
        ROOM_MEMBERS,
        "Seats held by this instance, seats kept for a resume included."
    );
    describe_counter!(JOINS, "Join requests, by outcome.");
    describe_counter!(RESUMES, "Seats given back by a resume token.");
    describe_counter!(RELAYED, "Messages relayed to other members, by type.");
    describe_counter!(ERRORS, "Protocol errors sent to clients, by code.");
    describe_counter!(
        QUEUE_OVERFLOWS,
        "Outgoing queues that overflowed (the connection is closed)."
    );
    describe_gauge!(ICE_PROVIDER, "The configured ICE provider (always 1).");
    describe_counter!(ICE_GRANTS, "ICE server requests, by provider and outcome.");
    describe_histogram!(
        TWILIO_FETCH_SECONDS,
        ::metrics::Unit::Seconds,
        "Duration of Twilio token requests."
    );
    describe_counter!(TWILIO_FAILURES, "Failed Twilio token requests, by reason.");
    describe_histogram!(
        REDIS_CALL_SECONDS,
        ::metrics::Unit::Seconds,
        "Duration of Redis commands."
    );
    describe_gauge!(REDIS_UP, "1 while Redis answers and the bus is subscribed.");
    describe_gauge!(
        RESIDENT_MEMORY,
        ::metrics::Unit::Bytes,
        "Resident memory of the process."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resident memory is read on Linux, and is a plausible size for this process.
    #[test]
    fn resident_memory_is_read() {
        let bytes = resident_memory().expect("Linux has /proc/self/status");
        assert!(bytes > 1024 * 1024, "{bytes}");
        assert!(bytes < 64 * 1024 * 1024 * 1024, "{bytes}");
    }
}
