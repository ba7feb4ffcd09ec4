//! Ending well: plain HTTP connections that send nothing or send their headers slowly are
//! closed (header read timeout) and never hold a shutdown past its grace period; WebSocket
//! members get what was queued for them before their close frame.

mod common;

use std::time::Duration;

use common::{BackendProcess, Client, TestServer, room};
use shared::{ClientMessage, ServerMessage};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Added to a deadline that follows from the configuration, for a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);

/// Sends the start of a request and then one more header line every 200 ms, for ever: a
/// slowloris client. The task ends when the server closes the connection.
async fn slowloris(address: std::net::SocketAddr) -> tokio::task::JoinHandle<()> {
    let mut stream = TcpStream::connect(address).await.expect("connects");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("first bytes");
    tokio::spawn(async move {
        for line in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let header = format!("X-Slow-{line}: still coming\r\n");
            if stream.write_all(header.as_bytes()).await.is_err() {
                return;
            }
        }
    })
}

/// Reads until the server closes `stream` (EOF or reset); fails after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) {
    let mut buffer = [0; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection in time");
}

/// SIGTERM ends the real binary at once, without waiting for the grace period, while a plain
/// HTTP connection is idle (nothing sent), another idle after a request (keep-alive), and a
/// third is sending its headers a line at a time (none has a request to finish); the
/// WebSocket member there gets its close frame (1001).
#[tokio::test]
async fn sigterm_ends_the_process_despite_idle_and_half_sent_requests() {
    // A grace and a header read timeout far beyond the wait allowed below: only closing these
    // connections at once passes.
    let mut backend =
        BackendProcess::start(&["--shutdown-grace", "30s", "--header-read-timeout", "60s"]).await;
    let _idle = TcpStream::connect(backend.address).await.expect("connects");
    let mut keep_alive = TcpStream::connect(backend.address).await.expect("connects");
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request");
    let mut response = [0; 12];
    keep_alive
        .read_exact(&mut response)
        .await
        .expect("response");
    assert_eq!(&response, b"HTTP/1.1 200");
    let slow = slowloris(backend.address).await;
    let mut member = Client::connect(&backend.ws_url()).await;
    member.join("leaving").await;
    // The slow client is well into its headers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!slow.is_finished(), "the slow request is still being sent");

    let terminated = Instant::now();
    backend.terminate();
    assert_eq!(member.closed().await, Some(CloseCode::Away));
    let status = backend.exited_within(2 * SLACK).await;
    println!(
        "SIGTERM to exit with idle, keep-alive and slowloris connections: {} ms",
        terminated.elapsed().as_millis()
    );
    assert!(status.success(), "clean exit: {status}");
}

/// Opens a connection with a small receive buffer and sends `GET path`; nothing is read yet.
async fn download(address: std::net::SocketAddr, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(address).await.expect("connects");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("request");
    stream
}

/// Reads a whole response and returns its status line and body length, checked against its
/// `Content-Length`.
async fn read_response(stream: &mut TcpStream) -> (String, usize) {
    let mut received = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    let (head_end, length) = loop {
        let read = stream.read(&mut buffer).await.expect("reads");
        assert!(read > 0, "connection closed inside the head");
        received.extend_from_slice(&buffer[..read]);
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse::<usize>().expect("a number"))
                .expect("a Content-Length");
            break (end + 4, length);
        }
    };
    while received.len() < head_end + length {
        let read = stream.read(&mut buffer).await.expect("reads");
        assert!(
            read > 0,
            "response cut after {} of {length} bytes",
            received.len() - head_end
        );
        received.extend_from_slice(&buffer[..read]);
    }
    let status = String::from_utf8_lossy(&received[..12]).into_owned();
    (status, received.len() - head_end)
}

