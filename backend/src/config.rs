//! Command-line and environment configuration (clap), read once at start-up.
//!
//! Every option has an environment fallback, and `main` loads a `.env` file first, as the
//! original Node app did. Secrets (`TWILIO_AUTH_TOKEN`, `TURN_SECRET`, `ICE_CREDENTIAL`, the
//! password in `REDIS_URL`, `RESUME_KEY`) never have their values shown by `--help`, and `Debug` prints
//! `***` in their place, so a logged configuration gives nothing away.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser};
use shared::IceTransportPolicy;

use crate::redact::{Redacted, redact_url};
use range::{days, hours, minutes, ms, secs};

mod range;

/// Video-chat signalling server: rooms, relay of offer/answer/candidates, ICE credentials.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory of the built frontend (Trunk's `dist/`) to serve; `index.html` answers every
    /// path that is not a file, such as `/room/<name>`. Without it only the API is served.
    #[arg(long, env = "STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub ice: IceConfig,

    #[command(flatten)]
    pub redis: RedisConfig,

    #[command(flatten)]
    pub resume: ResumeConfig,

    #[command(flatten)]
    pub observability: Observability,

    #[command(flatten)]
    pub tls: crate::tls::TlsConfig,

    /// How long to wait for connections to close on shutdown before giving up on them.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "5s", value_parser = range::duration(ms(0), hours(1)))]
    pub shutdown_grace: Duration,
}

