//! HTTPS and WSS served by the backend itself: certificate files, their reload on SIGHUP, a
//! self-signed certificate, the plain-HTTP redirect, and the handshake's place in the
//! connection task (timeouts, shutdown, limits).
//!
//! Certificates are made by rcgen for `localhost` and `127.0.0.1`; clients are real rustls
//! clients (reqwest, tokio-tungstenite) that trust exactly those certificates.

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use backend::{AppState, config::Config, router, serve_tls, tls};
use common::{BackendProcess, Client, PATIENCE, relayed, relays};
use rustls::pki_types::CertificateDer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

/// A certificate and its key as PEM files in a temporary directory.
struct CertificateFiles {
    dir: tempfile::TempDir,
    /// The certificate (DER), which clients trust.
    der: CertificateDer<'static>,
}

impl CertificateFiles {
    /// A fresh key and certificate for `localhost` and `127.0.0.1`, named `label`.
    fn new(label: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let der = write_pair(dir.path(), label);
        Self { dir, der }
    }

    /// Replaces both files with a fresh pair named `label`; returns the new certificate.
    fn write(&self, label: &str) -> CertificateDer<'static> {
        write_pair(self.dir.path(), label)
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join(CERT)
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join(KEY)
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".to_owned(),
            path(&self.cert()),
            "--tls-key".to_owned(),
            path(&self.key()),
        ]
    }
}

const CERT: &str = "cert.pem";
const KEY: &str = "key.pem";

/// Writes a fresh key and certificate named `label` into `dir`; returns the certificate.
fn write_pair(dir: &Path, label: &str) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, label);
    let cert = params.self_signed(&key).expect("certificate");
    std::fs::write(dir.join(CERT), cert.pem()).expect("write");
    std::fs::write(dir.join(KEY), key.serialize_pem()).expect("write");
    cert.der().clone()
}

fn path(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_owned()
}

/// `openssl x509 -fingerprint -sha256`'s form of a certificate's SHA-256.
fn sha256_fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A rustls client configuration trusting exactly `certificates`.
fn trusting(certificates: &[&CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots
            .add((*certificate).clone())
            .expect("a usable trust anchor");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// An HTTPS client trusting `certificate`, which keeps the server's certificate of each
/// response.
fn https_client(certificate: &CertificateDer<'static>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_der(certificate).expect("DER"))
        .tls_info(true)
        .timeout(PATIENCE)
        .build()
        .expect("HTTPS client")
}

/// The leaf certificate (DER) the server presented for `response`.
fn served_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS information kept")
        .to_vec()
}

fn wss_url(address: SocketAddr) -> String {
    format!("wss://localhost:{}/ws", address.port())
}

/// Two clients over WSS in `room`, both past `ready`.
async fn wss_pair(url: &str, tls: &Arc<rustls::ClientConfig>, room: &str) -> (Client, Client) {
    let mut first = Client::connect_tls(url, tls.clone()).await;
    first.join(room).await;
    let mut second = Client::connect_tls(url, tls.clone()).await;
    second.join(room).await;
    assert!(matches!(
        first.recv().await,
        shared::ServerMessage::PeerJoined { .. }
    ));
    assert!(matches!(
        first.recv().await,
        shared::ServerMessage::Ready { .. }
    ));
    (first, second)
}

/// Every relayed message `from` sends reaches `to` unchanged, and nothing else does.
async fn assert_relays(from: &mut Client, to: &mut Client, tag: &str) {
    for message in relays(None, tag) {
        from.send(&message).await;
        assert_eq!(to.recv().await, relayed(&message, from.id()));
    }
    to.assert_quiet().await;
    from.assert_quiet().await;
}

/// With certificate files, the real binary serves HTTPS and WSS with that certificate, and a
/// call's signalling flows over WSS.
#[tokio::test]
async fn serves_https_and_wss_with_certificate_files() {
    let files = CertificateFiles::new("first");
    let args = files.args();
    let backend = BackendProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let response = https_client(&files.der)
        .get(format!(
            "https://localhost:{}/healthz",
            backend.address.port()
        ))
        .send()
        .await
        .expect("HTTPS answers");
    assert_eq!(response.status(), 200);
    assert_eq!(served_certificate(&response), files.der.to_vec());

    let tls = trusting(&[&files.der]);
    let (mut alice, mut bob) = wss_pair(&wss_url(backend.address), &tls, "over-tls").await;
    assert_eq!(alice.peer_certificate(), Some(files.der.to_vec()));
    assert_relays(&mut alice, &mut bob, "wss").await;
}

/// SIGHUP reads both files again: WebSockets already open keep relaying, new connections get
/// the new certificate; a broken file is logged and the certificate in use stays.
#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let files = CertificateFiles::new("before");
    let args = files.args();
    let backend = BackendProcess::start_capturing(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "info",
    )
    .await;
    let url = wss_url(backend.address);
    let before = files.der.clone();
    let (mut alice, mut bob) = wss_pair(&url, &trusting(&[&before]), "reload").await;

    let after = files.write("after");
    let both = trusting(&[&before, &after]);
    backend.hang_up();
    backend
        .wait_for_output("the reload", |line| {
            line.contains("TLS certificate reloaded")
        })
        .await;
    let fresh = Client::connect_tls(&url, both.clone()).await;
    assert_eq!(fresh.peer_certificate(), Some(after.to_vec()));
    assert_relays(&mut alice, &mut bob, "after-reload").await;
    assert_relays(&mut bob, &mut alice, "after-reload-back").await;

    std::fs::write(files.key(), "-----BEGIN PRIVATE KEY-----\nbroken\n").expect("write");
    backend.hang_up();
    let refusal = backend
        .wait_for_output("the refused reload", |line| {
            line.contains("cannot reload the TLS certificate")
        })
        .await;
    assert!(refusal.contains("key.pem"), "{refusal}");
    let still = Client::connect_tls(&url, both.clone()).await;
    assert_eq!(still.peer_certificate(), Some(after.to_vec()));
    assert_relays(&mut alice, &mut bob, "after-refusal").await;
}

