//! A minimal HTTP/1.1 `GET` of a JSON document from a local server (the backend's `/healthz`,
//! the Twilio stand-in's counts) or of a text (the backend's `/metrics`), so the harness needs
//! no HTTP client crate of its own.
//!
//! Only what those two servers answer: one request per connection (`Connection: close`), a
//! body with a `Content-Length`, no chunked encoding, no redirects, no TLS.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// `GET http://127.0.0.1:<port><path>`; fails unless the answer is a 2xx with a JSON body.
pub async fn get_json(port: u16, path: &str) -> anyhow::Result<serde_json::Value> {
    let body = get_text(port, path).await?;
    serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON: {body:?}"))
}

/// `GET http://127.0.0.1:<port><path>`; fails unless the answer is a 2xx; returns the body.
pub async fn get_text(port: u16, path: &str) -> anyhow::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("GET {path} on port {port} took more than 10 s"))??;
    let response = String::from_utf8(response).context("a response that is not UTF-8")?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("no end of headers in {response:?}"))?;
    let status = head.split(' ').nth(1).unwrap_or_default();
    if !status.starts_with('2') {
        bail!("GET {path} on port {port}: {head:?}");
    }
    Ok(body.to_owned())
}