/// Limits that protect the server and the other rooms from one misbehaving client, and the
/// size of a call: how many people a room holds and how much each page may send.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// How many people fit in a room (2 to 8). Every pair of members has its own peer
    /// connection (a full mesh), so each browser sends one stream per other member: beyond
    /// eight, uploads and CPU no longer keep up on ordinary machines.
    #[arg(long, env = "ROOM_CAPACITY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(2..=8))]
    pub room_capacity: u16,

    /// Most a page should send in all, in kbit/s, shared among its peer connections (each of
    /// the others in the room gets a part); given to every joiner in `joined`. 100 to 100000.
    #[arg(long, env = "UPLOAD_BUDGET", default_value_t = shared::DEFAULT_UPLOAD_KBPS, value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub upload_budget: u32,

    /// Largest text frame accepted from a browser, in bytes; larger ones get `too_large`.
    /// 64 KiB holds any SDP a browser produces with room to spare.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = 64 * 1024, value_parser = range::number(256_usize, 16 * 1024 * 1024))]
    pub max_message_bytes: usize,

    /// Sustained messages per second allowed per connection (token bucket).
    #[arg(long, env = "MESSAGES_PER_SECOND", default_value_t = 20, value_parser = range::number(1_u32, 100_000))]
    pub messages_per_second: u32,

    /// Burst size of the per-connection token bucket: trickle ICE sends tens of candidates at
    /// once when a call starts, per call: a page joining a room of eight sets up seven calls at
    /// once (an offer or answer, ten or so candidates and their end, each), about 85 messages.
    #[arg(long, env = "MESSAGE_BURST", default_value_t = 200, value_parser = range::number(1_u32, 1_000_000))]
    pub message_burst: u32,

    /// ICE-server requests allowed per connection per minute.
    #[arg(long, env = "ICE_REQUESTS_PER_MINUTE", default_value_t = 6, value_parser = range::number(1_u32, 100_000))]
    pub ice_requests_per_minute: u32,

    /// ICE-server requests allowed per client address (IPv6: per prefix) per minute, over all
    /// its connections, so that reconnecting does not start a fresh allowance: each answer may
    /// carry TURN credentials, which cost money when used.
    #[arg(long, env = "ICE_REQUESTS_PER_MINUTE_PER_IP", default_value_t = 30, value_parser = range::number(1_u32, 1_000_000))]
    pub ice_requests_per_minute_per_ip: u32,

    /// Simultaneous WebSocket connections allowed from one client address (0: no limit). An
    /// IPv6 client counts by its `--ipv6-prefix`.
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value_t = 32)]
    pub max_connections_per_ip: usize,

    /// How many leading bits of an IPv6 client address the per-IP limits count by (32 to
    /// 128): one site is usually given a whole /64 and can use any address in it.
    #[arg(long, env = "IPV6_PREFIX", default_value_t = 64, value_parser = clap::value_parser!(u8).range(32..=128))]
    pub ipv6_prefix: u8,

    /// Simultaneous WebSocket connections allowed in all (0: no limit); the excess is refused
    /// with HTTP 503 before the upgrade. Default: sized for the machine, the process's open-file
    /// limit (`RLIMIT_NOFILE`, raised to its hard limit at start) minus a reserve of 256 for
    /// plain HTTP requests, Redis and files, since each WebSocket holds one file descriptor.
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Host` headers are
    /// believed, comma-separated CIDRs or addresses (e.g. `10.0.0.0/8,::1`). Default: none,
    /// the TCP peer is the client and those headers are ignored.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::proxy::parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The URL people open (e.g. `https://chat.example.com`): when set, only pages of this
    /// origin (and of `ALLOWED_ORIGINS`) may open the WebSocket, whatever host name led to the
    /// server (DNS rebinding).
    #[arg(long, env = "PUBLIC_ORIGIN", value_parser = parse_origin)]
    pub public_origin: Option<String>,

    /// Messages from other peers queued for one connection; a connection whose queue overflows
    /// reads too slowly and is closed (code 1008) so it never holds anyone else back.
    #[arg(long, env = "OUTGOING_QUEUE", default_value_t = 64, value_parser = range::number(1_usize, 1_000_000))]
    pub outgoing_queue: usize,

    /// Origins allowed to open the WebSocket, comma-separated (e.g.
    /// `https://chat.example.com`). Empty (and no `PUBLIC_ORIGIN`): only the server's own
    /// origin (the `Host` header), and on a loopback listen address only the host names
    /// `localhost`, `127.0.0.1` and `[::1]`.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// How often the server pings each connection.
    #[arg(long, env = "HEARTBEAT_INTERVAL", default_value = "15s", value_parser = range::duration(ms(10), hours(1)))]
    pub heartbeat_interval: Duration,

    /// A connection silent for this long (no frame, no pong) is dropped and its room told.
    #[arg(long, env = "HEARTBEAT_TIMEOUT", default_value = "40s", value_parser = range::duration(ms(10), days(1)))]
    pub heartbeat_timeout: Duration,

    /// Longest wait for one write to a WebSocket. A browser that stops reading (the kernel
    /// answers with a zero window) would otherwise hold its task inside the write for ever,
    /// where no heartbeat check runs: past this the connection is dropped and its room told.
    #[arg(long, env = "WRITE_TIMEOUT", default_value = "10s", value_parser = range::duration(ms(1), hours(1)))]
    pub write_timeout: Duration,

    /// Longest wait for the headers of a plain HTTP request (and for the next request on an
    /// idle keep-alive connection); past it the connection is closed, so half-sent requests
    /// (slowloris) cannot pile up or hold a shutdown.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = range::duration(ms(1), hours(1)))]
    pub header_read_timeout: Duration,
}

/// Presence and relay shared by several instances (behind one load balancer) through Redis.
#[derive(Clone, Args)]
pub struct RedisConfig {
    /// Redis URL (e.g. `redis://127.0.0.1:6379/0`): rooms are shared with every instance using
    /// the same Redis. Without it, rooms live in this instance's memory.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long the members of an instance that stopped (crashed) are still believed present;
    /// each instance refreshes its own every third of this.
    #[arg(long, env = "REDIS_EXPIRY", default_value = "6s", value_parser = parse_expiry)]
    pub redis_expiry: Duration,

    /// Longest wait for one Redis call; past it a join is refused with `unavailable`.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "2s", value_parser = range::duration(ms(1), minutes(1)))]
    pub redis_timeout: Duration,
}

/// What operators see: metrics and the form of the logs.
#[derive(Debug, Clone, Args)]
pub struct Observability {
    /// Serve `GET /metrics` (Prometheus text) on the main port. Prefer `--metrics-listen`: the
    /// main port is public, and anybody could read the counters.
    #[arg(long, env = "METRICS")]
    pub metrics: bool,

