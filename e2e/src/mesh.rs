//! Calls of more than two people (a full mesh: one `RTCPeerConnection` per pair), seen from one
//! page: its own peer id, each call's connection and counters (`window.__peerConnections`, a map
//! from the other person's peer id to the connection of the call with them), the tiles of
//! `#remote-tiles`, and what its senders are allowed to send.
//!
//! [`wait_mesh_connected`] and [`wait_mesh_flowing`] are the group tests' proof that everybody
//! is connected to everybody, and that audio and video flow on every one of those calls, in
//! both directions. They judge nothing about layout or looks.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{Browser, MIN_ENERGY_RISE, PATIENCE};

/// What one page's call with one other person says: its states and what it received.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeerCall {
    pub connection_state: String,
    pub signaling_state: String,
    pub video_packets_received: u64,
    pub video_frames_decoded: u64,
    pub audio_packets_received: u64,
    /// Includes samples the jitter buffer made up (`concealed`).
    pub audio_samples_received: u64,
    pub audio_concealed_samples: u64,
    /// `totalAudioEnergy`: rises only with sound.
    pub audio_energy: f64,
    /// `frameWidth` of the inbound video (0 before the first frame).
    pub frame_width: u64,
}

/// Every call of the page by the other person's peer id (`window.__peerConnections`), with its
/// inbound counters from that connection's own `getStats()`.
const CALLS: &str = r#"
const calls = window.__peerConnections || {};
const out = {};
for (const [peer, pc] of Object.entries(calls)) {
  const call = { connectionState: pc.connectionState, signalingState: pc.signalingState,
    videoPacketsReceived: 0, videoFramesDecoded: 0, audioPacketsReceived: 0,
    audioSamplesReceived: 0, audioConcealedSamples: 0, audioEnergy: 0, frameWidth: 0 };
  const stats = await pc.getStats();
  stats.forEach(r => {
    if (r.type !== 'inbound-rtp') return;
    if (r.kind === 'video') {
      call.videoPacketsReceived += r.packetsReceived || 0;
      call.videoFramesDecoded += r.framesDecoded || 0;
      call.frameWidth = Math.max(call.frameWidth, r.frameWidth || 0);
    } else if (r.kind === 'audio') {
      call.audioPacketsReceived += r.packetsReceived || 0;
      call.audioSamplesReceived += r.totalSamplesReceived || 0;
      call.audioConcealedSamples += r.concealedSamples || 0;
      call.audioEnergy += r.totalAudioEnergy || 0;
    }
  });
  out[peer] = call;
}
return out;
"#;

/// The page's calls, by the other person's peer id.
pub async fn calls(person: &Browser) -> anyhow::Result<BTreeMap<String, PeerCall>> {
    let value = person.eval(CALLS).await?;
    serde_json::from_value(value.clone())
        .with_context(|| format!("{}: unexpected calls {value}", person.name))
}

/// The page's own peer id (`window.__peerId`, from its last `joined`).
pub async fn peer_id(person: &Browser) -> anyhow::Result<String> {
    person
        .wait_for("return typeof window.__peerId === 'string';", "a peer id")
        .await?;
    let id = person.eval("return window.__peerId;").await?;
    id.as_str()
        .map(str::to_owned)
        .context("the page has no peer id (built without test-hooks?)")
}

/// One `figure.tile` of `#remote-tiles`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    /// `data-peer`.
    pub peer: String,
    /// `data-state`: calling, connected, reconnecting or failed.
    pub state: String,
    /// `data-peer` of the tile's `video.remote` (must be the tile's).
    pub video_peer: Option<String>,
}

/// What `#remote-tiles` holds.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Tiles {
    /// `#remote-tiles[data-count]`, parsed.
    pub count: Option<usize>,
    /// Its tiles, sorted by peer id.
    pub tiles: Vec<Tile>,
}

