//! The microphone and camera buttons in a real call: what the other person hears and sees, the
//! indicators the data channel drives, and that neither button renegotiates.
//!
//! Proving silence or a still picture needs a window of time: [`WINDOW`] is longer than the gap
//! between two beeps of Chromium's fake microphone and holds dozens of fake-camera frames, so a
//! window in which the counter did not rise means the sound (or the picture) really stopped.
//! Each check polls such windows until it holds or [`PATIENCE`] runs out.

mod common;

use std::time::Duration;

use e2e::{
    Browser, BrowserOptions, CallStats, MIN_ENERGY_RISE, PATIENCE, Stack, StackOptions,
    offer_counts,
};

/// Longer than the fake microphone's silence between beeps (about a second).
const WINDOW: Duration = Duration::from_millis(2500);

/// Two people in a connected call with media flowing, each watched by a probe.
async fn call(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    common::call(stack, &[]).await
}

/// Polls windows of [`WINDOW`] until `holds(before, after)` is true for one, within
/// [`PATIENCE`].
async fn wait_window(
    person: &Browser,
    what: &str,
    holds: impl Fn(&CallStats, &CallStats) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let before = person.stats().await?;
        tokio::time::sleep(WINDOW).await;
        let after = person.stats().await?;
        if holds(&before, &after) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{}: {what} never held over {WINDOW:?}: {before:?} → {after:?}\n{}",
            person.name,
            person.diagnostics().await
        );
    }
}

/// Silence proven, not found: after `DRAIN` for audio already in flight, two windows in a
/// row must both be quiet, and the first such pair must come within three tries. Polling
/// for *any* quiet window would also pass with a broken mute (the fake microphone's beeps are
/// not strictly regular on a loaded machine).
async fn wait_silence(person: &Browser, what: &str) -> anyhow::Result<()> {
    /// Longer than the receiver's jitter buffer.
    const DRAIN: Duration = Duration::from_millis(1000);
    tokio::time::sleep(DRAIN).await;
    let mut quiet_in_a_row = 0;
    let mut last = person.stats().await?;
    for _ in 0..3 {
        tokio::time::sleep(WINDOW).await;
        let now = person.stats().await?;
        quiet_in_a_row = if silent(&last, &now) {
            quiet_in_a_row + 1
        } else {
            0
        };
        if quiet_in_a_row == 2 {
            return Ok(());
        }
        last = now;
    }
    anyhow::bail!(
        "{}: {what}: no two quiet windows of {WINDOW:?} in a row within three\n{}",
        person.name,
        person.diagnostics().await
    )
}

fn silent(before: &CallStats, after: &CallStats) -> bool {
    after.audio_energy - before.audio_energy < MIN_ENERGY_RISE
        && after.audio_packets_received > before.audio_packets_received
}

fn sound(before: &CallStats, after: &CallStats) -> bool {
    after.audio_energy - before.audio_energy >= MIN_ENERGY_RISE
}

fn no_frames(before: &CallStats, after: &CallStats) -> bool {
    after.video_frames_decoded == before.video_frames_decoded
}

fn frames(before: &CallStats, after: &CallStats) -> bool {
    after.video_frames_decoded > before.video_frames_decoded
}

/// `return` of whether the element with this id is shown (present and not `hidden`).
fn shown(id: &str) -> String {
    format!("const e = document.getElementById('{id}'); return !!e && !e.hidden;")
}

fn hidden(id: &str) -> String {
    format!("const e = document.getElementById('{id}'); return !!e && e.hidden;")
}

fn pressed(id: &str, value: bool) -> String {
    format!(
        "const e = document.getElementById('{id}'); return !!e && e.getAttribute('aria-pressed') === '{value}';"
    )
}

/// A key press where the focus is (a button, not a text field), as the keyboard sends it.
async fn press_key(person: &Browser, key: &str) -> anyhow::Result<()> {
    person
        .driver
        .action_chain()
        .send_keys(key)
        .perform()
        .await?;
    Ok(())
}

