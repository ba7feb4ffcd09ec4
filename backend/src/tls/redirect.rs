//! Plain HTTP that sends every request to HTTPS (`--http-redirect-listen`).
//!
//! Someone typing the address without `https://` lands here and is sent, with `308 Permanent
//! Redirect` (method and body kept), to the same host name, path and query on the TLS port.
//! The host comes from the request's `Host` header, without its port; one that is not a host
//! name or an IP address gets `400`, so nothing a client writes can make the `Location` point
//! at a URL of its choosing beyond the host it already asked for. Nothing else is served here:
//! not the API, not the site.

use std::net::Ipv6Addr;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header, uri::Authority},
    response::{IntoResponse, Response},
};
use rustls::pki_types::ServerName;

/// The redirecting service for a TLS listener on `tls_port`.
pub fn router(tls_port: u16) -> Router {
    Router::new().fallback(redirect).with_state(tls_port)
}

async fn redirect(State(tls_port): State<u16>, headers: HeaderMap, uri: Uri) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(host_name);
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "Bad Host header\n").into_response();
    };
    let port = if tls_port == 443 {
        String::new()
    } else {
        format!(":{tls_port}")
    };
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// The host of a `Host` header without its port, lower-cased (IPv6 in brackets), or `None`
/// when it is not a valid host name or IP address.
fn host_name(host: &str) -> Option<String> {
    if host.contains('@') {
        return None;
    }
    let authority: Authority = host.parse().ok()?;
    // `Authority` takes any text after the last colon; a port must be a number.
    if authority.as_str().len() != authority.host().len() && authority.port_u16().is_none() {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    let valid = match host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => ServerName::try_from(host.as_str()).is_ok(),
    };
    valid.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host names, IPv4 and bracketed IPv6 addresses are kept without their port; anything
    /// else is refused.
    #[test]
    fn host_names_are_validated() {
        for (header, host) in [
            ("chat.example.com", "chat.example.com"),
            ("Chat.Example.com:8080", "chat.example.com"),
            ("192.168.1.20:80", "192.168.1.20"),
            ("[::1]:8080", "[::1]"),
            ("[fd00::1]", "[fd00::1]"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(host_name(header).as_deref(), Some(host), "{header}");
        }
        for header in [
            "",
            "evil.example/path",
            "user@chat.example.com",
            "chat example",
            "[not-an-address]",
            "a..b",
            "-leading.example",
            "chat.example.com:notaport",
            "chat.example.com?x",
        ] {
            assert_eq!(host_name(header), None, "{header}");
        }
    }
}
