//! ICE restarts without a click (issue 9), in real Chromium: a short network blip and a long
//! outage (every UDP packet dropped inside the test's namespace by iptables, the WebSocket over
//! TCP left up) heal by themselves, the page says what is happening meanwhile, and a restart
//! forced from the test keeps the call while it changes the ICE credentials on both sides.
//!
//! The figures printed (time from the network's return to both pages connected) belong in the
//! README's "What survives what" table.

use std::time::Duration;

use anyhow::Context;
use e2e::{
    Browser, PATIENCE, Stack, StackOptions, UdpBlackhole, connected_call, wait_media_flowing,
};
use regex::Regex;
use serde::Deserialize;
use tokio::time::{Instant, sleep};

/// The blip of the issue: shorter than the browser's own verdict of failure.
const BLIP: Duration = Duration::from_secs(8);
/// The issue's bound for a blip: connected again within this of the network's return.
const BLIP_HEALED_WITHIN: Duration = Duration::from_secs(5);
/// The long outage of the issue: past ICE `failed` (and the page's 20 s verdict).
const OUTAGE: Duration = Duration::from_secs(40);
/// How often the pages are looked at during a cut.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The ICE credentials in a page's current descriptions (`a=ice-ufrag`, `a=ice-pwd`; with
/// max-bundle every media section carries the same).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IceCredentials {
    local_ufrag: String,
    local_pwd: String,
    remote_ufrag: String,
    remote_pwd: String,
}

const CREDENTIALS: &str = r#"
const pc = window.__peerConnection;
if (!pc || !pc.localDescription || !pc.remoteDescription) return null;
const ufrag = d => (d.sdp.match(/^a=ice-ufrag:(\S+)\r?$/m) || [])[1] || null;
const pwd = d => (d.sdp.match(/^a=ice-pwd:(\S+)\r?$/m) || [])[1] || null;
return { localUfrag: ufrag(pc.localDescription), localPwd: pwd(pc.localDescription),
         remoteUfrag: ufrag(pc.remoteDescription), remotePwd: pwd(pc.remoteDescription) };
"#;

/// `person`'s ICE credentials now.
async fn credentials(person: &Browser) -> anyhow::Result<IceCredentials> {
    let value = person.eval(CREDENTIALS).await?;
    serde_json::from_value(value.clone()).with_context(|| {
        format!(
            "{}: no ICE credentials in the descriptions: {value}",
            person.name
        )
    })
}

/// Whether both pages run on new credentials, agreed between them: each side's local ufrag
/// and password differ from `before`, and each side's remote ones are the other's local ones.
fn renewed(before: &[IceCredentials; 2], now: &[IceCredentials; 2]) -> bool {
    let agreed = now[0].remote_ufrag == now[1].local_ufrag
        && now[0].remote_pwd == now[1].local_pwd
        && now[1].remote_ufrag == now[0].local_ufrag
        && now[1].remote_pwd == now[0].local_pwd;
    let fresh = (0..2).all(|side| {
        now[side].local_ufrag != before[side].local_ufrag
            && now[side].local_pwd != before[side].local_pwd
    });
    agreed && fresh
}

/// What `#status` said at one moment on one page.
#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    page: String,
    state: String,
    text: String,
    retry_shown: bool,
}

const STATUS: &str = r#"
const s = document.getElementById('status');
const retry = document.getElementById('retry-call');
return { state: s ? s.dataset.state : null, text: s ? s.innerText : '',
         retry: !!retry && !retry.hidden && retry.offsetParent !== null };
"#;

/// Looks at both pages every [`SAMPLE_EVERY`] from `start` until `until` has passed.
async fn watch(
    pages: [&Browser; 2],
    start: Instant,
    until: Duration,
) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    while start.elapsed() < until {
        for page in pages {
            let value = page.eval(STATUS).await?;
            samples.push(Sample {
                at: start.elapsed(),
                page: page.name.clone(),
                state: value["state"].as_str().unwrap_or_default().to_owned(),
                text: value["text"].as_str().unwrap_or_default().trim().to_owned(),
                retry_shown: value["retry"].as_bool().unwrap_or(false),
            });
        }
        sleep(SAMPLE_EVERY).await;
    }
    Ok(samples)
}

