//! One headless browser driven over WebDriver — Chromium through chromedriver, or Firefox
//! through a geckodriver of its own — with the page's contract (ids, `data-state`,
//! `window.__peerConnection`) wrapped in typed helpers.

use std::{path::Path, time::Duration};

use anyhow::{Context, bail};
use serde::Deserialize;
use thirtyfour::{
    ChromiumLikeCapabilities, DesiredCapabilities, WebDriver,
    common::capabilities::firefox::FirefoxPreferences, extensions::cdp::ChromeDevTools, prelude::*,
};

use crate::{
    PATIENCE, artifacts_dir,
    process::{Chromedriver, Geckodriver},
};

/// How a browser is started.
#[derive(Debug, Clone, Copy)]
pub struct BrowserOptions {
    /// Grant camera and microphone (fake devices) without a prompt; `false` denies them.
    pub allow_media: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self { allow_media: true }
    }
}

/// The flags of ../shared/TOOLCHAIN.md for a real call with fake devices on loopback.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1000,760",
];

/// Firefox's preferences for a real call with fake devices on loopback (../shared/TOOLCHAIN.md):
/// fake camera and microphone, granted without a prompt, loopback and unobfuscated host
/// candidates (no mDNS names, which nothing resolves in the namespace), autoplay allowed.
const FIREFOX_PREFS: &[(&str, bool)] = &[
    ("media.navigator.streams.fake", true),
    ("media.navigator.permission.disabled", true),
    ("media.peerconnection.ice.loopback", true),
    ("media.peerconnection.ice.obfuscate_host_addresses", false),
];

/// `media.autoplay.default`: 0 allows audible autoplay, as Chromium's
/// `--autoplay-policy=no-user-gesture-required` does.
const FIREFOX_AUTOPLAY_ALLOWED: i32 = 0;

/// Where Debian's Firefox ESR is, found on `PATH` as `firefox-esr` (scripts/lib.sh installs it
/// by that command).
fn firefox_binary() -> anyhow::Result<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("firefox-esr"))
        .find(|path| path.is_file())
        .context("firefox-esr is not on PATH (apt-get install firefox-esr; scripts/test does)")
}

/// What `getStats()` and the remote `<video>` say about a call, from one side. The counters
/// are of what this side *received* (`inbound-rtp`), summed over streams of that kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    pub connection_state: Option<String>,
    pub video_packets_received: u64,
    pub video_bytes_received: u64,
    pub video_frames_decoded: u64,
    pub audio_packets_received: u64,
    pub audio_bytes_received: u64,
    /// Includes samples the jitter buffer made up (`concealed_samples`) when packets were late
    /// or missing, so it rises even when nothing arrives.
    pub audio_samples_received: u64,
    pub audio_concealed_samples: u64,
    /// `totalAudioEnergy`: rises only with sound (silence adds nothing).
    pub audio_energy: f64,
    pub local_candidate_type: Option<String>,
    pub remote_candidate_type: Option<String>,
    pub video_width: u32,
    pub remote_muted: Option<bool>,
    pub remote_paused: Option<bool>,
    pub live_remote_audio_tracks: u32,
}

