//! Real calls between independent headless Chromiums, through the real backend serving the real
//! release build, on a loopback-only network. Each test states what a person would see.

use e2e::{Browser, BrowserOptions, CallStats, Probe, Stack, StackOptions, wait_media_flowing};

/// Two people in the same room with their cameras on.
async fn two_people_with_video(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    join_with_video(&stack.new_room_url(), &alice, &bob).await?;
    Ok((alice, bob))
}

/// Both open `room` and press Get Video, until each sees their own preview.
async fn join_with_video(room: &str, alice: &Browser, bob: &Browser) -> anyhow::Result<()> {
    for person in [alice, bob] {
        person.join_with_video(room).await?;
    }
    Ok(())
}

/// Both sides connected, and audio and video flowing both ways (see `e2e::media`).
async fn assert_in_call(alice: &Browser, bob: &Browser) -> anyhow::Result<(CallStats, CallStats)> {
    for (person, other) in [(alice, bob), (bob, alice)] {
        if let Err(error) = person.wait_state("connected").await {
            anyhow::bail!("{error}\nother side: {}", other.diagnostics().await);
        }
    }
    wait_media_flowing(alice, bob).await
}

/// Two people open the same link, get video, one presses Call: each sees the other's video
/// playing and hears the other (audio flowing, the remote element not muted), and the remote
/// video plays the received tracks themselves, not copies of them.
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
    for person in [&alice, &bob] {
        assert_eq!(
            person.eval(PLAYS_THE_RECEIVED_TRACKS).await?,
            serde_json::json!(true),
            "the remote video's stream holds the receivers' own audio and video tracks"
        );
    }
    alice.screenshot("call-alice").await?;
    bob.screenshot("call-bob").await?;
    Ok(())
}

/// Whether `#remote-video` plays exactly the first call's received tracks (a copy made by
/// `MediaStream.clone()` would hold new tracks, each decoding and leaking on its own).
const PLAYS_THE_RECEIVED_TRACKS: &str = r#"
const shown = document.getElementById('remote-video').srcObject;
const received = window.__peerConnection.getReceivers().map((r) => r.track);
const tracks = shown ? shown.getTracks() : [];
return tracks.length === 2 && tracks.every((t) => received.includes(t));
"#;

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

/// The ICE servers the page's current peer connection was configured with, one entry per
/// server: `{urls: [..], username}`.
const ICE_SERVERS: &str = r#"
const pc = window.__peerConnection;
return pc ? pc.getConfiguration().iceServers.map(s => ({
  urls: [].concat(s.urls), username: s.username || null })) : null;
"#;

/// Credentials from the Twilio provider (the local stand-in of Twilio's Tokens endpoint,
/// handing out the local coturn): the backend says it uses Twilio, the stand-in issued tokens,
/// both pages' peer connections hold exactly the stand-in's servers and credentials, and the
/// call connects relayed through them.
#[tokio::test]
async fn twilio_credentials_connect_a_call() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        twilio: true,
        relay_only: true,
        ..Default::default()
    })
    .await?;
    let twilio = stack.twilio.as_ref().expect("the stand-in runs");
    let metrics = stack.backend.metrics().await?;
    assert_eq!(
        metrics[r#"videochat_ice_provider_info{provider="twilio"}"#], 1,
        "/metrics: {metrics}"
    );
    let (alice, bob) = two_people_with_video(&stack).await?;
    bob.click("call").await?;
    let (a, b) = assert_in_call(&alice, &bob).await?;
    let issued = twilio.tokens_issued().await?;
    assert!(issued >= 1, "the stand-in issued {issued} tokens");
    let standin_user = format!(":{}", testkit::twilio::STANDIN_USER);
    for (person, stats) in [(&alice, &a), (&bob, &b)] {
        let servers = person.eval(ICE_SERVERS).await?;
        let servers = servers.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut urls: Vec<&str> = servers
            .iter()
            .flat_map(|server| server["urls"].as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_str)
            .collect();
        urls.sort_unstable();
        let mut expected: Vec<&str> = twilio.urls.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(urls, expected, "{}: ice servers {servers:?}", person.name);
        for server in servers {
            let is_turn = server["urls"][0]
                .as_str()
                .is_some_and(|url| url.starts_with("turn:"));
            let username = server["username"].as_str().unwrap_or_default();
            assert!(
                !is_turn || username.ends_with(&standin_user),
                "{}: TURN credentials not from the stand-in: {server}",
                person.name
            );
        }
        assert_eq!(
            stats.local_candidate_type.as_deref(),
            Some("relay"),
            "{}: the stand-in's TURN server was used: {stats:?}",
            person.name
        );
    }
    Ok(())
}

