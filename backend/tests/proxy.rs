//! Behind a proxy: who the client is (`Forwarded`, `X-Forwarded-For`, only from trusted
//! proxies), IPv6 clients per prefix, the server-wide connection limit, and the host names and
//! origins that may connect (DNS rebinding, `X-Forwarded-Host`).

mod common;

use common::{PATIENCE, TestServer, behind_loopback_proxy, upgrade_status as status};
use tokio_tungstenite::connect_async;

/// From a trusted proxy, the client named by `X-Forwarded-For` (right-most untrusted hop) or
/// `Forwarded` (quoted IPv6 with a port) is what the per-IP limit counts: two people behind
/// one proxy do not share a slot, one person twice does.
#[tokio::test]
async fn trusted_proxy_headers_name_the_client() {
    let server = behind_loopback_proxy(|_| {}).await;
    let mut open = Vec::new();
    let xff = |value| [("x-forwarded-for", value)];
    assert_eq!(status(&server, &xff("203.0.113.1"), &mut open).await, 101);
    assert_eq!(status(&server, &xff("203.0.113.2"), &mut open).await, 101);
    // The same client, whatever it prepends itself, and whatever trusted hops follow.
    assert_eq!(
        status(&server, &xff("6.6.6.6, 203.0.113.1"), &mut open).await,
        429
    );
    assert_eq!(
        status(&server, &xff("203.0.113.1, 127.0.0.9"), &mut open).await,
        429
    );
    let forwarded = [("forwarded", r#"for="[2001:db8:cafe::17]:4711";proto=https"#)];
    assert_eq!(status(&server, &forwarded, &mut open).await, 101);
    assert_eq!(status(&server, &forwarded, &mut open).await, 429);
    // `Forwarded` wins over `X-Forwarded-For` when both are sent.
    let both = [
        ("forwarded", "for=198.51.100.7"),
        ("x-forwarded-for", "203.0.113.1"),
    ];
    assert_eq!(status(&server, &both, &mut open).await, 101);
}

/// From a peer that is not a trusted proxy, forged forwarding headers are ignored: every
/// connection from it counts against its own address.
#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    let server = TestServer::start(|config| {
        config.limits.trusted_proxies = vec!["10.0.0.0/8".parse().expect("cidr")];
        config.limits.max_connections_per_ip = 1;
    })
    .await;
    let mut open = Vec::new();
    assert_eq!(
        status(&server, &[("x-forwarded-for", "203.0.113.1")], &mut open).await,
        101
    );
    assert_eq!(
        status(&server, &[("x-forwarded-for", "203.0.113.2")], &mut open).await,
        429
    );
    assert_eq!(
        status(&server, &[("forwarded", "for=203.0.113.3")], &mut open).await,
        429
    );
}

/// IPv6 clients are counted per /64 by default: another address in the same /64 is the same
/// client, one in the next /64 is not; with `--ipv6-prefix 128` every address counts alone.
#[tokio::test]
async fn ipv6_clients_count_per_prefix() {
    let server = behind_loopback_proxy(|_| {}).await;
    let mut open = Vec::new();
    let xff = |value| [("x-forwarded-for", value)];
    assert_eq!(
        status(&server, &xff("2001:db8:1:2::a"), &mut open).await,
        101
    );
    assert_eq!(
        status(&server, &xff("2001:db8:1:2:ffff::b"), &mut open).await,
        429
    );
    assert_eq!(
        status(&server, &xff("2001:db8:1:3::a"), &mut open).await,
        101
    );

    let per_address = behind_loopback_proxy(|config| config.limits.ipv6_prefix = 128).await;
    assert_eq!(
        status(&per_address, &xff("2001:db8:1:2::a"), &mut open).await,
        101
    );
    assert_eq!(
        status(&per_address, &xff("2001:db8:1:2:ffff::b"), &mut open).await,
        101
    );
}

/// `--max-connections` refuses the excess with 503 before the upgrade, whoever asks; a closed
/// connection frees its place.
#[tokio::test]
async fn server_wide_limit_refuses_with_503() {
    let server = TestServer::start(|config| config.limits.max_connections = Some(2)).await;
    let mut open = vec![server.client().await, server.client().await];
    assert_eq!(status(&server, &[], &mut open).await, 503);
    let mut first = open.remove(0);
    first.assert_quiet().await;
    first.close().await;
    // The place is freed when the server's task ends, which the client cannot await: retry
    // until then, within the usual patience.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let attempt = tokio::time::timeout_at(deadline, connect_async(server.ws_url()))
            .await
            .expect("a place frees up in time");
        if attempt.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `X-Forwarded-Host` counts in the Origin check only from a trusted proxy (as `trunk serve`
/// on this machine): from anyone else it is ignored, so it cannot make a foreign page
/// "same-origin".
#[tokio::test]
async fn forwarded_host_only_from_trusted_proxies() {
    let headers = [
        ("origin", "http://localhost:8080"),
        ("x-forwarded-host", "localhost:8080"),
    ];
    let untrusted = TestServer::default().await;
    let mut open = Vec::new();
    assert_eq!(status(&untrusted, &headers, &mut open).await, 403);
    let trusted = behind_loopback_proxy(|_| {}).await;
    assert_eq!(status(&trusted, &headers, &mut open).await, 101);
}

/// A server on loopback with no configured origin answers only to `localhost`, `127.0.0.1`
/// and `[::1]` (Host header and Origin): a page on a host name re-pointed at 127.0.0.1 (DNS
/// rebinding) is refused even though it is "same origin".
#[tokio::test]
async fn loopback_server_answers_only_to_loopback_names() {
    let server = TestServer::default().await;
    let port = server.address.port();
    let mut open = Vec::new();
    for name in ["localhost", "127.0.0.1", "[::1]"] {
        let host = format!("{name}:{port}");
        let origin = format!("http://{host}");
        let headers = [("host", host.as_str()), ("origin", origin.as_str())];
        assert_eq!(status(&server, &headers, &mut open).await, 101, "{name}");
    }
    let host = format!("rebound.example:{port}");
    let origin = format!("http://{host}");
    let rebound = [("host", host.as_str()), ("origin", origin.as_str())];
    assert_eq!(status(&server, &rebound, &mut open).await, 403);
    assert_eq!(status(&server, &rebound[..1], &mut open).await, 403);
}

/// With `--public-origin`, only that origin (plus `--allowed-origins`) may connect: not the
/// server's own address, not a rebound name.
#[tokio::test]
async fn public_origin_is_the_only_page_origin() {
    let server = TestServer::start(|config| {
        config.limits.public_origin = Some("https://chat.example.com".into());
        config.limits.allowed_origins = vec!["https://other.example".into()];
    })
    .await;
    let own = format!("http://{}", server.address);
    let mut open = Vec::new();
    for (origin, expected) in [
        ("https://chat.example.com", 101),
        ("https://other.example", 101),
        (own.as_str(), 403),
        ("http://rebound.example", 403),
    ] {
        assert_eq!(
            status(&server, &[("origin", origin)], &mut open).await,
            expected,
            "{origin}"
        );
    }
}
