//! The certificate every new TLS handshake is given, replaceable while the server runs.
//!
//! rustls asks a resolver for the certificate at each handshake; this one hands out the
//! current one from behind a lock. Reloading (on SIGHUP) reads both PEM files, checks that the
//! key is the certificate's, and only then swaps: a broken or half-written new file is logged
//! and the old certificate stays. Connections already open keep the session they negotiated;
//! nothing here touches them.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, PoisonError, RwLock},
};

use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use sha2::{Digest, Sha256};

/// Largest PEM file read: a long chain is a few kilobytes, so anything bigger is a mistake.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Why a certificate or key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_PEM_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {source}")]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no usable private key: {source}")]
    Key {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the key in {key} is not the key of the certificate in {cert}: {source}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Where the certificate comes from, so that it can be read again.
#[derive(Debug, Clone)]
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Made in memory at start (`--tls-self-signed`): nothing to read again.
    Fixed,
}

/// The current certificate and where it came from; the TLS acceptor's certificate resolver.
pub struct CertificateStore {
    source: Source,
    /// Read at every handshake, written on reload. A std lock is right: it is held only to
    /// clone or replace an `Arc`, never across an `.await`.
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateStore {
    /// Reads the chain from `cert` and the key from `key` (PEM).
    pub fn from_files(cert: PathBuf, key: PathBuf) -> Result<Self, LoadError> {
        let certified = load(&cert, &key)?;
        Ok(Self {
            source: Source::Files { cert, key },
            current: RwLock::new(Arc::new(certified)),
        })
    }

    /// A certificate that never changes.
    pub fn fixed(certified: CertifiedKey) -> Self {
        Self {
            source: Source::Fixed,
            current: RwLock::new(Arc::new(certified)),
        }
    }

    /// The certificate the next handshake gets.
    pub fn current(&self) -> Arc<CertifiedKey> {
        // A panic while the lock was held cannot leave a half-replaced `Arc`: use it.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The SHA-256 fingerprint of the leaf certificate now in use.
    pub fn fingerprint(&self) -> String {
        self.current()
            .cert
            .first()
            .map(|leaf| fingerprint(leaf))
            .unwrap_or_default()
    }

    /// Reads the files again and uses them from the next handshake on; when they cannot be
    /// used the error is returned and the certificate in use stays. A fixed certificate is
    /// kept as it is.
    pub fn reload(&self) -> Result<Reloaded, LoadError> {
        let Source::Files { cert, key } = &self.source else {
            return Ok(Reloaded::Fixed);
        };
        let certified = Arc::new(load(cert, key)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = certified;
        Ok(Reloaded::Replaced)
    }

    /// Reloads on every SIGHUP, for as long as the process runs, logging the outcome.
    pub fn reload_on_hangup(self: Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match self.reload() {
                    Ok(Reloaded::Replaced) => tracing::info!(
                        fingerprint = %self.fingerprint(),
                        "SIGHUP: TLS certificate reloaded"
                    ),
                    Ok(Reloaded::Fixed) => {
                        tracing::info!("SIGHUP: the self-signed certificate is kept");
                    }
                    Err(error) => tracing::error!(
                        %error,
                        fingerprint = %self.fingerprint(),
                        "SIGHUP: cannot reload the TLS certificate; the one in use is kept"
                    ),
                }
            }
        }))
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The files were read again and are in use.
    Replaced,
    /// The certificate is not from files.
    Fixed,
}

impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl fmt::Debug for CertificateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is not shown; the fingerprint says which certificate is in use.
        f.debug_struct("CertificateStore")
            .field("source", &self.source)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// The SHA-256 of a certificate's DER, as upper-case hex pairs joined by colons: the form of
/// `openssl x509 -noout -fingerprint -sha256` and of browsers' certificate viewers.
pub fn fingerprint(certificate: &CertificateDer<'_>) -> String {
    Sha256::digest(certificate.as_ref())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads a chain and its key and checks that they belong together.
fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, LoadError> {
    let cert_pem = read_limited(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| LoadError::Pem {
            path: cert.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(LoadError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key_pem = read_limited(key)?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| LoadError::Pem {
        path: key.to_owned(),
        source,
    })?;
    let signing_key = super::provider()
        .key_provider
        .load_private_key(private_key)
        .map_err(|source| LoadError::Key {
            path: key.to_owned(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|source| LoadError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        })?;
    Ok(certified)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let read_error = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .expect("params")
        .self_signed(&key)
        .expect("cert");
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        (cert_path, key_path, fingerprint(cert.der()))
    }

    /// A reload picks up new files; a broken file, a missing one or a key of another
    /// certificate is refused with a message naming the file, and the certificate in use stays.
    #[test]
    fn reload_replaces_only_with_a_usable_pair() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key, first) = write_pair(dir.path(), &["localhost"]);
        let store = CertificateStore::from_files(cert.clone(), key.clone()).expect("loads");
        assert_eq!(store.fingerprint(), first);

        let other = tempfile::tempdir().expect("dir");
        let (other_cert, other_key, second) = write_pair(other.path(), &["localhost"]);
        std::fs::copy(&other_cert, &cert).expect("copy");
        let error = store.reload().expect_err("the key is the old one");
        assert!(matches!(error, LoadError::Mismatch { .. }), "{error}");
        assert_eq!(store.fingerprint(), first);

        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot base64!\n").expect("write");
        let error = store.reload().expect_err("broken key");
        assert!(error.to_string().contains("key.pem"), "{error}");
        assert_eq!(store.fingerprint(), first);

        std::fs::write(&cert, "no certificate here").expect("write");
        let error = store.reload().expect_err("no certificate");
        assert!(matches!(error, LoadError::NoCertificate { .. }), "{error}");
        assert_eq!(store.fingerprint(), first);

        std::fs::copy(&other_cert, &cert).expect("copy");
        std::fs::copy(&other_key, &key).expect("copy");
        assert_eq!(store.reload().expect("usable"), Reloaded::Replaced);
        assert_eq!(store.fingerprint(), second);

        std::fs::remove_file(&key).expect("remove");
        assert!(matches!(store.reload(), Err(LoadError::Read { .. })));
        assert_eq!(store.fingerprint(), second);
    }

    /// The fingerprint is `openssl x509 -fingerprint -sha256`'s: 32 upper-case hex pairs.
    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        // SHA-256 of the three bytes "abc".
        let printed = fingerprint(&CertificateDer::from(b"abc".to_vec()));
        assert_eq!(
            printed,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }
}
