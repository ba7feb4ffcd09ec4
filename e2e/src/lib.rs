//! End-to-end harness: the real backend serving the real release build, coturn, the Twilio
//! stand-in, chromedriver and independent headless Chromiums with fake camera and microphone,
//! and headless Firefox ESRs through geckodriver for the calls between the two engines.
//!
//! Driven from Rust with thirtyfour over chromedriver (Debian's `chromium-driver`): the tests
//! stay in the workspace's language and `cargo test`, need no Node toolchain, and WebDriver's
//! "execute script" awaits promises, which is all `getStats()` needs. (chromiumoxide would give
//! CDP, but its generated protocol crate costs minutes of compile time on these 2-core machines
//! for nothing these tests use.)
//!
//! Everything here must run inside a network namespace that has only `lo` (the README's test
//! command does `unshare --net`): [`Stack::start`] refuses to run anywhere else, so no browser
//! ever reaches a real network.

pub mod browser;
pub mod call;
pub mod chat;
pub mod cpu;
pub mod default_route;
pub mod figures;
pub mod frames;
pub mod group;
pub mod http;
pub mod media;
pub mod mesh;
pub mod mitm;
pub mod network;
pub mod page_load;
pub mod probe;
pub mod process;
pub mod reference;
pub mod timeline;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};

pub use browser::{Browser, BrowserOptions, CallStats};
pub use call::{connect, connected_call, join_both};
pub use default_route::DefaultRoute;
pub use figures::{load_average, median};
pub use frames::{FrameGaps, FrameWatch};
pub use media::{MIN_ENERGY_RISE, wait_media_flowing};
pub use mitm::SignallingMitm;
pub use network::UdpBlackhole;
pub use probe::{Probe, ProbeReport, offer_counts, offers};
pub use process::{Backend, Chromedriver, Coturn, Geckodriver, Redis, Signal, TwilioProcess};

/// How long any awaited condition in a browser may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ lives in the workspace")
        .to_owned()
}

/// Where screenshots and logs of the runs go (`artifacts/e2e`, ignored by git).
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("artifacts").join("e2e");
    std::fs::create_dir_all(&dir).expect("create artifacts dir");
    dir
}

/// A free TCP port on loopback (released before use; fine within one namespace).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind loopback")
        .port()
}

/// Fails unless this process is in a network namespace whose only interface is loopback.
pub fn ensure_loopback_only() -> anyhow::Result<()> {
    // /proc/self/net/dev belongs to this process's namespace (/sys/class/net would show the
    // namespace that mounted /sys).
    let interfaces: Vec<String> = std::fs::read_to_string("/proc/self/net/dev")
        .context("listing network interfaces")?
        .lines()
        .skip(2)
        .filter_map(|line| Some(line.split(':').next()?.trim().to_owned()))
        .collect();
    if interfaces != ["lo"] {
        bail!(
            "end-to-end tests must run in a loopback-only network namespace (found {interfaces:?}); \
             run them through scripts/test, or: unshare --net sh -c 'ip link set lo up; cargo test -p e2e'"
        );
    }
    Ok(())
}

/// What a test wants running behind the page.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Backend arguments beyond the listener and static dir.
    pub backend_args: Vec<String>,
    /// Start coturn with a fresh shared secret.
    pub coturn: bool,
    /// Start the Twilio stand-in, handing out the coturn's TURN URL with real credentials.
    pub twilio: bool,
    /// With `twilio`: the stand-in answers each token request this many milliseconds late
    /// (its `--delay-ms`; 0 answers at once).
    pub twilio_delay_ms: u64,
    /// Only relayed candidates (`--ice-transport-policy relay`).
    pub relay_only: bool,
    /// Two backend instances sharing presence through a fresh `redis-server`.
    pub two_instances_on_redis: bool,
    /// Firefox will join: the namespace gets a default route while the stack lives
    /// ([`DefaultRoute`]), without which Firefox gathers no ICE candidate.
    pub firefox: bool,
}

