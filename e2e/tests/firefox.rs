//! Real calls between the two browser engines: headless Firefox ESR (through geckodriver) and
//! headless Chromium, through the real backend serving the real release build, on a
//! loopback-only network with a default route for Firefox (`e2e::default_route`). Each side
//! presses the product's own buttons; each side's `getStats()` must show the other's video
//! decoded and audio received.

use e2e::{Browser, CallStats, Stack, StackOptions, wait_media_flowing};

/// A stack Firefox can call through: the backend, coturn as its STUN/TURN server (as in the
/// Chromium calls) and the namespace's default route.
async fn stack() -> anyhow::Result<Stack> {
    Stack::start(StackOptions {
        coturn: true,
        firefox: true,
        ..Default::default()
    })
    .await
}

/// A new Firefox, saying how long it took to start (slow next to Chromium).
async fn started_firefox(stack: &Stack) -> anyhow::Result<Browser> {
    let start = std::time::Instant::now();
    let firefox = stack.firefox().await?;
    eprintln!("{} started in {:?}", firefox.name, start.elapsed());
    Ok(firefox)
}

/// `caller` presses Call after both got video in one room; returns once both pages say
/// `connected` and audio and video flow both ways (see `e2e::media`), with each side's stats.
async fn call(caller: &Browser, callee: &Browser, room: &str) -> anyhow::Result<[CallStats; 2]> {
    for person in [caller, callee] {
        person.join_with_video(room).await?;
    }
    caller.click("call").await?;
    let pressed = std::time::Instant::now();
    for (person, other) in [(caller, callee), (callee, caller)] {
        if let Err(error) = person.wait_state("connected").await {
            anyhow::bail!("{error}\nother side: {}", other.diagnostics().await);
        }
    }
    let connected = pressed.elapsed();
    let (a, b) = wait_media_flowing(caller, callee).await?;
    eprintln!(
        "{} called {}: both connected {connected:?} after Call, media both ways after {:?}",
        caller.name,
        callee.name,
        pressed.elapsed()
    );
    Ok([a, b])
}

/// What each side of a working call shows: the other's video playing with sound (not muted,
/// one live audio track), and a direct route (both browsers on one machine), in the status line
/// and in the selected candidate pair: a host candidate here, and none relayed. (Firefox may
/// know Chromium's end as peer-reflexive: a check from it can arrive before its candidate.)
async fn assert_both_see_and_hear(
    people: [&Browser; 2],
    stats: &[CallStats; 2],
) -> anyhow::Result<()> {
    for (person, stats) in people.into_iter().zip(stats) {
        let name = &person.name;
        assert_eq!(stats.remote_muted, Some(false), "{name}: {stats:?}");
        assert_eq!(stats.remote_paused, Some(false), "{name}: {stats:?}");
        assert_eq!(stats.live_remote_audio_tracks, 1, "{name}: {stats:?}");
        assert!(stats.video_width > 0, "{name}: {stats:?}");
        assert_eq!(
            stats.local_candidate_type.as_deref(),
            Some("host"),
            "{name}: {stats:?}"
        );
        assert!(
            matches!(
                stats.remote_candidate_type.as_deref(),
                Some("host" | "prflx")
            ),
            "{name}: {stats:?}"
        );
        person
            .wait_for(
                "return document.getElementById('status').dataset.route === 'direct';",
                "the route shown as direct",
            )
            .await?;
    }
    Ok(())
}

/// Chromium calls Firefox: both connect, and each decodes the other's video and receives the
/// other's audio, with counters rising on both sides.
#[tokio::test]
async fn chromium_calls_firefox_video_and_audio_both_ways() -> anyhow::Result<()> {
    let stack = stack().await?;
    let chromium = stack.browser(e2e::BrowserOptions::default()).await?;
    let firefox = started_firefox(&stack).await?;
    let stats = call(&chromium, &firefox, &stack.new_room_url()).await?;
    assert_both_see_and_hear([&chromium, &firefox], &stats).await?;
    firefox.screenshot("firefox-called-by-chromium").await?;
    Ok(())
}

/// Firefox calls Chromium: the same, with Firefox making the offer.
#[tokio::test]
async fn firefox_calls_chromium_video_and_audio_both_ways() -> anyhow::Result<()> {
    let stack = stack().await?;
    let chromium = stack.browser(e2e::BrowserOptions::default()).await?;
    let firefox = started_firefox(&stack).await?;
    let stats = call(&firefox, &chromium, &stack.new_room_url()).await?;
    assert_both_see_and_hear([&firefox, &chromium], &stats).await?;
    firefox.screenshot("firefox-calling-chromium").await?;
    Ok(())
}
