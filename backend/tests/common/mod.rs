//! Shared helpers: a real server on a free port and real WebSocket clients.
//!
//! Every receive, send, handshake and HTTP request is bounded by a timeout ([`PATIENCE`]), so
//! a missing message or a stuck server fails the test instead of hanging it.

#![allow(dead_code)] // Each test file uses a different subset.

use std::{net::SocketAddr, time::Duration};

use backend::{AppState, config::Config, router, serve};
use futures_util::{SinkExt, StreamExt};
use shared::{ClientMessage, ErrorCode, PeerId, ResumeToken, RoomName, ServerMessage};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{
        self, Message,
        client::IntoClientRequest,
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

/// How long any single expected event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The resume grace of test servers unless a test sets its own: short, so that tests about
/// other things see a dropped connection's `peer_left` promptly (it comes once the grace is
/// over).
pub const TEST_GRACE: Duration = Duration::from_millis(300);

/// A running server on `127.0.0.1:<free port>`, stopped when dropped.
pub struct TestServer {
    pub address: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts with the defaults, changed by `configure`.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::defaults();
        // Tests open many connections, and ask for ICE servers often, from 127.0.0.1; the tests
        // of those limits set their own.
        config.limits.max_connections_per_ip = 0;
        config.limits.ice_requests_per_minute_per_ip = u32::MAX;
        config.resume.resume_grace = TEST_GRACE;
        configure(&mut config);
        let state = AppState::new(&config).expect("valid test configuration");
        let app = router(state.clone(), &config).expect("router builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            app,
            state.clone(),
            config.shutdown_grace,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            address,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn default() -> Self {
        Self::start(|_| {}).await
    }

    /// Starts an instance sharing presence through `redis` (short expiry and timeout, so
    /// failures show within a test), and waits until it is subscribed.
    pub async fn with_redis(redis: &RedisServer, configure: impl FnOnce(&mut Config)) -> Self {
        Self::with_redis_url(redis.url(), configure).await
    }

    /// As [`Self::with_redis`], reaching Redis at `url` (through a [`LatencyProxy`], say).
    pub async fn with_redis_url(url: String, configure: impl FnOnce(&mut Config)) -> Self {
        let server = Self::start(move |config| {
            config.redis.redis_url = Some(url);
            config.redis.redis_expiry = REDIS_EXPIRY;
            config.redis.redis_timeout = REDIS_TIMEOUT;
            configure(config);
        })
        .await;
        server.wait_for_health(200).await;
        server
    }

    /// Polls `/healthz` until it answers `status` (there is no event to await from outside).
    pub async fn wait_for_health(&self, status: u16) -> serde_json::Value {
        self.poll_health(&format!("status {status}"), |code, _| code == status)
            .await
    }

    /// Polls the server's state until it counts `connections` open connections (the figure
    /// `/metrics` reports). A connection is counted until its task has finished leaving its
    /// room, so once the count has dropped the room counter is settled too.
    pub async fn wait_for_connections(&self, connections: usize) {
        self.poll_counts(&format!("{connections} connections"), |_, open| {
            open == connections
        })
        .await;
    }

    /// Joins `room` with a new client once nobody is in it (a dropped member's seat is held
    /// for the grace period first): joins, and while somebody is still there leaves at once
    /// (an explicit `leave` holds nothing) and tries again.
    pub async fn join_alone(&self, room: &str) -> Client {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut client = self.client().await;
        loop {
            if client.join(room).await.is_empty() {
                return client;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{room} never emptied"
            );
            client.send(&ClientMessage::Leave).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the server's state until it counts `rooms` rooms with members here (held seats
    /// count until their grace is over).
    pub async fn wait_for_rooms(&self, rooms: usize) {
        self.poll_counts(&format!("{rooms} rooms"), |open, _| open == rooms)
            .await;
    }

    /// Polls the hub's `(rooms, connections)` until `done` holds, within [`PATIENCE`].
    async fn poll_counts(&self, what: &str, done: impl Fn(usize, usize) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (rooms, connections) = self.state.hub.counts();
            if done(rooms, connections) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {what}; last: {rooms} rooms, {connections} connections"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `/healthz` until `done(status, body)` holds, within [`PATIENCE`].
    async fn poll_health(
        &self,
        what: &str,
        done: impl Fn(u16, &serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let response = http()
                .get(self.http_url("/healthz"))
                .send()
                .await
                .expect("healthz answers");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("healthz is JSON");
            if done(status, &body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "healthz never reported {what}; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.address)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// A connected client.
    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url()).await
    }

    /// A client that has joined `room` (and read its `joined`, and `ready` if it filled the room).
    pub async fn joined(&self, room: &str) -> Client {
        let mut client = self.client().await;
        client.join(room).await;
        client
    }

    /// Two clients in `room`, both past `ready`.
    pub async fn pair(&self, room: &str) -> (Client, Client) {
        let mut first = self.joined(room).await;
        let second = self.joined(room).await;
        assert!(matches!(
            first.recv().await,
            ServerMessage::PeerJoined { .. }
        ));
        assert!(matches!(first.recv().await, ServerMessage::Ready { .. }));
        (first, second)
    }

    /// Asks the server to shut down and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task)
                .await
                .expect("server stops in time")
                .expect("server task does not panic")
                .expect("server stops cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A real WebSocket client speaking the protocol.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Our id, once joined.
    pub id: Option<PeerId>,
    /// The resume token of the last `joined`.
    pub token: Option<ResumeToken>,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = tokio::time::timeout(PATIENCE, connect_async(url))
            .await
            .expect("connects in time")
            .expect("WebSocket handshake succeeds");
        Self {
            socket,
            id: None,
            token: None,
        }
    }

    /// Connects over TLS (`wss://` URL) with `tls` as the client's TLS configuration (its
    /// trusted roots, typically the server's own certificate).
    pub async fn connect_tls(url: &str, tls: std::sync::Arc<rustls::ClientConfig>) -> Self {
        Self::connect_with_headers_over(url, &[], Some(tls))
            .await
            .expect("TLS and WebSocket handshakes succeed")
    }

    /// The leaf certificate the server presented (DER), when the connection is TLS.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        match self.socket.get_ref() {
            MaybeTlsStream::Rustls(stream) => stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| leaf.to_vec()),
            _ => None,
        }
    }

    /// Connects over a socket whose kernel receive buffer is `bytes` (the kernel may round it
    /// up): a client that then stops reading fills it, and the server's send buffer, quickly.
    pub async fn connect_with_receive_buffer(address: SocketAddr, bytes: u32) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        Self::upgrade_socket(socket, address).await
    }

    /// Connects from the local address `source` (any of 127.0.0.0/8 reaches a loopback
    /// server): another client address as far as the per-IP limits are concerned.
    pub async fn connect_from(address: SocketAddr, source: std::net::IpAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source, 0))
            .expect("bind the source address");
        Self::upgrade_socket(socket, address).await
    }

    /// Connects the prepared TCP `socket` to `address` and upgrades it to a WebSocket on `/ws`.
    async fn upgrade_socket(socket: tokio::net::TcpSocket, address: SocketAddr) -> Self {
        let stream = tokio::time::timeout(PATIENCE, socket.connect(address))
            .await
            .expect("connects in time")
            .expect("TCP connect");
        let url = format!("ws://{address}/ws");
        let (socket, _) = tokio::time::timeout(
            PATIENCE,
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)),
        )
        .await
        .expect("handshake in time")
        .expect("WebSocket handshake succeeds");
        Self {
            socket,
            id: None,
            token: None,
        }
    }

    /// Connects with an `Origin` header; returns the HTTP status when refused.
    pub async fn connect_with_origin(url: &str, origin: &str) -> Result<Self, u16> {
        Self::connect_with_headers(url, &[("origin", origin)]).await
    }

    /// Connects with these headers on the upgrade request (`host` replaces the one made from
    /// the URL; a name given twice is sent twice); returns the HTTP status when refused.
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Self, u16> {
        Self::connect_with_headers_over(url, headers, None).await
    }

    /// As [`Self::connect_with_headers`], over TLS (`wss://`) when `tls` is given.
    pub async fn connect_with_headers_over(
        url: &str,
        headers: &[(&str, &str)],
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Self, u16> {
        let mut request = url.into_client_request().expect("valid URL");
        for (index, (name, value)) in headers.iter().enumerate() {
            let name =
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            let value = value.parse().expect("header value");
            let first = headers[..index]
                .iter()
                .all(|(earlier, _)| !earlier.eq_ignore_ascii_case(name.as_str()));
            if first {
                request.headers_mut().insert(name, value);
            } else {
                request.headers_mut().append(name, value);
            }
        }
        let connector = tls.map(tokio_tungstenite::Connector::Rustls);
        let handshake = tokio::time::timeout(
            PATIENCE,
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector),
        )
        .await
        .expect("handshake ends in time");
        match handshake {
            Ok((socket, _)) => Ok(Self {
                socket,
                id: None,
                token: None,
            }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("unexpected handshake failure: {other}"),
        }
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        let text = serde_json::to_string(message).expect("serializes");
        self.send_text(&text).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(Message::Text(text.into())).await;
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.send_frame(Message::Binary(bytes.into())).await;
    }

    /// Sends one frame, failing the test if the server stops reading (a full TCP buffer would
    /// otherwise block the send, and the test, for ever).
    async fn send_frame(&mut self, frame: Message) {
        tokio::time::timeout(PATIENCE, self.socket.send(frame))
            .await
            .expect("the server takes the frame in time")
            .expect("send");
    }

    /// The next protocol message (pings and pongs are skipped; the library answers pings).
    pub async fn recv(&mut self) -> ServerMessage {
        match self.try_recv().await {
            Ok(message) => message,
            Err(end) => panic!("connection ended while a message was expected: {end:?}"),
        }
    }

    /// The next protocol message, or how the connection ended. Token refreshes (`resume`,
    /// every half grace period) are kept as [`Self::token`] and skipped: tests about other
    /// things need not expect them; [`Self::next_refresh`] waits for one.
    pub async fn try_recv(&mut self) -> Result<ServerMessage, Option<CloseFrame>> {
        loop {
            match self.try_recv_any().await? {
                ServerMessage::Resume { resume } => self.token = Some(resume),
                message => return Ok(message),
            }
        }
    }

    /// Waits for the next token refresh (`resume`), skipping anything else, and returns it.
    pub async fn next_refresh(&mut self) -> ResumeToken {
        loop {
            match self.try_recv_any().await {
                Ok(ServerMessage::Resume { resume }) => {
                    self.token = Some(resume.clone());
                    return resume;
                }
                Ok(_) => continue,
                Err(end) => panic!("connection ended while a refresh was expected: {end:?}"),
            }
        }
    }

    /// The next protocol message of any kind, or how the connection ended.
    async fn try_recv_any(&mut self) -> Result<ServerMessage, Option<CloseFrame>> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message arrives in time");
            match frame {
                Some(Ok(Message::Text(text))) => return Ok(protocol_message(&text)),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(frame))) => return Err(frame),
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Reads until the server closes the connection, and returns its close code, if any.
    pub async fn closed(&mut self) -> Option<CloseCode> {
        loop {
            match self.try_recv().await {
                Ok(_) => continue,
                Err(frame) => return frame.map(|frame| frame.code),
            }
        }
    }

    /// The next message must be an `error` with `code`.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error { code: got, message } => {
                assert_eq!(got, code, "error message: {message}");
                assert!(!message.is_empty());
                message
            }
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }

    /// Proves nothing else is queued for this client: the server delivers messages queued for
    /// a connection before it reads that connection's next frame, so if the answer to a ping is
    /// the next message, nothing was waiting.
    pub async fn assert_quiet(&mut self) {
        self.send(&ClientMessage::Ping).await;
        assert_eq!(
            self.recv().await,
            ServerMessage::Pong,
            "nothing else was queued"
        );
    }

    /// Sends a WebSocket-level ping and returns every protocol message read before its pong.
    /// The server answers pings itself, outside the protocol and its rate limit, once it has
    /// read (and so handled, in order) every frame sent before: the messages returned are all
    /// the answers to those frames.
    pub async fn read_until_pong(&mut self) -> Vec<ServerMessage> {
        let payload = format!("sync-{:016x}", next_marker());
        self.send_frame(Message::Ping(payload.clone().into_bytes().into()))
            .await;
        let mut messages = Vec::new();
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the pong arrives in time");
            match frame {
                Some(Ok(Message::Text(text))) => match protocol_message(&text) {
                    ServerMessage::Resume { resume } => self.token = Some(resume),
                    message => messages.push(message),
                },
                Some(Ok(Message::Pong(echo))) if echo.as_ref() == payload.as_bytes() => {
                    return messages;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("connection ended while waiting for the pong: {other:?}"),
            }
        }
    }

    /// The next messages must be `peer_joined` for `peer`, then `ready` for `room` (the room
    /// has just reached two).
    pub async fn expect_joined_by(&mut self, peer: PeerId, room: &str) {
        assert_eq!(self.recv().await, ServerMessage::PeerJoined { peer });
        assert_eq!(
            self.recv().await,
            ServerMessage::Ready {
                room: RoomName::new(room).expect("valid room")
            }
        );
    }

    /// Sends `join` and reads `joined` (and `ready` when the room fills up).
    pub async fn join(&mut self, room: &str) -> Vec<PeerId> {
        let room = RoomName::new(room).expect("valid room");
        self.send(&ClientMessage::Join {
            room: room.clone(),
            resume: None,
        })
        .await;
        match self.recv().await {
            ServerMessage::Joined {
                room: joined,
                you,
                peers,
                resume,
                ..
            } => {
                assert_eq!(joined, room);
                self.id = Some(you);
                self.token = Some(resume);
                if peers.len() == 1 {
                    assert_eq!(self.recv().await, ServerMessage::Ready { room });
                }
                peers
            }
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// Sends `join` with a resume token and reads `joined` (but not what may follow it):
    /// returns the id given and the members already there.
    pub async fn join_with_token(
        &mut self,
        room: &str,
        token: ResumeToken,
    ) -> (PeerId, Vec<PeerId>) {
        let room = RoomName::new(room).expect("valid room");
        self.send(&ClientMessage::Join {
            room: room.clone(),
            resume: Some(token),
        })
        .await;
        match self.recv().await {
            ServerMessage::Joined {
                room: joined,
                you,
                peers,
                resume,
                ..
            } => {
                assert_eq!(joined, room);
                self.id = Some(you.clone());
                self.token = Some(resume);
                (you, peers)
            }
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// The token of the last `joined` or `resume`.
    pub fn token(&self) -> ResumeToken {
        self.token.clone().expect("joined")
    }

    /// Reads until the server closes the connection; returns its close frame.
    pub async fn close_frame(&mut self) -> Option<CloseFrame> {
        loop {
            match self.try_recv().await {
                Ok(_) => continue,
                Err(frame) => return frame,
            }
        }
    }

    pub fn id(&self) -> PeerId {
        self.id.clone().expect("joined")
    }

    /// Closes the socket from our side.
    pub async fn close(mut self) {
        // Best effort, as a browser closing a tab: whether the frame got through shows in what
        // the server does next, which the tests check.
        let _ = tokio::time::timeout(PATIENCE, self.socket.close(None)).await;
    }

    /// Drops the TCP connection without a close frame (a crashed tab).
    pub fn abort(self) {
        drop(self);
    }

    /// Direct access, for tests that misbehave on purpose.
    pub fn socket(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.socket
    }
}

/// Member expiry used by the Redis tests: how long a crashed instance's members linger.
pub const REDIS_EXPIRY: Duration = Duration::from_millis(1500);

/// Longest wait for one Redis call in the Redis tests.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// A real `redis-server` on a free loopback port, without persistence, killed when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("local address")
            .port();
        let mut server = Self { port, child: None };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs one command on this Redis, as an operator (or a failover) would.
    pub async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).expect("valid URL");
        let mut connection =
            tokio::time::timeout(PATIENCE, client.get_multiplexed_async_connection())
                .await
                .expect("connects in time")
                .expect("connects to Redis");
        tokio::time::timeout(PATIENCE, command.query_async(&mut connection))
            .await
            .expect("Redis answers in time")
            .expect("the command succeeds")
    }

    /// The entries (`"{peer} {instance}"`) of `room`, in order.
    pub async fn room_entries(&self, room: &str) -> Vec<String> {
        self.query(
            redis::cmd("LRANGE")
                .arg(format!("room:{room}"))
                .arg(0)
                .arg(-1),
        )
        .await
    }

    /// The instance id in `peer`'s entry of `room`.
    pub async fn instance_of(&self, room: &str, peer: &PeerId) -> String {
        let entries = self.room_entries(room).await;
        entries
            .iter()
            .find_map(|entry| entry.strip_prefix(&format!("{peer} ")))
            .unwrap_or_else(|| panic!("{peer} is not in {room}: {entries:?}"))
            .to_owned()
    }

    /// Kills the server (as a crash would: its data is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every client sends `join` for `room` at the same instant (a barrier releases them
/// together, each from its own task). Returns how many were admitted and how many were told
/// the room is full (of `capacity`), and the clients, still connected (a seat freed early
/// could admit more).
pub async fn stampede(
    clients: Vec<Client>,
    room: &str,
    capacity: usize,
) -> ((usize, usize), Vec<Client>) {
    let room = RoomName::new(room).expect("valid room");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let barrier = barrier.clone();
            let room = room.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                client
                    .send(&ClientMessage::Join { room, resume: None })
                    .await;
                (client.recv().await, client)
            })
        })
        .collect();
    let (mut joined, mut full) = (0, 0);
    let mut clients = Vec::new();
    for task in tasks {
        let (answer, client) = task.await.expect("join task");
        match answer {
            ServerMessage::Joined { .. } => joined += 1,
            ServerMessage::Full { capacity: told, .. } if told == capacity => full += 1,
            other => panic!("unexpected answer to join: {other:?}"),
        }
        clients.push(client);
    }
    ((joined, full), clients)
}

