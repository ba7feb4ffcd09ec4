//! The abuse suite: every class of hostile input gets a clear refusal (a protocol `error` with
//! its code and sentence, a close code, or an HTTP status, asserted exactly), and a call in
//! another room, from another address, relaying offer/answer/candidates all the while, is not
//! harmed: its relays keep arriving promptly and neither member is disconnected
//! ([`Bystander`]).
//!
//! Timeouts that the cases wait out (header read, queue sizes, limits) are set small in each
//! case's configuration so the whole file runs in seconds. The README's abuse table lists the
//! same classes with the same answers.

mod common;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use common::{Client, PATIENCE, TestServer, stampede};
use futures_util::SinkExt;
use shared::{ClientMessage, ErrorCode, IceCandidate, PeerId, ServerMessage};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::oneshot,
    task::JoinHandle,
    time::Instant,
};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::frame::{
        Frame,
        coding::{CloseCode, Data, OpCode},
    },
};

/// The bystanders' own client address: the attackers connect from 127.0.0.1, so per-IP limits
/// they exhaust are not the bystanders'.
const BYSTANDER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The bystanders' room.
const BYSTANDER_ROOM: &str = "bystander";
/// Longest a bystander round (offer, answer and a candidate each way) may take: "promptly"
/// on a loaded two-core machine, still far below any timeout a browser would notice.
const PROMPT: Duration = Duration::from_secs(2);
/// Pause between two bystander rounds at the default message rate (20/s): each member sends
/// two messages a round, 10 a second.
const PACE: Duration = Duration::from_millis(200);

/// A two-member call in [`BYSTANDER_ROOM`], from [`BYSTANDER_IP`], relaying a round of
/// offer → answer → candidate both ways every `pace` in its own task while a case runs.
struct Bystander {
    /// The two members' peer ids, for cases that aim at them.
    ids: [PeerId; 2],
    stop: oneshot::Sender<()>,
    task: JoinHandle<(usize, Duration)>,
}

impl Bystander {
    async fn start(server: &TestServer) -> Self {
        Self::paced(server, PACE).await
    }

    async fn paced(server: &TestServer, pace: Duration) -> Self {
        let mut alice = Client::connect_from(server.address, BYSTANDER_IP).await;
        alice.join(BYSTANDER_ROOM).await;
        let mut bob = Client::connect_from(server.address, BYSTANDER_IP).await;
        bob.join(BYSTANDER_ROOM).await;
        alice.expect_joined_by(bob.id(), BYSTANDER_ROOM).await;
        let ids = [alice.id(), bob.id()];
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let (mut rounds, mut worst) = (0, Duration::ZERO);
            loop {
                let started = Instant::now();
                round(&mut alice, &mut bob, rounds).await;
                worst = worst.max(started.elapsed());
                rounds += 1;
                if tokio::time::timeout(pace, &mut stopped).await.is_ok() {
                    break;
                }
            }
            // Still connected, and nothing stray was queued for either.
            alice.assert_quiet().await;
            bob.assert_quiet().await;
            (rounds, worst)
        });
        Self { ids, stop, task }
    }

    /// Ends the bystanders' call and checks it went on unharmed throughout.
    async fn unharmed(self) {
        let _ = self.stop.send(());
        let (rounds, worst) = tokio::time::timeout(PATIENCE * 2, self.task)
            .await
            .expect("the bystanders' last round ends in time")
            .expect("the bystanders' call went on (a panic here names what went wrong)");
        assert!(rounds >= 1, "the bystanders relayed");
        assert!(
            worst <= PROMPT,
            "a bystander round took {worst:?} (at most {PROMPT:?})"
        );
    }
}

/// One round of a call's signalling: alice offers, bob answers, a candidate each way; each
/// must arrive as sent.
async fn round(alice: &mut Client, bob: &mut Client, n: usize) {
    let offer = ClientMessage::Offer {
        sdp: format!("bystander offer {n}"),
        to: Some(bob.id()),
    };
    relay_and_expect(alice, bob, offer).await;
    let answer = ClientMessage::Answer {
        sdp: format!("bystander answer {n}"),
        to: Some(alice.id()),
    };
    relay_and_expect(bob, alice, answer).await;
    let to_bob = candidate(n, bob.id());
    relay_and_expect(alice, bob, to_bob).await;
    let to_alice = candidate(n, alice.id());
    relay_and_expect(bob, alice, to_alice).await;
}