/// `--tls-self-signed` prints the SHA-256 fingerprint of the very certificate clients get, and
/// that certificate is valid for `localhost` and `127.0.0.1`.
#[tokio::test]
async fn self_signed_prints_the_fingerprint_of_the_certificate_served() {
    let backend = BackendProcess::start_capturing(&["--tls-self-signed"], "warn").await;
    let line = backend
        .wait_for_output("the fingerprint", |line| {
            line.contains("SHA-256 fingerprint:")
        })
        .await;
    let printed = line
        .rsplit(' ')
        .next()
        .expect("the fingerprint ends the line");
    assert_eq!(printed.len(), 32 * 3 - 1, "{line}");

    let response = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .timeout(PATIENCE)
        .build()
        .expect("client")
        .get(format!(
            "https://127.0.0.1:{}/healthz",
            backend.address.port()
        ))
        .send()
        .await
        .expect("HTTPS answers");
    let served = served_certificate(&response);
    assert_eq!(sha256_fingerprint(&served), printed);

    let trusted = CertificateDer::from(served);
    for host in ["localhost", "127.0.0.1"] {
        let response = https_client(&trusted)
            .get(format!("https://{host}:{}/healthz", backend.address.port()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("the certificate is valid for {host}: {error}"));
        assert_eq!(response.status(), 200, "{host}");
    }
}

/// Plain HTTP on `--http-redirect-listen` answers 308 to the same host, path and query on the
/// TLS port, and 400 to a Host that is not a host name.
#[tokio::test]
async fn plain_http_is_redirected_to_https() {
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let redirect_listen = format!("127.0.0.1:{redirect_port}");
    let backend = BackendProcess::start(&[
        "--tls-self-signed",
        "--http-redirect-listen",
        &redirect_listen,
    ])
    .await;
    let tls_port = backend.address.port();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .expect("client");
    let url = format!("http://{redirect_listen}/room/blue-fox?lang=en");
    for (host, location) in [
        (
            "Chat.Example.com:8080",
            format!("https://chat.example.com:{tls_port}/room/blue-fox?lang=en"),
        ),
        (
            "[::1]",
            format!("https://[::1]:{tls_port}/room/blue-fox?lang=en"),
        ),
    ] {
        let response = client
            .get(&url)
            .header("host", host)
            .send()
            .await
            .expect("the redirect listener answers");
        assert_eq!(response.status(), 308, "{host}");
        assert_eq!(response.headers()["location"], location.as_str(), "{host}");
    }
    for host in ["evil.example/path", "user@chat.example.com", "a b"] {
        let response = client
            .get(&url)
            .header("host", host)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 400, "{host}");
    }
}

