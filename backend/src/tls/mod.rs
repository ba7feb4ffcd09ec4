//! HTTPS and WSS served by the backend itself, without a reverse proxy.
//!
//! A small deployment, or a phone on the same Wi-Fi (browsers grant the camera only to secure
//! contexts, and a LAN address over plain HTTP is not one), can then run the one binary:
//! - [`certificate`]: the certificate in use, read from PEM files (`--tls-cert`, `--tls-key`)
//!   and read again on SIGHUP without touching open connections;
//! - [`self_signed`]: a certificate made at start for this machine's names and addresses
//!   (`--tls-self-signed`), whose SHA-256 fingerprint is printed so a visitor can check it;
//! - [`redirect`]: plain HTTP on another port answering every request with a redirect to the
//!   HTTPS one (`--http-redirect-listen`).
//!
//! The handshake itself happens in each connection's task (see `crate::http`), bounded by the
//! header read timeout, so a client that stalls it never holds the accept loop.
//! Only HTTP/1.1 is offered (ALPN): WebSockets over HTTP/2 are not served.

pub mod certificate;
pub mod redirect;
pub mod self_signed;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use clap::Args;
use rustls::{ServerConfig, crypto::CryptoProvider};
use tokio::net::TcpListener;

use crate::tls::certificate::{CertificateStore, LoadError};

/// TLS options. Without any of them the server speaks plain HTTP, as behind a TLS proxy.
#[derive(Debug, Clone, Default, Args)]
#[command(group(clap::ArgGroup::new("tls_source").args(["tls_cert", "tls_self_signed"])))]
pub struct TlsConfig {
    /// PEM file with the certificate chain to serve HTTPS and WSS with (leaf first), e.g.
    /// Let's Encrypt's `fullchain.pem`; needs `--tls-key`. Both files are read again on
    /// SIGHUP, so a renewed certificate is used without a restart or a dropped connection.
    #[arg(
        long,
        env = "TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start for this machine's host name,
    /// `<host name>.local`, localhost, 127.0.0.1, ::1 and the listen address (every interface
    /// address when listening on all of them); its SHA-256 fingerprint is printed at start.
    /// Browsers warn about it once; for trying the app from a phone on the same network.
    #[arg(long, env = "TLS_SELF_SIGNED", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_self_signed: bool,

    /// Also listen for plain HTTP on this address and redirect every request (308) to the same
    /// path on HTTPS. Needs `--tls-cert` or `--tls-self-signed`.
    #[arg(long, env = "HTTP_REDIRECT_LISTEN", requires = "tls_source")]
    pub http_redirect_listen: Option<SocketAddr>,
}

/// Why TLS could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "--http-redirect-listen needs TLS: give --tls-cert and --tls-key, or --tls-self-signed"
    )]
    RedirectWithoutTls,
    #[error("making the self-signed certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
    #[error("the TLS configuration is refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// TLS as configured: what handshakes are made with, and the certificate they are given.
#[derive(Debug, Clone)]
pub struct Tls {
    pub server: Arc<ServerConfig>,
    /// The certificate in use, shared with the acceptor: reloading it changes what the next
    /// handshake gets.
    pub certificates: Arc<CertificateStore>,
}

impl Tls {
    /// TLS from the options, or `None` when none is given; the certificate files are read (or
    /// the self-signed certificate made) here, so a mistake stops the start.
    pub fn from_config(config: &TlsConfig, listen: SocketAddr) -> Result<Option<Self>, TlsError> {
        let store = match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
            (Some(cert), Some(key), _) => CertificateStore::from_files(cert.clone(), key.clone())?,
            (_, _, true) => {
                let names = self_signed::machine_names(listen);
                tracing::info!(?names, "making a self-signed certificate");
                CertificateStore::fixed(self_signed::generate(&names)?)
            }
            // clap makes each file require the other; anything else is plain HTTP.
            _ if config.http_redirect_listen.is_some() => return Err(TlsError::RedirectWithoutTls),
            _ => return Ok(None),
        };
        let certificates = Arc::new(store);
        let mut server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certificates.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self {
            server: Arc::new(server),
            certificates,
        }))
    }
}

/// Sets TLS up as configured, for `main`: reads or makes the certificate, prints its
/// fingerprint (on stdout too when self-signed, for the person starting the server to pass on),
/// reloads it on every SIGHUP from now on, and binds the redirect listener. `None` without TLS.
pub async fn start(config: &TlsConfig, listen: SocketAddr) -> anyhow::Result<Option<Serving>> {
    use anyhow::Context;
    let Some(tls) = Tls::from_config(config, listen)? else {
        return Ok(None);
    };
    let fingerprint = tls.certificates.fingerprint();
    if config.tls_self_signed {
        println!("TLS certificate (self-signed) SHA-256 fingerprint: {fingerprint}");
    }
    tracing::info!(%fingerprint, self_signed = config.tls_self_signed, "serving HTTPS and WSS");
    tls.certificates
        .clone()
        .reload_on_hangup()
        .context("listening for SIGHUP")?;
    let redirect = match config.http_redirect_listen {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("listening on {address} (--http-redirect-listen)"))?;
            tracing::info!(address = %listener.local_addr()?, "redirecting plain HTTP to HTTPS");
            Some(listener)
        }
        None => None,
    };
    Ok(Some(Serving {
        server: tls.server,
        redirect,
    }))
}

/// The cryptography used for TLS and for loading keys: *ring*, the provider the rest of the
/// dependency tree (reqwest's rustls) already builds, named here rather than left to a
/// process-wide default that two providers in one binary would make ambiguous.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What [`crate::serve_tls`] needs besides the main listener.
#[derive(Debug)]
pub struct Serving {
    pub server: Arc<ServerConfig>,
    /// Plain HTTP redirected to HTTPS (`--http-redirect-listen`), already bound.
    pub redirect: Option<TcpListener>,
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// The two files come together, the self-signed certificate instead of them, and the
    /// redirect only with one of the two; anything else stops the start with a message.
    #[test]
    fn tls_options_go_together() {
        let parse = |args: &[&str]| {
            Config::parse_from_args(std::iter::once("backend").chain(args.iter().copied()))
        };
        let config = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("both files");
        assert!(config.tls.tls_cert.is_some() && config.tls.tls_key.is_some());
        let config = parse(&["--tls-self-signed", "--http-redirect-listen", "0.0.0.0:80"])
            .expect("self-signed with a redirect");
        assert!(config.tls.tls_self_signed);
        assert_eq!(
            config.tls.http_redirect_listen,
            Some("0.0.0.0:80".parse().expect("address"))
        );
        for (args, named) in [
            (&["--tls-cert", "c.pem"][..], "--tls-key"),
            (&["--tls-key", "k.pem"][..], "--tls-cert"),
            (
                &[
                    "--tls-self-signed",
                    "--tls-cert",
                    "c.pem",
                    "--tls-key",
                    "k.pem",
                ][..],
                "--tls-self-signed",
            ),
            (&["--http-redirect-listen", "0.0.0.0:80"][..], "--tls-cert"),
        ] {
            let error = parse(args).expect_err("refused").to_string();
            assert!(error.contains(named), "{args:?}: {error}");
        }
    }
}