const TILES: &str = r#"
const grid = document.getElementById('remote-tiles');
if (!grid) return { count: null, tiles: [] };
const tiles = [...grid.querySelectorAll('figure.tile')].map(t => {
  const video = t.querySelector('video.remote');
  return { peer: t.dataset.peer || '', state: t.dataset.state || '',
    videoPeer: video ? (video.dataset.peer || null) : null };
});
const count = parseInt(grid.dataset.count, 10);
return { count: Number.isNaN(count) ? null : count, tiles };
"#;

/// The tiles the page shows.
pub async fn tiles(person: &Browser) -> anyhow::Result<Tiles> {
    let mut tiles: Tiles = serde_json::from_value(person.eval(TILES).await?)?;
    tiles.tiles.sort();
    Ok(tiles)
}

/// Whether `person` shows exactly one connected tile per peer of `others` and nothing else,
/// and has exactly one connected, stable call with each of them.
async fn connected_to_exactly(person: &Browser, others: &[String]) -> anyhow::Result<bool> {
    let calls = calls(person).await?;
    let ids: Vec<&String> = calls.keys().collect();
    let expected: Vec<&String> = {
        let mut sorted: Vec<&String> = others.iter().collect();
        sorted.sort();
        sorted
    };
    if ids != expected
        || calls
            .values()
            .any(|call| call.connection_state != "connected" || call.signaling_state != "stable")
    {
        return Ok(false);
    }
    let shown = tiles(person).await?;
    let want: Vec<Tile> = expected
        .iter()
        .map(|peer| Tile {
            peer: (*peer).clone(),
            state: "connected".into(),
            video_peer: Some((*peer).clone()),
        })
        .collect();
    Ok(shown.count == Some(others.len()) && shown.tiles == want)
}

