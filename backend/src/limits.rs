//! Admission at the WebSocket upgrade: allowed Origins and host names, connections per client
//! address and in all.
//!
//! Message-level limits (size, rate) live in the connection task; these are decided before a
//! socket exists, so a refused browser gets a plain HTTP status (403, 429, 503).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};

use axum::http::{HeaderMap, header};

/// Why an upgrade was refused by the [`OriginPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginRefusal {
    #[error("This page's origin may not use this server.")]
    ForeignOrigin,
    /// DNS rebinding protection of a server on loopback with no configured origin.
    #[error(
        "This server answers only to localhost, 127.0.0.1 and [::1]; its operator can set PUBLIC_ORIGIN to serve another name."
    )]
    HostNotLoopback,
}

/// Which pages may open a WebSocket.
#[derive(Debug, Clone)]
pub enum OriginPolicy {
    /// Only pages served by this server: the Origin's host must equal the host the browser
    /// asked for (`X-Forwarded-Host` when a trusted proxy set it, else `Host`).
    SameOrigin {
        /// Set when the server listens on loopback and no origin is configured: the host asked
        /// for must then be `localhost`, `127.0.0.1` or `[::1]`, so a page on a host name an
        /// attacker re-pointed at 127.0.0.1 (DNS rebinding) is not "same origin".
        loopback_names_only: bool,
    },
    /// Exactly these origins (`scheme://host[:port]`, lower-case, no trailing slash): the
    /// public origin and `ALLOWED_ORIGINS`.
    AllowList(Vec<String>),
}

