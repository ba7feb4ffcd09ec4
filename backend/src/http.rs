//! Plain HTTP connections: hyper's HTTP/1 with a header read timeout, one task each, and how
//! they end at shutdown.
//!
//! `axum::serve` would do the same but offers no header read timeout, and at shutdown it waits
//! for every connection without limit: one client sending its headers a byte at a time
//! (slowloris) would hold the process for ever. Here a request whose headers take longer than
//! `--header-read-timeout` closes its connection, and at shutdown a connection with no request
//! in progress (idle, or still receiving headers) closes at once, one whose response is not
//! written out yet gets the grace period, and whatever is left after it is dropped.
//!
//! With TLS (`--tls-cert` or `--tls-self-signed`) each task first does the handshake, bounded
//! by the same header read timeout and abandoned at once when shutdown begins, so a client that
//! stalls it holds neither the accept loop nor a shutdown.
//!
//! A WebSocket leaves this module's care at its upgrade: its task is [`crate::ws`]'s, tracked
//! by [`crate::AppState::tracker`].

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::ConnectInfo,
};
use http_body::{Frame, SizeHint};
use hyper::{Request, body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
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
    /// Present when connections speak TLS: each begins with a handshake.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Longest wait for a TLS handshake (the header read timeout).
    handshake_timeout: Duration,
}

impl HttpConnections {
    pub(crate) fn new(
        header_read_timeout: Duration,
        stopping: CancellationToken,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        Self {
            builder,
            tracker: TaskTracker::new(),
            stopping,
            abandoned: CancellationToken::new(),
            tls,
            handshake_timeout: header_read_timeout,
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
        let in_flight = InFlight::default();
        let busy = in_flight.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let guard = busy.enter();
            let response = app.clone().oneshot(request);
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        body,
                        _guard: guard,
                    })
                }))
            }
        });
        let builder = self.builder.clone();
        let tls = self.tls.clone();
        let handshake_timeout = self.handshake_timeout;
        self.tracker.spawn(async move {
            let stream: Box<dyn Stream> = match tls {
                None => Box::new(stream),
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                    tokio::select! {
                        result = handshake => match result {
                            Ok(Ok(stream)) => Box::new(stream),
                            Ok(Err(error)) => {
                                tracing::debug!(%remote, %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        },
                        () = stopping.cancelled() => return,
                    }
                }
            };
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => return log_end(result),
                () = stopping.cancelled() => {
                    // Nothing to finish: idle, or headers still coming (slowloris). A request
                    // whose headers have just arrived may be dropped too: the server is going.
                    if in_flight.is_idle() {
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                }
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

/// A connection's byte stream, plain TCP or TLS over it: one type, so one HTTP code path serves
/// both (the indirection costs nothing next to a system call).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How many requests of one connection have a response not yet written out.
#[derive(Debug, Clone, Default)]
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(Arc::clone(&self.0))
    }

    fn is_idle(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }
}

/// One request in flight, until its response body is dropped: hyper drops it once the body is
/// written out, or when the connection dies.
#[derive(Debug)]
struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as in flight while it exists.
struct Tracked {
    body: Body,
    /// Held, never read: dropping the body ends the request.
    _guard: InFlightGuard,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn log_end<E: std::fmt::Display>(result: Result<(), E>) {
    // A client that hangs up, or a header read timeout, is routine.
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection ended");
    }
}
