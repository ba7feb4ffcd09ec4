//! Load tool: N rooms × 2 clients against a running server, each room doing a whole call's
//! signalling (offer, answer, 20 candidates each way). Prints relay latency (p50/p99), relayed
//! messages per second, and the server's memory per connection.
//!
//! ```text
//! cargo run --release -p backend -- --max-connections-per-ip 0 &
//! cargo run --release -p backend --example load -- --rooms 1000 --server-pid $!
//! ```
//!
//! With several `--url`s the two members of a room connect to different servers (for the
//! multi-instance set-up). Latency is measured from just before a client writes a message to
//! the moment the other client's reader task has parsed it, on one machine and one clock.
//! It only talks to the URLs given (loopback by default) and stops by itself.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use shared::{ClientMessage, IceCandidate, RoomName, ServerMessage};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config, tungstenite::Message,
};

#[derive(Debug, Parser)]
struct Args {
    /// Server WebSocket URL; repeat to spread the two members of each room over servers.
    #[arg(long = "url", default_value = "ws://127.0.0.1:3000/ws")]
    urls: Vec<String>,
    /// Rooms (each with two clients).
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Candidates each client sends.
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
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
}

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// The clock every timestamp is relative to.
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_nanos() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A relayed message as the receiving reader saw it.
struct Received {
    message: ServerMessage,
    latency: Duration,
}

struct LoadClient {
    sink: Sink,
    events: mpsc::UnboundedReceiver<Received>,
}

impl LoadClient {
    async fn connect(url: &str, room: &RoomName) -> anyhow::Result<Self> {
        let (socket, _) = connect_async_with_config(url, None, true).await?;
        let (mut sink, mut stream) = socket.split();
        let join = serde_json::to_string(&ClientMessage::Join {
            room: room.clone(),
            resume: None,
        })?;
        sink.send(Message::Text(join.into())).await?;
        // Unbounded is fine here: a test tool, bounded by the messages it sends itself.
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else { continue };
                let received_at = now_nanos();
                let Ok(message) = serde_json::from_str::<ServerMessage>(text.as_str()) else {
                    continue;
                };
                let sent_at = match &message {
                    ServerMessage::Offer { sdp, .. } | ServerMessage::Answer { sdp, .. } => {
                        sdp.strip_prefix("t=").and_then(|t| t.parse().ok())
                    }
                    ServerMessage::Candidate {
                        candidate: Some(c), ..
                    } => c.username_fragment.as_deref().and_then(|t| t.parse().ok()),
                    _ => None,
                };
                let latency = Duration::from_nanos(
                    sent_at.map_or(0, |sent: u64| received_at.saturating_sub(sent)),
                );
                if tx.send(Received { message, latency }).is_err() {
                    break;
                }
            }
        });
        Ok(Self { sink, events })
    }

    async fn send(&mut self, message: &ClientMessage) -> anyhow::Result<()> {
        let text = serde_json::to_string(message)?;
        self.sink.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Waits for the next event matching `wanted`, collecting relay latencies on the way.
    async fn expect(
        &mut self,
        wanted: impl Fn(&ServerMessage) -> bool,
        latencies: &mut Vec<Duration>,
    ) -> anyhow::Result<()> {
        loop {
            let event = self
                .events
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("connection closed"))?;
            if let ServerMessage::Error { code, message } = &event.message {
                anyhow::bail!("server refused: {code:?}: {message}");
            }
            let is_relay = matches!(
                event.message,
                ServerMessage::Offer { .. }
                    | ServerMessage::Answer { .. }
                    | ServerMessage::Candidate { .. }
            );
            if is_relay {
                latencies.push(event.latency);
            }
            if wanted(&event.message) {
                return Ok(());
            }
        }
    }
}

/// Both members of a room, joined and ready.
async fn set_up_room(args: &Args, index: usize) -> anyhow::Result<(LoadClient, LoadClient)> {
    let room = RoomName::new(format!("load-{index}"))?;
    let url_a = &args.urls[0];
    let url_b = &args.urls[1 % args.urls.len()];
    let mut a = LoadClient::connect(url_a, &room).await?;
    let mut ignored = Vec::new();
    a.expect(|m| matches!(m, ServerMessage::Joined { .. }), &mut ignored)
        .await?;
    let mut b = LoadClient::connect(url_b, &room).await?;
    b.expect(|m| matches!(m, ServerMessage::Ready { .. }), &mut ignored)
        .await?;
    a.expect(|m| matches!(m, ServerMessage::Ready { .. }), &mut ignored)
        .await?;
    Ok((a, b))
}

