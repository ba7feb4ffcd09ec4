//! ICE servers through the server: Twilio (against the local stand-in), TURN REST, static.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend::config::Config;
use common::{Captured, Client, PATIENCE, TestServer};
use shared::{ClientMessage, IceServer, IceTransportPolicy, ServerMessage};
use testkit::twilio::{Behaviour, TwilioStandIn};
use tokio::time::Instant;

const FALLBACK: &str = "stun:fallback.example.net:3478";

/// A server using `standin` as Twilio, with a recognisable fallback list.
async fn server_with_twilio(
    standin: &TwilioStandIn,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let account = standin.account().clone();
    let base = standin.base_url();
    TestServer::start(move |config| {
        config.ice.twilio_account_sid = Some(account.sid);
        config.ice.twilio_auth_token = Some(account.auth_token);
        config.ice.twilio_base_url = base;
        config.ice.ice_urls = vec![FALLBACK.into()];
        config.ice.twilio_retry_backoff = Duration::from_millis(300);
        // These clients send no Origin; what they are handed then is `turn_gating.rs`'s subject.
        config.ice.allow_originless_turn = true;
        tweak(config);
    })
    .await
}

/// Joins a fresh room and asks for ICE servers.
async fn ask(server: &TestServer, room: &str) -> (Vec<IceServer>, u64) {
    let mut client = server.joined(room).await;
    ask_again(&mut client).await
}

async fn ask_again(client: &mut Client) -> (Vec<IceServer>, u64) {
    client.send(&ClientMessage::IceServers).await;
    match client.recv().await {
        ServerMessage::IceServers {
            ice_servers, ttl, ..
        } => (ice_servers, ttl),
        other => panic!("expected ice_servers, got {other:?}"),
    }
}

fn is_fallback(servers: &[IceServer]) -> bool {
    servers == [IceServer::open([FALLBACK])]
}

/// Twilio's answer becomes browser-ready entries: `urls` arrays, credentials on TURN entries,
/// and a TTL below Twilio's (refreshed before it lapses). The request is a form POST with Basic
/// auth to the account's Tokens.json, which the stand-in checks.
#[tokio::test]
async fn twilio_token_becomes_ice_servers() {
    let standin = TwilioStandIn::start().await;
    let server = server_with_twilio(&standin, |config| config.ice.twilio_ttl = 3600).await;
    let (servers, ttl) = ask(&server, "twilio").await;
    assert_eq!(standin.token_requests(), 1);
    assert_eq!(standin.requested_ttls(), vec![Some(3600)]);
    assert_eq!(servers.len(), 4);
    assert_eq!(
        servers[0],
        IceServer::open(["stun:global.stun.twilio.com:3478"])
    );
    for turn in &servers[1..] {
        assert_eq!(turn.urls.len(), 1);
        assert!(
            turn.urls[0].starts_with("turn:global.turn.twilio.com:"),
            "{turn:?}"
        );
        assert!(turn.username.as_deref().is_some_and(|u| u.len() == 64));
        assert!(turn.credential.is_some());
    }
    assert!(
        (3000..3600).contains(&ttl),
        "refreshed before Twilio's expiry: {ttl}"
    );
}

/// Many people asking at once cause one Twilio request; later askers reuse the cached token.
/// Several worker threads, so the asks reach the cache in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_twilio_request_serves_every_client() {
    let standin = TwilioStandIn::start().await;
    // A slow answer makes sure the requests really overlap while the fetch is in flight.
    standin.set_behaviour(Behaviour::Slow(Duration::from_millis(300)));
    let server = server_with_twilio(&standin, |_| {}).await;
    let mut clients = Vec::new();
    for index in 0..20 {
        clients.push(server.joined(&format!("cached-{index}")).await);
    }
    let answers = futures_util::future::join_all(clients.iter_mut().map(ask_again)).await;
    assert_eq!(standin.token_requests(), 1);
    let first = &answers[0].0;
    assert!(!is_fallback(first));
    assert!(
        answers.iter().all(|(servers, _)| servers == first),
        "everyone gets the same token"
    );
    let (later, _) = ask(&server, "latecomer").await;
    assert_eq!(&later, first);
    assert_eq!(standin.token_requests(), 1);
}

