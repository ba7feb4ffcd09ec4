//! What the server logs: the filter applied to every event.
//!
//! The operator chooses the level with `RUST_LOG` (default `info`), except for the WebSocket
//! library: at debug and trace level it writes every frame's payload, which holds resume
//! tokens (credentials for a seat) and the SDP of calls. It is capped at `info` whatever
//! `RUST_LOG` says, so that no log level puts a token in the logs. The server's own events
//! never include a token ([`shared::ResumeToken`]'s `Debug` is `***`).

use tracing_subscriber::EnvFilter;

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