    /// Serve `GET /metrics` alone on this address (e.g. `10.0.0.5:9100`), for a scraper on an
    /// internal network; nothing else is served there.
    #[arg(long, env = "METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log lines as human-readable `text`, or as one JSON object per line (`json`) for log
    /// collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,
}

/// How a page whose connection dropped gets its seat back (`resume` tokens).
#[derive(Clone, Args)]
pub struct ResumeConfig {
    /// Key signing resume tokens (secret: never logged), any string of at least 32 bytes.
    /// Give every instance sharing a Redis the same key, and keep it across restarts, so that
    /// a page reconnecting to another or a restarted instance keeps its peer id. Without it a
    /// random key is made at start.
    #[arg(long, env = "RESUME_KEY", hide_env_values = true, value_parser = parse_resume_key)]
    pub resume_key: Option<String>,

    /// How long the seat of a connection that ended without `leave` is kept for it to come
    /// back (seconds, or a duration such as `1500ms`); only then are the others told
    /// `peer_left`. Members get a fresh token every half of it.
    #[arg(long, env = "RESUME_GRACE", default_value = "30", value_parser = parse_grace)]
    pub resume_grace: Duration,
}

fn parse_resume_key(value: &str) -> Result<String, String> {
    crate::resume::ResumeKey::new(value)
        .map(|_| value.to_owned())
        .map_err(|error| error.to_string())
}

/// Whole seconds (`30`) or a human duration (`1s`, `1500ms`); at least 100 ms, since members
/// are sent a fresh token every half of it.
fn parse_grace(value: &str) -> Result<Duration, String> {
    let grace = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(value).map_err(|error| error.to_string())?,
    };
    if grace < Duration::from_millis(100) {
        return Err("must be at least 100ms".to_owned());
    }
    range::within(grace, ms(100), days(1))
}

impl fmt::Debug for ResumeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            resume_key,
            resume_grace,
        } = self;
        f.debug_struct("ResumeConfig")
            .field("resume_key", &Redacted(resume_key))
            .field("resume_grace", resume_grace)
            .finish()
    }
}

fn parse_expiry(value: &str) -> Result<Duration, String> {
    let expiry = humantime::parse_duration(value).map_err(|error| error.to_string())?;
    if expiry < Duration::from_millis(300) {
        return Err("must be at least 300ms (the heartbeat runs every third of it)".to_owned());
    }
    range::within(expiry, ms(300), days(1))
}

/// Where ICE servers come from. The first provider configured wins: Twilio, then TURN REST
/// (shared secret), then the static list — which is also the fallback when Twilio fails.
#[derive(Clone, Args)]
pub struct IceConfig {
    /// Twilio Account SID (`AC…`): with the auth token, selects Twilio's Network Traversal
    /// Service.
    #[arg(long, env = "TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,

    /// Twilio auth token (secret: never sent to browsers nor logged).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,

    /// Base URL of Twilio's REST API (tests point it at a local stand-in).
    #[arg(
        long,
        env = "TWILIO_BASE_URL",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_base_url: String,

    /// Lifetime to ask Twilio for, in seconds (Twilio allows up to 86400). The one token is
    /// shared by every connection and refreshed a margin (a tenth, at most 5 min) before it
    /// ends, so this is also how often the server asks Twilio, and how long a harvested token
    /// stays usable.
    #[arg(long, env = "TWILIO_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..=86400))]
    pub twilio_ttl: u32,

    /// Give up on a Twilio request after this long and hand out the fallback list.
    #[arg(long, env = "TWILIO_TIMEOUT", default_value = "4s", value_parser = range::duration(ms(1), minutes(1)))]
    pub twilio_timeout: Duration,

    /// First wait before asking Twilio again after a failure; doubles up to a minute.
    #[arg(long, env = "TWILIO_RETRY_BACKOFF", default_value = "2s", value_parser = range::duration(ms(1), minutes(1)))]
    pub twilio_retry_backoff: Duration,