/// Both press Call at the same moment, their offers crossing (each page's incoming frames held
/// until it has sent its own offer): perfect negotiation still ends in one working call. Each
/// page sent an offer before it was handed the other's, and afterwards each has exactly one
/// open peer connection, connected, with one audio and one video transceiver sending both ways.
#[tokio::test]
async fn both_pressing_call_at_once_ends_in_one_call() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    let probes = [Probe::install(&alice).await?, Probe::install(&bob).await?];
    join_with_video(&stack.new_room_url(), &alice, &bob).await?;
    for (person, probe) in [&alice, &bob].into_iter().zip(&probes) {
        person.wait_enabled("call").await?;
        probe.hold_incoming_until_offer_sent().await?;
    }
    let press = "document.getElementById('call').click(); return true;";
    let (a, b) = tokio::join!(alice.eval(press), bob.eval(press));
    a?;
    b?;
    assert_in_call(&alice, &bob).await?;
    for (person, probe) in [&alice, &bob].into_iter().zip(&probes) {
        let report = probe.report().await?;
        let name = &person.name;
        assert!(
            report.sent("offer") >= 1 && report.offered_before_receiving_an_offer(),
            "{name}: no collision: {report:?}"
        );
        assert_eq!(report.open_peer_connections(), 1, "{name}: {report:?}");
        let current = report.current.and_then(|i| report.peer_connections.get(i));
        assert_eq!(
            current.map(String::as_str),
            Some("connected"),
            "{name}: {report:?}"
        );
        let mut kinds = report.current_transceivers.clone();
        kinds.sort_unstable();
        assert_eq!(kinds, ["audio", "video"], "{name}: {report:?}");
        assert!(
            report
                .current_directions
                .iter()
                .all(|direction| direction.as_deref() == Some("sendrecv")),
            "{name}: {report:?}"
        );
    }
    Ok(())
}

/// In a room for two (`--room-capacity 2`), a third person opening the link is told the room
/// is full and for how many, with a way back.
#[tokio::test]
async fn third_person_is_told_the_room_is_full() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        backend_args: vec!["--room-capacity".into(), "2".into()],
        ..Default::default()
    })
    .await?;
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
    carol.wait_text("This room is full (2 people)").await?;
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

/// Hang up ends the call on both sides (the old peer connection closed on each, none
/// current); then a new call works, on a new peer connection.
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
    for person in [&alice, &bob] {
        let kept = person
            .eval("window.__oldPc = window.__peerConnection; return !!window.__oldPc;")
            .await?;
        assert_eq!(
            kept.as_bool(),
            Some(true),
            "{}: no peer connection",
            person.name
        );
    }
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
    for person in [&alice, &bob] {
        person
            .wait_for(
                "return window.__oldPc.connectionState === 'closed' && window.__peerConnection === null;",
                "the call's peer connection closed, and no other current",
            )
            .await?;
    }
    bob.click("call").await?;
    assert_in_call(&alice, &bob).await?;
    for person in [&alice, &bob] {
        let fresh = person
            .eval(
                "const pc = window.__peerConnection; \
                 return !!pc && pc !== window.__oldPc && pc.connectionState === 'connected';",
            )
            .await?;
        assert_eq!(
            fresh.as_bool(),
            Some(true),
            "{}: the new call is not on a new, connected peer connection",
            person.name
        );
    }
    Ok(())
}

/// Closing a tab tells the other person once the closed tab's seat is no longer held for
/// its return (the resume grace, 2 s here), who can then take a new call.
#[tokio::test]
async fn closing_a_tab_tells_the_other_who_can_call_again() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        backend_args: vec!["--resume-grace".into(), "2".into()],
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

/// The other person closing their tab ends the call on this side at once ("They hung up."),
/// long before the server gives up on their seat (the default 30 s resume grace): the page
/// hangs up as it goes.
#[tokio::test]
async fn a_closed_tab_ends_the_call_before_the_grace_is_over() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = two_people_with_video(&stack).await?;
    alice.click("call").await?;
    assert_in_call(&alice, &bob).await?;
    let closed = std::time::Instant::now();
    // As a person closes the tab (the page's `pagehide` runs), not a killed browser.
    bob.driver.close_window().await?;
    alice.wait_state("hung-up").await?;
    let after = closed.elapsed();
    eprintln!(
        "figure: call ended on the other side {} ms after the tab closed",
        after.as_millis()
    );
    // The seat is held for 30 s: only the data channel can have told Alice this soon.
    assert!(
        after < std::time::Duration::from_secs(15),
        "the call ended only after {after:?}"
    );
    alice.wait_text("They hung up.").await?;
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