/// Waits until each page of `people` (with its peer id) has exactly one connected call with
/// each of the others, stable (no negotiation half done), and shows exactly one connected tile
/// for each of them — nobody else's, none missing. Fails with every page's calls and tiles.
pub async fn wait_mesh_connected(people: &[(&Browser, &str)]) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut all = true;
        for (person, id) in people {
            let others: Vec<String> = people
                .iter()
                .filter(|(_, other)| other != id)
                .map(|(_, other)| (*other).to_owned())
                .collect();
            if !connected_to_exactly(person, &others).await? {
                all = false;
                break;
            }
        }
        if all {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "not everybody was connected to everybody within {PATIENCE:?}:\n{}",
                describe(people).await
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Every page's id, calls, tiles, status and diagnostics, for failure messages.
pub async fn describe(people: &[(&Browser, &str)]) -> String {
    let mut out = String::new();
    for (person, id) in people {
        let calls = calls(person).await.map_or_else(
            |e| format!("error {e}"),
            |c| {
                c.iter()
                    .map(|(peer, call)| {
                        format!("{peer}: {}/{}", call.connection_state, call.signaling_state)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        let tiles = tiles(person)
            .await
            .map_or_else(|e| format!("error {e}"), |t| format!("{t:?}"));
        let status = person.status_text().await.unwrap_or_default();
        let _ = person.screenshot(&format!("mesh-{}", person.name)).await;
        out.push_str(&format!(
            "{} ({id}): status {status:?}; calls [{calls}]; tiles {tiles}\n  {}\n",
            person.name,
            person.diagnostics().await
        ));
    }
    out
}

/// Which counters of a call did not rise enough from `before` to `after`.
fn still(before: &PeerCall, after: &PeerCall) -> Vec<&'static str> {
    let received = |c: &PeerCall| {
        c.audio_samples_received
            .saturating_sub(c.audio_concealed_samples)
    };
    let mut still = Vec::new();
    if after.video_packets_received <= before.video_packets_received {
        still.push("video packets");
    }
    if after.video_frames_decoded <= before.video_frames_decoded {
        still.push("video frames decoded");
    }
    if after.audio_packets_received <= before.audio_packets_received {
        still.push("audio packets");
    }
    if received(after) <= received(before) {
        still.push("audio samples received, not concealed");
    }
    if after.audio_energy - before.audio_energy < MIN_ENERGY_RISE {
        still.push("audio energy");
    }
    still
}

/// Waits until, on every page of `people`, the call with each of the others receives rising
/// video (packets, frames decoded) and audio (packets, samples that were not concealed, energy:
/// the fake microphone's beeps) — media from everybody to everybody. A call missing counts as
/// nothing received. Returns each page's last calls.
pub async fn wait_mesh_flowing(
    people: &[(&Browser, &str)],
) -> anyhow::Result<Vec<BTreeMap<String, PeerCall>>> {
    let mut before = Vec::new();
    for (person, _) in people {
        before.push(calls(person).await?);
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut after = Vec::new();
        let mut missing = Vec::new();
        for (index, (person, id)) in people.iter().enumerate() {
            let now = calls(person).await?;
            for (_, other) in people.iter().filter(|(_, other)| other != id) {
                let none = PeerCall::default();
                let was = before[index].get(*other).unwrap_or(&none);
                let is = now.get(*other).unwrap_or(&none);
                let still = still(was, is);
                if !still.is_empty() {
                    missing.push(format!(
                        "{} ({id}) from {other}: no rising {still:?} ({was:?} → {is:?})",
                        person.name
                    ));
                }
            }
            after.push(now);
        }
        if missing.is_empty() {
            return Ok(after);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "media did not flow between everybody within {PATIENCE:?}:\n{}\n{}",
                missing.join("\n"),
                describe(people).await
            );
        }
    }
}

/// One sender of one call, as `getParameters().encodings[0]` says.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderLimit {
    /// The other person's peer id.
    pub peer: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `maxBitrate` in bit/s, if set.
    pub max_bitrate: Option<f64>,
    /// `scaleResolutionDownBy`, if set.
    pub scale_resolution_down_by: Option<f64>,
}

const SENDER_LIMITS: &str = r#"
const out = [];
for (const [peer, pc] of Object.entries(window.__peerConnections || {})) {
  for (const sender of pc.getSenders()) {
    if (!sender.track) continue;
    const encoding = (sender.getParameters().encodings || [])[0] || {};
    out.push({ peer, kind: sender.track.kind,
      maxBitrate: encoding.maxBitrate ?? null,
      scaleResolutionDownBy: encoding.scaleResolutionDownBy ?? null });
  }
}
return out;
"#;

/// Every sender with a track, in every call of the page.
pub async fn sender_limits(person: &Browser) -> anyhow::Result<Vec<SenderLimit>> {
    Ok(serde_json::from_value(person.eval(SENDER_LIMITS).await?)?)
}

/// What the page sent in all its calls together (`outbound-rtp` `bytesSent`, audio and video,
/// every call), in bytes, and when (`performance.now()`, ms): two readings give its upload rate.
const BYTES_SENT: &str = r#"
let bytes = 0;
for (const pc of Object.values(window.__peerConnections || {})) {
  const stats = await pc.getStats();
  stats.forEach(r => { if (r.type === 'outbound-rtp') bytes += r.bytesSent || 0; });
}
return [performance.now(), bytes];
"#;

/// The page's total upload over `window` (all calls, audio and video), in bit/s.
pub async fn upload_rate(person: &Browser, window: Duration) -> anyhow::Result<f64> {
    let reading = |value: serde_json::Value| -> anyhow::Result<(f64, f64)> {
        Ok((
            value[0].as_f64().context("a time")?,
            value[1].as_f64().context("a byte count")?,
        ))
    };
    let (t0, b0) = reading(person.eval(BYTES_SENT).await?)?;
    tokio::time::sleep(window).await;
    let (t1, b1) = reading(person.eval(BYTES_SENT).await?)?;
    Ok((b1 - b0) * 8.0 / ((t1 - t0) / 1000.0))
}
