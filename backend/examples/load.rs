//! Load tool: N rooms × `--room-size` clients against a running server, each room doing a whole
//! call's signalling between every pair of its members (a full mesh): the member who was there
//! first offers, the other answers, then `--candidates` candidates each way, every message
//! addressed with `to`. Prints relay latency (p50/p99), relayed messages per second, and the
//! server's memory per connection.
//!
//! ```text
//! cargo run --release -p backend -- --max-connections-per-ip 0 &
//! cargo run --release -p backend --example load -- --rooms 1000 --server-pid $!
//! cargo run --release -p backend --example load -- --rooms 1000 --room-size 4 --candidates 10
//! ```
//!
//! Every relayed message carries its room and its addressee in its payload, and each client
//! checks what it receives: a message from another room (cross-room) or for another member of
//! its room (wrong recipient) is counted, and so is every expected message that never came.
//! The tool exits with an error when any of these is not zero, after printing the figures.
//!
//! A client sends `(room size − 1) × (1 + candidates)` relays, plus its `join` and a final
//! `ping`: keep that within the server's `--message-burst` (60 by default), or the server
//! refuses the excess with `rate_limited` (which fails the run).
//!
//! With several `--url`s the members of a room connect to different servers, member `i` to
//! URL `i` modulo their number (for the multi-instance set-up). Latency is measured from just
//! before a client writes a message to the moment the addressee's reader task has parsed it,
//! on one machine and one clock. It only talks to the URLs given (loopback by default) and
//! stops by itself.
//!
//! The last line it prints is one `RESULT key=value …` line for scripts (`scripts/bench node`
//! compares two servers with it): `p50_ms`, `p99_ms`, `msgs_per_s`, and `rss_per_conn_kib`
//! with `--server-pid`. `--idle` only joins the clients and reports the server's memory per
//! joined, idle connection (no signalling):
//!
//! ```text
//! cargo run --release -p backend --example load -- --idle --rooms 5000 --server-pid $!
//! ```
//!
//! `--soak` holds connections for a long time instead (10,000 joined, 500 of them signalling
//! without pause, for 10 minutes by default) and reports the server's memory, relay latency
//! and errors every 30 s; see the `soak` module:
//!
//! ```text
//! cargo run --release -p backend --example load -- --soak --url ws://127.0.0.1:3000/ws
//! ```

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use shared::{ClientMessage, IceCandidate, PeerId, RoomName, ServerMessage};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

/// Read buffer of each client in `--idle` mode.
const IDLE_CLIENT_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Parser)]
struct Args {
    /// Server WebSocket URL; repeat to spread the members of each room over servers.
    #[arg(long = "url", default_value = "ws://127.0.0.1:3000/ws")]
    urls: Vec<String>,
    /// Rooms.
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// People in each room (the server's `--room-capacity` must allow it); 2 is a one-to-one
    /// call, as in the figures before group calls.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..=8))]
    room_size: u16,
    /// Candidates each client sends to each other member of its room.
    #[arg(long, default_value_t = 20)]
    candidates: usize,
    /// Rooms connecting at the same time during set-up.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
    /// Rooms exchanging at the same time (0: all at once, the worst burst).
    #[arg(long, default_value_t = 0)]
    exchange_concurrency: usize,
    /// PID of the server (one instance), to report its resident memory per connection.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Longest wait for any one expected message before counting it missing.
    #[arg(long, default_value_t = 30)]
    wait_secs: u64,
    /// Give up after this many seconds (not with `--soak`, which runs for its `--duration`).
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
    /// Only connect and join every client, then read the server's memory (needs
    /// `--server-pid`) with them all idle, and leave: no signalling. The clients use small
    /// socket buffers, so that many thousands fit in this tool.
    #[arg(long)]
    idle: bool,
    #[command(flatten)]
    soak: soak::SoakArgs,
}