const STATS_SCRIPT: &str = r#"
const pc = window.__peerConnection;
const video = document.getElementById('remote-video');
const out = {
  connectionState: pc ? pc.connectionState : null,
  videoPacketsReceived: 0, videoBytesReceived: 0, videoFramesDecoded: 0,
  audioPacketsReceived: 0, audioBytesReceived: 0, audioSamplesReceived: 0,
  audioConcealedSamples: 0, audioEnergy: 0,
  localCandidateType: null, remoteCandidateType: null,
  videoWidth: video ? video.videoWidth : 0,
  remoteMuted: video ? video.muted : null,
  remotePaused: video ? video.paused : null,
  liveRemoteAudioTracks: video && video.srcObject
    ? video.srcObject.getAudioTracks().filter(t => t.readyState === 'live' && t.enabled).length : 0,
};
if (!pc) return out;
const stats = await pc.getStats();
let pairId = null;
stats.forEach(r => {
  if (r.type === 'inbound-rtp' && r.kind === 'video') {
    out.videoPacketsReceived += r.packetsReceived || 0;
    out.videoBytesReceived += r.bytesReceived || 0;
    out.videoFramesDecoded += r.framesDecoded || 0;
  }
  if (r.type === 'inbound-rtp' && r.kind === 'audio') {
    out.audioPacketsReceived += r.packetsReceived || 0;
    out.audioBytesReceived += r.bytesReceived || 0;
    out.audioSamplesReceived += r.totalSamplesReceived || 0;
    out.audioConcealedSamples += r.concealedSamples || 0;
    out.audioEnergy += r.totalAudioEnergy || 0;
  }
  if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
});
// Firefox has no transport entry: its selected pair says so itself.
if (!pairId) stats.forEach(r => { if (r.type === 'candidate-pair' && r.selected) pairId = r.id; });
const pair = pairId && stats.get(pairId);
if (pair) {
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  out.localCandidateType = local ? local.candidateType : null;
  out.remoteCandidateType = remote ? remote.candidateType : null;
}
return out;
"#;

/// The peer connection's states, for failure messages.
const PEER_STATE: &str = r#"
const pc = window.__peerConnection;
return pc ? { signaling: pc.signalingState, ice: pc.iceConnectionState,
  connection: pc.connectionState, gathering: pc.iceGatheringState,
  transceivers: pc.getTransceivers().length,
  local: pc.localDescription && pc.localDescription.type,
  remote: pc.remoteDescription && pc.remoteDescription.type } : null;
"#;

/// Keeps console warnings and errors in `window.__consoleLog` (installed after each load).
const CAPTURE_CONSOLE: &str = r#"
window.__consoleLog = [];
for (const level of ['warn', 'error']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    window.__consoleLog.push(level + ': ' + args.map(a => (a && a.message) || String(a)).join(' '));
    original(...args);
  };
}
return true;
"#;

/// Wraps `RTCPeerConnection` to log its events and calls into `window.__consoleLog`
/// (with `E2E_TRACE_PEER=1`; off by default, as it shifts the timing it observes).
const TRACE_PEER: &str = r#"
const Native = window.RTCPeerConnection;
const t0 = performance.now();
const log = (msg) => window.__consoleLog.push(`pc ${Math.round(performance.now() - t0)}ms ${msg}`);
window.RTCPeerConnection = class extends Native {
  constructor(...args) {
    super(...args);
    log('new');
    this.addEventListener('icecandidate', e => log('icecandidate ' + (e.candidate ? e.candidate.candidate.slice(0, 60) : 'null')));
    this.addEventListener('icegatheringstatechange', () => log('gathering ' + this.iceGatheringState));
    this.addEventListener('signalingstatechange', () => log('signaling ' + this.signalingState));
    this.addEventListener('iceconnectionstatechange', () => log('ice ' + this.iceConnectionState));
    this.addEventListener('negotiationneeded', () => log('negotiationneeded'));
    for (const name of ['setLocalDescription', 'setRemoteDescription', 'addIceCandidate', 'restartIce', 'close']) {
      const original = this[name].bind(this);
      this[name] = (...a) => {
        const what = a[0] ? (a[0].type || (a[0].candidate !== undefined ? 'cand ' + String(a[0].candidate).slice(0, 40) : '')) : '';
        log(`${name}(${what})`);
        const r = original(...a);
        if (r && r.then) r.then(() => log(`${name} ok`), err => log(`${name} failed ${err}`));
        return r;
      };
    }
  }
};
return true;
"#;

/// A browser with one page.
pub struct Browser {
    pub driver: WebDriver,
    pub name: String,
    /// Its own profile directory (under the stack's scratch directory): the browser's process
    /// is the one started with it (`crate::cpu`).
    pub profile: std::path::PathBuf,
    /// Firefox's own geckodriver, ended (with Firefox, its process group) after `driver` has
    /// closed the session: fields drop in declaration order.
    _geckodriver: Option<Geckodriver>,
}

