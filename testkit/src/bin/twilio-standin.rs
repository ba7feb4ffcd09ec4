//! Runs the Twilio Tokens stand-in as a process, for the browser end-to-end tests.
//!
//! Prints `listening on <address>` once ready. Never pointed at, nor reaching, the internet.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use testkit::twilio::{Account, Behaviour, IceUrls, TwilioStandIn};

/// A local server answering as Twilio's `Tokens.json` endpoint does.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Account SID accepted in the path and as the Basic auth user.
    #[arg(long)]
    account_sid: String,
    /// Auth token accepted as the Basic auth password.
    #[arg(long)]
    auth_token: String,
    /// STUN URL handed out.
    #[arg(long, default_value = "stun:global.stun.twilio.com:3478")]
    stun_url: String,
    /// TURN URLs handed out (repeatable).
    #[arg(long = "turn-url")]
    turn_urls: Vec<String>,
    /// coturn `static-auth-secret`: TURN credentials become real TURN REST credentials.
    #[arg(long)]
    turn_secret: Option<String>,
    /// Answer every token request this many milliseconds late, as a distant or busy Twilio
    /// would (`scripts/bench call --twilio-delay-ms`); 0 answers at once.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let mut urls = IceUrls {
        stun: args.stun_url,
        turn_secret: args.turn_secret,
        ..IceUrls::default()
    };
    if !args.turn_urls.is_empty() {
        urls.turn = args.turn_urls;
    }
    let account = Account {
        sid: args.account_sid,
        auth_token: args.auth_token,
    };
    let standin = TwilioStandIn::spawn(listener, account, urls)?;
    if args.delay_ms > 0 {
        standin.set_behaviour(Behaviour::Slow(Duration::from_millis(args.delay_ms)));
    }
    println!("listening on {}", standin.address);
    std::future::pending::<()>().await;
    Ok(())
}
