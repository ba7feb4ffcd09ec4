//! `--soak`: holds `--connections` joined connections (rooms of two) against one running
//! server for `--duration`, `--active` of them in calls whose signalling never stops (each
//! pair runs a round of offer → answer → `--soak-candidates` candidates each way every
//! `--round-every`), and every `--report-every` prints the server's resident memory, the
//! interval's relay latency (p50/p99) and the errors so far. At the end it says whether the
//! server's memory grew without bound: the mean RSS of the last third of the samples against
//! the first third, allowed [`GROWTH_ALLOWED`] more.
//!
//! Idle members only read (the WebSocket layer answers the server's heartbeat pings), so
//! they stay joined for the whole run. An error is any server `error`, an expected message
//! that did not come within `--wait-secs`, or a connection that ended; the tool exits with a
//! failure when there was any, or when the memory grew.
//!
//! The server must allow the connections from one address (`--max-connections-per-ip 0`);
//! its RSS is read from `/proc/<pid>/status`, the pid given by `--server-pid` or found as the
//! process holding the listening socket of the URL's port.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use shared::{ClientMessage, IceCandidate, PeerId, RoomName, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

/// How much larger the last third's mean RSS may be than the first third's before the run
/// counts as growing without bound: allocators keep freed pages, and the first samples are
/// taken while the call traffic is still warming the buffers up.
const GROWTH_ALLOWED: f64 = 0.10;
/// Per-connection socket buffers of this tool: tungstenite's default (128 KiB for reading)
/// would cost the tool over a gigabyte at 10,000 connections.
const CLIENT_BUFFER_BYTES: usize = 4 * 1024;

/// The options of `--soak` (ignored without it).
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Run the soak instead of the one-shot load.
    #[arg(long)]
    pub soak: bool,
    /// Joined connections to hold, in rooms of two.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// How many of them are in active calls (pairs), signalling without pause.
    #[arg(long, default_value_t = 500)]
    pub active: usize,
    /// How long to hold them.
    #[arg(long, default_value = "10min", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// How often to print a report line.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub report_every: Duration,
    /// How often each active pair starts a round of signalling.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub round_every: Duration,
    /// Candidates each member of an active pair sends per round (keep the messages a second
    /// under the server's `--messages-per-second`).
    #[arg(long, default_value_t = 4)]
    pub soak_candidates: usize,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the whole run counts.
#[derive(Default)]
struct Counters {
    /// Relay latencies of the current interval.
    latencies: Mutex<Vec<Duration>>,
    relays: AtomicU64,
    errors: AtomicU64,
    /// Connections that ended before the run did.
    dropped: AtomicU64,
}

impl Counters {
    fn error(&self, what: impl std::fmt::Display) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < 10 {
            eprintln!("error: {what}");
        }
    }
}

/// Runs the soak against `url`; `server_pid` is the server to watch (else found by port);
/// an expected relay later than `wait` is an error.
pub async fn run(
    url: &str,
    args: &SoakArgs,
    server_pid: Option<u32>,
    wait: Duration,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.active <= args.connections
            && args.active.is_multiple_of(2)
            && args.connections.is_multiple_of(2),
        "--connections and --active must be even, --active at most --connections"
    );
    let pid = match server_pid {
        Some(pid) => pid,
        None => find_server_pid(url)?,
    };
    let counters = Arc::new(Counters::default());
    let rss_idle = super::rss_kib(pid).unwrap_or_default();
    println!(
        "soak: {} connections ({} in active calls) against {url} (pid {pid}, RSS {:.1} MiB idle) for {:?}",
        args.connections,
        args.active,
        rss_idle as f64 / 1024.0,
        args.duration
    );
    let started = Instant::now();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let pairs = args.connections / 2;
    let active_pairs = args.active / 2;
    for batch in (0..pairs).collect::<Vec<_>>().chunks(100) {
        let joins = batch.iter().map(|&pair| join_pair(url, pair));
        for (index, joined) in futures_util::future::join_all(joins)
            .await
            .into_iter()
            .enumerate()
        {
            let pair = batch[index];
            let (first, second) = joined?;
            let stop = stop.clone();
            let counters = counters.clone();
            if pair < active_pairs {
                let args = args.clone();
                tasks.spawn(active_call(first, second, args, counters, wait, stop));
            } else {
                tasks.spawn(idle_member(first.socket, counters.clone(), stop.clone()));
                tasks.spawn(idle_member(second.socket, counters, stop));
            }
        }
    }
    println!(
        "set-up: {} connections joined in {:.1} s",
        args.connections,
        started.elapsed().as_secs_f64()
    );

    let held_from = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + args.report_every,
        args.report_every,
    );
    while held_from.elapsed() < args.duration {
        ticks.tick().await;
        let mut latencies = std::mem::take(&mut *counters.latencies.lock().expect("not poisoned"));
        latencies.sort_unstable();
        let rss = super::rss_kib(pid).unwrap_or_default();
        samples.push(rss);
        println!(
            "t={:>4} s  RSS {:>7.1} MiB  relays {:>7}  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}  dropped {}",
            held_from.elapsed().as_secs(),
            rss as f64 / 1024.0,
            latencies.len(),
            super::percentile(&latencies, 50.0).as_secs_f64() * 1e3,
            super::percentile(&latencies, 99.0).as_secs_f64() * 1e3,
            counters.errors.load(Ordering::Relaxed),
            counters.dropped.load(Ordering::Relaxed),
        );
    }
    stop.cancel();
    while tasks.join_next().await.is_some() {}

    let verdict = Verdict::of(&samples);
    let relays = counters.relays.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    let dropped = counters.dropped.load(Ordering::Relaxed);
    println!(
        "relays: {relays} in {:.0} s",
        held_from.elapsed().as_secs_f64()
    );
    println!("errors: {errors}, connections dropped: {dropped}");
    println!("{verdict}");
    anyhow::ensure!(
        errors == 0 && dropped == 0,
        "{errors} errors, {dropped} dropped"
    );
    anyhow::ensure!(!verdict.grew, "the server's memory grew");
    Ok(())
}

