//! The processes behind a call: backend, coturn, Twilio stand-in, chromedriver, Redis. Each is
//! started on a free loopback port in a process group of its own ([`GroupChild`]), waited for
//! until it answers, and killed with everything it started (by group id) on drop.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
pub use nix::sys::signal::Signal;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::Command,
};

use crate::{artifacts_dir, free_port, group::GroupChild, http, workspace_root};

/// The server binary `name` built with the same profile as the running test or bench: a test
/// runs as `target/<profile>/deps/<test>-<hash>`, a bench as `target/<profile>/<bench>`. So
/// `scripts/test` runs the end-to-end tests against quick-to-build debug servers and
/// `scripts/bench` against release ones.
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running executable")?;
    let mut dir = exe.parent().context("the executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps/ has no parent")?;
    }
    let path = dir.join(name);
    if !path.exists() {
        let profile = dir
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("debug");
        let flag = if profile == "debug" {
            String::new()
        } else {
            format!(" --profile {profile}")
        };
        bail!(
            "{} is missing: run `cargo build{flag} -p backend -p testkit`",
            path.display()
        );
    }
    Ok(path)
}

/// A log file in the artifacts directory for a child's output.
fn log_file(name: &str) -> anyhow::Result<std::fs::File> {
    let path = artifacts_dir().join(format!("{name}.log"));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Waits until something accepts TCP connections on `port`.
async fn wait_for_port(port: u16, what: &str, child: &mut GroupChild) -> anyhow::Result<()> {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.child().try_wait()? {
            bail!("{what} exited early with {status} (see artifacts/e2e/*.log)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not listen on port {port} within 10 s")
}

/// The signalling server, serving `dist/`.
pub struct Backend {
    pub port: u16,
    child: GroupChild,
}

impl Backend {
    pub async fn start(args: &[String]) -> anyhow::Result<Self> {
        Self::start_on(free_port(), args).await
    }

    /// Starts the backend on `port` (the port of one that was stopped: a restart, which the
    /// pages must survive).
    pub async fn start_on(port: u16, args: &[String]) -> anyhow::Result<Self> {
        let dist = workspace_root().join("dist");
        if !dist.join("index.html").exists() {
            bail!("dist/ is missing: run `trunk build --release` first");
        }
        let mut command = Command::new(sibling_binary("backend")?);
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--static-dir")
            .arg(&dist)
            .args(["--max-connections-per-ip", "0"])
            // Every page of a test comes from 127.0.0.1: the per-address ICE quota is not what
            // browser tests are about.
            .args(["--ice-requests-per-minute-per-ip", "100000"])
            // The tests read counts (connections, rooms, the ICE provider) from `/metrics`.
            .arg("--metrics")
            .args(args)
            // Only the options given here: no .env, no inherited provider settings.
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env(
                "RUST_LOG",
                std::env::var("E2E_BACKEND_LOG").unwrap_or_else(|_| "info,tower_http=warn".into()),
            )
            .stdout(log_file("backend")?)
            .stderr(log_file("backend")?);
        let mut child = GroupChild::spawn(&mut command).context("starting the backend")?;
        wait_for_port(port, "backend", &mut child).await?;
        Ok(Self { port, child })
    }

    /// `http://localhost:<port>`: localhost is a secure context, so getUserMedia works.
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        Some(self.child.pid())
    }

    /// Sends `signal` to the backend without waiting (SIGSTOP freezes it: its sockets stay
    /// open and nothing answers, like a server behind a dead network path; SIGCONT thaws it).
    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        self.child.signal_group(signal)?;
        Ok(())
    }

    /// Sends `signal` (SIGKILL: a crash; SIGTERM: a graceful shutdown) and waits until the
    /// process has exited; fails if it is still running after `within`.
    pub async fn stop(&mut self, signal: Signal, within: Duration) -> anyhow::Result<()> {
        self.child.signal_group(signal)?;
        match tokio::time::timeout(within, self.child.child().wait()).await {
            Ok(status) => {
                status?;
                Ok(())
            }
            Err(_) => bail!("the backend did not exit within {within:?} of {signal}"),
        }
    }

    /// `GET /healthz`, as JSON.
    pub async fn health(&self) -> anyhow::Result<serde_json::Value> {
        http::get_json(self.port, "/healthz").await
    }

    /// `GET /metrics`, as a JSON object from each series (`videochat_connections_open`,
    /// `videochat_ice_provider_info{provider="twilio"}`) to its value, whole numbers as
    /// integers so that `metrics["videochat_rooms_open"] == 1` reads naturally.
    pub async fn metrics(&self) -> anyhow::Result<serde_json::Value> {
        let text = http::get_text(self.port, "/metrics").await?;
        let mut series = serde_json::Map::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value
                .parse()
                .with_context(|| format!("/metrics: not a number in {line:?}"))?;
            let value = if value.fract() == 0.0 && value.abs() < 1e15 {
                serde_json::Value::from(value as i64)
            } else {
                serde_json::Value::from(value)
            };
            series.insert(name.to_owned(), value);
        }
        Ok(serde_json::Value::Object(series))
    }
}

/// coturn in the foreground with a per-run shared secret (TURN REST, `use-auth-secret`).
pub struct Coturn {
    pub port: u16,
    pub secret: String,
    _child: GroupChild,
}

