//! A tiny static server for the plain-JavaScript reference call page (`bench/reference/`),
//! which `call-bench` times against the app in the same run.
//!
//! It serves the page's two files (built into the binary, so the bench runs from anywhere) on
//! a free loopback port and nothing else: no directory listing, no other path. The page talks
//! to the bench's backend, whose `--allowed-origins` must then name this server's origin.

use anyhow::Context;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const INDEX_HTML: &str = include_str!("../../bench/reference/index.html");
const CALL_JS: &str = include_str!("../../bench/reference/call.js");
/// A request head longer than this is not one of ours.
const MAX_HEAD: usize = 8 * 1024;

/// The reference page's server; it stops when the bench's runtime ends.
pub struct ReferenceServer {
    pub port: u16,
}

impl ReferenceServer {
    /// Serves the page on a free loopback port, in the background of the current runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the reference page's server")?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // A failed request only fails that page load, which the bench then reports.
                    let _ = serve(stream).await;
                });
            }
        });
        Ok(Self { port })
    }

    /// `http://localhost:<port>`: localhost is a secure context, so getUserMedia works.
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// The page for `room` on the signalling server at `backend_origin` (`http://…`).
    pub fn page_url(&self, backend_origin: &str, room: &str) -> String {
        let ws = backend_origin.replacen("http", "ws", 1);
        format!("{}/?room={room}&ws={ws}/ws", self.origin())
    }
}

/// Answers one request (`Connection: close`).
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/");
    let (status, kind, body) = match path {
        "/" | "/index.html" => ("200 OK", "text/html; charset=utf-8", INDEX_HTML),
        "/call.js" => ("200 OK", "text/javascript; charset=utf-8", CALL_JS),
        _ => ("404 Not Found", "text/plain; charset=utf-8", "not found\n"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
