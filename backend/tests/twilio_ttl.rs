//! A Twilio answer with an absurd `ttl` cannot panic the connection that asked: the token is
//! kept for the lifetime the server asked for, no longer.

mod common;

use std::time::Duration;

use common::TestServer;
use shared::{ClientMessage, ServerMessage};
use testkit::twilio::{Behaviour, TwilioStandIn};

/// A `ttl` of `u64::MAX` seconds (which would overflow `Instant + ttl`) is clamped to the TTL
/// asked (600 s): the page gets Twilio's servers with a TTL under 600 s, the connection goes
/// on, and asking again is served from the same token.
#[tokio::test]
async fn a_huge_twilio_ttl_is_clamped_to_the_ttl_asked() {
    let standin = TwilioStandIn::start().await;
    standin.set_behaviour(Behaviour::AnswerTtl(u64::MAX.to_string()));
    let account = standin.account().clone();
    let base = standin.base_url();
    let server = TestServer::start(move |config| {
        config.ice.twilio_account_sid = Some(account.sid);
        config.ice.twilio_auth_token = Some(account.auth_token);
        config.ice.twilio_base_url = base;
        config.ice.twilio_ttl = 600;
        config.ice.twilio_retry_backoff = Duration::from_millis(300);
        config.ice.allow_originless_turn = true;
    })
    .await;
    let mut client = server.joined("huge-ttl").await;
    for _ in 0..2 {
        client.send(&ClientMessage::IceServers).await;
        match client.recv().await {
            ServerMessage::IceServers {
                ice_servers, ttl, ..
            } => {
                assert!(
                    ice_servers
                        .iter()
                        .any(|server| server.urls[0].starts_with("turn:global.turn.twilio.com")),
                    "Twilio's servers, not the fallback: {ice_servers:?}"
                );
                assert!((500..600).contains(&ttl), "clamped to the TTL asked: {ttl}");
            }
            other => panic!("expected ice_servers, got {other:?}"),
        }
    }
    assert_eq!(standin.token_requests(), 1, "the clamped token is reused");
    client.assert_quiet().await;
}