impl Coturn {
    pub async fn start(scratch: &Path) -> anyhow::Result<Self> {
        let port = free_port();
        let secret = format!("{:032x}", rand::random::<u128>());
        let dir = scratch.join(format!("coturn-{port}"));
        std::fs::create_dir_all(&dir)?;
        // Relay ports are drawn near the listening port so that two coturns (never at once
        // here, but cheaply) would not collide.
        let min_port = 49_160;
        let config = format!(
            "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n\
             min-port={min_port}\nmax-port={}\nrealm=example.test\nuse-auth-secret\n\
             static-auth-secret={secret}\nfingerprint\nallow-loopback-peers\nno-tls\nno-dtls\n\
             no-cli\nno-multicast-peers\nuserdb={}/turndb.sqlite\npidfile={}/turnserver.pid\n\
             log-file=stdout\nsimple-log\n",
            min_port + 100,
            dir.display(),
            dir.display(),
        );
        let config_path = dir.join("turnserver.conf");
        std::fs::write(&config_path, config)?;
        let mut command = Command::new("turnserver");
        command
            .arg("-c")
            .arg(&config_path)
            .stdout(log_file("coturn")?)
            .stderr(log_file("coturn")?);
        let mut child =
            GroupChild::spawn(&mut command).context("starting coturn (apt-get install coturn)")?;
        wait_for_port(port, "coturn", &mut child).await?;
        Ok(Self {
            port,
            secret,
            _child: child,
        })
    }

    pub fn turn_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    pub fn stun_url(&self) -> String {
        format!("stun:127.0.0.1:{}", self.port)
    }
}

/// The Twilio Tokens stand-in (`testkit`), handing out the coturn's URLs with credentials
/// coturn accepts, as Twilio hands out its own TURN servers.
pub struct TwilioProcess {
    pub port: u16,
    pub account_sid: String,
    pub auth_token: String,
    /// The ICE server URLs it hands out (STUN first, then TURN).
    pub urls: Vec<String>,
    _child: GroupChild,
}

impl TwilioProcess {
    /// Starts the stand-in; it answers each token request `delay_ms` late (0: at once).
    pub async fn start(coturn: &Coturn, delay_ms: u64) -> anyhow::Result<Self> {
        let account_sid = format!("AC{:032x}", rand::random::<u128>());
        let auth_token = format!("{:032x}", rand::random::<u128>());
        let mut command = Command::new(sibling_binary("twilio-standin")?);
        command
            .args(["--listen", "127.0.0.1:0", "--account-sid", &account_sid])
            .args([
                "--auth-token",
                &auth_token,
                "--stun-url",
                &coturn.stun_url(),
            ])
            .args([
                "--turn-url",
                &coturn.turn_url(),
                "--turn-secret",
                &coturn.secret,
            ])
            .args(["--delay-ms", &delay_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(log_file("twilio-standin")?);
        let mut child = GroupChild::spawn(&mut command).context("starting the Twilio stand-in")?;
        let stdout = child.child().stdout.take().context("stand-in stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .context("the stand-in did not start in 10 s")??
            .context("the stand-in exited")?;
        let port = line
            .strip_prefix("listening on ")
            .and_then(|address| address.rsplit(':').next())
            .and_then(|port| port.parse().ok())
            .with_context(|| format!("unexpected stand-in output {line:?}"))?;
        Ok(Self {
            port,
            account_sid,
            auth_token,
            urls: vec![coturn.stun_url(), coturn.turn_url()],
            _child: child,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many tokens the stand-in issued so far (its `GET /__standin/counts`).
    pub async fn tokens_issued(&self) -> anyhow::Result<u64> {
        let counts = http::get_json(self.port, "/__standin/counts").await?;
        counts["tokens_issued"]
            .as_u64()
            .with_context(|| format!("unexpected stand-in counts {counts}"))
    }
}

/// One chromedriver; each browser is its own session (own Chromium process and profile).
pub struct Chromedriver {
    pub port: u16,
    _child: GroupChild,
}

impl Chromedriver {
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port();
        let mut command = Command::new("chromedriver");
        command
            .arg(format!("--port={port}"))
            .stdout(log_file("chromedriver")?)
            .stderr(log_file("chromedriver")?);
        let mut child = GroupChild::spawn(&mut command)
            .context("starting chromedriver (apt-get install chromium-driver)")?;
        wait_for_port(port, "chromedriver", &mut child).await?;
        Ok(Self {
            port,
            _child: child,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A throwaway `redis-server` on a free loopback port, with no persistence.
pub struct Redis {
    pub port: u16,
    _child: GroupChild,
}

impl Redis {
    pub async fn start(scratch: &Path) -> anyhow::Result<Self> {
        let port = free_port();
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(scratch)
            .stdout(log_file("redis")?)
            .stderr(log_file("redis")?);
        let mut child = GroupChild::spawn(&mut command)
            .context("starting redis-server (apt-get install redis-server)")?;
        wait_for_port(port, "redis-server", &mut child).await?;
        Ok(Self {
            port,
            _child: child,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// One geckodriver for one Firefox: geckodriver drives a single session at a time, so each
/// Firefox gets its own, on a free loopback port. Firefox inherits geckodriver's process group
/// and dies with it on drop.
pub struct Geckodriver {
    pub port: u16,
    _child: GroupChild,
}

impl Geckodriver {
    /// Starts geckodriver on loopback. Firefox's own output goes to geckodriver's log
    /// (`artifacts/e2e/geckodriver.log`), and it inherits this process's environment, so
    /// `MOZ_LOG=signaling:4,mtransport:4` on the test command logs its ICE there.
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port();
        let mut command = Command::new("geckodriver");
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(log_file("geckodriver")?)
            .stderr(log_file("geckodriver")?);
        let mut child = GroupChild::spawn(&mut command)
            .context("starting geckodriver (cargo install geckodriver; scripts/test does)")?;
        wait_for_port(port, "geckodriver", &mut child).await?;
        Ok(Self {
            port,
            _child: child,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