/// A text frame from the server, which must be a protocol message.
fn protocol_message(text: &str) -> ServerMessage {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("server sent non-protocol JSON {text}: {e}"))
}

/// An HTTP client whose every request is bounded by [`PATIENCE`], so a server that never
/// answers fails the test instead of hanging it.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("HTTP client")
}

/// A different number on every call, to tell markers apart.
fn next_marker() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A valid room name from a test's own words.
pub fn room(name: &str) -> RoomName {
    RoomName::new(name).expect("valid room")
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("local address")
        .port()
}

/// The real `backend` binary on a free loopback port, killed when dropped.
pub struct BackendProcess {
    pub address: SocketAddr,
    child: std::process::Child,
    /// What it printed on stdout (its logs included), line by line, when captured.
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BackendProcess {
    /// Starts the binary with `args` (after `--listen`) and waits until it accepts connections.
    pub async fn start(args: &[&str]) -> Self {
        Self::launch(args, "warn", false, None).await
    }

    /// As [`Self::start`], with `RUST_LOG` set to `rust_log`, and the log lines (standard
    /// output) copied into `logs` when given.
    pub async fn start_logging(args: &[&str], rust_log: &str, logs: Option<Captured>) -> Self {
        Self::launch(args, rust_log, logs.is_some(), logs).await
    }

    /// As [`Self::start`], keeping what it prints on stdout (at log level `log`) for
    /// [`Self::wait_for_output`].
    pub async fn start_capturing(args: &[&str], log: &str) -> Self {
        Self::launch(args, log, true, None).await
    }

    /// Waits until a line of the captured output satisfies `matches`, and returns it.
    pub async fn wait_for_output(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self
                .output
                .lock()
                .expect("output lock")
                .iter()
                .find(|line| matches(line))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the backend never printed {what}; it printed: {:?}",
                self.output.lock().expect("output lock")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGHUP.
    pub fn hang_up(&self) {
        self.signal("-HUP");
    }

    async fn launch(args: &[&str], log: &str, capture: bool, logs: Option<Captured>) -> Self {
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backend"))
            .arg("--listen")
            .arg(address.to_string())
            .args(args)
            // Only the options given here: no .env, no inherited settings.
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("RUST_LOG", log)
            .stdout(if capture {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .spawn()
            .expect("the backend binary starts");
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            // A thread drains the pipe, so a chatty server never blocks on a full one.
            let lines = std::sync::Arc::clone(&output);
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut logs = logs;
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(logs) = logs.as_mut() {
                        use std::io::Write;
                        let _ = writeln!(logs, "{line}");
                    }
                    lines.lock().expect("output lock").push(line);
                }
            });
        }
        let mut process = Self {
            address,
            child,
            output,
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while TcpStream::connect(address).await.is_err() {
            assert!(
                process.child.try_wait().expect("wait").is_none(),
                "the backend exited early"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the backend did not listen in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.address)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "{signal} delivered");
    }

    /// Waits for the process to exit, at most `limit`; returns its exit status.
    pub async fn exited_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the backend did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy that delays every byte by a fixed time in each direction, without limiting
/// throughput or reordering: a slow network between an instance and Redis.
pub struct LatencyProxy {
    pub port: u16,
    task: JoinHandle<()>,
}

impl LatencyProxy {
    /// Forwards a free loopback port to `127.0.0.1:target`, `delay` each way.
    pub async fn start(target: u16, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        delayed_copy(client_read, server_write, delay),
                        delayed_copy(server_read, client_write, delay),
                    );
                });
            }
        });
        Self { port, task }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (chunks, mut due) = tokio::sync::mpsc::unbounded_channel();
    let read = async move {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read) = from.read(&mut buffer).await {
            if read == 0
                || chunks
                    .send((tokio::time::Instant::now() + delay, buffer[..read].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

/// Redis plus two instances using it, each configured by `configure`.
pub async fn cluster_with(
    configure: impl Fn(&mut backend::config::Config) + Copy,
) -> (RedisServer, TestServer, TestServer) {
    let redis = RedisServer::start().await;
    let one = TestServer::with_redis(&redis, configure).await;
    let two = TestServer::with_redis(&redis, configure).await;
    (redis, one, two)
}

/// Alice on one instance, Bob on the other, both past `ready`.
pub async fn pair_across(one: &TestServer, two: &TestServer, name: &str) -> (Client, Client) {
    let mut alice = one.joined(name).await;
    let bob = two.joined(name).await;
    alice.expect_joined_by(bob.id(), name).await;
    (alice, bob)
}

/// Proves nothing else is queued for `receiver`, nor still in flight to it from `sender`'s
/// instance: `sender` relays a marker to it through the same pub/sub path, which keeps the
/// order of what one instance publishes, so the marker must be the next message; then a ping
/// covers what `receiver`'s own instance may have queued.
pub async fn assert_quiet_across(sender: &mut Client, receiver: &mut Client) {
    let marker = format!("marker from {} to {}", sender.id(), receiver.id());
    sender
        .send(&ClientMessage::Offer {
            sdp: marker.clone(),
            to: Some(receiver.id()),
        })
        .await;
    assert_eq!(
        receiver.recv().await,
        ServerMessage::Offer {
            sdp: marker,
            from: sender.id(),
            to: Some(receiver.id())
        },
        "nothing else was queued or in flight"
    );
    receiver.assert_quiet().await;
}

/// `size` people joining `name` one after another, member `i` on `servers[i % servers.len()]`.
/// Checks on the way what every join must bring: the joiner is told who is there, in join
/// order; every member already there is told `peer_joined` (and `ready` when the room reaches
/// two), and nothing else. Returns the members in join order.
pub async fn group_across(servers: &[&TestServer], name: &str, size: usize) -> Vec<Client> {
    let mut members: Vec<Client> = Vec::with_capacity(size);
    for index in 0..size {
        let mut joiner = servers[index % servers.len()].client().await;
        let before: Vec<PeerId> = members.iter().map(Client::id).collect();
        assert_eq!(joiner.join(name).await, before, "joined lists who is there");
        for member in &mut members {
            if index == 1 {
                member.expect_joined_by(joiner.id(), name).await;
            } else {
                assert_eq!(
                    member.recv().await,
                    ServerMessage::PeerJoined { peer: joiner.id() }
                );
            }
        }
        members.push(joiner);
    }
    members
}

/// One relay of each kind (`offer`, `answer`, `candidate`, `hang_up`) addressed to `to`, each
/// marked with `tag` where the message has room for it.
pub fn relays(to: Option<PeerId>, tag: &str) -> Vec<ClientMessage> {
    vec![
        ClientMessage::Offer {
            sdp: format!("offer {tag}"),
            to: to.clone(),
        },
        ClientMessage::Answer {
            sdp: format!("answer {tag}"),
            to: to.clone(),
        },
        ClientMessage::Candidate {
            candidate: Some(shared::IceCandidate {
                candidate: Some(format!("candidate:{tag} 1 udp 1 127.0.0.1 5000 typ host")),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            }),
            to: to.clone(),
        },
        ClientMessage::HangUp { to },
    ]
}

/// What the server delivers for `message`, a relay sent by `from`: the same, with `from`.
pub fn relayed(message: &ClientMessage, from: PeerId) -> ServerMessage {
    match message.clone() {
        ClientMessage::Offer { sdp, to } => ServerMessage::Offer { sdp, from, to },
        ClientMessage::Answer { sdp, to } => ServerMessage::Answer { sdp, from, to },
        ClientMessage::Candidate { candidate, to } => ServerMessage::Candidate {
            candidate,
            from,
            to,
        },
        ClientMessage::HangUp { to } => ServerMessage::HangUp { from, to },
        other => panic!("{other:?} is not a relay"),
    }
}

/// Shrinks a room to two, one leaver at a time: at each size every member's relays of each
/// kind without `to` are refused with `recipient_required` (a sentence naming `"to"`), each
/// member is checked quiet first when `quiet_each_round` (one instance: a ping/pong barrier is
/// proof), then the last member leaves and the others hear `peer_left`. Finally the first of
/// the two sends each relay without `to`, and the second receives it.
pub async fn shrink_to_two_refusing_unaddressed(members: &mut Vec<Client>, quiet_each_round: bool) {
    while members.len() > 2 {
        let size = members.len();
        for (index, sender) in members.iter_mut().enumerate() {
            for message in relays(None, &format!("{index} to nobody in {size}")) {
                sender.send(&message).await;
                let sentence = sender
                    .expect_error(shared::ErrorCode::RecipientRequired)
                    .await;
                assert!(sentence.contains("\"to\""), "{sentence}");
            }
        }
        if quiet_each_round {
            for member in members.iter_mut() {
                member.assert_quiet().await;
            }
        }
        let leaver = members.pop().expect("a member to leave");
        let leaver_id = leaver.id();
        leaver.close().await;
        for member in members.iter_mut() {
            assert_eq!(
                member.recv().await,
                ServerMessage::PeerLeft {
                    peer: leaver_id.clone()
                }
            );
        }
    }
    let [first, second] = &mut members[..] else {
        panic!("two remain");
    };
    for message in relays(None, "to the other one") {
        first.send(&message).await;
        assert_eq!(second.recv().await, relayed(&message, first.id()));
    }
}

/// A server trusting the loopback address as its proxy, allowing one connection per client.
pub async fn behind_loopback_proxy(
    configure: impl FnOnce(&mut backend::config::Config),
) -> TestServer {
    TestServer::start(|config| {
        config.limits.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")];
        config.limits.max_connections_per_ip = 1;
        configure(config);
    })
    .await
}

/// Connects with `headers`; the HTTP status of a refusal, or 101 when upgraded (the socket is
/// kept in `open`).
pub async fn upgrade_status(
    server: &TestServer,
    headers: &[(&str, &str)],
    open: &mut Vec<Client>,
) -> u16 {
    match Client::connect_with_headers(&server.ws_url(), headers).await {
        Ok(client) => {
            open.push(client);
            101
        }
        Err(status) => status,
    }
}

/// Everything a tracing subscriber writes, kept in memory: for the tests of what the logs say
/// (and never say).
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
