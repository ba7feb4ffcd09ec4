//! What the server logs, and how: the filter applied to every event, and the format of the
//! lines (text for people, JSON for log collectors).
//!
//! The operator chooses the level with `RUST_LOG` (default `info`), except for the WebSocket
//! library: at debug and trace level it writes every frame's payload, which holds resume
//! tokens (credentials for a seat) and the SDP of calls. It is capped at `info` whatever
//! `RUST_LOG` says, so that no log level puts a token in the logs. The server's own events
//! never include a token ([`shared::ResumeToken`]'s `Debug` is `***`).

use tracing_subscriber::EnvFilter;

/// The form of log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`),
    /// and `span`/`spans` with the connection's `client` and `peer`.
    Json,
}

/// Installs the global subscriber writing to standard output in `format`, filtered by
/// [`filter`] of `directives` (the value of `RUST_LOG`).
pub fn init(format: LogFormat, directives: Option<&str>) {
    let builder = tracing_subscriber::fmt().with_env_filter(filter(directives));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Libraries capped at `info`: they log message contents below it.
const CAPPED: &[&str] = &["tungstenite=info", "tokio_tungstenite=info"];

/// The filter for `directives` (the value of `RUST_LOG`; `None`: `info`), with the caps.
pub fn filter(directives: Option<&str>) -> EnvFilter {
    let mut filter = directives
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    for cap in CAPPED {
        filter = filter.add_directive(cap.parse().expect("a valid directive"));
    }
    filter
}