/// When the token nears its expiry, the next request fetches a new one.
#[tokio::test]
async fn expired_token_is_fetched_again() {
    let standin = TwilioStandIn::start().await;
    let server = server_with_twilio(&standin, |config| config.ice.twilio_ttl = 2).await;
    let (first, ttl) = ask(&server, "ttl-1").await;
    assert_eq!(
        ttl, 1,
        "a 2 s token is handed out for at most 1.8 s, rounded down, at least 1"
    );
    assert_eq!(standin.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let (second, _) = ask(&server, "ttl-2").await;
    assert_eq!(standin.token_requests(), 2);
    assert_ne!(first, second, "a new token, with new credentials");
}

/// 401, 429 and 500 from Twilio: the fallback list is handed out, Twilio is not asked again
/// until the backoff has passed (even though it has recovered meanwhile), and then the new
/// token is used.
#[tokio::test]
async fn twilio_errors_fall_back_then_recover() {
    let behaviours = [
        Behaviour::Unauthorized,
        Behaviour::TooManyRequests,
        Behaviour::ServerError,
    ];
    futures_util::future::join_all(behaviours.into_iter().map(fall_back_then_recover)).await;
}

/// One case of [`twilio_errors_fall_back_then_recover`], on its own stand-in and server.
async fn fall_back_then_recover(behaviour: Behaviour) {
    // Long enough that the asks right after the failure fall inside it even on a loaded
    // machine; the checks below only rely on the order of events, not on that margin.
    const BACKOFF: Duration = Duration::from_secs(2);
    let standin = TwilioStandIn::start().await;
    standin.set_behaviour(behaviour.clone());
    let server = server_with_twilio(&standin, |config| {
        config.ice.twilio_retry_backoff = BACKOFF;
        // This test asks often; the per-connection ICE limit is not what it is about.
        config.limits.ice_requests_per_minute = 10_000;
    })
    .await;
    let mut client = server.joined("failing").await;
    // The backoff starts when the request fails, after this instant.
    let asked = Instant::now();
    let (servers, ttl) = ask_again(&mut client).await;
    assert!(is_fallback(&servers), "{behaviour:?}: {servers:?}");
    assert!(ttl <= 300, "a fallback is kept only briefly: {ttl}");
    assert_eq!(standin.token_requests(), 1);

    // Twilio recovers at once; keep asking until its token is handed out again.
    standin.set_behaviour(Behaviour::Succeed);
    let deadline = Instant::now() + BACKOFF + PATIENCE;
    let mut fallbacks_after_recovery = 0;
    loop {
        let (servers, _) = ask_again(&mut client).await;
        if !is_fallback(&servers) {
            break;
        }
        fallbacks_after_recovery += 1;
        assert_eq!(
            standin.token_requests(),
            1,
            "{behaviour:?}: no new request within the backoff"
        );
        assert!(Instant::now() < deadline, "{behaviour:?}: never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_after = asked.elapsed();
    assert_eq!(
        standin.token_requests(),
        2,
        "{behaviour:?}: one new request"
    );
    // The answer that carried the token was decided after the backoff: Twilio was not asked
    // again early, although it was healthy meanwhile.
    assert!(
        recovered_after >= BACKOFF,
        "{behaviour:?}: asked again after {recovered_after:?}, within the {BACKOFF:?} backoff"
    );
    assert!(
        fallbacks_after_recovery > 0,
        "{behaviour:?}: the fallback was kept while the backoff ran"
    );
}

/// Wrong credentials are refused by the stand-in itself (as Twilio would): fallback.
#[tokio::test]
async fn wrong_auth_token_falls_back() {
    let standin = TwilioStandIn::start().await;
    let server = server_with_twilio(&standin, |config| {
        config.ice.twilio_auth_token = Some("not-the-token".into());
    })
    .await;
    let (servers, _) = ask(&server, "wrong-token").await;
    assert!(is_fallback(&servers));
    assert_eq!(
        standin.token_requests(),
        0,
        "unauthenticated requests are not served"
    );
}

/// A Twilio that does not answer in time does not hold the browser up: fallback.
#[tokio::test]
async fn slow_twilio_falls_back_after_the_timeout() {
    let standin = TwilioStandIn::start().await;
    // Slower than a test waits for any answer: a server waiting for Twilio fails the test.
    let slow = PATIENCE * 2;
    standin.set_behaviour(Behaviour::Slow(slow));
    let server = server_with_twilio(&standin, |config| {
        config.ice.twilio_timeout = Duration::from_millis(300)
    })
    .await;
    let started = Instant::now();
    let (servers, _) = ask(&server, "slow-twilio").await;
    assert!(is_fallback(&servers));
    assert!(started.elapsed() < slow, "did not wait for the slow answer");
}

/// A malformed Account SID is a configuration error at start-up, not a runtime surprise.
#[test]
fn malformed_account_sid_is_refused_at_startup() {
    let mut config = Config::defaults();
    config.ice.twilio_account_sid = Some("ACnot-hex".into());
    config.ice.twilio_auth_token = Some("token".into());
    let error = backend::AppState::new(&config).expect_err("refused");
    assert!(error.to_string().contains("TWILIO_ACCOUNT_SID"), "{error}");
}

/// TURN REST: per-peer credentials `"<expiry>:<peer id>"` with the HMAC-SHA1 of that name.
#[tokio::test]
async fn turn_rest_credentials_are_minted_per_peer() {
    let server = TestServer::start(|config| {
        config.ice.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        config.ice.turn_secret = Some("coturn-secret".into());
        config.ice.turn_ttl = Duration::from_secs(600);
        config.ice.ice_urls = vec!["stun:127.0.0.1:3478".into()];
        config.ice.allow_originless_turn = true;
    })
    .await;
    let mut client = server.joined("turn-rest").await;
    let (servers, ttl) = ask_again(&mut client).await;
    assert_eq!(ttl, 600);
    assert_eq!(servers[0], IceServer::open(["stun:127.0.0.1:3478"]));
    let turn = &servers[1];
    assert_eq!(
        turn.urls,
        vec!["turn:127.0.0.1:3478?transport=udp".to_owned()]
    );
    let username = turn.username.clone().expect("username");
    let (expiry, peer) = username.split_once(':').expect("expiry:peer");
    assert_eq!(peer, client.id().as_str());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expiry: u64 = expiry.parse().expect("unix time");
    assert!(
        (now + 595..=now + 605).contains(&expiry),
        "expires in ten minutes"
    );
    assert_eq!(
        turn.credential.as_deref(),
        Some(backend::ice::turn_rest::credential("coturn-secret", &username).as_str())
    );
}

/// The relay-only policy travels with the servers.
#[tokio::test]
async fn relay_policy_is_sent_to_browsers() {
    let server = TestServer::start(|config| {
        config.ice.ice_transport_policy = IceTransportPolicy::Relay;
    })
    .await;
    let mut client = server.joined("relay-only").await;
    client.send(&ClientMessage::IceServers).await;
    let ServerMessage::IceServers {
        ice_transport_policy,
        ice_servers,
        ..
    } = client.recv().await
    else {
        panic!("expected ice_servers");
    };
    assert_eq!(ice_transport_policy, IceTransportPolicy::Relay);
    assert_eq!(
        ice_servers,
        vec![IceServer::open(["stun:stun.l.google.com:19302"])]
    );
}

/// Neither the Twilio auth token nor the TURN secret ever reach a browser or a log line, even
/// when Twilio refuses the token.
#[tokio::test]
async fn secrets_reach_neither_browsers_nor_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let standin = TwilioStandIn::start().await;
    standin.set_behaviour(Behaviour::Unauthorized);
    let token = standin.account().auth_token.clone();
    let server = server_with_twilio(&standin, |config| {
        config.ice.turn_secret = Some("turn-secret-value".into());
    })
    .await;
    let mut client = server.joined("secrets").await;
    client.send(&ClientMessage::IceServers).await;
    let answer = serde_json::to_string(&client.recv().await).expect("json");
    let logs = logs.text();
    assert!(
        logs.contains("Twilio ICE token request failed"),
        "the failure is logged: {logs}"
    );
    assert!(logs.contains("401"), "with its status: {logs}");
    for secret in [token.as_str(), "turn-secret-value"] {
        assert!(!answer.contains(secret));
        assert!(!logs.contains(secret), "secret in logs: {logs}");
    }
}