impl Browser {
    pub async fn launch(
        chromedriver: &Chromedriver,
        scratch: &Path,
        options: BrowserOptions,
    ) -> anyhow::Result<Self> {
        Self::launch_with_flags(chromedriver, scratch, options, &[]).await
    }

    /// Like [`Browser::launch`], with more Chromium flags after the usual ones (a later flag
    /// wins over an earlier one of the same name, e.g.
    /// `--use-fake-device-for-media-stream=device-count=2`).
    pub async fn launch_with_flags(
        chromedriver: &Chromedriver,
        scratch: &Path,
        options: BrowserOptions,
        flags: &[&str],
    ) -> anyhow::Result<Self> {
        let name = format!("browser-{:08x}", rand::random::<u32>());
        let profile = scratch.join(&name);
        std::fs::create_dir_all(&profile)?;
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium")?;
        for flag in FLAGS {
            caps.add_arg(flag)?;
        }
        if options.allow_media {
            caps.add_arg("--use-fake-ui-for-media-stream")?;
        } else {
            // Headless Chromium has no prompt to show: this answers every prompt with "Block".
            caps.add_arg("--deny-permission-prompts")?;
        }
        for flag in flags {
            caps.add_arg(flag)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))?;
        let driver = WebDriver::new(chromedriver.url(), caps)
            .await
            .context("starting Chromium through chromedriver")?;
        Ok(Self {
            driver,
            name,
            profile,
            _geckodriver: None,
        })
    }

    /// A headless Firefox ESR through a geckodriver of its own, with a fresh profile under
    /// `scratch`, fake camera and microphone granted without a prompt. It gathers ICE
    /// candidates only while the namespace has a default route (`crate::default_route`).
    pub async fn launch_firefox(scratch: &Path) -> anyhow::Result<Self> {
        let name = format!("firefox-{:08x}", rand::random::<u32>());
        let profile = scratch.join(&name);
        std::fs::create_dir_all(&profile)?;
        let mut caps = DesiredCapabilities::firefox();
        caps.set_firefox_binary(&firefox_binary()?.to_string_lossy())?;
        caps.set_headless()?;
        caps.add_arg("-profile")?;
        caps.add_arg(&profile.to_string_lossy())?;
        let mut prefs = FirefoxPreferences::new();
        for (pref, value) in FIREFOX_PREFS {
            prefs.set(pref, *value)?;
        }
        prefs.set("media.autoplay.default", FIREFOX_AUTOPLAY_ALLOWED)?;
        caps.set_preferences(prefs)?;
        let geckodriver = Geckodriver::start().await?;
        let driver = WebDriver::new(geckodriver.url(), caps)
            .await
            .context("starting Firefox through geckodriver (see artifacts/e2e/geckodriver.log)")?;
        Ok(Self {
            driver,
            name,
            profile,
            _geckodriver: Some(geckodriver),
        })
    }

    /// Opens `url`, and keeps the page's console warnings and errors for failure messages.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.driver.goto(url).await?;
        self.eval(CAPTURE_CONSOLE).await?;
        if std::env::var_os("E2E_TRACE_PEER").is_some() {
            self.eval(TRACE_PEER).await?;
        }
        Ok(())
    }

    /// The page's peer-connection states and captured console warnings, for failure messages.
    pub async fn diagnostics(&self) -> String {
        let peer = self.eval(PEER_STATE).await.unwrap_or_default();
        let console = self
            .eval("return window.__consoleLog || [];")
            .await
            .unwrap_or_default();
        format!("{}: peer {peer}; console {console}", self.name)
    }

    /// Waits until the element with this id exists and is enabled.
    pub async fn wait_enabled(&self, id: &str) -> anyhow::Result<()> {
        self.wait_for(
            &format!("const e = document.getElementById('{id}'); return !!e && !e.disabled;"),
            &format!("#{id} enabled"),
        )
        .await
    }

    /// Opens `room` and presses Get Video, until this person sees their own preview.
    pub async fn join_with_video(&self, room: &str) -> anyhow::Result<()> {
        self.goto(room).await?;
        self.click("get-video").await?;
        self.wait_for(
            "const v = document.getElementById('local-video'); return !!v && v.videoWidth > 0;",
            "local preview",
        )
        .await
    }

    /// Clicks the element with this id once it exists and is enabled.
    pub async fn click(&self, id: &str) -> anyhow::Result<()> {
        self.wait_enabled(id).await?;
        self.driver.find(By::Id(id)).await?.click().await?;
        Ok(())
    }

    /// Runs `script` (a function body; may `await`) and returns its JSON result.
    pub async fn eval(&self, script: &str) -> anyhow::Result<serde_json::Value> {
        let wrapped = format!("return (async () => {{ {script} }})();");
        Ok(self
            .driver
            .execute(wrapped, Vec::new())
            .await?
            .json()
            .clone())
    }

    /// Polls `condition` (a function body returning a boolean) until true; on timeout saves a
    /// screenshot and fails with the page's status line.
    pub async fn wait_for(&self, condition: &str, what: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.eval(condition).await?.as_bool() == Some(true) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let status = self.status_text().await.unwrap_or_default();
                let diagnostics = self.diagnostics().await;
                let _ = self.screenshot(&format!("timeout-{}", self.name)).await;
                bail!("waited {PATIENCE:?} for {what}; status: {status:?}; {diagnostics}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `#status[data-state]`.
    pub async fn state(&self) -> anyhow::Result<Option<String>> {
        let value = self
            .eval("const s = document.getElementById('status'); return s ? s.dataset.state : null;")
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    pub async fn status_text(&self) -> anyhow::Result<String> {
        let value = self
            .eval("const s = document.getElementById('status'); return s ? s.innerText : '';")
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until `#status[data-state]` is `state`.
    pub async fn wait_state(&self, state: &str) -> anyhow::Result<()> {
        self.wait_for(
            &format!(
                "const s = document.getElementById('status'); return !!s && s.dataset.state === '{state}';"
            ),
            &format!("state {state}"),
        )
        .await
    }

    /// Waits until the page shows `text` somewhere.
    pub async fn wait_text(&self, text: &str) -> anyhow::Result<()> {
        let literal = serde_json::to_string(text)?;
        self.wait_for(
            &format!("return document.body.innerText.includes({literal});"),
            &format!("text {text:?}"),
        )
        .await
    }

    pub async fn stats(&self) -> anyhow::Result<CallStats> {
        Ok(serde_json::from_value(self.eval(STATS_SCRIPT).await?)?)
    }

    /// Saves a PNG of the page as `artifacts/e2e/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        let path = artifacts_dir().join(format!("{name}.png"));
        self.driver.screenshot(&path).await?;
        Ok(path)
    }

    /// Makes the page's viewport `width`×`height` CSS pixels; `phone` also turns on touch and
    /// the mobile viewport (Chromium's device emulation, as its DevTools do).
    pub async fn emulate_viewport(
        &self,
        width: u32,
        height: u32,
        phone: bool,
    ) -> anyhow::Result<()> {
        let devtools = ChromeDevTools::new(self.driver.handle.clone());
        devtools
            .execute_cdp_with_params(
                "Emulation.setDeviceMetricsOverride",
                serde_json::json!({
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone,
                }),
            )
            .await?;
        devtools
            .execute_cdp_with_params(
                "Emulation.setTouchEmulationEnabled",
                if phone {
                    serde_json::json!({ "enabled": true, "maxTouchPoints": 5 })
                } else {
                    serde_json::json!({ "enabled": false })
                },
            )
            .await?;
        Ok(())
    }

    /// Closes the browser (like closing the tab and the window).
    pub async fn quit(self) -> anyhow::Result<()> {
        self.driver.quit().await?;
        Ok(())
    }
}
