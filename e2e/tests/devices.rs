//! The device menus in a real call, with three fake cameras and several fake microphones and
//! speakers (`--use-fake-device-for-media-stream=device-count=3`: cameras `fake_device_0` to
//! `_2`; microphones "Fake Default Audio Input", "Fake Audio Input 1" and 2; speakers
//! likewise). The tests switch between cameras 0 and 2: Chromium's second fake camera is a
//! depth camera (Y16 frames, see its `fake_video_capture_device_factory.cc`), whose frames
//! are not sent; the third gives MJPEG, decoded and sent like any webcam's.
//!
//! Switching the camera or the microphone mid-call puts the new device's track on the same
//! sender: the call stays connected, media keeps flowing, and no new offer is made. Losing a
//! device is driven the way the browser reports it: an unplugged device vanishes from
//! `enumerateDevices()` and `devicechange` fires (the test hides it from `enumerateDevices`
//! in the page, as fake devices cannot be unplugged), or its track ends (stopped and `ended`
//! dispatched, as a page's own `stop()` fires nothing). The product code that reacts is the
//! real one; there is no test hook.

mod common;

use common::{call, pressed, sent};
use e2e::offer_counts;
use e2e::{Browser, Stack, StackOptions, wait_media_flowing};
use thirtyfour::{By, components::SelectElement};

const THREE_CAMERAS: &[&str] = &["--use-fake-device-for-media-stream=device-count=3"];

/// Picks the entry with this label in the `<select>` with this id, as a person does.
async fn choose(person: &Browser, select: &str, label: &str) -> anyhow::Result<()> {
    person
        .wait_for(
            &format!(
                "const s = document.getElementById('{select}');
                 return !!s && !s.disabled && [...s.options].some(o => o.text === {label:?});"
            ),
            &format!("{label:?} in #{select}"),
        )
        .await?;
    let element = person.driver.find(By::Id(select)).await?;
    SelectElement::new(&element)
        .await?
        .select_by_visible_text(label)
        .await?;
    Ok(())
}

/// The labels offered in a `<select>`, and the selected one.
async fn menu(person: &Browser, select: &str) -> anyhow::Result<(Vec<String>, String)> {
    let value = person
        .eval(&format!(
            "const s = document.getElementById('{select}');
             return [[...s.options].map(o => o.text), s.selectedOptions[0] ? s.selectedOptions[0].text : ''];"
        ))
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until `person`'s `kind` sender carries a live track with this label.
async fn wait_sending(person: &Browser, kind: &str, label: &str) -> anyhow::Result<()> {
    person
        .wait_for(
            &format!(
                "const pc = window.__peerConnection;
                 const t = pc && pc.getTransceivers().find(t => t.receiver.track.kind === '{kind}');
                 return !!t && !!t.sender.track && t.sender.track.label === {label:?}
                   && t.sender.track.readyState === 'live';"
            ),
            &format!("{label:?} on the {kind} sender"),
        )
        .await
}

/// Alice switches camera, then (muted) microphone, then speaker, mid-call: each new device
/// goes out on the same sender, the old one stops, mute stays on, Bob keeps receiving sound
/// and picture, and nobody made a new offer.
#[tokio::test]
async fn switching_devices_mid_call_keeps_the_call_without_a_new_offer() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack, THREE_CAMERAS).await?;
    let offers_before = offer_counts(&alice, &bob).await?;

    let (cameras, selected) = menu(&alice, "camera-select").await?;
    assert_eq!(
        cameras,
        ["fake_device_0", "fake_device_1", "fake_device_2"],
        "camera menu"
    );
    assert_eq!(selected, "fake_device_0", "the camera in use is selected");
    let (microphones, _) = menu(&alice, "mic-select").await?;
    assert!(
        microphones
            .iter()
            .any(|label| label == "Fake Audio Input 2"),
        "microphone menu {microphones:?}"
    );

    // Camera.
    alice.eval("window.__oldCamera = window.__peerConnection.getSenders().find(s => s.track && s.track.kind === 'video').track; return true;").await?;
    choose(&alice, "camera-select", "fake_device_2").await?;
    wait_sending(&alice, "video", "fake_device_2").await?;
    alice
        .wait_for(
            "return window.__oldCamera.readyState === 'ended';",
            "the old camera stopped",
        )
        .await?;

    // Microphone, while muted: the new one is muted too.
    alice.click("mute").await?;
    alice
        .wait_for(&pressed("mute", true), "Mute pressed")
        .await?;
    choose(&alice, "mic-select", "Fake Audio Input 2").await?;
    wait_sending(&alice, "audio", "Fake Audio Input 2").await?;
    let microphone = sent(&alice, "audio").await?.expect("a microphone track");
    assert!(!microphone.enabled, "the new microphone is not muted");
    assert_eq!(menu(&alice, "mic-select").await?.1, "Fake Audio Input 2");
    alice.click("mute").await?;
    alice
        .wait_for(&pressed("mute", false), "Mute released")
        .await?;

    // Speaker: the remote video plays through it.
    choose(&alice, "speaker-select", "Fake Audio Output 1").await?;
    alice
        .wait_for(
            "const v = document.getElementById('remote-video');
             const s = document.getElementById('speaker-select');
             return v.sinkId !== '' && v.sinkId === s.value;",
            "the remote video's sinkId set to the chosen speaker",
        )
        .await?;

    wait_media_flowing(&alice, &bob).await?;
    alice.wait_state("connected").await?;
    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "a device switch renegotiated"
    );
    Ok(())
}