/// The signalling of one call: offer, answer, then candidates both ways at once.
async fn exchange(
    mut a: LoadClient,
    mut b: LoadClient,
    candidates: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(2 + 2 * candidates);
    a.send(&ClientMessage::Offer {
        sdp: format!("t={}", now_nanos()),
        to: None,
    })
    .await?;
    b.expect(|m| matches!(m, ServerMessage::Offer { .. }), &mut latencies)
        .await?;
    b.send(&ClientMessage::Answer {
        sdp: format!("t={}", now_nanos()),
        to: None,
    })
    .await?;
    a.expect(
        |m| matches!(m, ServerMessage::Answer { .. }),
        &mut latencies,
    )
    .await?;
    let (sent_a, sent_b) = tokio::join!(
        trickle(&mut a.sink, candidates),
        trickle(&mut b.sink, candidates)
    );
    sent_a?;
    sent_b?;
    for client in [&mut a, &mut b] {
        for _ in 0..candidates {
            client
                .expect(
                    |m| matches!(m, ServerMessage::Candidate { .. }),
                    &mut latencies,
                )
                .await?;
        }
    }
    Ok(latencies)
}

/// Sends `count` candidates as fast as the socket takes them, each stamped with its send time.
async fn trickle(sink: &mut Sink, count: usize) -> anyhow::Result<()> {
    for n in 0..count {
        let candidate = IceCandidate {
            candidate: Some(format!(
                "candidate:{n} 1 udp 2122260223 127.0.0.1 {} typ host",
                50_000 + n
            )),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: Some(now_nanos().to_string()),
        };
        let text = serde_json::to_string(&ClientMessage::Candidate {
            candidate: Some(candidate),
            to: None,
        })?;
        sink.send(Message::Text(text.into())).await?;
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
    let deadline = Duration::from_secs(args.deadline_secs);
    tokio::time::timeout(deadline, run(args))
        .await
        .map_err(|_| anyhow::anyhow!("gave up after {deadline:?}"))?
}

async fn run(args: Arc<Args>) -> anyhow::Result<()> {
    let rss_before = args.server_pid.and_then(rss_kib);
    let setup_started = Instant::now();
    let mut rooms = Vec::with_capacity(args.rooms);
    let indices: Vec<usize> = (0..args.rooms).collect();
    for batch in indices.chunks(args.connect_concurrency.max(1)) {
        let batch = futures_util::future::try_join_all(
            batch.iter().map(|&index| set_up_room(&args, index)),
        )
        .await?;
        rooms.extend(batch);
    }
    let setup = setup_started.elapsed();
    let connections = args.rooms * 2;
    // Let the server settle (allocator, buffers) before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = args.server_pid.and_then(rss_kib);

    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        match args.exchange_concurrency {
            0 => tokio::sync::Semaphore::MAX_PERMITS,
            n => n,
        },
    ));
    let tasks: Vec<_> = rooms
        .into_iter()
        .map(|(a, b)| {
            let permits = permits.clone();
            let candidates = args.candidates;
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await?;
                exchange(a, b, candidates).await
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let relayed = latencies.len();
    let expected = args.rooms * (2 + 2 * args.candidates);
    anyhow::ensure!(
        relayed == expected,
        "relayed {relayed} messages, expected {expected}"
    );

    println!("servers:            {}", args.urls.join(", "));
    println!(
        "rooms:              {} ({connections} connections), {} exchanging at once",
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
        "relayed messages:   {relayed} in {:.3} s",
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
    if let (Some(before), Some(after)) = (rss_before, rss_connected) {
        println!(
            "server memory:      RSS {:.1} MiB idle, {:.1} MiB with {connections} connections: {:.1} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            after.saturating_sub(before) as f64 / connections as f64,
        );
    }
    Ok(())
}