/// On the usual port 443 the redirect names no port.
#[tokio::test]
async fn redirect_to_port_443_names_no_port() {
    use tower::ServiceExt;
    let request = axum::http::Request::get("/room/x")
        .header("host", "chat.example.com:80")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tls::redirect::router(443)
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        "https://chat.example.com/room/x"
    );
}

/// An in-process server over TLS, for tests of the connection tasks.
struct TlsServer {
    address: SocketAddr,
    certificate: CertificateDer<'static>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _files: CertificateFiles,
}

impl TlsServer {
    async fn start(configure: impl FnOnce(&mut Config)) -> Self {
        let files = CertificateFiles::new("in-process");
        let mut config = Config::defaults();
        config.tls.tls_cert = Some(files.cert());
        config.tls.tls_key = Some(files.key());
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let tls = tls::Tls::from_config(&config.tls, address)
            .expect("TLS sets up")
            .expect("TLS configured");
        let state = AppState::new(&config).expect("state");
        let app = router(state.clone(), &config).expect("router");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tls(
            listener,
            tls::Serving {
                server: tls.server,
                redirect: None,
            },
            app,
            state,
            config.shutdown_grace,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            address,
            certificate: files.der.clone(),
            stop: Some(stop),
            task,
            _files: files,
        }
    }

    async fn healthz(&self) -> reqwest::StatusCode {
        https_client(&self.certificate)
            .get(format!("https://localhost:{}/healthz", self.address.port()))
            .send()
            .await
            .expect("HTTPS answers")
            .status()
    }

    /// Stops the server and waits, at most [`PATIENCE`], until it has.
    async fn shutdown(mut self) {
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the server stops in time")
            .expect("no panic")
            .expect("stops cleanly");
    }
}

/// Reads until the server closes `stream`; fails the test if it does not within [`PATIENCE`].
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buffer = [0; 1024];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .expect("the server closes the connection");
}

/// A client that never finishes its handshake neither holds up other clients nor outlives the
/// header read timeout; plain HTTP sent to the TLS port gets no answer but a close.
#[tokio::test]
async fn stalled_handshakes_neither_block_accept_nor_last() {
    let server = TlsServer::start(|config| {
        config.limits.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stalled = TcpStream::connect(server.address).await.expect("connect");
    assert_eq!(server.healthz().await, 200);
    closed_by_server(&mut stalled).await;

    let mut plain = TcpStream::connect(server.address).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, plain.read_to_end(&mut answer))
        .await
        .expect("closed in time")
        .ok();
    assert!(!answer.starts_with(b"HTTP/"), "no plain HTTP answer");
    server.shutdown().await;
}

/// A shutdown drops handshakes in progress at once, long before their timeout or the end of
/// the grace period.
#[tokio::test]
async fn shutdown_drops_handshakes_in_progress() {
    let server = TlsServer::start(|config| {
        config.limits.header_read_timeout = Duration::from_secs(60);
        config.shutdown_grace = Duration::from_secs(60);
    })
    .await;
    let mut stalled = TcpStream::connect(server.address).await.expect("connect");
    // The handshake task exists once the server has accepted: a full request after it proves
    // that.
    assert_eq!(server.healthz().await, 200);
    server.shutdown().await;
    closed_by_server(&mut stalled).await;
}

/// Over TLS the client address still comes from a trusted proxy's `X-Forwarded-For`, and the
/// per-address and server-wide limits still refuse the excess before the upgrade.
#[tokio::test]
async fn limits_and_client_addresses_hold_over_tls() {
    let server = TlsServer::start(|config| {
        config.limits.trusted_proxies = vec!["127.0.0.0/8".parse().expect("CIDR")];
        config.limits.max_connections_per_ip = 1;
        config.limits.max_connections = Some(2);
    })
    .await;
    let tls = trusting(&[&server.certificate]);
    let url = wss_url(server.address);
    let connect = |client: &'static str| {
        let tls = tls.clone();
        let url = url.clone();
        async move {
            Client::connect_with_headers_over(&url, &[("x-forwarded-for", client)], Some(tls)).await
        }
    };
    let mut first = connect("198.51.100.1")
        .await
        .expect("first client admitted");
    assert_eq!(connect("198.51.100.1").await.err(), Some(429));
    let mut second = connect("198.51.100.2")
        .await
        .expect("another client admitted");
    assert_eq!(connect("198.51.100.3").await.err(), Some(503));
    first.assert_quiet().await;
    second.assert_quiet().await;
    server.shutdown().await;
}
