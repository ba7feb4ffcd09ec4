//! Admission at the WebSocket upgrade: allowed Origins and connections per IP address.
//!
//! Message-level limits (size, rate) live in the connection task; these two are decided before
//! a socket exists, so a refused browser gets a plain HTTP status (403, 429).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use axum::http::{HeaderMap, header};

/// Which pages may open a WebSocket.
#[derive(Debug, Clone)]
pub enum OriginPolicy {
    /// Only pages served by this server: the Origin's host must equal the host the browser
    /// asked for (`X-Forwarded-Host` when a proxy such as `trunk serve` set it, else `Host`).
    SameOrigin,
    /// Exactly these origins (`scheme://host[:port]`, lower-case, no trailing slash).
    AllowList(Vec<String>),
}

impl OriginPolicy {
    pub fn from_list(origins: &[String]) -> Self {
        let origins: Vec<String> = origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        if origins.is_empty() {
            Self::SameOrigin
        } else {
            Self::AllowList(origins)
        }
    }

    /// Whether a request with these headers may upgrade.
    ///
    /// A request without `Origin` is not from a browser page (browsers always send it on
    /// WebSocket requests): command-line clients are allowed, as they could forge any header
    /// anyway. The check exists to stop other web pages from using a visitor's browser, and a
    /// page cannot set `X-Forwarded-Host` on a WebSocket, so trusting it opens nothing.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        match self {
            Self::AllowList(allowed) => allowed.contains(&origin),
            Self::SameOrigin => {
                let host = headers
                    .get("x-forwarded-host")
                    .or_else(|| headers.get(header::HOST))
                    .and_then(|host| host.to_str().ok())
                    .and_then(|host| host.split(',').next())
                    .map(|host| host.trim().to_ascii_lowercase());
                let origin_host = origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"));
                matches!((origin_host, host), (Some(o), Some(h)) if o == h)
            }
        }
    }
}

/// Counts open WebSocket connections per IP address.
#[derive(Debug, Clone)]
pub struct ConnectionCounter {
    max_per_ip: usize,
    /// A std mutex: held for one map operation, never across an `.await`.
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    ip: IpAddr,
    counter: ConnectionCounter,
}

impl ConnectionCounter {
    /// `max_per_ip == 0` means no limit.
    pub fn new(max_per_ip: usize) -> Self {
        Self {
            max_per_ip,
            open: Arc::default(),
        }
    }

    /// A slot for `ip`, or `None` when it already has the maximum open.
    pub fn acquire(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if self.max_per_ip != 0 && *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            ip,
            counter: self.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Single integer updates: a poisoned lock holds consistent data.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.counter.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
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

    /// By default a page may connect only to the server that served it.
    #[test]
    fn same_origin_by_default() {
        let policy = OriginPolicy::from_list(&[]);
        assert!(policy.allows(&headers(Some("http://localhost:3000"), "localhost:3000")));
        assert!(policy.allows(&headers(
            Some("https://chat.example.com"),
            "chat.example.com"
        )));
        assert!(!policy.allows(&headers(Some("http://evil.example"), "localhost:3000")));
        assert!(!policy.allows(&headers(Some("http://localhost:3001"), "localhost:3000")));
        assert!(!policy.allows(&headers(Some("null"), "localhost:3000")));
        assert!(policy.allows(&headers(None, "localhost:3000")));
    }

    /// Behind a proxy that rewrites `Host` (as `trunk serve` does), the original host in
    /// `X-Forwarded-Host` is what the page's origin is compared with.
    #[test]
    fn same_origin_behind_a_proxy() {
        let policy = OriginPolicy::from_list(&[]);
        let mut proxied = headers(Some("http://localhost:8080"), "127.0.0.1:3000");
        proxied.insert(
            "x-forwarded-host",
            HeaderValue::from_static("localhost:8080"),
        );
        assert!(policy.allows(&proxied));
        let mut other = headers(Some("http://evil.example"), "127.0.0.1:3000");
        other.insert(
            "x-forwarded-host",
            HeaderValue::from_static("localhost:8080"),
        );
        assert!(!policy.allows(&other));
    }

    /// With a list, exactly the listed origins may connect, whatever the Host.
    #[test]
    fn allow_list_is_exact() {
        let policy = OriginPolicy::from_list(&["https://Chat.Example.com/".to_owned()]);
        assert!(policy.allows(&headers(
            Some("https://chat.example.com"),
            "api.example.com"
        )));
        assert!(!policy.allows(&headers(Some("http://chat.example.com"), "api.example.com")));
        assert!(!policy.allows(&headers(Some("https://api.example.com"), "api.example.com")));
    }

    /// Slots are counted per IP and freed on drop; 0 means unlimited.
    #[test]
    fn counts_slots_per_ip() {
        let counter = ConnectionCounter::new(2);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        let first = counter.acquire(ip).expect("first");
        let _second = counter.acquire(ip).expect("second");
        assert!(counter.acquire(ip).is_none());
        assert!(counter.acquire(other).is_some());
        drop(first);
        assert!(counter.acquire(ip).is_some());
        let unlimited = ConnectionCounter::new(0);
        let slots: Vec<_> = (0..100).filter_map(|_| unlimited.acquire(ip)).collect();
        assert_eq!(slots.len(), 100);
    }
}