/// A host candidate numbered `n`, for `to`.
fn candidate(n: usize, to: PeerId) -> ClientMessage {
    ClientMessage::Candidate {
        candidate: Some(IceCandidate {
            candidate: Some(format!("candidate:{n} 1 udp 1 127.0.0.2 9 typ host")),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        }),
        to: Some(to),
    }
}

async fn relay_and_expect(from: &mut Client, to: &mut Client, message: ClientMessage) {
    from.send(&message).await;
    assert_eq!(to.recv().await, common::relayed(&message, from.id()));
}

/// The exact `error` the server answers with.
fn error(code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.to_owned(),
    }
}

/// An `offer` without `to` whose JSON text is exactly `bytes` long.
fn offer_of_length(bytes: usize) -> String {
    let empty = serde_json::to_string(&ClientMessage::Offer {
        sdp: String::new(),
        to: None,
    })
    .expect("serializes");
    let text = serde_json::to_string(&ClientMessage::Offer {
        sdp: "a".repeat(bytes - empty.len()),
        to: None,
    })
    .expect("serializes");
    assert_eq!(text.len(), bytes);
    text
}

/// A raw TCP connection to `server` from `source`.
async fn tcp_from(server: SocketAddr, source: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(source, 0)).expect("bind");
    tokio::time::timeout(PATIENCE, socket.connect(server))
        .await
        .expect("connects in time")
        .expect("connects")
}

/// Reads one HTTP response head and its `Content-Length` body: (status, head, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(read > 0, "closed before a response: {received:?}");
        received.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while received.len() < head_end + length {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the body in time")
            .expect("read");
        assert!(read > 0, "closed inside the body");
        received.extend_from_slice(&buffer[..read]);
    }
    let body = String::from_utf8_lossy(&received[head_end..head_end + length]).into_owned();
    (status, head, body)
}

/// Sends a WebSocket upgrade request for `/ws` with `headers` (a `Host` naming the server
/// unless given) and reads the answer: (status, body). A 101's stream is returned open.
async fn upgrade(
    server: SocketAddr,
    source: IpAddr,
    headers: &[(&str, &str)],
) -> (u16, String, TcpStream) {
    let mut stream = tcp_from(server, source).await;
    let mut request = String::from("GET /ws HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {server}\r\n"));
    }
    request.push_str(
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let (status, _, body) = read_response(&mut stream).await;
    (status, body, stream)
}