    /// TURN URLs for the TURN REST (coturn `use-auth-secret`) provider, comma-separated, e.g.
    /// `turn:turn.example.com:3478?transport=udp`.
    #[arg(long, env = "TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// Shared secret of the TURN server (coturn `static-auth-secret`; never logged).
    #[arg(long, env = "TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// Lifetime of minted TURN credentials (bound to the peer id); pages ask again before it
    /// ends, so short costs nothing but a message every few minutes.
    #[arg(long, env = "TURN_TTL", default_value = "10min", value_parser = range::duration(secs(30), days(1)))]
    pub turn_ttl: Duration,

    /// Static ICE server URLs (STUN or TURN), comma-separated; also the fallback list. Set to
    /// an empty string for none.
    #[arg(
        long,
        env = "ICE_URLS",
        value_delimiter = ',',
        default_value = "stun:stun.l.google.com:19302"
    )]
    pub ice_urls: Vec<String>,

    /// Username for the `turn:`/`turns:` entries of the static list.
    #[arg(long, env = "ICE_USERNAME")]
    pub ice_username: Option<String>,

    /// Credential for the `turn:`/`turns:` entries of the static list.
    #[arg(long, env = "ICE_CREDENTIAL", hide_env_values = true)]
    pub ice_credential: Option<String>,

    /// Hand TURN entries to connections without an `Origin` header (non-browser clients).
    /// Off by default: such a client gets STUN entries only, since a script could otherwise
    /// harvest relay credentials.
    #[arg(long, env = "ALLOW_ORIGINLESS_TURN")]
    pub allow_originless_turn: bool,

    /// `all`, or `relay` to let browsers use TURN relays only (hides addresses; costs relay
    /// bandwidth).
    #[arg(long, env = "ICE_TRANSPORT_POLICY", default_value = "all", value_parser = parse_policy)]
    pub ice_transport_policy: IceTransportPolicy,
}

/// `scheme://host[:port]`, as browsers write an `Origin`: lower-cased, no trailing slash.
fn parse_origin(value: &str) -> Result<String, String> {
    let origin = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("`{value}` must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "`{value}` must be an origin: scheme://host[:port], no path"
        ));
    }
    Ok(origin)
}

fn parse_policy(value: &str) -> Result<IceTransportPolicy, String> {
    match value {
        "all" => Ok(IceTransportPolicy::All),
        "relay" => Ok(IceTransportPolicy::Relay),
        other => Err(format!("expected `all` or `relay`, not `{other}`")),
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            redis_url,
            redis_expiry,
            redis_timeout,
        } = self;
        f.debug_struct("RedisConfig")
            .field("redis_url", &redis_url.as_deref().map(redact_url))
            .field("redis_expiry", redis_expiry)
            .field("redis_timeout", redis_timeout)
            .finish()
    }
}

impl fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            twilio_account_sid,
            twilio_auth_token,
            twilio_base_url,
            twilio_ttl,
            twilio_timeout,
            twilio_retry_backoff,
            turn_urls,
            turn_secret,
            turn_ttl,
            ice_urls,
            ice_username,
            ice_credential,
            allow_originless_turn,
            ice_transport_policy,
        } = self;
        f.debug_struct("IceConfig")
            .field("twilio_account_sid", twilio_account_sid)
            .field("twilio_auth_token", &Redacted(twilio_auth_token))
            .field("twilio_base_url", twilio_base_url)
            .field("twilio_ttl", twilio_ttl)
            .field("twilio_timeout", twilio_timeout)
            .field("twilio_retry_backoff", twilio_retry_backoff)
            .field("turn_urls", turn_urls)
            .field("turn_secret", &Redacted(turn_secret))
            .field("turn_ttl", turn_ttl)
            .field("ice_urls", ice_urls)
            .field("ice_username", ice_username)
            .field("ice_credential", &Redacted(ice_credential))
            .field("allow_originless_turn", allow_originless_turn)
            .field("ice_transport_policy", ice_transport_policy)
            .finish()
    }
}

impl Config {
    /// The defaults, as if started with no options and an empty environment (for tests).
    pub fn defaults() -> Self {
        Self::parse_from_args(["backend"]).expect("the defaults parse")
    }

