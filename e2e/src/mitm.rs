//! A compromised signalling server, as far as one page can tell: a relay between that page and
//! the real backend that rewrites the DTLS fingerprint of every SDP passing through.
//!
//! The page is opened through the relay's own port (`http://localhost:<relay>/room/…`), so it
//! opens its WebSocket there too (`/ws` on its own origin). Each TCP connection is looked at
//! once, before anything is read: an HTTP request (the page, its wasm) is copied to the backend
//! byte for byte; a WebSocket upgrade is accepted here and relayed message by message to a
//! WebSocket of the relay's own on the backend, every text message with an `sdp` field getting
//! its `a=fingerprint:` lines replaced by [`SignallingMitm::fake_fingerprint`]. Pings are not
//! relayed: each side's WebSocket library answers its own.
//!
//! It does not terminate DTLS (it is no media relay): the browsers' real certificates still
//! meet, and no longer match what each was told to expect. `tests/verify.rs` shows what the
//! pages make of that. Chromium opens a fresh connection for every WebSocket, so an upgrade
//! never comes after a plain request on one connection; [`SignallingMitm::rewritten`] counts the
//! rewrites so a test can tell that the relay was really in the path.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// The most of a request head looked at to tell an upgrade from a plain request.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The relay; stopped (with every connection through it) when dropped.
pub struct SignallingMitm {
    pub port: u16,
    fake_fingerprint: String,
    rewritten: Arc<AtomicUsize>,
    /// Accepts connections; its own task set holds the connections, so aborting it ends them.
    accept: tokio::task::JoinHandle<()>,
}

impl SignallingMitm {
    /// Listens on a free loopback port and relays to the backend on `backend_port`.
    pub async fn start(backend_port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let fake_fingerprint = random_fingerprint();
        let rewritten = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let fake = fake_fingerprint.clone();
            let rewritten = Arc::clone(&rewritten);
            async move {
                let mut connections = JoinSet::new();
                while let Ok((client, _)) = listener.accept().await {
                    let fake = fake.clone();
                    let rewritten = Arc::clone(&rewritten);
                    connections.spawn(async move {
                        if let Err(error) = relay(client, backend_port, &fake, &rewritten).await {
                            eprintln!("signalling relay: {error:#}");
                        }
                    });
                }
            }
        });
        Ok(Self {
            port,
            fake_fingerprint,
            rewritten,
            accept,
        })
    }

    /// `http://localhost:<port>`: open pages here to put the relay in their path.
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// The SHA-256 fingerprint written into every SDP (random, valid in form).
    pub fn fake_fingerprint(&self) -> &str {
        &self.fake_fingerprint
    }

    /// How many descriptions have had their fingerprint replaced so far.
    pub fn rewritten(&self) -> usize {
        self.rewritten.load(Ordering::SeqCst)
    }
}

impl Drop for SignallingMitm {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One connection: copied as is, or relayed as a WebSocket with the fingerprints rewritten.
async fn relay(
    client: TcpStream,
    backend_port: u16,
    fake: &str,
    rewritten: &AtomicUsize,
) -> anyhow::Result<()> {
    if !is_websocket_upgrade(&client).await? {
        let mut backend = TcpStream::connect(("127.0.0.1", backend_port)).await?;
        let mut client = client;
        // A reset by either side ends the copy; that is how browsers close idle connections.
        let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
        return Ok(());
    }
    let browser = tokio_tungstenite::accept_async(client)
        .await
        .context("accepting the page's WebSocket")?;
    // The backend checks the Origin against its own host: the relay presents itself as a page
    // of the backend's origin, as a compromised server would not even need to.
    let mut request = format!("ws://localhost:{backend_port}/ws").into_client_request()?;
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&format!("http://localhost:{backend_port}"))?,
    );
    let (server, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("opening the relay's WebSocket to the backend")?;
    let (mut to_browser, mut from_browser) = browser.split();
    let (mut to_server, mut from_server) = server.split();
    let up = async {
        while let Some(Ok(message)) = from_browser.next().await {
            let Some(message) = forwarded(message, fake, rewritten) else {
                continue;
            };
            let close = message.is_close();
            if to_server.send(message).await.is_err() || close {
                break;
            }
        }
    };
    let down = async {
        while let Some(Ok(message)) = from_server.next().await {
            let Some(message) = forwarded(message, fake, rewritten) else {
                continue;
            };
            let close = message.is_close();
            if to_browser.send(message).await.is_err() || close {
                break;
            }
        }
    };
    // Either side ending ends the relay (dropping the other half closes its socket).
    tokio::select! {
        () = up => {}
        () = down => {}
    }
    Ok(())
}

