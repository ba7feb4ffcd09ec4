//! Real calls between independent headless Chromiums, through the real backend serving the real
//! release build, on a loopback-only network. Each test states what a person would see.

use std::time::Duration;

use e2e::{Browser, BrowserOptions, CallStats, Stack, StackOptions};

/// Two people in the same room with their cameras on.
async fn two_people_with_video(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    let room = stack.new_room_url();
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    for person in [&alice, &bob] {
        person.goto(&room).await?;
        person.click("get-video").await?;
        person
            .wait_for(
                "const v = document.getElementById('local-video'); return !!v && v.videoWidth > 0;",
                "local preview",
            )
            .await?;
    }
    Ok((alice, bob))
}

/// Both sides connected, decoding the other's video and receiving its audio.
async fn assert_in_call(alice: &Browser, bob: &Browser) -> anyhow::Result<(CallStats, CallStats)> {
    for (person, other) in [(alice, bob), (bob, alice)] {
        if let Err(error) = person.wait_state("connected").await {
            anyhow::bail!("{error}\nother side: {}", other.diagnostics().await);
        }
    }
    let first = (
        alice.wait_remote_media().await?,
        bob.wait_remote_media().await?,
    );
    // Media keeps flowing: frames decoded and audio samples received both rise.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later = (alice.stats().await?, bob.stats().await?);
    for (before, after) in [(&first.0, &later.0), (&first.1, &later.1)] {
        assert!(
            after.video_frames_decoded > before.video_frames_decoded,
            "{before:?} → {after:?}"
        );
        assert!(
            after.audio_samples_received > before.audio_samples_received,
            "{after:?}"
        );
        assert!(after.video_width > 0);
    }
    Ok(later)
}

/// Two people open the same link, get video, one presses Call: each sees the other's video
/// playing and hears the other (audio flowing, the remote element not muted).
#[tokio::test]
async fn two_people_see_and_hear_each_other() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    alice.click("call").await?;
    let (a, b) = assert_in_call(&alice, &bob).await?;
    for stats in [&a, &b] {
        assert_eq!(
            stats.remote_muted,
            Some(false),
            "the remote video must not be muted"
        );
        assert_eq!(stats.remote_paused, Some(false), "the remote video plays");
        assert_eq!(
            stats.live_remote_audio_tracks, 1,
            "a live remote audio track"
        );
        assert!(
            stats.audio_energy > 0.0,
            "the fake microphone's tone arrives: {stats:?}"
        );
    }
    alice.screenshot("call-alice").await?;
    bob.screenshot("call-bob").await?;
    Ok(())
}

/// With only TURN allowed, the call goes through coturn using credentials minted by the
/// backend: the selected candidate pair is relay/relay and the page says so.
#[tokio::test]
async fn relay_only_call_goes_through_coturn() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        relay_only: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    alice.click("call").await?;
    let (a, b) = assert_in_call(&alice, &bob).await?;
    for stats in [&a, &b] {
        assert_eq!(
            stats.local_candidate_type.as_deref(),
            Some("relay"),
            "{stats:?}"
        );
        assert_eq!(
            stats.remote_candidate_type.as_deref(),
            Some("relay"),
            "{stats:?}"
        );
    }
    for person in [&alice, &bob] {
        person
            .wait_for(
                "return document.getElementById('status').dataset.route === 'relayed';",
                "route shown as relayed",
            )
            .await?;
    }
    Ok(())
}

/// Credentials from the Twilio provider (the local stand-in of Twilio's Tokens endpoint,
/// handing out the local coturn): the call connects through them.
#[tokio::test]
async fn twilio_credentials_connect_a_call() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        twilio: true,
        relay_only: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    bob.click("call").await?;
    let (a, _) = assert_in_call(&alice, &bob).await?;
    assert_eq!(
        a.local_candidate_type.as_deref(),
        Some("relay"),
        "Twilio's TURN was used: {a:?}"
    );
    Ok(())
}

/// Both press Call at the same moment: perfect negotiation still ends in one working call.
#[tokio::test]
async fn both_pressing_call_at_once_ends_in_one_call() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    for person in [&alice, &bob] {
        person.wait_enabled("call").await?;
    }
    let press = "document.getElementById('call').click(); return true;";
    let (a, b) = tokio::join!(alice.eval(press), bob.eval(press));
    a?;
    b?;
    assert_in_call(&alice, &bob).await?;
    Ok(())
}

/// A third person opening the link is told the room is full, with a way back.
#[tokio::test]
async fn third_person_is_told_the_room_is_full() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let room = stack.new_room_url();
    let mut people = Vec::new();
    for _ in 0..2 {
        let person = stack.browser(BrowserOptions::default()).await?;
        person.goto(&room).await?;
        person
            .wait_for("return !!document.getElementById('status');", "page")
            .await?;
        people.push(person);
    }
    for person in &people {
        person.wait_state("ready").await?;
    }
    let carol = stack.browser(BrowserOptions::default()).await?;
    carol.goto(&room).await?;
    carol.wait_text("This room is full").await?;
    carol.wait_state("full").await?;
    carol
        .wait_for(
            "const a = document.getElementById('back-home'); return !!a && a.getAttribute('href') === '/';",
            "link back home",
        )
        .await?;
    carol.screenshot("room-full").await?;
    Ok(())
}

/// Hang up ends the call on both sides; then a new call works.
#[tokio::test]
async fn hang_up_then_call_again() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    alice.click("call").await?;
    assert_in_call(&alice, &bob).await?;
    alice.click("hang-up").await?;
    alice
        .wait_for(
            "return document.getElementById('status').dataset.state === 'ready';",
            "the one who hung up is ready to call again",
        )
        .await?;
    bob.wait_for(
        "return document.getElementById('status').dataset.state === 'hung-up';",
        "the other side is told they hung up",
    )
    .await?;
    bob.wait_text("They hung up.").await?;
    bob.click("call").await?;
    assert_in_call(&alice, &bob).await?;
    Ok(())
}

/// Closing a tab tells the other person, who can then take a new call.
#[tokio::test]
async fn closing_a_tab_tells_the_other_who_can_call_again() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    let room = alice.driver.current_url().await?.to_string();
    alice.click("call").await?;
    assert_in_call(&alice, &bob).await?;
    bob.quit().await?;
    alice.wait_text("The other person left").await?;
    let carol = stack.browser(BrowserOptions::default()).await?;
    carol.goto(&room).await?;
    carol.click("get-video").await?;
    carol.click("call").await?;
    assert_in_call(&alice, &carol).await?;
    Ok(())
}

/// Camera and microphone denied: the page explains it and offers a retry.
#[tokio::test]
async fn denied_camera_is_explained() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let person = stack.browser(BrowserOptions { allow_media: false }).await?;
    person.goto(&stack.new_room_url()).await?;
    person.click("get-video").await?;
    person
        .wait_text("Camera and microphone access was denied")
        .await?;
    person
        .wait_for("return !!document.getElementById('media-error') && !!document.getElementById('retry-media');", "retry offered")
        .await?;
    person.screenshot("camera-denied").await?;
    Ok(())
}