    /// Parses explicit arguments (the first is the program name), ignoring nothing.
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The defaults are the documented ones: port 3000 on loopback, rooms of four, an upload
    /// budget of 2500 kbit/s, 64 KiB frames, public STUN as the static list.
    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::parse_from_args(["backend"]).expect("parses");
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.limits.room_capacity, 4);
        assert_eq!(config.limits.upload_budget, 2_500);
        assert_eq!(config.limits.upload_budget, shared::DEFAULT_UPLOAD_KBPS);
        assert_eq!(config.limits.max_message_bytes, 65_536);
        assert_eq!(
            config.ice.ice_urls,
            vec!["stun:stun.l.google.com:19302".to_owned()]
        );
        assert_eq!(config.ice.ice_transport_policy, IceTransportPolicy::All);
        assert_eq!(config.ice.twilio_base_url, "https://api.twilio.com");
    }

    /// Lists are comma-separated; durations are human ("250ms", "1day"); bad values are
    /// refused with a message rather than ignored.
    #[test]
    fn parses_lists_durations_and_policies() {
        let config = Config::parse_from_args([
            "backend",
            "--allowed-origins",
            "https://a.example,https://b.example",
            "--heartbeat-timeout",
            "250ms",
            "--ice-transport-policy",
            "relay",
        ])
        .expect("parses");
        assert_eq!(config.limits.allowed_origins.len(), 2);
        assert_eq!(config.limits.heartbeat_timeout, Duration::from_millis(250));
        assert_eq!(config.ice.ice_transport_policy, IceTransportPolicy::Relay);
        assert!(Config::parse_from_args(["backend", "--ice-transport-policy", "some"]).is_err());
        assert!(Config::parse_from_args(["backend", "--twilio-ttl", "90000"]).is_err());
    }

    /// Rooms hold 2 to 8 people and the upload budget is 100 to 100000 kbit/s, by flag or
    /// environment; a value outside is refused with a message naming the allowed range.
    #[test]
    fn room_capacity_and_upload_budget_have_ranges() {
        for (capacity, budget) in [("2", "100"), ("8", "100000"), ("5", "1200")] {
            let config = Config::parse_from_args([
                "backend",
                "--room-capacity",
                capacity,
                "--upload-budget",
                budget,
            ])
            .expect("within range");
            assert_eq!(config.limits.room_capacity.to_string(), capacity);
            assert_eq!(config.limits.upload_budget.to_string(), budget);
        }
        for (flag, value, range) in [
            ("--room-capacity", "1", "2..=8"),
            ("--room-capacity", "9", "2..=8"),
            ("--room-capacity", "64", "2..=8"),
            ("--upload-budget", "99", "100..=100000"),
            ("--upload-budget", "100001", "100..=100000"),
            ("--upload-budget", "fast", "fast"),
        ] {
            let error = Config::parse_from_args(["backend", flag, value])
                .expect_err("outside the range")
                .to_string();
            assert!(error.contains(flag) && error.contains(range), "{error}");
        }
    }

    /// Presence is in memory unless a Redis URL is given; the expiry has a floor because the
    /// heartbeat runs every third of it.
    #[test]
    fn redis_is_opt_in_and_expiry_has_a_floor() {
        let config = Config::parse_from_args(["backend"]).expect("parses");
        assert_eq!(config.redis.redis_url, None);
        assert_eq!(config.redis.redis_expiry, Duration::from_secs(6));
        let config = Config::parse_from_args([
            "backend",
            "--redis-url",
            "redis://127.0.0.1:6379/0",
            "--redis-expiry",
            "3s",
        ])
        .expect("parses");
        assert_eq!(
            config.redis.redis_url.as_deref(),
            Some("redis://127.0.0.1:6379/0")
        );
        assert_eq!(config.redis.redis_expiry, Duration::from_secs(3));
        assert!(Config::parse_from_args(["backend", "--redis-expiry", "100ms"]).is_err());
    }

    /// The grace is 30 s by default, in seconds or as a duration; a resume key must be 32
    /// bytes or more.
    #[test]
    fn resume_grace_and_key() {
        let config = Config::parse_from_args(["backend"]).expect("parses");
        assert_eq!(config.resume.resume_grace, Duration::from_secs(30));
        assert_eq!(config.resume.resume_key, None);
        let config = Config::parse_from_args([
            "backend",
            "--resume-grace",
            "5",
            "--resume-key",
            "0123456789abcdef0123456789abcdef",
        ])
        .expect("parses");
        assert_eq!(config.resume.resume_grace, Duration::from_secs(5));
        assert!(config.resume.resume_key.is_some());
        let config =
            Config::parse_from_args(["backend", "--resume-grace", "1500ms"]).expect("parses");
        assert_eq!(config.resume.resume_grace, Duration::from_millis(1500));
        assert!(Config::parse_from_args(["backend", "--resume-grace", "0"]).is_err());
        assert!(Config::parse_from_args(["backend", "--resume-key", "too-short"]).is_err());
    }

    /// Behind a proxy and TURN: no trusted proxy, no public origin, IPv6 per /64, the
    /// machine-sized connection cap, TURN REST for 10 minutes, Twilio for an hour, no TURN
    /// without Origin, by default; proxies as CIDRs or addresses, the public origin as an
    /// origin, anything else refused.
    #[test]
    fn proxy_and_turn_options() {
        let config = Config::parse_from_args(["backend"]).expect("parses");
        assert!(config.limits.trusted_proxies.is_empty());
        assert_eq!(config.limits.public_origin, None);
        assert_eq!(config.limits.ipv6_prefix, 64);
        assert_eq!(config.limits.max_connections, None);
        assert_eq!(config.limits.ice_requests_per_minute_per_ip, 30);
        assert_eq!(config.ice.turn_ttl, Duration::from_secs(600));
        assert_eq!(config.ice.twilio_ttl, 3600);
        assert!(!config.ice.allow_originless_turn);
        let config = Config::parse_from_args([
            "backend",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
            "--public-origin",
            "https://Chat.Example.com/",
            "--ipv6-prefix",
            "56",
            "--max-connections",
            "5000",
            "--allow-originless-turn",
        ])
        .expect("parses");
        let proxies: Vec<String> = config
            .limits
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "::1/128"]);
        assert_eq!(
            config.limits.public_origin.as_deref(),
            Some("https://chat.example.com")
        );
        assert_eq!(config.limits.ipv6_prefix, 56);
        assert_eq!(config.limits.max_connections, Some(5000));
        assert!(config.ice.allow_originless_turn);
        for (flag, value) in [
            ("--trusted-proxies", "proxy.example"),
            ("--trusted-proxies", "10.0.0.0/40"),
            ("--public-origin", "chat.example.com"),
            ("--public-origin", "https://chat.example.com/room"),
            ("--ipv6-prefix", "129"),
            ("--ipv6-prefix", "16"),
            ("--ice-requests-per-minute-per-ip", "0"),
        ] {
            assert!(
                Config::parse_from_args(["backend", flag, value]).is_err(),
                "{flag} {value}"
            );
        }
    }

    /// `--help` explains every option.
    #[test]
    fn help_explains_every_option() {
        let mut command = Config::command();
        let help = command.render_long_help().to_string();
        for argument in command.get_arguments() {
            if let Some(long) = argument.get_long() {
                assert!(
                    help.contains(&format!("--{long}")),
                    "--{long} missing from help"
                );
                assert!(argument.get_help().is_some(), "--{long} has no explanation");
            }
        }
    }

    /// Metrics are off and logs are text unless asked; `--metrics`, `--metrics-listen` and
    /// `--log-format json` are read as written.
    #[test]
    fn observability_options() {
        let defaults = Config::defaults().observability;
        assert!(!defaults.metrics);
        assert_eq!(defaults.metrics_listen, None);
        assert_eq!(defaults.log_format, crate::logging::LogFormat::Text);
        let set = Config::parse_from_args([
            "backend",
            "--metrics",
            "--metrics-listen",
            "10.0.0.5:9100",
            "--log-format",
            "json",
        ])
        .expect("parses")
        .observability;
        assert!(set.metrics);
        assert_eq!(
            set.metrics_listen,
            Some("10.0.0.5:9100".parse().expect("addr"))
        );
        assert_eq!(set.log_format, crate::logging::LogFormat::Json);
        assert!(Config::parse_from_args(["backend", "--log-format", "xml"]).is_err());
    }
}