/// Whether the server's memory grew over the run, from the RSS samples (KiB).
struct Verdict {
    first_third: f64,
    last_third: f64,
    grew: bool,
}

impl Verdict {
    fn of(samples: &[u64]) -> Self {
        let third = (samples.len() / 3).max(1);
        let mean = |part: &[u64]| part.iter().sum::<u64>() as f64 / part.len().max(1) as f64;
        let first_third = mean(&samples[..third.min(samples.len())]);
        let last_third = mean(&samples[samples.len().saturating_sub(third)..]);
        Self {
            first_third,
            last_third,
            grew: last_third > first_third * (1.0 + GROWTH_ALLOWED),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verdict: RSS mean {:.1} MiB in the first third, {:.1} MiB in the last ({:+.1} %): {}",
            self.first_third / 1024.0,
            self.last_third / 1024.0,
            (self.last_third / self.first_third.max(1.0) - 1.0) * 100.0,
            if self.grew {
                "GREW (more than 10 %)"
            } else {
                "bounded"
            }
        )
    }
}

/// One joined member.
struct Member {
    socket: Socket,
    id: PeerId,
}

/// Two members joined to `soak-<pair>`, both past `joined` (and the first past `ready`).
async fn join_pair(url: &str, pair: usize) -> anyhow::Result<(Member, Member)> {
    let room = RoomName::new(format!("soak-{pair}"))?;
    let first = join(url, &room).await?;
    let second = join(url, &room).await?;
    Ok((first, second))
}

async fn join(url: &str, room: &RoomName) -> anyhow::Result<Member> {
    let config = WebSocketConfig::default()
        .read_buffer_size(CLIENT_BUFFER_BYTES)
        .write_buffer_size(CLIENT_BUFFER_BYTES);
    let (mut socket, _) = connect_async_with_config(url, Some(config), true).await?;
    send(
        &mut socket,
        &ClientMessage::Join {
            room: room.clone(),
            resume: None,
        },
    )
    .await?;
    loop {
        match next(&mut socket, Duration::from_secs(30)).await? {
            ServerMessage::Joined { you, .. } => return Ok(Member { socket, id: you }),
            ServerMessage::Full { room, .. } => {
                anyhow::bail!("{room} is full: seats of an earlier run still held?")
            }
            ServerMessage::Error { code, message } => anyhow::bail!("{code:?}: {message}"),
            _ => continue,
        }
    }
}

async fn send(socket: &mut Socket, message: &ClientMessage) -> anyhow::Result<()> {
    socket
        .send(Message::Text(serde_json::to_string(message)?.into()))
        .await?;
    Ok(())
}

/// The next protocol message within `wait`.
async fn next(socket: &mut Socket, wait: Duration) -> anyhow::Result<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(wait, socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("nothing within {wait:?}"))?
            .ok_or_else(|| anyhow::anyhow!("connection ended"))??;
        if let Message::Text(text) = frame {
            return Ok(serde_json::from_str(text.as_str())?);
        }
        if let Message::Close(frame) = frame {
            anyhow::bail!("closed by the server: {frame:?}");
        }
    }
}

