//! Who the client is when the server sits behind reverse proxies.
//!
//! The TCP peer of a proxied request is the proxy, the same for everybody. Only when that peer
//! is inside `--trusted-proxies` are its `Forwarded` (RFC 7239) or `X-Forwarded-For` headers
//! believed, and then the client is the right-most hop that is not itself a trusted proxy
//! (the left part of the list is whatever the client wrote, so it proves nothing). From any
//! other peer those headers, and `X-Forwarded-Host`, are ignored: anybody can send them.
//!
//! The result is a typed [`ClientAddr`], extracted once per request, which the connection
//! carries for the per-IP limits and the logs. Per-IP limits count an IPv6 client by its
//! prefix ([`ClientAddr::limit_key`]): one household or server is given a whole /64 and can pick
//! a fresh address from it at will.

pub mod forwarded;

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr, SocketAddr},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;

use forwarded::Hop;

/// The proxies whose forwarding headers are believed (`--trusted-proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|network| network.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddr {
        let peer_ip = peer.ip().to_canonical();
        if !self.contains(peer_ip) {
            return ClientAddr {
                ip: peer_ip,
                via_proxy: false,
            };
        }
        let Some(hops) = forwarded::hops(headers) else {
            return ClientAddr {
                ip: peer_ip,
                via_proxy: true,
            };
        };
        // Walk from the nearest hop outwards; stop at the first address no trusted proxy
        // vouches for. An opaque hop (`unknown`, `_hidden`, garbage) cannot be followed: the
        // last address known, the proxy that wrote it, stands for the client.
        let mut client = peer_ip;
        for hop in hops.iter().rev() {
            match *hop {
                Hop::Address(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                Hop::Opaque => break,
            }
        }
        ClientAddr {
            ip: client,
            via_proxy: true,
        }
    }
}

/// The address of the client a request comes from: the TCP peer, or what a trusted proxy
/// said. Extracted from a request with the server's [`TrustedProxies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    ip: IpAddr,
    /// Whether the TCP peer is a trusted proxy (so its `X-Forwarded-Host` is believed too).
    via_proxy: bool,
}

impl ClientAddr {
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Whether the request came through a trusted proxy.
    pub fn via_proxy(&self) -> bool {
        self.via_proxy
    }

    /// The key per-IP limits count under: the IPv4 address, or the IPv6 address cut to its
    /// first `ipv6_prefix` bits (64 by default: the usual allocation of one site).
    pub fn limit_key(&self, ipv6_prefix: u8) -> IpAddr {
        match self.ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u32::from(ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ip.fmt(f)
    }
}

impl FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        // `serve` always inserts the peer address; a router used without it (in a test through
        // `oneshot`) has no peer, and is treated as an untrusted unspecified address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |info| info.0);
        Ok(state.trusted_proxies.client(peer, &parts.headers))
    }
}

/// A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address, for `--trusted-proxies`.
pub fn parse_network(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map(|network| network.trunc())
        .map_err(|_| format!("`{value}` is not an address or a CIDR such as 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            list.iter()
                .map(|cidr| parse_network(cidr).expect("cidr"))
                .collect(),
        )
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 40000)
    }

    /// From a peer that is not a trusted proxy, forwarding headers are ignored.
    #[test]
    fn untrusted_peers_are_taken_at_their_word_only() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let headers = request(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        let client = proxies.client(peer("192.0.2.7"), &headers);
        assert_eq!(client.ip().to_string(), "192.0.2.7");
        assert!(!client.via_proxy());
        let none = TrustedProxies::default().client(peer("127.0.0.1"), &headers);
        assert_eq!(none.ip().to_string(), "127.0.0.1");
    }

    /// Through trusted proxies, the client is the right-most hop that is not a trusted proxy:
    /// what the client itself prepended is ignored.
    #[test]
    fn rightmost_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let cases = [
            (
                vec![("x-forwarded-for", "6.6.6.6, 203.0.113.5")],
                "203.0.113.5",
            ),
            (
                vec![("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.1.1.1")],
                "203.0.113.5",
            ),
            (
                vec![("forwarded", r#"for=6.6.6.6, for="[2001:db8::1]:4711""#)],
                "2001:db8::1",
            ),
            (
                vec![("forwarded", "for=10.2.2.2, for=10.3.3.3")],
                "10.2.2.2",
            ),
            // Opaque: the proxy that wrote it stands for the client.
            (
                vec![("forwarded", "for=6.6.6.6, for=_hidden, for=10.3.3.3")],
                "10.3.3.3",
            ),
            (vec![("forwarded", "for=unknown")], "10.9.9.9"),
            (vec![], "10.9.9.9"),
        ];
        for (headers, expected) in cases {
            let client = proxies.client(peer("10.9.9.9"), &request(&headers));
            assert_eq!(client.ip().to_string(), expected, "{headers:?}");
            assert!(client.via_proxy());
        }
    }

    /// IPv6 clients are counted per /64 by default (any prefix can be configured); IPv4 ones
    /// per address; an IPv4-mapped peer is an IPv4 client.
    #[test]
    fn ipv6_clients_are_keyed_by_prefix() {
        let proxies = TrustedProxies::default();
        let one = proxies.client(
            "[2001:db8:1:2:aaaa::1]:1".parse().expect("addr"),
            &HeaderMap::new(),
        );
        let two = proxies.client(
            "[2001:db8:1:2:bbbb::9]:1".parse().expect("addr"),
            &HeaderMap::new(),
        );
        let other = proxies.client(
            "[2001:db8:1:3::1]:1".parse().expect("addr"),
            &HeaderMap::new(),
        );
        assert_eq!(one.limit_key(64), two.limit_key(64));
        assert_ne!(one.limit_key(64), other.limit_key(64));
        assert_eq!(one.limit_key(64).to_string(), "2001:db8:1:2::");
        assert_eq!(one.limit_key(48), other.limit_key(48));
        assert_ne!(one.limit_key(128), two.limit_key(128));
        assert_eq!(one.limit_key(0).to_string(), "::");
        let mapped = proxies.client(
            "[::ffff:192.0.2.1]:1".parse().expect("addr"),
            &HeaderMap::new(),
        );
        assert_eq!(mapped.limit_key(64).to_string(), "192.0.2.1");
    }

    /// `--trusted-proxies` takes CIDRs and single addresses; anything else is refused.
    #[test]
    fn networks_parse() {
        assert_eq!(
            parse_network("10.1.2.3/8").expect("cidr").to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_network(" ::1 ").expect("addr").to_string(), "::1/128");
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("proxy.example").is_err());
    }
}
