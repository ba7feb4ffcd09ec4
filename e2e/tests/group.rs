//! Group calls in a full mesh between real headless Chromiums (one `RTCPeerConnection` per
//! pair), through the real backend with `--room-capacity 4`, on a loopback-only network:
//! three people seeing and hearing each other and chatting, one of four leaving, a fifth
//! refused, and three arriving at the same moment, ten times.
//!
//! Every check reads each call on its own (`window.__peerConnections`, keyed by the other
//! person's peer id; see `e2e::mesh`). Figures are printed with `eprintln!` (`--nocapture`).

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use e2e::{
    Browser, BrowserOptions, PATIENCE, Probe, Stack, StackOptions,
    mesh::{
        self, calls, peer_id, sender_limits, tiles, upload_rate, wait_mesh_connected,
        wait_mesh_flowing,
    },
};
use thirtyfour::{By, Key};

/// The room size every test here runs with (given explicitly, whatever the default).
const CAPACITY: &str = "4";
/// The page's default upload budget for all its senders together, in bit/s (the issue's).
const BUDGET: f64 = 2_500_000.0;
/// What an audio sender without `maxBitrate` is counted as: Chromium's Opus sends voice at
/// about 32 kbit/s by default; twice that leaves room for stereo or a louder source.
const UNCAPPED_AUDIO: f64 = 64_000.0;
/// The desktop viewport of the README's screenshots (as in tests/layout.rs).
const DESKTOP: (u32, u32) = (1280, 800);
/// Runs of the simultaneous-arrival test.
const ARRIVAL_RUNS: usize = 10;

async fn stack() -> anyhow::Result<Stack> {
    Stack::start(StackOptions {
        backend_args: vec!["--room-capacity".into(), CAPACITY.into()],
        ..Default::default()
    })
    .await
}

/// `n` fresh browsers.
async fn browsers(stack: &Stack, n: usize) -> anyhow::Result<Vec<Browser>> {
    let mut people = Vec::with_capacity(n);
    for _ in 0..n {
        people.push(stack.browser(BrowserOptions::default()).await?);
    }
    Ok(people)
}

/// Everybody opens `room` and presses Get Video (one after the other); the first presses
/// Call; returns each person with their peer id once everybody is connected to everybody and
/// media flows on every call.
async fn group_call<'a>(
    people: &'a [Browser],
    room: &str,
) -> anyhow::Result<Vec<(&'a Browser, String)>> {
    for person in people {
        person.join_with_video(room).await?;
    }
    let mut with_ids = Vec::new();
    for person in people {
        with_ids.push((person, peer_id(person).await?));
    }
    people[0].click("call").await?;
    let view = as_view(&with_ids);
    wait_mesh_connected(&view).await?;
    for person in people {
        person.wait_state("connected").await?;
    }
    wait_mesh_flowing(&view).await?;
    Ok(with_ids)
}

