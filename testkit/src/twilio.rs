//! A local server that answers exactly as Twilio's documented Tokens endpoint does
//! (`POST /2010-04-01/Accounts/{AccountSid}/Tokens.json`, see `shared/TWILIO.md` beside the
//! repository): HTTP Basic auth, form body with optional `Ttl`, `201` with the token JSON (`ttl`
//! as a string, one `urls` string per entry plus the legacy `url`), and Twilio's error JSON
//! `{code, message, more_info, status}`.
//!
//! Tests script its behaviour (succeed, fail with 401/429/500, answer slowly) and read how many
//! token requests it served and how many tokens it issued: in process through
//! [`TwilioStandIn`], or from another process with `GET /__standin/counts` (a path Twilio does
//! not have, so the backend under test can never mistake it for the API). The TURN entries it
//! hands out can be real: given a coturn shared secret it mints credentials that coturn accepts,
//! as Twilio's own TURN servers would; their username then ends in [`STANDIN_USER`], so a test
//! can tell them from credentials minted by anything else.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use tokio::net::TcpListener;

/// The user part of the TURN REST usernames the stand-in mints (`<expiry>:twilio-standin`).
pub const STANDIN_USER: &str = "twilio-standin";

/// What the next token requests get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// 201 with a token.
    Succeed,
    /// Twilio's 401 (code 20003) for every request, as with a revoked auth token.
    Unauthorized,
    /// Twilio's 429 (code 20429): too many concurrent requests.
    TooManyRequests,
    /// A 500 from Twilio's side.
    ServerError,
    /// Wait this long, then succeed (to exercise the caller's timeout, or to bench a distant
    /// Twilio: the stand-in's `--delay-ms`).
    Slow(Duration),
    /// 201 with a token whose `ttl` field is this text whatever was asked (an endpoint that
    /// misbehaves: a huge or malformed lifetime).
    AnswerTtl(String),
}

/// The ICE servers the stand-in hands out.
#[derive(Debug, Clone)]
pub struct IceUrls {
    pub stun: String,
    pub turn: Vec<String>,
    /// With a coturn `static-auth-secret`, TURN credentials are real TURN REST credentials;
    /// without, they are random strings like Twilio's.
    pub turn_secret: Option<String>,
}

impl Default for IceUrls {
    /// Twilio's global URLs, as in its documentation.
    fn default() -> Self {
        Self {
            stun: "stun:global.stun.twilio.com:3478".into(),
            turn: vec![
                "turn:global.turn.twilio.com:3478?transport=udp".into(),
                "turn:global.turn.twilio.com:3478?transport=tcp".into(),
                "turn:global.turn.twilio.com:443?transport=tcp".into(),
            ],
            turn_secret: None,
        }
    }
}

/// The account the stand-in accepts.
#[derive(Debug, Clone)]
pub struct Account {
    pub sid: String,
    pub auth_token: String,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            sid: format!("AC{}", "0123456789abcdef".repeat(2)),
            auth_token: "standin-auth-token-0123456789abcdef".into(),
        }
    }
}

/// A running stand-in.
#[derive(Debug, Clone)]
pub struct TwilioStandIn {
    pub address: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    account: Account,
    urls: IceUrls,
    behaviour: Mutex<Behaviour>,
    token_requests: AtomicUsize,
    /// Requests answered `201` with a token.
    tokens_issued: AtomicUsize,
    /// The `Ttl` of each successful request, in order (`None`: not sent).
    requested_ttls: Mutex<Vec<Option<u32>>>,
}

impl TwilioStandIn {
    /// Starts on `listener` in the background of the current tokio runtime.
    pub fn spawn(listener: TcpListener, account: Account, urls: IceUrls) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            account,
            urls,
            behaviour: Mutex::new(Behaviour::Succeed),
            token_requests: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
            requested_ttls: Mutex::default(),
        });
        let app = router(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("twilio stand-in stopped: {error}");
            }
        });
        Ok(Self { address, shared })
    }

    /// Starts on a free loopback port with the default account and Twilio's URLs.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Self::spawn(listener, Account::default(), IceUrls::default()).expect("local address")
    }

    /// The base URL to configure as `TWILIO_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn account(&self) -> &Account {
        &self.shared.account
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }

    /// How many well-formed, authenticated token requests arrived (whatever they were answered).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many tokens were issued (requests answered `201`).
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// The `Ttl` form field of every authenticated token request, in order.
    pub fn requested_ttls(&self) -> Vec<Option<u32>> {
        lock(&self.shared.requested_ttls).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{file}/Tokens.json", any(tokens))
        .route("/__standin/counts", get(counts))
        .fallback(|| async {
            twilio_error(
                StatusCode::NOT_FOUND,
                20404,
                "The requested resource was not found",
            )
        })
        .with_state(shared)
}

