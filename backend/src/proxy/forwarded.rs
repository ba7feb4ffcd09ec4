//! Parsing of the headers a reverse proxy adds: `Forwarded` (RFC 7239) and `X-Forwarded-For`.
//!
//! Both give a list of hops, the client first and each proxy appending the address it received
//! the request from. This module only turns header values into that list; which entry is the
//! client (the right-most one not itself a trusted proxy) is [`super`]'s decision, and whether
//! the headers are read at all depends on who sent them.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, header};

/// Most hops read from the headers of one request: a real chain has a handful, and a client
/// sending thousands must not cost more than this.
pub const MAX_HOPS: usize = 32;

/// One `for=` entry (or one `X-Forwarded-For` element), as a proxy wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// An address (any port removed).
    Address(IpAddr),
    /// Not an address: `unknown`, an obfuscated identifier such as `_hidden`, or garbage. The
    /// chain cannot be followed past it.
    Opaque,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hops of `Forwarded` when the request has that header, else those of `X-Forwarded-For`;
/// `None` when it has neither. Several header lines of one name form one list, in order
/// (RFC 7230 §3.2.2). At most [`MAX_HOPS`], the right-most ones (those nearest to us).
pub fn hops(headers: &HeaderMap) -> Option<Vec<Hop>> {
    if headers.contains_key(header::FORWARDED) {
        return Some(last_hops(
            headers
                .get_all(header::FORWARDED)
                .iter()
                .flat_map(|value| forwarded_for(value.as_bytes())),
        ));
    }
    if headers.contains_key(X_FORWARDED_FOR) {
        return Some(last_hops(headers.get_all(X_FORWARDED_FOR).iter().flat_map(
            |value| {
                split_list(value.as_bytes())
                    .into_iter()
                    .map(|element| node(element.trim()))
            },
        )));
    }
    None
}

fn last_hops(hops: impl Iterator<Item = Hop>) -> Vec<Hop> {
    let mut all: Vec<Hop> = hops.collect();
    let skip = all.len().saturating_sub(MAX_HOPS);
    all.drain(..skip);
    all
}

/// The `for=` value of each element of one `Forwarded` header value; an element without
/// `for=` (only `proto=`, say) says nothing about the client and is an [`Hop::Opaque`] hop.
fn forwarded_for(value: &[u8]) -> Vec<Hop> {
    let Ok(value) = std::str::from_utf8(value) else {
        return vec![Hop::Opaque];
    };
    split_list(value.as_bytes())
        .into_iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .map_or(Hop::Opaque, |(_, value)| node(unquote(value.trim())))
        })
        .collect()
}

/// Splits on commas that are not inside a quoted string.
fn split_list(value: &[u8]) -> Vec<&str> {
    let Ok(value) = std::str::from_utf8(value) else {
        return vec![""];
    };
    let mut elements = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, byte) in value.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                elements.push(&value[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    elements.push(&value[start..]);
    elements
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// An RFC 7239 node (`192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`, `[2001:db8::1]:4711`,
/// `unknown`, `_hidden`), or a bare IPv6 address as `X-Forwarded-For` writes it.
fn node(value: &str) -> Hop {
    let address = if let Some(rest) = value.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port))
                if port.is_empty() || port.strip_prefix(':').is_some_and(valid_port) =>
            {
                inside
            }
            _ => return Hop::Opaque,
        }
    } else if let Ok(ip) = value.parse::<IpAddr>() {
        return Hop::Address(ip.to_canonical());
    } else {
        match value.split_once(':') {
            Some((v4, port)) if valid_port(port) => v4,
            _ => value,
        }
    };
    match address.parse::<IpAddr>() {
        Ok(ip) => Hop::Address(ip.to_canonical()),
        Err(_) => Hop::Opaque,
    }
}