fn as_view<'a>(people: &'a [(&'a Browser, String)]) -> Vec<(&'a Browser, &'a str)> {
    people.iter().map(|(b, id)| (*b, id.as_str())).collect()
}

/// Texts of `person`'s `.chat-message[data-from="them"][data-peer=<from>]`, in order.
async fn messages_from(person: &Browser, from: &str) -> anyhow::Result<Vec<String>> {
    let selector = serde_json::to_string(&format!(
        "#chat-log .chat-message[data-from='them'][data-peer='{from}']"
    ))?;
    let value = person
        .eval(&format!(
            "return [...document.querySelectorAll({selector})].map(m => m.textContent);"
        ))
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until `person` shows a message from `from` containing `text`.
async fn wait_message_from(person: &Browser, from: &str, text: &str) -> anyhow::Result<()> {
    let selector = serde_json::to_string(&format!(
        "#chat-log .chat-message[data-from='them'][data-peer='{from}']"
    ))?;
    let literal = serde_json::to_string(text)?;
    person
        .wait_for(
            &format!(
                "return [...document.querySelectorAll({selector})].some(m => m.textContent.includes({literal}));"
            ),
            &format!("message {text:?} from {from}"),
        )
        .await
}

/// `person` writes `text` in the chat and sends it with Enter.
async fn say(person: &Browser, text: &str) -> anyhow::Result<()> {
    person
        .driver
        .find(By::Id("chat-input"))
        .await?
        .send_keys(format!("{text}{}", Key::Enter.value()))
        .await?;
    Ok(())
}

/// The `data-stat` names of each `.stats-row`, by its `data-peer`, with the shown resolution.
const STATS_ROWS: &str = r#"
const rows = {};
for (const row of document.querySelectorAll('#stats .stats-row')) {
  const cells = [...row.querySelectorAll('[data-stat]')];
  const resolution = row.querySelector("[data-stat='resolution']");
  rows[row.dataset.peer || ''] = { stats: cells.map(c => c.dataset.stat).sort(),
    resolution: resolution ? resolution.innerText : null };
}
return rows;
"#;

/// The `data-stat` cells every stats row has (the single-call panel's, one row per call now).
const STAT_NAMES: [&str; 8] = [
    "bitrate-in",
    "bitrate-out",
    "codec",
    "fps",
    "packet-loss",
    "resolution",
    "route",
    "rtt",
];

/// Three people, all with video, one presses Call: every page decodes the two others' video
/// and audio, each on its own call; a chat message from one shows exactly once on each of the
/// two others' pages as theirs; the stats panel has one row per other person; each page's
/// senders stay within the 2.5 Mbit/s budget together, video scaled down.
#[tokio::test]
async fn three_people_see_hear_and_chat_with_each_other() -> anyhow::Result<()> {
    let stack = stack().await?;
    let people = browsers(&stack, 3).await?;
    let started = Instant::now();
    let group = group_call(&people, &stack.new_room_url()).await?;
    eprintln!(
        "FIGURE group of three: first page load → media flowing on all six directions of three calls: {} ms",
        started.elapsed().as_millis()
    );
    let view = as_view(&group);
    let [(alice, alice_id), (bob, _), (carol, _)] = &group[..] else {
        unreachable!("three people")
    };

    // Every tile's own video plays the other person's picture.
    for (person, _) in &group {
        person
            .wait_for(
                "const v = [...document.querySelectorAll('#remote-tiles figure.tile video.remote')]; \
                 return v.length === 2 && v.every(v => v.videoWidth > 0 && !v.paused);",
                "two remote videos playing",
            )
            .await?;
    }

    // Chat to everybody: once on each other page, from Alice's id. A second message is the
    // barrier: the channel is ordered, so once it is there a duplicate of the first would be.
    let hello = format!("hello both {:08x}", rand::random::<u32>());
    let barrier = format!("barrier {:08x}", rand::random::<u32>());
    say(alice, &hello).await?;
    say(alice, &barrier).await?;
    for other in [bob, carol] {
        wait_message_from(other, alice_id, &barrier).await?;
        let got = messages_from(other, alice_id).await?;
        let hellos = got.iter().filter(|text| text.contains(&hello)).count();
        ensure!(
            hellos == 1,
            "{}: Alice's message must show exactly once, got {got:?}",
            other.name
        );
    }

    // The stats panel: one row per call, each with every number.
    alice.click("stats-toggle").await?;
    let mut expected_rows: Vec<String> = group[1..].iter().map(|(_, id)| id.clone()).collect();
    expected_rows.sort();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let rows = alice.eval(STATS_ROWS).await?;
        let peers: Vec<String> = rows.as_object().context("rows")?.keys().cloned().collect();
        let complete = peers == expected_rows
            && rows.as_object().context("rows")?.values().all(|row| {
                STAT_NAMES.iter().all(|name| {
                    row["stats"]
                        .as_array()
                        .is_some_and(|s| s.contains(&(*name).into()))
                }) && row["resolution"]
                    .as_str()
                    .is_some_and(|r| r.contains('×') && !r.starts_with('0'))
            });
        if complete {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the stats panel must have one complete row per other person {expected_rows:?}: {rows}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The upload budget, split over the two calls.
    for (person, _) in &group {
        let limits = sender_limits(person).await?;
        let videos: Vec<_> = limits.iter().filter(|s| s.kind == "video").collect();
        ensure!(
            videos.len() == 2 && limits.iter().filter(|s| s.kind == "audio").count() == 2,
            "{}: one audio and one video sender per call: {limits:?}",
            person.name
        );
        for video in &videos {
            ensure!(
                video.max_bitrate.is_some_and(|b| b > 0.0),
                "{}: every video sender is capped: {limits:?}",
                person.name
            );
            ensure!(
                video.scale_resolution_down_by.is_some_and(|s| s > 1.0),
                "{}: with two calls the video is scaled down: {limits:?}",
                person.name
            );
        }
        let total: f64 = limits
            .iter()
            .map(|s| match (s.kind.as_str(), s.max_bitrate) {
                (_, Some(cap)) => cap,
                ("audio", None) => UNCAPPED_AUDIO,
                _ => f64::INFINITY,
            })
            .sum();
        ensure!(
            total <= BUDGET,
            "{}: the senders' caps add up to {total} bit/s, over the {BUDGET} budget: {limits:?}",
            person.name
        );
        let sent = upload_rate(person, Duration::from_secs(3)).await?;
        eprintln!(
            "FIGURE group of three, {}: caps {:?} bit/s (total {total:.0}), scale {:?}, measured upload {:.0} kbit/s",
            person.name,
            limits
                .iter()
                .map(|s| (s.kind.clone(), s.max_bitrate))
                .collect::<Vec<_>>(),
            videos
                .iter()
                .map(|s| s.scale_resolution_down_by)
                .collect::<Vec<_>>(),
            sent / 1000.0
        );
    }
    // Still everybody with everybody after all that.
    wait_mesh_connected(&view).await?;
    Ok(())
}

/// Four people in a call, one leaves (navigates away, then closes the browser): the three
/// others keep their calls with each other (the same peer connections, still `connected`,
/// media still flowing both ways), and each ends with exactly two connected tiles and none for
/// the one who left. Also leaves the README's screenshot of a four-person call.
#[tokio::test]
async fn four_people_one_leaves_the_others_stay_connected() -> anyhow::Result<()> {
    let stack = stack().await?;
    let mut people = browsers(&stack, 4).await?;
    let room = stack.new_room_url();
    let (stayers, leaver_id) = {
        let group = group_call(&people, &room).await?;
        let alice = group[0].0;
        alice.emulate_viewport(DESKTOP.0, DESKTOP.1, false).await?;
        alice
            .wait_for(
                "const v = [...document.querySelectorAll('#remote-tiles video.remote')]; \
                 return v.length === 3 && v.every(v => v.videoWidth > 0 && !v.paused);",
                "three remote videos playing",
            )
            .await?;
        // A moment for the resized tiles to settle before the picture.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let shot = alice.screenshot("room-group").await?;
        eprintln!("screenshot of a four-person call: {}", shot.display());

        // The stayers keep a reference to their calls' connections, to tell them apart from
        // new ones afterwards.
        for (person, _) in &group[..3] {
            person
                .eval("window.__keptCalls = { ...window.__peerConnections }; return true;")
                .await?;
        }
        let ids: Vec<String> = group.iter().map(|(_, id)| id.clone()).collect();
        (ids[..3].to_vec(), ids[3].clone())
    };
    let leaver = people.pop().expect("four people");
    let left_at = Instant::now();
    leaver.goto("about:blank").await?;
    leaver.quit().await?;

    let group: Vec<(&Browser, String)> = people.iter().zip(stayers.iter().cloned()).collect();
    let view = as_view(&group);
    wait_mesh_connected(&view).await?;
    eprintln!(
        "FIGURE four minus one: the leaver's tile gone everywhere {} ms after it navigated away",
        left_at.elapsed().as_millis()
    );
    for (person, id) in &group {
        let shown = tiles(person).await?;
        ensure!(
            shown.tiles.len() == 2
                && shown.count == Some(2)
                && shown.tiles.iter().all(|t| t.peer != leaver_id),
            "{} ({id}): two tiles, none for {leaver_id}: {shown:?}",
            person.name
        );
        let same = person
            .eval(
                "const now = window.__peerConnections; \
                 return Object.keys(now).every(p => now[p] === window.__keptCalls[p]);",
            )
            .await?;
        ensure!(
            same.as_bool() == Some(true),
            "{}: the calls that stayed are the same connections as before (none renegotiated from scratch)",
            person.name
        );
        ensure!(
            person.state().await?.as_deref() == Some("connected"),
            "{}: the status still says connected",
            person.name
        );
    }
    wait_mesh_flowing(&view).await?;
    Ok(())
}

/// With four people in a room of four, a fifth opening the link gets `full`, and the page says
/// so with the room's size.
#[tokio::test]
async fn fifth_person_is_told_the_room_of_four_is_full() -> anyhow::Result<()> {
    let stack = stack().await?;
    let room = stack.new_room_url();
    let people = browsers(&stack, 4).await?;
    for person in &people {
        person.goto(&room).await?;
        // In the room (its `joined` arrived) before the next one comes.
        peer_id(person).await?;
    }
    let eve = stack.browser(BrowserOptions::default()).await?;
    eve.goto(&room).await?;
    eve.wait_state("full").await?;
    eve.wait_text("This room is full (4 people)").await?;
    let status = eve.status_text().await?;
    ensure!(
        status.contains("This room is full (4 people)"),
        "the status line says it: {status:?}"
    );
    Ok(())
}

/// Waits until Call is enabled on `person`'s page or the page is already in a call, then
/// presses it if it is enabled; returns whether it pressed.
async fn press_call_when_ready(person: &Browser) -> anyhow::Result<bool> {
    person
        .wait_for(
            "const b = document.getElementById('call'); \
             return (!!b && !b.disabled) || Object.keys(window.__peerConnections || {}).length > 0;",
            "Call enabled or a call going on",
        )
        .await?;
    let pressed = person
        .eval(
            "const b = document.getElementById('call'); \
             if (b && !b.disabled) { b.click(); return true; } return false;",
        )
        .await?;
    Ok(pressed.as_bool() == Some(true))
}

/// Opens `room` and presses Get Video until the preview shows.
async fn arrive(person: &Browser, room: &str) -> anyhow::Result<()> {
    person.join_with_video(room).await
}

/// Three people arrive at the same moment (pages loaded in parallel), get video and press
/// Call together where it is enabled: everybody ends up connected to everybody, each page with
/// exactly two open peer connections (none extra: the probe counts every one the page made),
/// both `connected` and `stable`, and two connected tiles — ten runs in a row, each in a new
/// room.
#[tokio::test]
async fn three_people_arriving_at_once_all_connect_ten_times() -> anyhow::Result<()> {
    let stack = stack().await?;
    let people = browsers(&stack, 3).await?;
    for person in &people {
        Probe::install(person).await?;
    }
    let [a, b, c] = &people[..] else {
        unreachable!("three people")
    };
    let mut times = Vec::new();
    for run in 1..=ARRIVAL_RUNS {
        let room = stack.new_room_url();
        let started = Instant::now();
        let (ra, rb, rc) = tokio::join!(arrive(a, &room), arrive(b, &room), arrive(c, &room));
        ra?;
        rb?;
        rc?;
        let arrived = started.elapsed();
        let (pa, pb, pc) = tokio::join!(
            press_call_when_ready(a),
            press_call_when_ready(b),
            press_call_when_ready(c)
        );
        let pressed = [pa?, pb?, pc?];
        let group = vec![
            (a, peer_id(a).await?),
            (b, peer_id(b).await?),
            (c, peer_id(c).await?),
        ];
        let view = as_view(&group);
        wait_mesh_connected(&view)
            .await
            .with_context(|| format!("run {run}: (Call pressed by {pressed:?})"))?;
        let connected = started.elapsed();
        let mut made_in_all = 0;
        for (person, id) in &group {
            let made = person
                .eval(
                    "const all = window.__probedConnections; \
                     return [all.filter(p => p.connectionState !== 'closed').length, all.length];",
                )
                .await?;
            ensure!(
                made[0].as_u64() == Some(2),
                "run {run}: {} ({id}) has {} open peer connections (of {} made), not two\n{}",
                person.name,
                made[0],
                made[1],
                mesh::describe(&view).await
            );
            made_in_all += made[1].as_u64().unwrap_or_default();
            let states = calls(person).await?;
            ensure!(
                states.values().all(|call| call.signaling_state == "stable"),
                "run {run}: {}: no negotiation left half done: {states:?}",
                person.name
            );
            person.wait_state("connected").await?;
        }
        eprintln!(
            "FIGURE arrival run {run:2}: all three in the room with video {:5} ms, all connected to all {:5} ms after the parallel loads began (Call pressed by {pressed:?}; {made_in_all} peer connections made in all)",
            arrived.as_millis(),
            connected.as_millis()
        );
        times.push(connected.as_secs_f64() * 1000.0);
    }
    eprintln!(
        "FIGURE arrival: median {:.0} ms, worst {:.0} ms to all connected over {ARRIVAL_RUNS} runs",
        e2e::median(&mut times.clone()),
        times.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}