/// A member that only reads, until the run ends: anything but announcements is an error.
async fn idle_member(
    mut socket: Socket,
    counters: Arc<Counters>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ServerMessage>(text.as_str()) {
                        Ok(
                            ServerMessage::PeerJoined { .. }
                            | ServerMessage::Ready { .. }
                            | ServerMessage::Resume { .. },
                        ) => {}
                        // The other member leaving as the run ends.
                        Ok(ServerMessage::PeerLeft { .. }) if stop.is_cancelled() => {}
                        other => counters.error(format!("idle member got {other:?}")),
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    counters.error("an idle connection ended");
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    leave(socket).await;
}

/// `leave`, so the seat is free at once for the next run, then close.
async fn leave(mut socket: Socket) {
    let _ = send(&mut socket, &ClientMessage::Leave).await;
    let _ = socket.close(None).await;
}

/// One call whose signalling never stops: every `round_every`, `first` offers, `second`
/// answers, then each sends the other `soak_candidates` candidates; every relay's latency is
/// measured from just before its send to its arrival.
async fn active_call(
    mut first: Member,
    mut second: Member,
    args: SoakArgs,
    counters: Arc<Counters>,
    wait: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut rounds = tokio::time::interval(args.round_every);
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = rounds.tick() => {}
        }
        if let Err(error) = call_round(&mut first, &mut second, &args, &counters, wait).await {
            counters.dropped.fetch_add(2, Ordering::Relaxed);
            counters.error(format!("an active call failed: {error:#}"));
            return;
        }
    }
    leave(first.socket).await;
    leave(second.socket).await;
}

async fn call_round(
    first: &mut Member,
    second: &mut Member,
    args: &SoakArgs,
    counters: &Counters,
    wait: Duration,
) -> anyhow::Result<()> {
    let offer = ClientMessage::Offer {
        sdp: "v=0 soak offer".into(),
        to: Some(second.id.clone()),
    };
    relay(first, second, &offer, counters, wait).await?;
    let answer = ClientMessage::Answer {
        sdp: "v=0 soak answer".into(),
        to: Some(first.id.clone()),
    };
    relay(second, first, &answer, counters, wait).await?;
    for n in 0..args.soak_candidates {
        let to_second = candidate(n, &second.id);
        relay(first, second, &to_second, counters, wait).await?;
        let to_first = candidate(n, &first.id);
        relay(second, first, &to_first, counters, wait).await?;
    }
    Ok(())
}

/// A host candidate numbered `n`, for `to`.
fn candidate(n: usize, to: &PeerId) -> ClientMessage {
    ClientMessage::Candidate {
        candidate: Some(IceCandidate {
            candidate: Some(format!(
                "candidate:{n} 1 udp 2122260223 127.0.0.1 9 typ host"
            )),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        }),
        to: Some(to.clone()),
    }
}

/// Sends `message` from `from` and waits for it at `to` (skipping announcements), recording
/// the latency; any `error` fails the round.
async fn relay(
    from: &mut Member,
    to: &mut Member,
    message: &ClientMessage,
    counters: &Counters,
    wait: Duration,
) -> anyhow::Result<()> {
    let sent = Instant::now();
    send(&mut from.socket, message).await?;
    loop {
        match next(&mut to.socket, wait).await? {
            ServerMessage::Offer { .. }
            | ServerMessage::Answer { .. }
            | ServerMessage::Candidate { .. } => break,
            ServerMessage::Error { code, message } => anyhow::bail!("{code:?}: {message}"),
            _ => continue,
        }
    }
    counters
        .latencies
        .lock()
        .expect("not poisoned")
        .push(sent.elapsed());
    counters.relays.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// The pid of the process listening on the port of `url` (on this machine): the process
/// whose open files include the listening socket's inode in `/proc/net/tcp{,6}`.
fn find_server_pid(url: &str) -> anyhow::Result<u32> {
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| anyhow::anyhow!("cannot read the address of {url}"))?;
    let port = authority
        .parse::<SocketAddr>()
        .map(|address| address.port())
        .or_else(|_| {
            authority
                .rsplit_once(':')
                .map(|(_, port)| port.parse::<u16>())
                .unwrap_or(Ok(80))
        })?;
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening = *state == "0A";
            let on_port = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())
                == Some(port);
            if listening && on_port {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    anyhow::ensure!(!inodes.is_empty(), "nothing listens on port {port}");
    for process in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        for file in files.flatten() {
            if let Ok(target) = std::fs::read_link(file.path())
                && inodes
                    .iter()
                    .any(|inode| target.as_os_str() == inode.as_str())
            {
                return Ok(pid);
            }
        }
    }
    anyhow::bail!(
        "no readable process holds the socket listening on port {port}: give --server-pid"
    )
}