/// Everything a call needs. Dropping it (at the end of a test, or while a failed test unwinds)
/// kills each process's group: chromedriver's takes every Chromium it started with it.
pub struct Stack {
    pub backend: Backend,
    /// The backend's arguments, to start it again after [`Stack::stop_backend`].
    pub backend_args: Vec<String>,
    /// The second instance, with [`StackOptions::two_instances_on_redis`].
    pub second_backend: Option<Backend>,
    pub redis: Option<Redis>,
    pub coturn: Option<Coturn>,
    pub twilio: Option<TwilioProcess>,
    pub chromedriver: Chromedriver,
    /// With [`StackOptions::firefox`]; removed after the processes above are gone.
    pub default_route: Option<DefaultRoute>,
    /// Profiles, configs; removed on drop, after the processes using them (fields drop in
    /// declaration order).
    pub scratch: tempfile::TempDir,
}

impl Stack {
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        ensure_loopback_only()?;
        let scratch = tempfile::tempdir()?;
        let coturn = if options.coturn || options.twilio {
            Some(Coturn::start(scratch.path()).await?)
        } else {
            None
        };
        let mut args = options.backend_args.clone();
        if options.relay_only {
            args.extend(["--ice-transport-policy".into(), "relay".into()]);
        }
        let twilio = match (&coturn, options.twilio) {
            (Some(turn), true) => {
                let twilio = TwilioProcess::start(turn, options.twilio_delay_ms).await?;
                args.extend([
                    "--twilio-account-sid".into(),
                    twilio.account_sid.clone(),
                    "--twilio-auth-token".into(),
                    twilio.auth_token.clone(),
                    "--twilio-base-url".into(),
                    twilio.base_url(),
                ]);
                Some(twilio)
            }
            _ => None,
        };
        if let (Some(turn), None) = (&coturn, &twilio) {
            args.extend([
                "--turn-urls".into(),
                turn.turn_url(),
                "--turn-secret".into(),
                turn.secret.clone(),
                "--ice-urls".into(),
                turn.stun_url(),
            ]);
        }
        let redis = if options.two_instances_on_redis {
            let redis = Redis::start(scratch.path()).await?;
            args.extend(["--redis-url".into(), redis.url()]);
            Some(redis)
        } else {
            None
        };
        let backend = Backend::start(&args).await?;
        let second_backend = match redis {
            Some(_) => Some(Backend::start(&args).await?),
            None => None,
        };
        let chromedriver = Chromedriver::start().await?;
        let default_route = if options.firefox {
            Some(DefaultRoute::add()?)
        } else {
            None
        };
        Ok(Self {
            backend,
            backend_args: args,
            second_backend,
            redis,
            coturn,
            twilio,
            chromedriver,
            default_route,
            scratch,
        })
    }

    /// Stops the backend with `signal` (SIGKILL: a crash; SIGTERM: a graceful shutdown) and
    /// waits until it has exited.
    pub async fn stop_backend(&mut self, signal: process::Signal) -> anyhow::Result<()> {
        self.backend.stop(signal, Duration::from_secs(30)).await
    }

    /// Starts the backend again on the same port, with the same arguments (the same
    /// `--resume-key` if one was given; otherwise it draws a new random key).
    pub async fn restart_backend(&mut self) -> anyhow::Result<()> {
        self.backend = Backend::start_on(self.backend.port, &self.backend_args).await?;
        Ok(())
    }

    /// A new, independent browser (own process, own profile).
    pub async fn browser(&self, options: BrowserOptions) -> anyhow::Result<Browser> {
        Browser::launch(&self.chromedriver, self.scratch.path(), options).await
    }

    /// A new browser with more Chromium flags (see [`Browser::launch_with_flags`]).
    pub async fn browser_with_flags(
        &self,
        options: BrowserOptions,
        flags: &[&str],
    ) -> anyhow::Result<Browser> {
        Browser::launch_with_flags(&self.chromedriver, self.scratch.path(), options, flags).await
    }

    /// A new Firefox (own geckodriver, own process, own profile; see
    /// [`Browser::launch_firefox`]). Needs [`StackOptions::firefox`].
    pub async fn firefox(&self) -> anyhow::Result<Browser> {
        anyhow::ensure!(
            self.default_route.is_some(),
            "Firefox gathers no ICE candidate without a default route: start the stack with \
             StackOptions {{ firefox: true, .. }}"
        );
        Browser::launch_firefox(self.scratch.path()).await
    }

    /// `http://localhost:<port>/room/<a fresh random name>`.
    pub fn new_room_url(&self) -> String {
        format!("{}{}", self.backend.origin(), new_room_path())
    }
}

/// `/room/<a fresh random name>`.
pub fn new_room_path() -> String {
    format!(
        "/room/e2e-{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}
