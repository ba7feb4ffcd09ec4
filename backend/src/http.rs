//! Plain HTTP connections: hyper's HTTP/1 with a header read timeout, one task each, and how
//! they end at shutdown.
//!
//! `axum::serve` would do the same but offers no header read timeout, and at shutdown it waits
//! for every connection without limit: one client sending its headers a byte at a time
//! (slowloris) would hold the process for ever. Here a request whose headers take longer than
//! `--header-read-timeout` closes its connection, and at shutdown idle connections close at
//! once, requests in progress get the grace period, and whatever is left after it is dropped.
//!
//! A WebSocket leaves this module's care at its upgrade: its task is [`crate::ws`]'s, tracked
//! by [`crate::AppState::tracker`].

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::{Request, body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// The plain HTTP connections of one server, each served by its own task.
#[derive(Debug)]
pub(crate) struct HttpConnections {
    /// HTTP/1 only (what browsers speak to a plain-HTTP server), without the version sniffing
    /// of hyper-util's `auto` builder: its header read timer then starts as soon as a connection
    /// is accepted, so one that never sends a byte is closed too.
    builder: http1::Builder,
    /// Every connection task, so shutdown can wait for them.
    tracker: TaskTracker,
    /// Cancelled when shutdown begins: each connection finishes its request in progress and
    /// closes (at once when idle).
    stopping: CancellationToken,
    /// Cancelled when the grace period is over: the connections still open are dropped.
    abandoned: CancellationToken,
}

impl HttpConnections {
    pub(crate) fn new(header_read_timeout: Duration, stopping: CancellationToken) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        Self {
            builder,
            tracker: TaskTracker::new(),
            stopping,
            abandoned: CancellationToken::new(),
        }
    }

    /// Serves `stream` in its own task, with `remote` as the request's [`ConnectInfo`].
    pub(crate) fn spawn(&self, stream: TcpStream, remote: SocketAddr, app: Router) {
        // Signalling messages are small and latency-bound: never let Nagle's algorithm hold one
        // back waiting for a delayed ACK (that alone costs ~40 ms per message).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let stopping = self.stopping.clone();
        let abandoned = self.abandoned.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(request)
        });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        self.tracker.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => return log_end(result),
                () = stopping.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                () = abandoned.cancelled() => {
                    tracing::debug!(%remote, "HTTP connection dropped at the end of the grace period");
                }
            }
        });
    }

    /// Waits until every connection has ended; no new one may be spawned after this is called.
    pub(crate) async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Drops the connections still open.
    pub(crate) fn abandon(&self) {
        self.abandoned.cancel();
    }
}

fn log_end<E: std::fmt::Display>(result: Result<(), E>) {
    // A client that hangs up, or a header read timeout, is routine.
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection ended");
    }
}