#[path = "load/soak.rs"]
mod soak;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// The clock every timestamp is relative to.
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_nanos() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What every client's reader counts, for the whole run.
#[derive(Debug, Default)]
struct Tally {
    /// Relays delivered to the member they were addressed to.
    delivered: AtomicU64,
    /// Relays that reached a member of another room than the sender's.
    cross_room: AtomicU64,
    /// Relays that reached a member of the right room, but not the one addressed.
    wrong_recipient: AtomicU64,
}

/// Where a relayed message is meant to go, written into its payload by the sender
/// (`"{sent at}/{room}/{member}"`: the SDP, or the candidate's `usernameFragment`), so the
/// receiver can tell a stray message from its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    sent_at: u64,
    room: usize,
    member: usize,
}

impl Stamp {
    fn now(room: usize, member: usize) -> String {
        format!("{}/{room}/{member}", now_nanos())
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let stamp = Self {
            sent_at: parts.next()?.parse().ok()?,
            room: parts.next()?.parse().ok()?,
            member: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(stamp)
    }

    /// The stamp of a relayed message, and the `to` the server delivered it with; `None` for
    /// anything that is not a relay.
    fn of(message: &ServerMessage) -> Option<(Option<Self>, Option<&PeerId>)> {
        match message {
            ServerMessage::Offer { sdp, to, .. } | ServerMessage::Answer { sdp, to, .. } => {
                Some((Self::parse(sdp), to.as_ref()))
            }
            ServerMessage::Candidate { candidate, to, .. } => Some((
                candidate
                    .as_ref()
                    .and_then(|c| c.username_fragment.as_deref())
                    .and_then(Self::parse),
                to.as_ref(),
            )),
            ServerMessage::HangUp { to, .. } => Some((None, to.as_ref())),
            _ => None,
        }
    }
}

/// A relay delivered to its addressee, as its reader saw it, or any other server message.
struct Received {
    message: ServerMessage,
    latency: Duration,
}

struct LoadClient {
    /// This client's room and its place in it (join order).
    room: usize,
    member: usize,
    /// The id the server gave it.
    id: PeerId,
    sink: Sink,
    events: mpsc::UnboundedReceiver<Received>,
    wait: Duration,
}

impl LoadClient {
    /// Connects, joins room number `room` as its `member`-th member and waits for `joined`.
    async fn join(
        url: &str,
        room: usize,
        member: usize,
        tally: Arc<Tally>,
        wait: Duration,
        config: Option<WebSocketConfig>,
    ) -> anyhow::Result<Self> {
        let (socket, _) = connect_async_with_config(url, config, true).await?;
        let (mut sink, mut stream) = socket.split();
        let join = serde_json::to_string(&ClientMessage::Join {
            room: RoomName::new(format!("load-{room}"))?,
            resume: None,
        })?;
        sink.send(Message::Text(join.into())).await?;
        // Unbounded is fine here: a test tool, bounded by the messages it sends itself.
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut me: Option<PeerId> = None;
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else { continue };
                let received_at = now_nanos();
                let Ok(message) = serde_json::from_str::<ServerMessage>(text.as_str()) else {
                    continue;
                };
                if let ServerMessage::Joined { you, .. } = &message {
                    me = Some(you.clone());
                }
                let mut latency = Duration::ZERO;
                if let Some((stamp, to)) = Stamp::of(&message) {
                    match stamp {
                        Some(stamp)
                            if stamp.room == room
                                && stamp.member == member
                                && to == me.as_ref() =>
                        {
                            tally.delivered.fetch_add(1, Ordering::Relaxed);
                            latency =
                                Duration::from_nanos(received_at.saturating_sub(stamp.sent_at));
                        }
                        Some(stamp) if stamp.room == room => {
                            tally.wrong_recipient.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        // Unstamped relays come from no room of this tool: foreign too.
                        _ => {
                            tally.cross_room.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                if tx.send(Received { message, latency }).is_err() {
                    break;
                }
            }
        });
        let mut client = Self {
            room,
            member,
            id: PeerId::new(""),
            sink,
            events,
            wait,
        };
        let mut ignored = Vec::new();
        let joined = client
            .expect(
                1,
                |m| matches!(m, ServerMessage::Joined { .. }),
                &mut ignored,
            )
            .await?;
        let Some(ServerMessage::Joined { you, .. }) = joined else {
            anyhow::bail!("room {room}: no joined");
        };
        client.id = you;
        Ok(client)
    }

    async fn send(&mut self, message: &ClientMessage) -> anyhow::Result<()> {
        let text = serde_json::to_string(message)?;
        self.sink.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Waits for `count` messages matching `wanted`, collecting relay latencies on the way;
    /// returns the last one. Each must come within the wait, or it counts as missing.
    async fn expect(
        &mut self,
        count: usize,
        wanted: impl Fn(&ServerMessage) -> bool,
        latencies: &mut Vec<Duration>,
    ) -> anyhow::Result<Option<ServerMessage>> {
        let (mut last, mut got) = (None, 0);
        while got < count {
            let event = tokio::time::timeout(self.wait, self.events.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "room {} member {}: {} of {count} expected messages missing",
                        self.room,
                        self.member,
                        count - got
                    )
                })?
                .ok_or_else(|| anyhow::anyhow!("connection closed"))?;
            match &event.message {
                ServerMessage::Error { code, message } => {
                    anyhow::bail!("server refused: {code:?}: {message}")
                }
                ServerMessage::Full { room, capacity } => anyhow::bail!(
                    "{room} is full ({capacity}): a room size above the server's capacity, or \
                     seats of an earlier run still held (the tool leaves its rooms at the end)"
                ),
                _ => {}
            }
            if Stamp::of(&event.message).is_some() {
                latencies.push(event.latency);
            }
            // Announcements (`peer_joined`, `ready`, `resume`) do not count.
            if wanted(&event.message) {
                got += 1;
                last = Some(event.message);
            }
        }
        Ok(last)
    }