/// What goes on for a message: text with its fingerprints rewritten, binary and close as they
/// are; pings and pongs are each side's own business (`None`).
fn forwarded(message: Message, fake: &str, rewritten: &AtomicUsize) -> Option<Message> {
    match message {
        Message::Text(text) => Some(Message::Text(
            match rewrite_fingerprints(text.as_str(), fake) {
                Some(changed) => {
                    rewritten.fetch_add(1, Ordering::SeqCst);
                    changed.into()
                }
                None => text,
            },
        )),
        Message::Binary(_) | Message::Close(_) => Some(message),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
    }
}

/// Whether the first request on `client` asks for a WebSocket upgrade (peeked, not read, so a
/// plain request goes on to the backend whole).
async fn is_websocket_upgrade(client: &TcpStream) -> anyhow::Result<bool> {
    let mut head = vec![0_u8; MAX_HEAD_BYTES];
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    loop {
        let seen = client.peek(&mut head).await?;
        let complete = head[..seen].windows(4).any(|window| window == b"\r\n\r\n");
        if seen == 0 || complete || seen == head.len() {
            let head = String::from_utf8_lossy(&head[..seen]).to_ascii_lowercase();
            return Ok(head
                .lines()
                .any(|line| line.replace(' ', "") == "upgrade:websocket"));
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no whole request head within {:?}",
            crate::PATIENCE
        );
        // `peek` returns at once while the bytes seen so far stay unread: wait for more.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The signalling message `text` with every `a=fingerprint:` line of its `sdp` replaced by
/// `a=fingerprint:sha-256 <fake>`; `None` if it carries no SDP with a fingerprint.
pub fn rewrite_fingerprints(text: &str, fake: &str) -> Option<String> {
    let mut message: serde_json::Value = serde_json::from_str(text).ok()?;
    let sdp = message.get_mut("sdp")?;
    let original = sdp.as_str()?;
    if !original.contains("a=fingerprint:") {
        return None;
    }
    let changed: String = original
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with("a=fingerprint:") {
                format!("a=fingerprint:sha-256 {fake}\r\n")
            } else {
                line.to_owned()
            }
        })
        .collect();
    *sdp = serde_json::Value::String(changed);
    Some(message.to_string())
}

/// 32 random bytes as `AB:CD:…`, the form of a SHA-256 certificate fingerprint.
fn random_fingerprint() -> String {
    (0..32)
        .map(|_| format!("{:02X}", rand::random::<u8>()))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the fingerprint line of an offer changes; the rest of the SDP and the message stay.
    #[test]
    fn rewrites_only_the_fingerprint_line() {
        let sdp = "v=0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n";
        let text = serde_json::json!({ "type": "offer", "sdp": sdp, "from": "p1" }).to_string();
        let changed = rewrite_fingerprints(&text, "CC:DD").expect("an SDP with a fingerprint");
        let changed: serde_json::Value = serde_json::from_str(&changed).unwrap();
        assert_eq!(
            changed["sdp"],
            "v=0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 CC:DD\r\na=setup:actpass\r\n"
        );
        assert_eq!(changed["type"], "offer");
        assert_eq!(changed["from"], "p1");
    }

    /// Messages without an SDP fingerprint (candidates, joins, text that is not JSON) pass.
    #[test]
    fn leaves_other_messages_alone() {
        assert_eq!(rewrite_fingerprints(r#"{"type":"joined"}"#, "CC"), None);
        assert_eq!(
            rewrite_fingerprints(r#"{"type":"offer","sdp":"v=0\r\n"}"#, "CC"),
            None
        );
        assert_eq!(rewrite_fingerprints("not json", "CC"), None);
    }

    /// The fake fingerprint has the form of a SHA-256 one.
    #[test]
    fn fake_fingerprint_is_well_formed() {
        let fake = random_fingerprint();
        let pairs: Vec<&str> = fake.split(':').collect();
        assert_eq!(pairs.len(), 32);
        assert!(
            pairs
                .iter()
                .all(|pair| pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