/// `47011` or an obfuscated port `_abc` (RFC 7239 §6), the colon before it removed.
fn valid_port(port: &str) -> bool {
    port.parse::<u16>().is_ok()
        || (port.starts_with('_')
            && port.len() > 1
            && port
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn ip(text: &str) -> Hop {
        Hop::Address(text.parse().expect("ip"))
    }

    /// The examples of RFC 7239 §4 and §7.1: quoted IPv6 with a port, parameters in any case
    /// and order, several elements.
    #[test]
    fn rfc_7239_examples() {
        let cases: &[(&str, Vec<Hop>)] = &[
            (r#"for="_gazonk""#, vec![Hop::Opaque]),
            (
                r#"For="[2001:db8:cafe::17]:4711""#,
                vec![ip("2001:db8:cafe::17")],
            ),
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                vec![ip("192.0.2.60")],
            ),
            (
                "for=192.0.2.43, for=198.51.100.17",
                vec![ip("192.0.2.43"), ip("198.51.100.17")],
            ),
            (
                r#"for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown"#,
                vec![ip("192.0.2.43"), ip("2001:db8:cafe::17"), Hop::Opaque],
            ),
            (
                r#"proto=https;FOR="192.0.2.43:47011""#,
                vec![ip("192.0.2.43")],
            ),
            (r#"for="192.0.2.43:_hidden""#, vec![ip("192.0.2.43")]),
        ];
        for (value, expected) in cases {
            assert_eq!(
                hops(&headers(&[("forwarded", value)])).as_deref(),
                Some(expected.as_slice()),
                "{value}"
            );
        }
    }

    /// Several `Forwarded` lines form one list in order, and `Forwarded` wins over
    /// `X-Forwarded-For` when both are present.
    #[test]
    fn multiple_headers_form_one_list() {
        let both = headers(&[
            ("forwarded", "for=192.0.2.1"),
            ("forwarded", "for=192.0.2.2, for=192.0.2.3"),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        assert_eq!(
            hops(&both),
            Some(vec![ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")])
        );
        let xff = headers(&[
            ("x-forwarded-for", "203.0.113.7, 2001:db8::1"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        assert_eq!(
            hops(&xff),
            Some(vec![ip("203.0.113.7"), ip("2001:db8::1"), ip("10.0.0.1")])
        );
        assert_eq!(hops(&headers(&[("host", "example.com")])), None);
    }

    /// Obfuscated identifiers, `unknown`, elements without `for=` and garbage are opaque hops,
    /// never an error and never an address; IPv4-mapped IPv6 becomes IPv4.
    #[test]
    fn garbage_and_obfuscation_are_opaque() {
        for value in [
            "for=_hidden",
            "for=unknown",
            "proto=https",
            "for=",
            "for=\"[2001:db8::1\"",
            "for=[2001:db8::1]:99999",
            "for=300.1.1.1",
            "for=example.com",
            ";;;=",
            "for=\"192.0.2.1:80:80\"",
        ] {
            assert_eq!(
                hops(&headers(&[("forwarded", value)])),
                Some(vec![Hop::Opaque]),
                "{value}"
            );
        }
        assert_eq!(
            hops(&headers(&[(
                "x-forwarded-for",
                "nonsense, ::ffff:192.0.2.5"
            )])),
            Some(vec![Hop::Opaque, ip("192.0.2.5")])
        );
        assert_eq!(
            hops(&headers(&[("forwarded", r#"for="a,b", for=192.0.2.9"#)])),
            Some(vec![Hop::Opaque, ip("192.0.2.9")])
        );
    }

    /// A header with thousands of hops is cut to the last [`MAX_HOPS`].
    #[test]
    fn hops_are_bounded() {
        let long: Vec<String> = (0..5000)
            .map(|i| format!("10.0.{}.{}", i / 256 % 256, i % 256))
            .collect();
        let found = hops(&headers(&[("x-forwarded-for", &long.join(","))])).expect("hops");
        assert_eq!(found.len(), MAX_HOPS);
        assert_eq!(found.last(), Some(&ip("10.0.19.135")));
    }
}