    /// A `ping` answered by `pong`: everything the server had queued for this client before
    /// has been read (and counted) by its reader. Then `leave`, so the seat is free at once
    /// (a connection that just closes keeps its seat for the resume grace) and the next run
    /// can use the same room names.
    async fn drain_and_leave(&mut self) -> anyhow::Result<()> {
        self.send(&ClientMessage::Ping).await?;
        let mut ignored = Vec::new();
        self.expect(1, |m| matches!(m, ServerMessage::Pong), &mut ignored)
            .await?;
        self.send(&ClientMessage::Leave).await?;
        self.sink.close().await?;
        Ok(())
    }
}

/// Every member of room `index`, joined one after another (member `i` on URL `i` modulo
/// their number).
async fn set_up_room(args: &Args, index: usize, tally: &Arc<Tally>) -> anyhow::Result<Room> {
    let wait = Duration::from_secs(args.wait_secs);
    // Idle clients never receive more than a few short messages: small buffers let many
    // thousands of them fit in this tool (tungstenite's default read buffer is 128 KiB).
    let config = args.idle.then(|| {
        WebSocketConfig::default()
            .read_buffer_size(IDLE_CLIENT_BUFFER_BYTES)
            .write_buffer_size(0)
    });
    let mut members = Vec::with_capacity(usize::from(args.room_size));
    for member in 0..usize::from(args.room_size) {
        let url = &args.urls[member % args.urls.len()];
        members.push(LoadClient::join(url, index, member, tally.clone(), wait, config).await?);
    }
    Ok(Room { members })
}

struct Room {
    members: Vec<LoadClient>,
}

fn is_offer(message: &ServerMessage) -> bool {
    matches!(message, ServerMessage::Offer { .. })
}

fn is_answer(message: &ServerMessage) -> bool {
    matches!(message, ServerMessage::Answer { .. })
}

fn is_candidate(message: &ServerMessage) -> bool {
    matches!(message, ServerMessage::Candidate { .. })
}

impl Room {
    /// The signalling of one group call: every earlier member offers to every later one, each
    /// offer is answered, then candidates go between every pair, both ways at once.
    async fn exchange(mut self, candidates: usize) -> anyhow::Result<(Vec<Duration>, Self)> {
        let size = self.members.len();
        let ids: Vec<PeerId> = self.members.iter().map(|m| m.id.clone()).collect();
        let mut latencies = Vec::with_capacity(size * (size - 1) * (1 + candidates));
        for offerer in 0..size {
            for (answerer, id) in ids.iter().enumerate().skip(offerer + 1) {
                let client = &mut self.members[offerer];
                let sdp = Stamp::now(client.room, answerer);
                client
                    .send(&ClientMessage::Offer {
                        sdp,
                        to: Some(id.clone()),
                    })
                    .await?;
            }
        }
        for (answerer, client) in self.members.iter_mut().enumerate() {
            client.expect(answerer, is_offer, &mut latencies).await?;
            for (offerer, id) in ids.iter().enumerate().take(answerer) {
                let sdp = Stamp::now(client.room, offerer);
                client
                    .send(&ClientMessage::Answer {
                        sdp,
                        to: Some(id.clone()),
                    })
                    .await?;
            }
        }
        for (offerer, client) in self.members.iter_mut().enumerate() {
            client
                .expect(size - 1 - offerer, is_answer, &mut latencies)
                .await?;
        }
        let trickles = self
            .members
            .iter_mut()
            .map(|client| trickle(client, &ids, candidates));
        futures_util::future::try_join_all(trickles).await?;
        for client in &mut self.members {
            client
                .expect((size - 1) * candidates, is_candidate, &mut latencies)
                .await?;
        }
        Ok((latencies, self))
    }
}

/// Sends `count` candidates to every other member of the room, as fast as the socket takes
/// them, each stamped with its send time and addressee.
async fn trickle(client: &mut LoadClient, ids: &[PeerId], count: usize) -> anyhow::Result<()> {
    for n in 0..count {
        for (member, id) in ids.iter().enumerate() {
            if member == client.member {
                continue;
            }
            let candidate = IceCandidate {
                candidate: Some(format!(
                    "candidate:{n} 1 udp 2122260223 127.0.0.1 {} typ host",
                    50_000 + n
                )),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: Some(Stamp::now(client.room, member)),
            };
            let message = ClientMessage::Candidate {
                candidate: Some(candidate),
                to: Some(id.clone()),
            };
            client.send(&message).await?;
        }
    }
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    EPOCH.get_or_init(Instant::now);
    if args.soak.soak {
        let wait = Duration::from_secs(args.wait_secs);
        return soak::run(&args.urls[0], &args.soak, args.server_pid, wait).await;
    }
    let deadline = Duration::from_secs(args.deadline_secs);
    tokio::time::timeout(deadline, run(args))
        .await
        .map_err(|_| anyhow::anyhow!("gave up after {deadline:?}"))?
}

async fn run(args: Arc<Args>) -> anyhow::Result<()> {
    let tally = Arc::new(Tally::default());
    let rss_before = args.server_pid.and_then(rss_kib);
    let setup_started = Instant::now();
    let mut rooms = Vec::with_capacity(args.rooms);
    let indices: Vec<usize> = (0..args.rooms).collect();
    for batch in indices.chunks(args.connect_concurrency.max(1)) {
        let batch = futures_util::future::try_join_all(
            batch.iter().map(|&index| set_up_room(&args, index, &tally)),
        )
        .await?;
        rooms.extend(batch);
    }
    let setup = setup_started.elapsed();
    let size = usize::from(args.room_size);
    let connections = args.rooms * size;
    // Let the server settle (allocator, buffers) before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = args.server_pid.and_then(rss_kib);
    let rss_per_conn = rss_before
        .zip(rss_connected)
        .map(|(before, after)| after.saturating_sub(before) as f64 / connections as f64);
    if args.idle {
        let mut rooms = rooms;
        let drains = rooms
            .iter_mut()
            .flat_map(|room| room.members.iter_mut())
            .map(LoadClient::drain_and_leave);
        futures_util::future::try_join_all(drains).await?;
        println!("servers:            {}", args.urls.join(", "));
        println!(
            "idle:               {} rooms of {size} ({connections} joined connections) in {:.2} s",
            args.rooms,
            setup.as_secs_f64()
        );
        let Some(((before, after), per_conn)) = rss_before.zip(rss_connected).zip(rss_per_conn)
        else {
            anyhow::bail!("--idle measures the server's memory: give --server-pid");
        };
        println!(
            "server memory:      RSS {:.1} MiB before, {:.1} MiB with {connections} idle joined connections: {per_conn:.2} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
        );
        println!("RESULT connections={connections} rss_per_conn_kib={per_conn:.2}");
        return Ok(());
    }

    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        match args.exchange_concurrency {
            0 => tokio::sync::Semaphore::MAX_PERMITS,
            n => n,
        },
    ));
    let tasks: Vec<_> = rooms
        .into_iter()
        .map(|room| {
            let permits = permits.clone();
            let candidates = args.candidates;
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await?;
                room.exchange(candidates).await
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut finished = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await? {
            Ok((measured, room)) => {
                latencies.extend(measured);
                finished.push(room);
            }
            Err(error) => failures.push(error),
        }
    }
    let elapsed = started.elapsed();
    // Whatever was still queued for anybody (a stray message) is read and counted now.
    let drains = finished
        .iter_mut()
        .flat_map(|room| room.members.iter_mut())
        .map(LoadClient::drain_and_leave);
    futures_util::future::try_join_all(drains).await?;
    latencies.sort_unstable();
    let relayed = latencies.len();
    let expected = args.rooms * size * (size - 1) * (1 + args.candidates);
    let cross_room = tally.cross_room.load(Ordering::Relaxed);
    let wrong_recipient = tally.wrong_recipient.load(Ordering::Relaxed);
    let delivered = tally.delivered.load(Ordering::Relaxed);

    println!("servers:            {}", args.urls.join(", "));
    println!(
        "rooms:              {} of {size} ({connections} connections), {} exchanging at once",
        args.rooms,
        match args.exchange_concurrency {
            0 => "all".to_owned(),
            n => n.to_string(),
        }
    );
    println!(
        "set-up:             {:.2} s to connect and join every client",
        setup.as_secs_f64()
    );
    println!(
        "relayed messages:   {relayed} in {:.3} s (expected {expected})",
        elapsed.as_secs_f64()
    );
    println!(
        "throughput:         {:.0} messages/s",
        relayed as f64 / elapsed.as_secs_f64()
    );
    println!(
        "relay latency:      p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!("cross-room:         {cross_room} deliveries");
    println!("wrong recipient:    {wrong_recipient} deliveries");
    if let (Some(before), Some(after), Some(per_conn)) = (rss_before, rss_connected, rss_per_conn) {
        println!(
            "server memory:      RSS {:.1} MiB idle, {:.1} MiB with {connections} connections: {per_conn:.1} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
        );
    }
    let mut result = format!(
        "RESULT connections={connections} relayed={relayed} p50_ms={:.3} p99_ms={:.3} msgs_per_s={:.0}",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        relayed as f64 / elapsed.as_secs_f64(),
    );
    if let Some(per_conn) = rss_per_conn {
        result.push_str(&format!(" rss_per_conn_kib={per_conn:.2}"));
    }
    println!("{result}");
    anyhow::ensure!(
        cross_room == 0 && wrong_recipient == 0,
        "{cross_room} cross-room and {wrong_recipient} wrong-recipient deliveries"
    );
    if let Some(first) = failures.first() {
        anyhow::bail!("{} rooms failed; the first: {first:#}", failures.len());
    }
    anyhow::ensure!(
        relayed == expected && delivered == expected as u64,
        "relayed {relayed} (counted {delivered}) messages, expected {expected}"
    );
    Ok(())
}