/// Bob mutes: Alice's received audio falls silent and she sees `#remote-muted`; he unmutes
/// (with the `m` key): the beeps come back and the indicator goes. No new offer either way.
#[tokio::test]
async fn muting_silences_the_other_side_and_shows_it() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack).await?;
    let offers_before = offer_counts(&alice, &bob).await?;
    alice
        .wait_for(&hidden("remote-muted"), "no mute indicator")
        .await?;

    bob.click("mute").await?;
    bob.wait_for(&pressed("mute", true), "Mute pressed").await?;
    alice
        .wait_for(&shown("remote-muted"), "the mute indicator")
        .await?;
    wait_silence(&alice, "silence from Bob").await?;

    press_key(&bob, "m").await?;
    bob.wait_for(&pressed("mute", false), "Mute released by `m`")
        .await?;
    alice
        .wait_for(&hidden("remote-muted"), "the mute indicator gone")
        .await?;
    wait_window(&alice, "Bob's beeps back", sound).await?;

    // Typing an `m` in a text field is not a shortcut.
    bob.eval(
        "const i = document.createElement('input'); i.id = 'typing'; document.body.append(i); return true;",
    )
    .await?;
    bob.driver
        .find(thirtyfour::By::Id("typing"))
        .await?
        .send_keys("m")
        .await?;
    bob.wait_for(
        "return document.getElementById('typing').value === 'm';",
        "the typed m",
    )
    .await?;
    anyhow::ensure!(
        bob.eval(&pressed("mute", false)).await?.as_bool() == Some(true),
        "an m typed in a text field muted the microphone"
    );

    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "muting renegotiated"
    );
    Ok(())
}

/// Muted before the call: the other side sees it as soon as the call's channel opens.
#[tokio::test]
async fn muting_before_the_call_is_told_when_it_starts() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    let room = stack.new_room_url();
    for person in [&alice, &bob] {
        person.goto(&room).await?;
        person.click("get-video").await?;
    }
    bob.click("mute").await?;
    bob.wait_for(&pressed("mute", true), "Mute pressed").await?;
    alice.click("call").await?;
    alice.wait_state("connected").await?;
    alice
        .wait_for(&shown("remote-muted"), "the mute indicator")
        .await?;
    wait_silence(&alice, "silence from Bob").await?;
    Ok(())
}

/// Bob turns his camera off: his camera track ends, Alice receives no more frames and sees his
/// initial in `#remote-camera-off`; on again (with the `v` key, then the button): frames come
/// back and the placeholder goes. No new offer either way.
#[tokio::test]
async fn camera_off_stops_the_camera_and_the_picture() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack).await?;
    let offers_before = offer_counts(&alice, &bob).await?;
    alice
        .wait_for(&hidden("remote-camera-off"), "no camera-off placeholder")
        .await?;
    bob.eval(
        "window.__camera = document.getElementById('local-video').srcObject.getVideoTracks()[0]; return true;",
    )
    .await?;

    bob.click("camera-off").await?;
    bob.wait_for(&pressed("camera-off", true), "Camera off pressed")
        .await?;
    bob.wait_for(
        "return window.__camera.readyState === 'ended';",
        "the camera track stopped",
    )
    .await?;
    alice
        .wait_for(&shown("remote-camera-off"), "the camera-off placeholder")
        .await?;
    let letter = alice
        .eval("return document.querySelector('#remote-camera-off .initial').textContent;")
        .await?;
    let letter = letter.as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(
        letter.chars().count() == 1 && letter.to_uppercase() == letter,
        "the placeholder shows an initial, not {letter:?}"
    );
    wait_window(&alice, "no frames from Bob", no_frames).await?;

    press_key(&bob, "v").await?;
    bob.wait_for(&pressed("camera-off", false), "Camera on by `v`")
        .await?;
    bob.wait_for(
        "const t = document.getElementById('local-video').srcObject.getVideoTracks()[0]; return !!t && t.readyState === 'live';",
        "a new camera track",
    )
    .await?;
    alice
        .wait_for(&hidden("remote-camera-off"), "the placeholder gone")
        .await?;
    wait_window(&alice, "Bob's frames back", frames).await?;

    // Once more with the button.
    bob.click("camera-off").await?;
    alice
        .wait_for(&shown("remote-camera-off"), "the placeholder again")
        .await?;
    bob.click("camera-off").await?;
    alice
        .wait_for(&hidden("remote-camera-off"), "the placeholder gone again")
        .await?;
    wait_window(&alice, "Bob's frames back again", frames).await?;

    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "the camera button renegotiated"
    );
    Ok(())
}