/// Alice's camera in use is unplugged (it vanishes from the list and `devicechange` fires):
/// the call falls back to the other camera and says so; then her microphone's track ends:
/// it falls back to the default microphone and says so. Media keeps flowing, no new offer.
#[tokio::test]
async fn losing_a_device_falls_back_to_the_default_and_says_so() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack, THREE_CAMERAS).await?;
    let offers_before = offer_counts(&alice, &bob).await?;

    choose(&alice, "camera-select", "fake_device_2").await?;
    wait_sending(&alice, "video", "fake_device_2").await?;
    alice
        .eval(
            "const md = navigator.mediaDevices; const list = md.enumerateDevices.bind(md);
             md.enumerateDevices = async () => (await list()).filter(d => d.label !== 'fake_device_2');
             md.dispatchEvent(new Event('devicechange')); return true;",
        )
        .await?;
    wait_sending(&alice, "video", "fake_device_0").await?;
    alice
        .wait_text("Your camera was disconnected, so the call now uses fake_device_0.")
        .await?;
    assert_eq!(
        menu(&alice, "camera-select").await?,
        (
            vec!["fake_device_0".to_owned(), "fake_device_1".to_owned()],
            "fake_device_0".to_owned()
        ),
        "the camera menu after the unplugging"
    );

    choose(&alice, "mic-select", "Fake Audio Input 1").await?;
    wait_sending(&alice, "audio", "Fake Audio Input 1").await?;
    alice
        .eval(
            "const t = document.getElementById('local-video').srcObject.getAudioTracks()[0];
             t.stop(); t.dispatchEvent(new Event('ended')); return true;",
        )
        .await?;
    wait_sending(&alice, "audio", "Fake Default Audio Input").await?;
    alice
        .wait_text(
            "Your microphone was disconnected, so the call now uses Fake Default Audio Input.",
        )
        .await?;

    wait_media_flowing(&alice, &bob).await?;
    alice.wait_state("connected").await?;
    assert_eq!(
        offer_counts(&alice, &bob).await?,
        offers_before,
        "a fallback renegotiated"
    );
    Ok(())
}

/// Where the browser cannot choose a speaker (no `HTMLMediaElement.setSinkId`), the speaker
/// menu is hidden; the camera and microphone menus are still there.
#[tokio::test]
async fn the_speaker_menu_is_hidden_where_the_browser_cannot_choose_one() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let person = stack.browser(e2e::BrowserOptions::default()).await?;
    thirtyfour::extensions::cdp::ChromeDevTools::new(person.driver.handle.clone())
        .execute_cdp_with_params(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": "delete HTMLMediaElement.prototype.setSinkId;" }),
        )
        .await?;
    person.join_with_video(&stack.new_room_url()).await?;
    person
        .wait_for(
            "const s = document.getElementById('speaker-select');
             const c = document.getElementById('camera-select');
             return !!s && s.hidden && !!c && !c.hidden && !c.disabled;",
            "#speaker-select hidden, #camera-select shown",
        )
        .await?;
    Ok(())
}