/// At SIGTERM a response still being written (a download its client reads slowly) is written
/// out whole; one whose client never reads does not hold the process past the grace period.
#[tokio::test]
async fn responses_in_progress_finish_within_the_grace_period() {
    const GRACE: Duration = Duration::from_secs(3);
    const SIZE: usize = 8 * 1024 * 1024;
    let dist = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").expect("index.html");
    std::fs::write(dist.path().join("big.bin"), vec![7u8; SIZE]).expect("big.bin");
    let static_dir = dist.path().to_str().expect("UTF-8 path");
    let mut backend =
        BackendProcess::start(&["--shutdown-grace", "3s", "--static-dir", static_dir]).await;
    let mut slow = download(backend.address, "/big.bin").await;
    let _never_read = download(backend.address, "/big.bin").await;
    // Both responses have started (their handlers ran) before the signal.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let terminated = Instant::now();
    backend.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read_response(&mut slow).await,
        ("HTTP/1.1 200".to_owned(), SIZE),
        "the download in progress is complete"
    );
    let status = backend.exited_within(GRACE + SLACK).await;
    println!(
        "SIGTERM to exit with a download that is never read: {} ms",
        terminated.elapsed().as_millis()
    );
    assert!(status.success(), "clean exit: {status}");
}

/// A request whose headers are still incomplete after the header read timeout has its
/// connection closed, and so does a connection that never sends a byte.
#[tokio::test]
async fn half_sent_and_silent_connections_time_out() {
    const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
    let server = TestServer::start(|config| {
        config.limits.header_read_timeout = HEADER_READ_TIMEOUT;
    })
    .await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.address).await.expect("connects");
    let slow = slowloris(server.address).await;
    closed_within(&mut silent, HEADER_READ_TIMEOUT + SLACK).await;
    tokio::time::timeout(HEADER_READ_TIMEOUT + SLACK, slow)
        .await
        .expect("the slow request's connection is closed in time")
        .expect("slowloris task");
    println!(
        "silent and half-sent connections closed after {} ms",
        started.elapsed().as_millis()
    );
    // Normal requests are not affected.
    server.wait_for_health(200).await;
}

/// At SIGTERM, messages already queued for a WebSocket member (it was not reading while a
/// flood arrived) are all written, in order, before its close frame (1001).
#[tokio::test]
async fn queued_messages_go_out_before_the_close_frame() {
    const MESSAGES: usize = 120;
    let mut backend = BackendProcess::start(&[
        "--outgoing-queue",
        "1000",
        "--messages-per-second",
        "100000",
        "--message-burst",
        "100000",
    ])
    .await;
    let mut reader = Client::connect_with_receive_buffer(backend.address, 4096).await;
    reader.join("flush").await;
    let mut sender = Client::connect(&backend.ws_url()).await;
    sender.join("flush").await;
    assert_eq!(
        reader.recv().await,
        ServerMessage::PeerJoined { peer: sender.id() }
    );
    assert_eq!(
        reader.recv().await,
        ServerMessage::Ready {
            room: room("flush")
        }
    );
    // `reader` does not read while 7 MB arrive: more than the TCP buffers hold, so the rest
    // waits in its queue on the server.
    let padding = "p".repeat(60_000);
    for index in 0..MESSAGES {
        sender
            .send(&ClientMessage::Offer {
                sdp: format!("{index} {padding}"),
                to: None,
            })
            .await;
    }
    // Every offer has been relayed into `reader`'s queue before the signal.
    assert!(sender.read_until_pong().await.is_empty());
    let terminated = Instant::now();
    backend.terminate();
    for index in 0..MESSAGES {
        match reader.recv().await {
            ServerMessage::Offer { sdp, .. } => {
                assert_eq!(sdp.split(' ').next(), Some(index.to_string().as_str()));
            }
            other => panic!("offer {index} expected, got {other:?}"),
        }
    }
    assert_eq!(reader.closed().await, Some(CloseCode::Away));
    let status = backend.exited_within(Duration::from_secs(5) + SLACK).await;
    println!(
        "{MESSAGES} queued messages flushed, SIGTERM to exit: {} ms",
        terminated.elapsed().as_millis()
    );
    assert!(status.success(), "clean exit: {status}");
}