/// Frames at and around the size limit (here 1024 bytes): 1023 and 1024 are relayed, 1025 is
/// `too_large`; up to 4× the limit a frame is still read and refused the same way (4096), one
/// byte more and the WebSocket layer refuses to read it: the connection is closed with 1009
/// "frame too large". Room names: 63 and 64 characters join, 65 is `invalid_room`.
#[tokio::test]
async fn frames_at_and_around_every_size_limit() {
    const LIMIT: usize = 1024;
    let server = TestServer::start(|config| config.limits.max_message_bytes = LIMIT).await;
    let bystander = Bystander::start(&server).await;
    let (mut alice, mut bob) = server.pair("sizes").await;
    for bytes in [LIMIT - 1, LIMIT] {
        let text = offer_of_length(bytes);
        alice.send_text(&text).await;
        let ServerMessage::Offer { sdp, .. } = bob.recv().await else {
            panic!("the {bytes}-byte offer is relayed");
        };
        assert!(text.contains(&sdp));
    }
    for bytes in [LIMIT + 1, 4 * LIMIT - 1, 4 * LIMIT] {
        alice.send_text(&offer_of_length(bytes)).await;
        assert_eq!(
            alice.recv().await,
            error(
                ErrorCode::TooLarge,
                &format!("That message is {bytes} bytes; the limit is {LIMIT} bytes.")
            )
        );
    }
    bob.assert_quiet().await;
    alice.send_text(&offer_of_length(4 * LIMIT + 1)).await;
    let frame = alice.close_frame().await.expect("a close frame");
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::Size, "frame too large")
    );

    let mut joiner = server.client().await;
    for length in [63, 64] {
        let name = "r".repeat(length);
        assert!(joiner.join(&name).await.is_empty(), "{length} characters");
        joiner.send(&ClientMessage::Leave).await;
    }
    joiner
        .send_text(&format!(r#"{{"type":"join","room":"{}"}}"#, "r".repeat(65)))
        .await;
    assert_eq!(
        joiner.recv().await,
        error(
            ErrorCode::InvalidRoom,
            "That room name cannot be used: a room name has at most 64 characters."
        )
    );
    bystander.unharmed().await;
}

/// A flood: with a burst of 10, exactly 10 messages pass, the 11th is `rate_limited` (one
/// error per flood, however long it goes on: 10,000 more frames bring no second error), and
/// the connection is served again once the bucket refills.
#[tokio::test]
async fn floods_pass_the_burst_then_get_one_rate_limited() {
    const BURST: usize = 10;
    let server = TestServer::start(|config| {
        // Two a second: a refill every 500 ms, far more than the pipelined burst takes. The
        // bystanders, at one round a 1.2 s, send under that.
        config.limits.messages_per_second = 2;
        config.limits.message_burst = BURST as u32;
    })
    .await;
    let bystander = Bystander::paced(&server, Duration::from_millis(1200)).await;
    let mut flooder = server.client().await;
    let ping = Message::Text(
        serde_json::to_string(&ClientMessage::Ping)
            .expect("json")
            .into(),
    );
    for _ in 0..=BURST {
        flooder.socket().feed(ping.clone()).await.expect("feed");
    }
    flooder.socket().flush().await.expect("flush");
    let mut answers = flooder.read_until_pong().await.into_iter();
    for n in 0..BURST {
        assert_eq!(answers.next(), Some(ServerMessage::Pong), "message {n}");
    }
    let limited = error(
        ErrorCode::RateLimited,
        "You are sending messages too fast; some were dropped. Slow down.",
    );
    assert_eq!(answers.next(), Some(limited.clone()));
    assert_eq!(answers.next(), None);

    for _ in 0..10_000 {
        flooder.socket().feed(ping.clone()).await.expect("feed");
    }
    flooder.socket().flush().await.expect("flush");
    let answers = flooder.read_until_pong().await;
    // The bucket refills two a second while the flood is read: those few pass.
    let pongs = answers
        .iter()
        .filter(|m| **m == ServerMessage::Pong)
        .count();
    assert!(
        answers
            .iter()
            .all(|m| *m == ServerMessage::Pong || *m == limited),
        "{answers:?}"
    );
    assert!(pongs < 100, "{pongs} of 10,000 passed");
    tokio::time::sleep(Duration::from_millis(600)).await; // a token refills
    flooder.assert_quiet().await;
    bystander.unharmed().await;
}

/// Binary frames, text frames that are not UTF-8, JSON nested 10,000 deep, numbers out of
/// range and unknown `type`s of 60 KB: each is `bad_message` with a sentence that quotes at
/// most 100 characters of the problem, except invalid UTF-8, which the WebSocket layer cannot
/// read: the connection is closed with 1007 "text frame is not UTF-8".
#[tokio::test]
async fn malformed_input_is_bad_message() {
    let server = TestServer::start(|config| {
        config.limits.max_message_bytes = 64 * 1024;
    })
    .await;
    let bystander = Bystander::start(&server).await;
    let mut client = server.client().await;
    client.send_binary(vec![0xff; 1000]).await;
    assert_eq!(
        client.recv().await,
        error(
            ErrorCode::BadMessage,
            "Binary frames are not supported: send JSON text."
        )
    );
    let nested = format!(
        r#"{{"type":"offer","sdp":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let unknown_type = format!(r#"{{"type":"{}"}}"#, "q".repeat(60 * 1024));
    for (text, detail) in [
        (
            nested.as_str(),
            "recursion limit exceeded at line 1 column 149".to_owned(),
        ),
        (
            r#"{"type":"candidate","candidate":{"sdpMLineIndex":65536}}"#,
            "invalid value: integer `65536`, expected u16".to_owned(),
        ),
        (
            r#"{"type":"candidate","candidate":{"sdpMLineIndex":-1}}"#,
            "invalid value: integer `-1`, expected u16".to_owned(),
        ),
        (
            r#"{"type":"candidate","candidate":{"sdpMLineIndex":1e400}}"#,
            "number out of range at line 1 column 54".to_owned(),
        ),
        (
            unknown_type.as_str(),
            format!("unknown variant `{}…", "q".repeat(83)),
        ),
    ] {
        client.send_text(text).await;
        assert_eq!(
            client.recv().await,
            error(
                ErrorCode::BadMessage,
                &format!("That message could not be understood ({detail}).")
            )
        );
    }
    client.assert_quiet().await;

    let not_utf8 = Frame::message(vec![b'{', 0xc3, 0x28, b'}'], OpCode::Data(Data::Text), true);
    client
        .socket()
        .send(Message::Frame(not_utf8))
        .await
        .expect("sent");
    let frame = client.close_frame().await.expect("a close frame");
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::Invalid, "text frame is not UTF-8")
    );
    bystander.unharmed().await;
}