/// The seconds a "Reconnecting… N s" sentence shows, if `sample` is one.
fn reconnecting_seconds(sample: &Sample) -> Option<u64> {
    let pattern = Regex::new(r"^Reconnecting… (\d+) s$").expect("a valid pattern");
    let captures = pattern.captures(&sample.text)?;
    (sample.state == "reconnecting").then(|| captures[1].parse().ok())?
}

/// The seconds a lost-connection sentence shows, if `sample` is one.
fn failed_seconds(sample: &Sample) -> Option<u64> {
    let pattern = Regex::new(
        r"^The connection was lost\. Reconnecting automatically… (\d+) s — or press Retry\.$",
    )
    .expect("a valid pattern");
    let captures = pattern.captures(&sample.text)?;
    (sample.state == "failed").then(|| captures[1].parse().ok())?
}

/// The samples of one page.
fn of<'a>(samples: &'a [Sample], page: &'a Browser) -> impl Iterator<Item = &'a Sample> {
    samples
        .iter()
        .filter(move |sample| sample.page == page.name)
}

/// Waits until both pages say `connected`; returns how long after `since` that was.
async fn both_connected(pages: [&Browser; 2], since: Instant) -> anyhow::Result<Duration> {
    let deadline = Instant::now() + PATIENCE + OUTAGE;
    loop {
        let mut all = true;
        for page in pages {
            all &= page.state().await?.as_deref() == Some("connected");
        }
        if all {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            let mut report = String::new();
            for page in pages {
                let _ = page.screenshot(&format!("ice-restart-{}", page.name)).await;
                report.push_str(&format!(
                    "\n{:?} — {}",
                    page.status_text().await.unwrap_or_default(),
                    page.diagnostics().await
                ));
            }
            anyhow::bail!(
                "not connected again {:?} after the network came back:{report}",
                since.elapsed()
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// Records the page's `iceConnectionState` changes from now on, with `performance.now()`.
const LOG_ICE: &str = r#"
const pc = window.__peerConnection; window.__iceLog = [];
pc.addEventListener('iceconnectionstatechange',
  () => window.__iceLog.push([performance.now(), pc.iceConnectionState]));
return true;
"#;

/// How long (ms, on the page's clock) ICE has been `disconnected` or `failed` without a
/// `connected` since, per the log of [`LOG_ICE`]; 0 if it is not.
const DOWN_FOR: &str = r#"
let since = null;
for (const [t, state] of window.__iceLog) {
  if (state === 'disconnected' || state === 'failed') { if (since === null) since = t; }
  else if (state === 'connected' || state === 'completed') since = null;
}
return since === null ? 0 : performance.now() - since;
"#;

/// A network blip (all UDP dropped for 8 s mid-call): both pages say "Reconnecting… N s",
/// counting, while it lasts; the call is connected again within 5 s of the network's return,
/// without a click; when both pages had been `disconnected` for more than 3.5 s at the return
/// (the 3 s rule plus a tick), the call got there through an ICE restart (new credentials on
/// both sides); and media flows again both ways.
///
/// Chromium's own checks heal an 8 s blip too once the network is back, so the time bound alone
/// does not need the restarts: the restart is asserted whenever the 3 s rule applied.
#[tokio::test]
async fn a_network_blip_heals_without_a_click() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    wait_media_flowing(&alice, &bob).await?;
    let before = [credentials(&alice).await?, credentials(&bob).await?];

    for page in [&alice, &bob] {
        page.eval(LOG_ICE).await?;
    }
    let cut = UdpBlackhole::start()?;
    let start = Instant::now();
    let samples = watch([&alice, &bob], start, BLIP).await?;
    let down_ms = [
        alice.eval(DOWN_FOR).await?.as_f64().unwrap_or(0.0),
        bob.eval(DOWN_FOR).await?.as_f64().unwrap_or(0.0),
    ];
    cut.lift()?;
    let back = Instant::now();
    let took = both_connected([&alice, &bob], back).await?;
    eprintln!(
        "FIGURE network blip of {BLIP:?}: both pages connected {:.1} s after the network came back",
        took.as_secs_f64()
    );

    let mut longest = 0;
    for (page, down) in [&alice, &bob].into_iter().zip(down_ms) {
        let seconds: Vec<u64> = of(&samples, page)
            .filter_map(reconnecting_seconds)
            .collect();
        anyhow::ensure!(
            !seconds.is_empty(),
            "{} never said \"Reconnecting… N s\" during the blip: {samples:#?}",
            page.name
        );
        anyhow::ensure!(
            seconds.windows(2).all(|pair| pair[0] <= pair[1]),
            "{}: the seconds shown must never go back: {seconds:?}",
            page.name
        );
        // Chromium reports `disconnected` anywhere from 2 to 6 s into the blip: the counter can
        // only be seen counting when it ran for a while before the network came back.
        if down > 2_500.0 {
            anyhow::ensure!(
                seconds.first() < seconds.last(),
                "{}: disconnected for {down:.0} ms, but the seconds shown never counted up: \
                 {seconds:?}",
                page.name
            );
        }
        longest = longest.max(*seconds.last().expect("not empty"));
    }
    assert!(
        took <= BLIP_HEALED_WITHIN,
        "connected again {took:?} after the network's return (at most {BLIP_HEALED_WITHIN:?})"
    );
    let after = [credentials(&alice).await?, credentials(&bob).await?];
    let restarted = renewed(&before, &after);
    eprintln!(
        "ICE disconnected for {down_ms:.0?} ms at the network's return; \
         longest \"Reconnecting…\" shown: {longest} s; ICE restarted: {restarted}"
    );
    if down_ms.iter().all(|&ms| ms > 3_500.0) {
        assert!(
            restarted,
            "disconnected for {down_ms:.0?} ms (> 3 s) on both sides: ICE must have been \
             restarted: {before:?} → {after:?}"
        );
    }
    wait_media_flowing(&alice, &bob).await?;
    Ok(())
}

/// A long outage (all UDP dropped for 40 s, past ICE `failed`): both pages say
/// "Reconnecting… N s" at first, then that the connection was lost and reconnecting goes on
/// automatically, with the seconds and the Retry button shown; once the network is back the
/// call connects again by itself through an automatic ICE restart (new credentials on both
/// sides), and video decodes again both ways.
#[tokio::test]
async fn a_long_outage_recovers_through_an_automatic_ice_restart() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    wait_media_flowing(&alice, &bob).await?;
    let before = [credentials(&alice).await?, credentials(&bob).await?];

    let cut = UdpBlackhole::start()?;
    let start = Instant::now();
    let samples = watch([&alice, &bob], start, OUTAGE).await?;
    let last = [alice.eval(STATUS).await?, bob.eval(STATUS).await?];
    cut.lift()?;
    let back = Instant::now();
    let took = both_connected([&alice, &bob], back).await?;
    eprintln!(
        "FIGURE outage of {OUTAGE:?}: both pages connected {:.1} s after the network came back",
        took.as_secs_f64()
    );

    for (page, last) in [&alice, &bob].into_iter().zip(last) {
        let reconnecting: Vec<u64> = of(&samples, page)
            .filter_map(reconnecting_seconds)
            .collect();
        anyhow::ensure!(
            reconnecting.len() >= 2 && reconnecting.first() < reconnecting.last(),
            "{} must say \"Reconnecting… N s\", counting, at first: {samples:#?}",
            page.name
        );
        let failed: Vec<&Sample> = of(&samples, page)
            .filter(|sample| failed_seconds(sample).is_some())
            .collect();
        anyhow::ensure!(
            !failed.is_empty(),
            "{} never said the connection was lost during the outage: {samples:#?}",
            page.name
        );
        assert!(
            failed.iter().all(|sample| sample.retry_shown),
            "{}: #retry-call stays visible while the call is lost: {failed:#?}",
            page.name
        );
        // Once lost, always lost until the network returns: the automatic restarts do not make
        // the status flicker back to "calling" or "reconnecting".
        let first_failed = failed[0].at;
        let flicker: Vec<&Sample> = of(&samples, page)
            .filter(|sample| sample.at > first_failed && failed_seconds(sample).is_none())
            .collect();
        assert!(
            flicker.is_empty(),
            "{}: left the lost-connection sentence during the outage: {flicker:#?}",
            page.name
        );
        let last_seconds = failed.last().and_then(|sample| failed_seconds(sample));
        assert!(
            last_seconds.is_some_and(|seconds| seconds >= 30),
            "{}: the seconds must reach the outage's length: {last_seconds:?}; at the end: {last}",
            page.name
        );
    }

    let after = [credentials(&alice).await?, credentials(&bob).await?];
    assert!(
        renewed(&before, &after),
        "the call must come back through an ICE restart: {before:?} → {after:?}"
    );
    let frames = [
        alice.stats().await?.video_frames_decoded,
        bob.stats().await?.video_frames_decoded,
    ];
    wait_media_flowing(&alice, &bob).await?;
    let later = [
        alice.stats().await?.video_frames_decoded,
        bob.stats().await?.video_frames_decoded,
    ];
    assert!(
        later[0] > frames[0] && later[1] > frames[1],
        "video decodes again: {frames:?} → {later:?}"
    );
    Ok(())
}

/// A restart forced from the test (`restartIce()` on one side) keeps the call: both pages
/// stay "connected" throughout, video keeps decoding on both sides (never a 1.5 s stretch
/// without a new frame), and both sides end up on new ICE credentials that they agree on.
#[tokio::test]
async fn a_forced_ice_restart_keeps_the_call_and_changes_the_credentials() -> anyhow::Result<()> {
    /// Longer than a few frames of the fake camera even on a loaded machine; a call that
    /// stopped for the renegotiation would show a gap.
    const MAX_FRAME_GAP: Duration = Duration::from_millis(1500);
    /// How long to keep watching once the new credentials are in place.
    const AFTERWARDS: Duration = Duration::from_secs(3);

    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    wait_media_flowing(&alice, &bob).await?;
    let before = [credentials(&alice).await?, credentials(&bob).await?];

    let start = Instant::now();
    // (time, frames decoded by alice, by bob)
    let mut frames: Vec<(Duration, u64, u64)> = Vec::new();
    let mut renewed_at = None;
    bob.eval("window.__peerConnection.restartIce(); return true;")
        .await?;
    loop {
        let now = [credentials(&alice).await?, credentials(&bob).await?];
        let states = [alice.state().await?, bob.state().await?];
        frames.push((
            start.elapsed(),
            alice.stats().await?.video_frames_decoded,
            bob.stats().await?.video_frames_decoded,
        ));
        assert!(
            states
                .iter()
                .all(|state| state.as_deref() == Some("connected")),
            "both pages stay connected through the restart: {states:?} after {:?}",
            start.elapsed()
        );
        if renewed_at.is_none() && renewed(&before, &now) {
            renewed_at = Some(start.elapsed());
            eprintln!(
                "FIGURE forced ICE restart: new credentials on both sides {:?} after restartIce()",
                start.elapsed()
            );
        }
        if let Some(at) = renewed_at
            && start.elapsed() > at + AFTERWARDS
        {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < PATIENCE,
            "the credentials did not change on both sides: {before:?} → {now:?}\n{}\n{}",
            alice.diagnostics().await,
            bob.diagnostics().await
        );
        sleep(Duration::from_millis(100)).await;
    }
    for (i, &(at, alice_frames, bob_frames)) in frames.iter().enumerate() {
        if let Some(&(later, alice_later, bob_later)) = frames[i..]
            .iter()
            .find(|(t, _, _)| *t >= at + MAX_FRAME_GAP)
        {
            assert!(
                alice_later > alice_frames && bob_later > bob_frames,
                "video stopped between {at:?} and {later:?}: {frames:?}"
            );
        }
    }
    wait_media_flowing(&alice, &bob).await?;
    Ok(())
}
