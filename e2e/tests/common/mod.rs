//! Helpers shared by the controls, screen-share and device tests: a connected call, the offers a page
//! made, what its video sender carries and what the other side receives.

#![allow(dead_code)] // Each test file uses its own subset.

use e2e::{Browser, BrowserOptions, Probe, Stack, connect, join_both, wait_media_flowing};
use serde::Deserialize;

/// Two people in a connected call with media flowing, each watched by a probe (installed
/// before the pages load), their browsers started with `flags` beyond the usual ones.
pub async fn call(stack: &Stack, flags: &[&str]) -> anyhow::Result<(Browser, Browser)> {
    let alice = stack
        .browser_with_flags(BrowserOptions::default(), flags)
        .await?;
    let bob = stack
        .browser_with_flags(BrowserOptions::default(), flags)
        .await?;
    for person in [&alice, &bob] {
        Probe::install(person).await?;
    }
    join_both([&alice, &bob], &stack.new_room_url()).await?;
    connect(&alice, &bob).await?;
    wait_media_flowing(&alice, &bob).await?;
    Ok((alice, bob))
}

/// The track on this page's sender of `kind`, as `getSettings()` and the track say.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SentTrack {
    pub label: String,
    pub ready_state: String,
    pub enabled: bool,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub device_id: Option<String>,
}

/// What this page's `kind` sender carries now (`None`: no track, e.g. the camera is off).
pub async fn sent(person: &Browser, kind: &str) -> anyhow::Result<Option<SentTrack>> {
    let script = format!(
        "const pc = window.__peerConnection; if (!pc) return null;
         const t = pc.getTransceivers().find(t => t.receiver.track.kind === '{kind}');
         const track = t && t.sender.track; if (!track) return null;
         const s = track.getSettings();
         return {{ label: track.label, readyState: track.readyState, enabled: track.enabled,
                   width: s.width || null, height: s.height || null, deviceId: s.deviceId || null }};"
    );
    Ok(serde_json::from_value(person.eval(&script).await?)?)
}

/// The size of the video frames this page receives (`inbound-rtp` `frameWidth` ×
/// `frameHeight`), `(0, 0)` before the first.
pub async fn received_size(person: &Browser) -> anyhow::Result<(u64, u64)> {
    let value = person
        .eval(
            "const s = await window.__peerConnection.getStats(); let size = [0, 0];
             s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video')
               size = [r.frameWidth || 0, r.frameHeight || 0]; });
             return size;",
        )
        .await?;
    Ok((
        value[0].as_u64().unwrap_or_default(),
        value[1].as_u64().unwrap_or_default(),
    ))
}

/// Waits until `person` receives frames of exactly `size`.
pub async fn wait_received_size(
    person: &Browser,
    size: (u64, u64),
    what: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + e2e::PATIENCE;
    loop {
        let now = received_size(person).await?;
        if now == size {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{}: {what}: frames of {size:?} never arrived (last {now:?})\n{}",
            person.name,
            person.diagnostics().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `return` of whether the element with this id has `aria-pressed` = `value`.
pub fn pressed(id: &str, value: bool) -> String {
    format!(
        "const e = document.getElementById('{id}'); return !!e && e.getAttribute('aria-pressed') === '{value}';"
    )
}