/// 10,000 unknown fields (125 KB with short names, under a 128 KiB limit)  are ignored, not
/// refused and not relayed: the offer reaches the other member with only its own fields.
#[tokio::test]
async fn ten_thousand_unknown_fields_are_dropped() {
    let server = TestServer::start(|config| config.limits.max_message_bytes = 128 * 1024).await;
    let bystander = Bystander::start(&server).await;
    let (mut alice, mut bob) = server.pair("fields").await;
    let fields: String = (0..10_000).map(|n| format!(r#","f{n}":{n}"#)).collect();
    let text = format!(r#"{{"type":"offer","sdp":"v=0"{fields}}}"#);
    assert!(text.len() < 128 * 1024, "{} bytes", text.len());
    alice.send_text(&text).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Offer {
            sdp: "v=0".into(),
            from: alice.id(),
            to: None
        }
    );
    alice
        .send_text(&format!(r#"{{"type":"ping"{fields}}}"#))
        .await;
    assert_eq!(alice.recv().await, ServerMessage::Pong);
    bystander.unharmed().await;
}

/// 300 people joining one room at the same instant: exactly its capacity (4) are admitted,
/// the other 296 are told `full`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_storm_admits_exactly_the_capacity() {
    let server = TestServer::default().await;
    let bystander = Bystander::start(&server).await;
    let mut clients = Vec::new();
    for _ in 0..300 {
        clients.push(server.client().await);
    }
    let ((joined, full), _clients) = stampede(clients, "storm", 4).await;
    assert_eq!((joined, full), (4, 296));
    bystander.unharmed().await;
}

/// Room names are ASCII letters, digits, `-` and `_`: look-alikes of the bystanders' room
/// (Cyrillic `а`, fullwidth letters, a zero-width joiner or space) are `invalid_room`, never
/// another spelling of it; a name differing only in case is a different room.
#[tokio::test]
async fn look_alike_room_names_are_invalid_room() {
    let server = TestServer::default().await;
    let bystander = Bystander::start(&server).await;
    let mut client = server.client().await;
    for name in [
        "bystаnder",          // Cyrillic а (U+0430)
        "ｂｙｓｔａｎｄｅｒ", // fullwidth
        "bystan\u{200D}der",  // zero-width joiner
        "bystander\u{200B}",  // zero-width space
        "by\u{0301}stander",  // combining accent
    ] {
        let text = serde_json::json!({"type": "join", "room": name}).to_string();
        client.send_text(&text).await;
        assert_eq!(
            client.recv().await,
            error(
                ErrorCode::InvalidRoom,
                "That room name cannot be used: a room name may only hold letters, digits, '-' and '_'."
            ),
            "{name}"
        );
    }
    assert!(
        client.join("Bystander").await.is_empty(),
        "another room: nobody there"
    );
    client.assert_quiet().await;
    bystander.unharmed().await;
}

/// Relays aimed (`to`) at a member of another room are `unknown_peer`; relays, `leave` and
/// `ice_servers` before `join` are `not_in_room`: nothing reaches the bystanders.
#[tokio::test]
async fn relays_into_other_rooms_or_before_join_are_refused() {
    let server = TestServer::default().await;
    let bystander = Bystander::start(&server).await;
    let target = bystander.ids[1].clone();
    let mut outsider = server.client().await;
    for message in common::relays(Some(target.clone()), "before join") {
        outsider.send(&message).await;
        assert_eq!(
            outsider.recv().await,
            error(ErrorCode::NotInRoom, "Join a room first.")
        );
    }
    outsider.send(&ClientMessage::Leave).await;
    assert_eq!(
        outsider.recv().await,
        error(ErrorCode::NotInRoom, "Join a room first.")
    );
    outsider.send(&ClientMessage::IceServers).await;
    assert_eq!(
        outsider.recv().await,
        error(
            ErrorCode::NotInRoom,
            "Join a room before asking for ICE servers."
        )
    );
    let (mut alice, _bob) = server.pair("elsewhere").await;
    for message in common::relays(Some(target.clone()), "into another room") {
        alice.send(&message).await;
        assert_eq!(
            alice.recv().await,
            error(ErrorCode::UnknownPeer, "That person is not in this room.")
        );
    }
    bystander.unharmed().await;
}

/// ICE spam: 3 requests a minute per connection, 5 per address over all its connections. The
/// 4th on one connection is `rate_limited`; a fresh connection from the same address gets the
/// 2 left and then `rate_limited` too; the bystanders, from another address, still get theirs.
#[tokio::test]
async fn ice_spam_is_limited_per_connection_and_per_address() {
    let server = TestServer::start(|config| {
        config.limits.ice_requests_per_minute = 3;
        config.limits.ice_requests_per_minute_per_ip = 5;
    })
    .await;
    let bystander = Bystander::start(&server).await;
    let limited = error(
        ErrorCode::RateLimited,
        "ICE servers were requested too often; reuse the ones you have.",
    );
    let mut first = server.joined("ice-spam").await;
    for _ in 0..3 {
        first.send(&ClientMessage::IceServers).await;
        assert!(matches!(
            first.recv().await,
            ServerMessage::IceServers { .. }
        ));
    }
    first.send(&ClientMessage::IceServers).await;
    assert_eq!(first.recv().await, limited);
    first.close().await;
    let mut second = server.joined("ice-spam-again").await;
    for _ in 0..2 {
        second.send(&ClientMessage::IceServers).await;
        assert!(matches!(
            second.recv().await,
            ServerMessage::IceServers { .. }
        ));
    }
    second.send(&ClientMessage::IceServers).await;
    assert_eq!(second.recv().await, limited);
    let mut other_address = Client::connect_from(server.address, BYSTANDER_IP).await;
    other_address.join("ice-elsewhere").await;
    other_address.send(&ClientMessage::IceServers).await;
    assert!(matches!(
        other_address.recv().await,
        ServerMessage::IceServers { .. }
    ));
    bystander.unharmed().await;
}

/// Origins: none (a script) may connect; a foreign or `null` Origin, or a Host that is not a
/// loopback name on this loopback server, is refused with 403 and a sentence saying why.
#[tokio::test]
async fn missing_or_forged_origins() {
    let server = TestServer::default().await;
    let bystander = Bystander::start(&server).await;
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let own = format!("http://{}", server.address);
    let (status, _, _open) = upgrade(server.address, here, &[]).await;
    assert_eq!(status, 101, "no Origin: a non-browser client");
    let (status, _, _open) = upgrade(server.address, here, &[("Origin", &own)]).await;
    assert_eq!(status, 101, "the server's own origin");
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1:1",
        "https://127.0.0.1",
    ] {
        let (status, body, _) = upgrade(server.address, here, &[("Origin", origin)]).await;
        assert_eq!(
            (status, body.as_str()),
            (403, "This page's origin may not use this server.\n"),
            "{origin}"
        );
    }
    let (status, body, _) = upgrade(
        server.address,
        here,
        &[
            ("Host", "rebound.example"),
            ("Origin", "http://rebound.example"),
        ],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            403,
            "This server answers only to localhost, 127.0.0.1 and [::1]; its operator can set PUBLIC_ORIGIN to serve another name.\n"
        )
    );
    bystander.unharmed().await;
}

/// `X-Forwarded-For` and `Forwarded` from a peer that is not a trusted proxy are ignored:
/// with 2 connections allowed per address, a third is 429 whatever address it claims.
#[tokio::test]
async fn forged_forwarded_for_does_not_change_the_address() {
    let server = TestServer::start(|config| config.limits.max_connections_per_ip = 2).await;
    let bystander = Bystander::start(&server).await;
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut open = Vec::new();
    for claimed in ["203.0.113.1", "203.0.113.2"] {
        let (status, _, stream) =
            upgrade(server.address, here, &[("X-Forwarded-For", claimed)]).await;
        assert_eq!(status, 101);
        open.push(stream);
    }
    for forged in [
        ("X-Forwarded-For", "203.0.113.3"),
        ("X-Forwarded-For", "203.0.113.4, 198.51.100.7"),
        ("Forwarded", "for=203.0.113.5"),
        ("X-Real-IP", "203.0.113.6"),
    ] {
        let (status, body, _) = upgrade(server.address, here, &[forged]).await;
        assert_eq!(
            (status, body.as_str()),
            (429, "Too many connections from your address.\n"),
            "{forged:?}"
        );
    }
    bystander.unharmed().await;
}

/// Slowloris: 50 connections dribbling header lines are closed once the header read timeout
/// (here 500 ms) is over, without a response; one that sends nothing at all too.
#[tokio::test]
async fn slowloris_is_cut_off_at_the_header_read_timeout() {
    const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(500);
    let server =
        TestServer::start(|config| config.limits.header_read_timeout = HEADER_READ_TIMEOUT).await;
    let bystander = Bystander::start(&server).await;
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let stream = tcp_from(server.address, here).await;
        slow.push(tokio::spawn(dribble_until_closed(stream)));
    }
    let mut silent = tcp_from(server.address, here).await;
    for task in slow {
        let answer = task.await.expect("dribbler");
        assert_eq!(answer, Vec::<u8>::new(), "no response, just closed");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, silent.read_to_end(&mut answer))
        .await
        .expect("the silent connection is closed in time")
        .expect("read");
    assert!(answer.is_empty());
    let elapsed = started.elapsed();
    assert!(
        elapsed >= HEADER_READ_TIMEOUT && elapsed < HEADER_READ_TIMEOUT + PATIENCE,
        "{elapsed:?}"
    );
    bystander.unharmed().await;
}