/// `GET /__standin/counts`: what the stand-in served, for tests in another process.
async fn counts(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "token_requests": shared.token_requests.load(Ordering::SeqCst),
            "tokens_issued": shared.tokens_issued.load(Ordering::SeqCst),
        })
        .to_string(),
    )
        .into_response()
}

/// Twilio's error document.
fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })
        .to_string(),
    )
        .into_response()
}

async fn tokens(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != axum::http::Method::POST {
        return twilio_error(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed");
    }
    let sid_is_valid =
        sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !sid_is_valid {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    }
    if basic_auth(&headers)
        != Some((
            shared.account.sid.clone(),
            shared.account.auth_token.clone(),
        ))
        || sid != shared.account.sid
    {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form && !body.is_empty() {
        return twilio_error(StatusCode::BAD_REQUEST, 20001, "Invalid content type");
    }
    let ttl = match form_ttl(&body) {
        Ok(ttl) => ttl,
        Err(message) => return twilio_error(StatusCode::BAD_REQUEST, 20001, &message),
    };
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    lock(&shared.requested_ttls).push(ttl);
    let behaviour = lock(&shared.behaviour).clone();
    match behaviour {
        Behaviour::Succeed => {}
        Behaviour::Unauthorized => {
            return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        }
        Behaviour::TooManyRequests => {
            return twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        }
        Behaviour::ServerError => {
            return twilio_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            );
        }
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::AnswerTtl(_) => {}
    }
    let ttl = ttl.unwrap_or(86_400);
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let mut token = token_json(&shared, ttl);
    if let Behaviour::AnswerTtl(answered) = behaviour {
        token["ttl"] = answered.into();
    }
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        token.to_string(),
    )
        .into_response()
}

/// The `Ttl` field of a form body: absent, or seconds from 0 to 86400.
fn form_ttl(body: &[u8]) -> Result<Option<u32>, String> {
    let body = std::str::from_utf8(body).map_err(|_| "The body is not UTF-8".to_owned())?;
    let mut ttl = None;
    for pair in body.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "Ttl" {
            let seconds: u32 = value
                .parse()
                .map_err(|_| format!("Ttl must be an integer, not {value:?}"))?;
            if seconds > 86_400 {
                return Err("Ttl must be at most 86400 seconds".to_owned());
            }
            ttl = Some(seconds);
        }
    }
    Ok(ttl)
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn token_json(shared: &Shared, ttl: u32) -> serde_json::Value {
    let now = SystemTime::now();
    let (username, password) = match &shared.urls.turn_secret {
        Some(secret) => {
            let expiry =
                now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() + u64::from(ttl);
            let username = format!("{expiry}:{STANDIN_USER}");
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(username.as_bytes());
            let password =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            (username, password)
        }
        None => (
            format!(
                "{:032x}{:032x}",
                rand::random::<u128>(),
                rand::random::<u128>()
            ),
            format!("{:016x}", rand::random::<u64>()),
        ),
    };
    let mut ice_servers = vec![json!({"url": shared.urls.stun, "urls": shared.urls.stun})];
    for url in &shared.urls.turn {
        ice_servers.push(json!({
            "url": url,
            "urls": url,
            "username": username,
            "credential": password,
        }));
    }
    let date = rfc2822(now);
    json!({
        "username": username,
        "ice_servers": ice_servers,
        "date_updated": date,
        "account_sid": shared.account.sid,
        "ttl": ttl.to_string(),
        "date_created": date,
        "password": password,
    })
}

/// `Fri, 01 May 2020 01:42:57 +0000`, Twilio's date format.
fn rfc2822(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = secs / 86_400;
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil-from-days (Howard Hinnant's algorithm), enough for a date header.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {month_name} {year} {hour:02}:{minute:02}:{second:02} +0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's date format, checked against the example in its documentation.
    #[test]
    fn formats_dates_like_twilio() {
        // Fri, 01 May 2020 01:42:57 +0000
        let time = UNIX_EPOCH + Duration::from_secs(1_588_297_377);
        assert_eq!(rfc2822(time), "Fri, 01 May 2020 01:42:57 +0000");
    }

    /// The Ttl field is optional and bounded as Twilio documents.
    #[test]
    fn parses_the_ttl_field() {
        assert_eq!(form_ttl(b""), Ok(None));
        assert_eq!(form_ttl(b"Ttl=3600"), Ok(Some(3600)));
        assert!(form_ttl(b"Ttl=86401").is_err());
        assert!(form_ttl(b"Ttl=soon").is_err());
    }
}
