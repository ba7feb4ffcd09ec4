//! Screen sharing in a real call: the other side receives the shared surface instead of the
//! camera, on the same sender (no new offer), and the camera comes back when sharing stops —
//! from `#share-screen` or from the browser's own "Stop sharing".
//!
//! Headless Chromium captures a real (fake) surface here: with `--use-fake-ui-for-media-stream`
//! and `--use-fake-device-for-media-stream`, `getDisplayMedia` is granted without a picker and
//! returns a `screen:` track of 800×450 frames, a different size from the 640×480 fake camera. So the
//! product's own `getDisplayMedia` runs; nothing is injected. The browser's "Stop sharing" bar
//! does not exist headless: the tests end the capture as it does (the track stops and fires
//! `ended`).

mod common;

use std::time::Duration;

use common::{call, pressed, received_size, wait_received_size};
use e2e::offer_counts;
use e2e::{Browser, Stack, StackOptions};

/// The size of the frames `person`'s preview shows now (the camera, or the shared screen):
/// the source's real size. (The screen track's settings say 800×600 at first, then the
/// fake surface's frames come at 800×450.)
async fn preview_size(person: &Browser) -> anyhow::Result<(u64, u64)> {
    let value = person
        .eval("const v = document.getElementById('local-video'); return [v.videoWidth, v.videoHeight];")
        .await?;
    Ok((
        value[0].as_u64().unwrap_or_default(),
        value[1].as_u64().unwrap_or_default(),
    ))
}

/// Waits until the preview shows the shared screen (not mirrored) and returns its size.
async fn wait_screen_preview(person: &Browser, camera: (u64, u64)) -> anyhow::Result<(u64, u64)> {
    person
        .wait_for(
            &format!(
                "const v = document.getElementById('local-video');
                 const t = v.srcObject && v.srcObject.getVideoTracks()[0];
                 return !!t && t.label.startsWith('screen') && getComputedStyle(v).transform === 'none'
                   && v.videoWidth > 0 && (v.videoWidth !== {} || v.videoHeight !== {});",
                camera.0, camera.1
            ),
            "the preview showing the screen, not mirrored",
        )
        .await?;
    preview_size(person).await
}

/// Ends the shared capture as the browser's "Stop sharing" does: the track stops and fires
/// `ended` (a page's own `stop()` fires nothing, so the event is dispatched too).
const BROWSER_STOPS_SHARING: &str = "
    const v = document.getElementById('local-video');
    const t = v.srcObject.getVideoTracks()[0];
    if (!t || !t.label.startsWith('screen')) return false;
    t.stop(); t.dispatchEvent(new Event('ended')); return true;";

/// Alice shares her screen: Bob's received frames switch to the screen's size, her preview
/// shows it unmirrored; she stops with the button, then shares again and the browser stops it:
/// each time Bob receives her camera's size again. No new offer on either side.
#[tokio::test]
async fn sharing_replaces_the_camera_and_stopping_brings_it_back() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack, &[]).await?;
    let offers_before = offer_counts(&alice, &bob).await?;
    let camera = preview_size(&alice).await?;
    wait_received_size(&bob, camera, "Alice's camera").await?;
    alice
        .wait_for(&pressed("share-screen", false), "Share screen not pressed")
        .await?;

    alice.click("share-screen").await?;
    alice
        .wait_for(&pressed("share-screen", true), "Share screen pressed")
        .await?;
    // `replaceTrack` settles a moment after the button changes.
    alice
        .wait_for(
            "const pc = window.__peerConnection;
             const t = pc.getTransceivers().find(t => t.receiver.track.kind === 'video');
             return !!t && !!t.sender.track && t.sender.track.label.startsWith('screen');",
            "the screen on the video sender",
        )
        .await?;
    let screen = wait_screen_preview(&alice, camera).await?;
    wait_received_size(&bob, screen, "Alice's screen").await?;

    alice.click("share-screen").await?;
    alice
        .wait_for(&pressed("share-screen", false), "Share screen released")
        .await?;
    wait_received_size(&bob, camera, "Alice's camera back").await?;
    alice
        .wait_for(
            "const v = document.getElementById('local-video');
             const t = v.srcObject && v.srcObject.getVideoTracks()[0];
             return !!t && !t.label.startsWith('screen') && getComputedStyle(v).transform !== 'none';",
            "the preview showing the camera, mirrored",
        )
        .await?;

    // Again, ended by the browser this time.
    alice.click("share-screen").await?;
    wait_received_size(&bob, screen, "Alice's screen again").await?;
    anyhow::ensure!(
        alice.eval(BROWSER_STOPS_SHARING).await?.as_bool() == Some(true),
        "no shared track in the preview"
    );
    alice
        .wait_for(
            &pressed("share-screen", false),
            "Share screen released by the browser",
        )
        .await?;
    wait_received_size(&bob, camera, "Alice's camera back again").await?;

    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "sharing renegotiated"
    );
    Ok(())
}

/// With her camera off, Alice shares (Bob receives the screen) and stops: nothing is sent
/// then, as Camera off says, and her camera stays off.
#[tokio::test]
async fn stopping_a_share_with_the_camera_off_sends_nothing() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack, &[]).await?;
    let offers_before = offer_counts(&alice, &bob).await?;
    alice.click("camera-off").await?;
    alice
        .wait_for(&pressed("camera-off", true), "Camera off pressed")
        .await?;

    alice.click("share-screen").await?;
    alice
        .wait_for(&pressed("share-screen", true), "Share screen pressed")
        .await?;
    let screen = wait_screen_preview(&alice, (0, 0)).await?;
    wait_received_size(&bob, screen, "Alice's screen").await?;

    alice.click("share-screen").await?;
    alice
        .wait_for(&pressed("share-screen", false), "Share screen released")
        .await?;
    // `replaceTrack(null)` settles a moment after the button changes.
    alice
        .wait_for(
            "const pc = window.__peerConnection;
             const t = pc.getTransceivers().find(t => t.receiver.track.kind === 'video');
             return !!t && t.sender.track === null;",
            "nothing on the video sender with the camera off",
        )
        .await?;
    // Frames in flight when sharing stopped land first; then none may come for a window.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = bob.stats().await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = bob.stats().await?;
    anyhow::ensure!(
        after.video_frames_decoded == before.video_frames_decoded,
        "Bob still receives frames: {before:?} → {after:?} (size {:?})",
        received_size(&bob).await?
    );
    anyhow::ensure!(
        alice.eval(&pressed("camera-off", true)).await?.as_bool() == Some(true),
        "the camera came back on"
    );
    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "sharing renegotiated"
    );
    Ok(())
}

/// Where the browser has no `getDisplayMedia` (phones), `#share-screen` is hidden.
#[tokio::test]
async fn the_button_is_hidden_where_the_browser_cannot_share() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let person = stack.browser(e2e::BrowserOptions::default()).await?;
    before_the_page(&person, "delete MediaDevices.prototype.getDisplayMedia;").await?;
    person.join_with_video(&stack.new_room_url()).await?;
    person
        .wait_for(
            "const b = document.getElementById('share-screen'); return !!b && b.hidden;",
            "#share-screen hidden",
        )
        .await?;
    Ok(())
}

/// Runs `script` in every new document of this browser before the page's own scripts.
async fn before_the_page(person: &Browser, script: &str) -> anyhow::Result<()> {
    use thirtyfour::extensions::cdp::ChromeDevTools;
    ChromeDevTools::new(person.driver.handle.clone())
        .execute_cdp_with_params(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": script }),
        )
        .await?;
    Ok(())
}