/// Sends a request line and then a header line every 100 ms until the server closes the
/// connection; returns whatever the server sent.
async fn dribble_until_closed(stream: TcpStream) -> Vec<u8> {
    let (mut reader, mut writer) = stream.into_split();
    let dribble = async move {
        let _ = writer
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            .await;
        for line in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let header = format!("X-Slow-{line}: still coming\r\n");
            if writer.write_all(header.as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let read = async move {
        let mut received = Vec::new();
        let _ = reader.read_to_end(&mut received).await;
        received
    };
    tokio::time::timeout(PATIENCE, async {
        tokio::select! {
            received = read => received,
            () = dribble => panic!("the dribble never ends by itself"),
        }
    })
    .await
    .expect("the server closed the slowloris connection in time")
}

/// A member that never reads, while the other member of its room floods it with 60 KB
/// offers: once its outgoing queue (here 8) overflows it is closed with 1008 "outgoing queue
/// overflow: reading too slowly" and its room told `peer_left`; the sender is never held back.
#[tokio::test]
async fn never_reading_connections_are_dropped_at_queue_overflow() {
    let server = TestServer::start(|config| {
        config.limits.outgoing_queue = 8;
        config.limits.messages_per_second = 100_000;
        config.limits.message_burst = 100_000;
    })
    .await;
    let bystander = Bystander::start(&server).await;
    let mut deaf = server.joined("deaf").await;
    let deaf_id = deaf.id();
    let mut sender = server.joined("deaf").await;
    // The deaf member's own `peer_joined`/`ready` stay unread in its buffers from here on.
    let sdp = "s".repeat(60_000);
    let mut gone = false;
    for sent in 0..2_000 {
        sender
            .send(&ClientMessage::Offer {
                sdp: sdp.clone(),
                to: None,
            })
            .await;
        if sent % 20 == 19 {
            sender.send(&ClientMessage::Ping).await;
            loop {
                match sender.recv().await {
                    ServerMessage::Pong => break,
                    ServerMessage::PeerLeft { peer } => {
                        assert_eq!(peer, deaf_id);
                        gone = true;
                    }
                    // Relays sent after it left, while its seat is held or once it is empty.
                    ServerMessage::Error {
                        code: ErrorCode::NoPeer,
                        ..
                    } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            if gone {
                break;
            }
        }
    }
    assert!(gone, "the deaf member was dropped");
    let frame = deaf.close_frame().await.expect("a close frame");
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (
            CloseCode::Policy,
            "outgoing queue overflow: reading too slowly"
        )
    );
    bystander.unharmed().await;
}

/// Path traversal on the static files: `/../`, `%2e%2e` in either case, encoded slashes,
/// backslashes raw and encoded (`..%5c`), double encoding, overlong UTF-8 and an encoded
/// absolute path never serve `secret.txt`, which sits next to the served `dist/`. Each gets
/// the status listed.
#[tokio::test]
async fn path_traversal_never_leaves_dist() {
    const SECRET: &str = "the-secret-next-to-dist";
    let site = tempfile::tempdir().expect("temporary directory");
    let dist = site.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).expect("dist");
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>index</title>",
    )
    .expect("index");
    std::fs::write(dist.join("assets/app.js"), "console.log('app')").expect("asset");
    let secret = site.path().join("secret.txt");
    std::fs::write(&secret, SECRET).expect("secret");
    let server = TestServer::start(|config| config.static_dir = Some(dist.clone())).await;
    let bystander = Bystander::start(&server).await;
    let absolute = secret.to_str().expect("UTF-8 path").replace('/', "%2f");
    let absolute = format!("/{absolute}");
    let index = "<!doctype html><title>index</title>";
    for (path, expected) in [
        ("/../secret.txt", (200, index)),
        ("/../../secret.txt", (200, index)),
        ("/assets/../../secret.txt", (200, index)),
        ("/%2e%2e/secret.txt", (200, index)),
        ("/%2E%2E/secret.txt", (200, index)),
        ("/.%2e/secret.txt", (200, index)),
        ("/%2e%2e%2fsecret.txt", (200, index)),
        ("/..%2fsecret.txt", (200, index)),
        ("/assets/..%2f..%2fsecret.txt", (200, index)),
        ("/..\\secret.txt", (200, index)),
        ("/..%5csecret.txt", (200, index)),
        ("/..%5Csecret.txt", (200, index)),
        ("/%5c..%5csecret.txt", (200, index)),
        ("/%252e%252e/secret.txt", (200, index)),
        ("/%c0%ae%c0%ae/secret.txt", (200, index)),
        ("/..%00/secret.txt", (200, index)),
        ("//../secret.txt", (200, index)),
        (absolute.as_str(), (200, index)),
    ] {
        let mut stream = tcp_from(server.address, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("sent");
        let (status, _, body) = read_response(&mut stream).await;
        assert!(!body.contains(SECRET), "{path} served the secret");
        assert_eq!((status, body.as_str()), expected, "{path}");
    }
    bystander.unharmed().await;
}

/// 10,000 connections from one address, 500 in flight at a time, with 100 allowed per
/// address: exactly 100 are upgraded (and stay open), the other 9,900 get 429 with the
/// sentence, fast; the bystanders, from another address, never notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_from_one_address() {
    const LIMIT: usize = 100;
    const ATTEMPTS: usize = 10_000;
    const IN_FLIGHT: usize = 500;
    // Each in-flight attempt holds a socket here and one in the server (same process).
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let server = TestServer::start(|config| config.limits.max_connections_per_ip = LIMIT).await;
    let bystander = Bystander::start(&server).await;
    let address = server.address;
    let started = Instant::now();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..ATTEMPTS {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        attempts.spawn(async move {
            let (status, body, stream) =
                upgrade(address, IpAddr::V4(Ipv4Addr::LOCALHOST), &[]).await;
            drop(permit);
            // An upgraded socket stays open, holding its slot; a refused one is closed.
            (status, body, (status == 101).then_some(stream))
        });
    }
    let (mut upgraded, mut refused, mut kept) = (0, 0, Vec::new());
    while let Some(attempt) = attempts.join_next().await {
        match attempt.expect("attempt task") {
            (101, _, stream) => {
                upgraded += 1;
                kept.push(stream);
            }
            (429, body, _) => {
                assert_eq!(body, "Too many connections from your address.\n");
                refused += 1;
            }
            (status, body, _) => panic!("unexpected {status}: {body}"),
        }
    }
    let elapsed = started.elapsed();
    println!("{ATTEMPTS} connections from one address in {elapsed:?}");
    assert_eq!((upgraded, refused), (LIMIT, ATTEMPTS - LIMIT));
    bystander.unharmed().await;
}
