//! TURN credentials are money: relay entries only for pages with an allowed `Origin`, short
//! per-peer TURN REST credentials, a per-client-address limit on ICE requests, and a Twilio
//! lifetime matching the server's refresh.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Client, TestServer};
use shared::{ClientMessage, ErrorCode, IceServer, ServerMessage};
use testkit::twilio::TwilioStandIn;

const STUN: &str = "stun:127.0.0.1:3478";
const TURN: &str = "turn:127.0.0.1:3478?transport=udp";

/// A server minting TURN REST credentials (default lifetime), with a STUN entry beside them.
async fn turn_rest_server(configure: impl FnOnce(&mut backend::config::Config)) -> TestServer {
    TestServer::start(|config| {
        config.ice.turn_urls = vec![TURN.into()];
        config.ice.turn_secret = Some("coturn-secret".into());
        config.ice.ice_urls = vec![STUN.into()];
        configure(config);
    })
    .await
}

/// A page of the server's own origin (the Origin a browser sends), joined to `room`.
async fn page(server: &TestServer, room: &str) -> Client {
    let origin = format!("http://{}", server.address);
    let mut client = Client::connect_with_origin(&server.ws_url(), &origin)
        .await
        .expect("same-origin page admitted");
    client.join(room).await;
    client
}

async fn ask(client: &mut Client) -> ServerMessage {
    client.send(&ClientMessage::IceServers).await;
    client.recv().await
}

async fn servers(client: &mut Client) -> (Vec<IceServer>, u64) {
    match ask(client).await {
        ServerMessage::IceServers {
            ice_servers, ttl, ..
        } => (ice_servers, ttl),
        other => panic!("expected ice_servers, got {other:?}"),
    }
}

/// A client without `Origin` (a script, not a browser page) may still signal but is handed
/// STUN only; a page with an allowed Origin gets the TURN entry too.
#[tokio::test]
async fn originless_clients_get_stun_only() {
    let server = turn_rest_server(|_| {}).await;
    let mut script = server.joined("gated").await;
    let (handed, _) = servers(&mut script).await;
    assert_eq!(handed, vec![IceServer::open([STUN])]);
    let mut browser = page(&server, "gated").await;
    let (handed, _) = servers(&mut browser).await;
    assert_eq!(handed.len(), 2, "{handed:?}");
    assert_eq!(handed[1].urls, vec![TURN.to_owned()]);
    assert!(handed[1].credential.is_some());
}

/// `--allow-originless-turn` hands TURN to clients without `Origin` too.
#[tokio::test]
async fn originless_turn_can_be_allowed() {
    let server = turn_rest_server(|config| config.ice.allow_originless_turn = true).await;
    let mut script = server.joined("allowed").await;
    let (handed, _) = servers(&mut script).await;
    assert!(
        handed.iter().any(|server| server.urls == [TURN]),
        "{handed:?}"
    );
}

/// By default TURN REST credentials last 10 minutes and name the peer they were minted for:
/// username `<expiry>:<peer id>`, expiry now + 600 s, `ttl` 600.
#[tokio::test]
async fn turn_rest_credentials_last_ten_minutes_and_name_the_peer() {
    let server = turn_rest_server(|_| {}).await;
    let mut browser = page(&server, "short").await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (handed, ttl) = servers(&mut browser).await;
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert_eq!(ttl, 600);
    let username = handed[1].username.clone().expect("username");
    let (expiry, peer) = username.split_once(':').expect("<expiry>:<peer>");
    assert_eq!(peer, browser.id().to_string());
    let expiry: u64 = expiry.parse().expect("unix time");
    assert!((before + 600..=after + 600).contains(&expiry), "{expiry}");
}

/// The ICE allowance is per client address, over all its connections: closing and reopening
/// the socket does not refill it (`rate_limited`), while another client behind the same
/// trusted proxy keeps its own.
#[tokio::test]
async fn ice_requests_are_limited_per_address_across_reconnects() {
    let server = TestServer::start(|config| {
        config.limits.ice_requests_per_minute_per_ip = 3;
        config.limits.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")];
    })
    .await;
    let connect = |address: &'static str| {
        let url = server.ws_url();
        async move {
            let mut client = Client::connect_with_headers(&url, &[("x-forwarded-for", address)])
                .await
                .expect("admitted");
            client
                .join(&format!("quota-{}", address.replace('.', "-")))
                .await;
            client
        }
    };
    let mut first = connect("203.0.113.1").await;
    servers(&mut first).await;
    servers(&mut first).await;
    first.close().await;
    let mut again = connect("203.0.113.1").await;
    servers(&mut again).await;
    match ask(&mut again).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::RateLimited),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    let mut neighbour = connect("203.0.113.2").await;
    servers(&mut neighbour).await;
}

/// Twilio is asked for a one-hour token by default (the server refreshes it shortly before
/// that), not for Twilio's 24-hour maximum.
#[tokio::test]
async fn twilio_is_asked_for_an_hour() {
    let standin = TwilioStandIn::start().await;
    let account = standin.account().clone();
    let base = standin.base_url();
    let server = TestServer::start(move |config| {
        config.ice.twilio_account_sid = Some(account.sid);
        config.ice.twilio_auth_token = Some(account.auth_token);
        config.ice.twilio_base_url = base;
    })
    .await;
    let mut browser = page(&server, "twilio").await;
    let (handed, ttl) = servers(&mut browser).await;
    assert!(
        handed
            .iter()
            .any(|server| server.urls.iter().any(|url| url.starts_with("turn:")))
    );
    assert_eq!(standin.requested_ttls(), vec![Some(3600)]);
    assert!((3000..=3300).contains(&ttl), "{ttl}");
}
