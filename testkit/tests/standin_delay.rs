//! The stand-in process's `--delay-ms`: token requests are answered, and no earlier than asked
//! (what `scripts/bench call --twilio-delay-ms` relies on).

use std::time::{Duration, Instant};

use base64::Engine;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::Command,
};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "standin-delay-test-token";

/// Starts the stand-in with `delay_ms`, sends one token request and returns the response's
/// status line and how long it took.
async fn token_request(delay_ms: u64) -> (String, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twilio-standin"))
        .args(["--account-sid", SID, "--auth-token", TOKEN])
        .args(["--delay-ms", &delay_ms.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the stand-in");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read")
        .expect("a line");
    let address = line.strip_prefix("listening on ").expect("address line");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    let request = format!(
        "POST /2010-04-01/Accounts/{SID}/Tokens.json HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let started = Instant::now();
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("answered within 30 s")
    .expect("read the response");
    let status = response.lines().next().unwrap_or_default().to_owned();
    (status, started.elapsed())
}

/// With `--delay-ms 400` a token is still issued, and not before 400 ms have passed.
#[tokio::test]
async fn answers_after_the_delay() {
    let (status, took) = token_request(400).await;
    assert_eq!(status, "HTTP/1.1 201 Created");
    assert!(
        took >= Duration::from_millis(400),
        "answered after {took:?}"
    );
}

/// Without a delay the same request is answered too (the option changes only the timing).
#[tokio::test]
async fn answers_without_a_delay() {
    let (status, _) = token_request(0).await;
    assert_eq!(status, "HTTP/1.1 201 Created");
}