/// The host names a loopback server answers to when no origin is configured.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl OriginPolicy {
    /// The policy for a server listening on `listen`, with `public_origin` and `allowed`
    /// (`--public-origin`, `--allowed-origins`).
    pub fn new(public_origin: Option<&str>, allowed: &[String], listen: SocketAddr) -> Self {
        let origins: Vec<String> = public_origin
            .into_iter()
            .chain(allowed.iter().map(String::as_str))
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        if origins.is_empty() {
            Self::SameOrigin {
                loopback_names_only: listen.ip().is_loopback(),
            }
        } else {
            Self::AllowList(origins)
        }
    }

    /// The policy of `--allowed-origins` alone on a public address (for tests).
    pub fn from_list(origins: &[String]) -> Self {
        Self::new(None, origins, SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Whether a request with these headers may upgrade; `via_trusted_proxy` says whether its
    /// `X-Forwarded-Host` is to be believed (anybody else can forge it).
    ///
    /// A request without `Origin` is not from a browser page (browsers always send it on
    /// WebSocket requests): command-line clients are allowed, as they could forge any header
    /// anyway (they get no TURN entries, see [`crate::ice::Ice::grant`]). The check exists to
    /// stop other web pages from using a visitor's browser.
    pub fn check(&self, headers: &HeaderMap, via_trusted_proxy: bool) -> Result<(), OriginRefusal> {
        let host = || {
            via_trusted_proxy
                .then(|| headers.get("x-forwarded-host"))
                .flatten()
                .or_else(|| headers.get(header::HOST))
                .and_then(|host| host.to_str().ok())
                .and_then(|host| host.split(',').next())
                .map(|host| host.trim().to_ascii_lowercase())
        };
        if let Self::SameOrigin {
            loopback_names_only: true,
        } = self
        {
            let name = host().map(|host| host_name(&host).to_owned());
            if !name.is_some_and(|name| LOOPBACK_NAMES.contains(&name.as_str())) {
                return Err(OriginRefusal::HostNotLoopback);
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let Ok(origin) = origin.to_str() else {
            return Err(OriginRefusal::ForeignOrigin);
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let allowed = match self {
            Self::AllowList(allowed) => allowed.contains(&origin),
            Self::SameOrigin { .. } => {
                let origin_host = origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"));
                matches!((origin_host, host()), (Some(o), Some(h)) if o == h)
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(OriginRefusal::ForeignOrigin)
        }
    }

    /// Whether a request with these headers may upgrade (see [`Self::check`]).
    pub fn allows(&self, headers: &HeaderMap, via_trusted_proxy: bool) -> bool {
        self.check(headers, via_trusted_proxy).is_ok()
    }
}

/// `host` of `host[:port]`, with the brackets of an IPv6 literal kept (`[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// Why a connection slot was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotRefusal {
    /// `--max-connections` reached: HTTP 503.
    #[error("The server is full; try again later.")]
    ServerFull,
    /// `--max-connections-per-ip` reached for this address: HTTP 429.
    #[error("Too many connections from your address.")]
    TooManyFromAddress,
}

/// Counts open WebSocket connections per client key (an address, or an IPv6 prefix) and in
/// all.
#[derive(Debug, Clone)]
pub struct ConnectionCounter {
    max_per_ip: usize,
    max_total: usize,
    /// A std mutex: held for one map operation, never across an `.await`.
    open: Arc<Mutex<Open>>,
}

#[derive(Debug, Default)]
struct Open {
    per_key: HashMap<IpAddr, usize>,
    /// The sum of `per_key`.
    total: usize,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    key: IpAddr,
    counter: ConnectionCounter,
}

impl ConnectionCounter {
    /// `0` means no limit, for either.
    pub fn new(max_per_ip: usize, max_total: usize) -> Self {
        Self {
            max_per_ip,
            max_total,
            open: Arc::default(),
        }
    }

    /// A slot for `key`, or why not.
    pub fn acquire(&self, key: IpAddr) -> Result<ConnectionSlot, SlotRefusal> {
        let mut open = self.lock();
        if self.max_total != 0 && open.total >= self.max_total {
            return Err(SlotRefusal::ServerFull);
        }
        let count = open.per_key.entry(key).or_default();
        if self.max_per_ip != 0 && *count >= self.max_per_ip {
            return Err(SlotRefusal::TooManyFromAddress);
        }
        *count += 1;
        open.total += 1;
        Ok(ConnectionSlot {
            key,
            counter: self.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Single integer updates: a poisoned lock holds consistent data.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.counter.lock();
        if let Some(count) = open.per_key.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.per_key.remove(&self.key);
            }
            open.total -= 1;
        }
    }
}

/// File descriptors kept back from `--max-connections`' default for everything that is not a
/// WebSocket: the listener, plain HTTP requests, Redis, static files, logs.
const RESERVED_FILES: u64 = 256;
/// The default when the open-file limit cannot be read or is unlimited.
const FALLBACK_MAX_CONNECTIONS: u64 = 100_000;

/// `--max-connections` when not given: the process's open-file soft limit (`RLIMIT_NOFILE`,
/// which `main` raises to the hard limit first) minus [`RESERVED_FILES`], at least 16.
pub fn default_max_connections() -> usize {
    let soft = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) if soft != rlimit::INFINITY => soft,
        _ => FALLBACK_MAX_CONNECTIONS + RESERVED_FILES,
    };
    let connections = soft.saturating_sub(RESERVED_FILES).max(16);
    usize::try_from(connections).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).expect("ascii"));
        if let Some(origin) = origin {
            headers.insert(
                header::ORIGIN,
                HeaderValue::from_str(origin).expect("ascii"),
            );
        }
        headers
    }

    fn loopback_policy() -> OriginPolicy {
        OriginPolicy::new(None, &[], "127.0.0.1:3000".parse().expect("addr"))
    }

    /// By default a page may connect only to the server that served it.
    #[test]
    fn same_origin_by_default() {
        let policy = OriginPolicy::from_list(&[]);
        assert!(policy.allows(
            &headers(Some("http://localhost:3000"), "localhost:3000"),
            false
        ));
        assert!(policy.allows(
            &headers(Some("https://chat.example.com"), "chat.example.com"),
            false
        ));
        assert!(!policy.allows(
            &headers(Some("http://evil.example"), "localhost:3000"),
            false
        ));
        assert!(!policy.allows(
            &headers(Some("http://localhost:3001"), "localhost:3000"),
            false
        ));
        assert!(!policy.allows(&headers(Some("null"), "localhost:3000"), false));
        assert!(policy.allows(&headers(None, "localhost:3000"), false));
    }

    /// Behind a trusted proxy that rewrites `Host` (as `trunk serve` does), the original host
    /// in `X-Forwarded-Host` is what the page's origin is compared with; from anyone else that
    /// header is ignored.
    #[test]
    fn forwarded_host_only_from_trusted_proxies() {
        let policy = OriginPolicy::from_list(&[]);
        let mut proxied = headers(Some("http://localhost:8080"), "127.0.0.1:3000");
        proxied.insert(
            "x-forwarded-host",
            HeaderValue::from_static("localhost:8080"),
        );
        assert!(policy.allows(&proxied, true));
        assert!(!policy.allows(&proxied, false));
        let mut forged = headers(Some("http://evil.example"), "127.0.0.1:3000");
        forged.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        assert!(!policy.allows(&forged, false));
        let mut other = headers(Some("http://evil.example"), "127.0.0.1:3000");
        other.insert(
            "x-forwarded-host",
            HeaderValue::from_static("localhost:8080"),
        );
        assert!(!policy.allows(&other, true));
    }

    /// With a list, exactly the listed origins may connect, whatever the Host.
    #[test]
    fn allow_list_is_exact() {
        let policy = OriginPolicy::from_list(&["https://Chat.Example.com/".to_owned()]);
        assert!(policy.allows(
            &headers(Some("https://chat.example.com"), "api.example.com"),
            false
        ));
        assert!(!policy.allows(
            &headers(Some("http://chat.example.com"), "api.example.com"),
            false
        ));
        assert!(!policy.allows(
            &headers(Some("https://api.example.com"), "api.example.com"),
            false
        ));
    }

    /// On loopback with nothing configured, only the loopback host names are served (DNS
    /// rebinding): a same-origin page on another name is refused, with or without Origin.
    #[test]
    fn loopback_accepts_only_loopback_names() {
        let policy = loopback_policy();
        for host in [
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "LOCALHOST",
        ] {
            let origin = format!("http://{}", host.to_ascii_lowercase());
            assert_eq!(
                policy.check(&headers(Some(&origin), host), false),
                Ok(()),
                "{host}"
            );
            assert_eq!(policy.check(&headers(None, host), false), Ok(()), "{host}");
        }
        for host in [
            "rebound.example:3000",
            "127.0.0.2:3000",
            "localhost.evil:3000",
            "[::2]:3000",
        ] {
            let origin = format!("http://{host}");
            assert_eq!(
                policy.check(&headers(Some(&origin), host), false),
                Err(OriginRefusal::HostNotLoopback),
                "{host}"
            );
            assert_eq!(
                policy.check(&headers(None, host), false),
                Err(OriginRefusal::HostNotLoopback),
                "{host}"
            );
        }
        let public = OriginPolicy::new(None, &[], "0.0.0.0:3000".parse().expect("addr"));
        assert!(public.allows(
            &headers(Some("http://rebound.example:3000"), "rebound.example:3000"),
            false
        ));
    }

    /// A public origin (plus the allowed ones) is then the only origin accepted, on any
    /// listen address and whatever the Host.
    #[test]
    fn public_origin_is_exact() {
        let policy = OriginPolicy::new(
            Some("https://chat.example.com"),
            &["https://other.example".to_owned()],
            "127.0.0.1:3000".parse().expect("addr"),
        );
        assert!(policy.allows(
            &headers(Some("https://chat.example.com"), "127.0.0.1:3000"),
            false
        ));
        assert!(policy.allows(
            &headers(Some("https://other.example"), "127.0.0.1:3000"),
            false
        ));
        assert!(!policy.allows(
            &headers(Some("http://rebound.example"), "rebound.example"),
            false
        ));
    }

    /// Slots are counted per key and in all, and freed on drop; 0 means unlimited.
    #[test]
    fn counts_slots_per_key_and_in_all() {
        let counter = ConnectionCounter::new(2, 3);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        let first = counter.acquire(ip).expect("first");
        let _second = counter.acquire(ip).expect("second");
        assert_eq!(
            counter.acquire(ip).err(),
            Some(SlotRefusal::TooManyFromAddress)
        );
        let _third = counter.acquire(other).expect("other address");
        assert_eq!(counter.acquire(other).err(), Some(SlotRefusal::ServerFull));
        drop(first);
        assert!(counter.acquire(ip).is_ok());
        let unlimited = ConnectionCounter::new(0, 0);
        let slots: Vec<_> = (0..100)
            .filter_map(|_| unlimited.acquire(ip).ok())
            .collect();
        assert_eq!(slots.len(), 100);
    }

    /// The default server-wide limit follows the open-file limit, minus the reserve.
    #[test]
    fn default_max_connections_follows_the_file_limit() {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("readable");
        let expected = if soft == rlimit::INFINITY {
            FALLBACK_MAX_CONNECTIONS
        } else {
            soft.saturating_sub(RESERVED_FILES).max(16)
        };
        assert_eq!(default_max_connections() as u64, expected);
    }
}
