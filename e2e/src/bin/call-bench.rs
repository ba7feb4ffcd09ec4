//! Call benchmark.
//!
//! Two people, the median of 10 runs of
//! - Call pressed → first remote video frame decoded, on each side;
//! - navigation → page interactive (the app's `app-interactive` performance mark).
//!
//! Four people (a full mesh), the median of 5 runs: three are in a call, the fourth opens the
//! link and presses Get Video as soon as it can; measured from that press (and from the fourth
//! page's navigation start) until every browser decodes every other's video. Then the CPU one
//! browser (its whole process tree) uses during 20 s of the four-person call.
//!
//! Uses the end-to-end set-up (real backend serving the release build with `--room-capacity 4`,
//! coturn, fresh headless Chromiums per run, cold caches) and must run in a loopback-only
//! namespace: `scripts/bench call`. `call-bench four` runs only the four-person case.

use std::time::Duration;

use anyhow::Context;
use e2e::{
    Browser, BrowserOptions, Stack, StackOptions,
    cpu::browser_cpu_percent,
    median,
    mesh::{peer_id, wait_mesh_connected, wait_mesh_flowing},
};

const RUNS: usize = 10;
/// Runs of the four-person case (four fresh Chromiums each).
const GROUP_RUNS: usize = 5;
/// How long the CPU of one browser is measured in the four-person call.
const CPU_WINDOW: Duration = Duration::from_secs(20);

/// Installed on every page of the four-person case: records, for each other person's peer id,
/// when this page first decoded a video frame from them (`window.__firstFrames`, epoch ms),
/// polling each call's `getStats()` every 10 ms.
const WATCH_FIRST_FRAMES: &str = r#"
window.__firstFrames = {};
const poll = async () => {
  for (const [peer, pc] of Object.entries(window.__peerConnections || {})) {
    if (window.__firstFrames[peer]) continue;
    const stats = await pc.getStats();
    let frames = 0;
    stats.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0; });
    if (frames > 0) window.__firstFrames[peer] = Date.now();
  }
  setTimeout(poll, 10);
};
poll();
return true;
"#;

/// Installed on both pages before Call: records when the first remote frame is decoded, by
/// polling getStats every few milliseconds (the peer connection may not exist yet).
const WATCH_FIRST_FRAME: &str = r#"
window.__firstFrameAt = null;
const poll = async () => {
  const pc = window.__peerConnection;
  if (pc) {
    const stats = await pc.getStats();
    let frames = 0;
    stats.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0; });
    if (frames > 0) { window.__firstFrameAt = Date.now(); return; }
  }
  setTimeout(poll, 4);
};
poll();
return true;
"#;

const INTERACTIVE: &str = r#"
const mark = performance.getEntriesByName('app-interactive')[0];
return mark ? mark.startTime : null;
"#;

async fn interactive_ms(browser: &Browser) -> anyhow::Result<f64> {
    browser
        .wait_for(
            "return performance.getEntriesByName('app-interactive').length > 0;",
            "app-interactive mark",
        )
        .await?;
    browser
        .eval(INTERACTIVE)
        .await?
        .as_f64()
        .context("mark time")
}

async fn first_frame_at(browser: &Browser) -> anyhow::Result<f64> {
    browser
        .wait_for(
            "return window.__firstFrameAt !== null;",
            "first remote frame",
        )
        .await?;
    browser
        .eval("return window.__firstFrameAt;")
        .await?
        .as_f64()
        .context("frame time")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        backend_args: vec!["--room-capacity".into(), "4".into()],
        ..Default::default()
    })
    .await?;
    if std::env::args().nth(1).as_deref() != Some("four") {
        two_people(&stack).await?;
        println!();
    }
    four_people(&stack).await
}

/// The two-person case: Call pressed → first frame, and page loads.
async fn two_people(stack: &Stack) -> anyhow::Result<()> {
    let (mut caller, mut callee, mut interactive) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let room = stack.new_room_url();
        let alice = stack.browser(BrowserOptions::default()).await?;
        let bob = stack.browser(BrowserOptions::default()).await?;
        for person in [&alice, &bob] {
            person.goto(&room).await?;
            interactive.push(interactive_ms(person).await?);
            person.click("get-video").await?;
        }
        for person in [&alice, &bob] {
            person.wait_enabled("call").await?;
            person.eval(WATCH_FIRST_FRAME).await?;
        }
        let pressed_at = alice
            .eval("const t = Date.now(); document.getElementById('call').click(); return t;")
            .await?
            .as_f64()
            .context("press time")?;
        let a = first_frame_at(&alice).await? - pressed_at;
        let b = first_frame_at(&bob).await? - pressed_at;
        println!(
            "run {run:2}: first remote frame {a:6.0} ms (caller), {b:6.0} ms (callee); interactive {:5.0} / {:5.0} ms",
            interactive[interactive.len() - 2],
            interactive[interactive.len() - 1]
        );
        caller.push(a);
        callee.push(b);
        alice.quit().await?;
        bob.quit().await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!();
    println!("median of {RUNS} (loopback, fake devices, headless Chromium, cold cache):");
    println!(
        "  Call pressed → first remote frame decoded, caller: {:.0} ms",
        median(&mut caller)
    );
    println!(
        "  Call pressed → first remote frame decoded, callee: {:.0} ms",
        median(&mut callee)
    );
    println!(
        "  navigation → page interactive:                     {:.0} ms",
        median(&mut interactive)
    );
    Ok(())
}

/// When `watcher` first decoded video from `peer` (epoch ms), waiting for it.
async fn first_frame_from(watcher: &Browser, peer: &str) -> anyhow::Result<f64> {
    let key = serde_json::to_string(peer)?;
    watcher
        .wait_for(
            &format!("return !!(window.__firstFrames || {{}})[{key}];"),
            &format!("first frame from {peer}"),
        )
        .await?;
    watcher
        .eval(&format!("return window.__firstFrames[{key}];"))
        .await?
        .as_f64()
        .context("frame time")
}

/// The four-person case: the fourth's arrival → everybody decoding everybody, then one
/// browser's CPU in the call of four.
async fn four_people(stack: &Stack) -> anyhow::Result<()> {
    let (mut from_press, mut from_arrival, mut cpu) = (Vec::new(), Vec::new(), None);
    for run in 1..=GROUP_RUNS {
        let room = stack.new_room_url();
        let mut people = Vec::new();
        for _ in 0..4 {
            people.push(stack.browser(BrowserOptions::default()).await?);
        }
        let (three, fourth) = (&people[..3], &people[3]);
        let mut ids = Vec::new();
        for person in three {
            person.join_with_video(&room).await?;
            ids.push(peer_id(person).await?);
        }
        three[0].click("call").await?;
        let view: Vec<(&Browser, &str)> =
            three.iter().zip(ids.iter().map(String::as_str)).collect();
        wait_mesh_connected(&view).await?;
        wait_mesh_flowing(&view).await?;
        for person in three {
            person.eval(WATCH_FIRST_FRAMES).await?;
        }

        // The fourth arrives: opens the link, and presses Get Video as soon as it is enabled.
        fourth.goto(&room).await?;
        fourth.eval(WATCH_FIRST_FRAMES).await?;
        fourth.wait_enabled("get-video").await?;
        let times = fourth
            .eval(
                "const t = Date.now(); document.getElementById('get-video').click(); \
                 return [performance.timeOrigin, t];",
            )
            .await?;
        let arrived_at = times[0].as_f64().context("navigation start")?;
        let pressed_at = times[1].as_f64().context("press time")?;
        let fourth_id = peer_id(fourth).await?;
        let (mut others_see_fourth, mut fourth_sees_others) = (0.0_f64, 0.0_f64);
        for person in three {
            others_see_fourth = others_see_fourth.max(first_frame_from(person, &fourth_id).await?);
        }
        for id in &ids {
            fourth_sees_others = fourth_sees_others.max(first_frame_from(fourth, id).await?);
        }
        let last = others_see_fourth.max(fourth_sees_others);
        let (press, arrival) = (last - pressed_at, last - arrived_at);
        println!(
            "four people, run {run}: every browser decodes every other's video {press:6.0} ms after the fourth's Get Video, {arrival:6.0} ms after its navigation start \
             (the fourth decodes the three {:6.0} ms, they decode the fourth {:6.0} ms after navigation start)",
            fourth_sees_others - arrived_at,
            others_see_fourth - arrived_at,
        );
        from_press.push(press);
        from_arrival.push(arrival);

        if run == GROUP_RUNS {
            ids.push(fourth_id);
            let all: Vec<(&Browser, &str)> =
                people.iter().zip(ids.iter().map(String::as_str)).collect();
            wait_mesh_connected(&all).await?;
            wait_mesh_flowing(&all).await?;
            cpu = Some(browser_cpu_percent(&people[0].profile, CPU_WINDOW).await?);
        }
        for person in people {
            person.quit().await?;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!();
    println!(
        "four people (full mesh, loopback, fake devices, headless Chromium, cold cache; load average {}):",
        load_average()
    );
    println!(
        "  fourth's Get Video pressed → every browser decodes every other's video, median of {GROUP_RUNS}: {:.0} ms",
        median(&mut from_press)
    );
    println!(
        "  fourth's navigation start → every browser decodes every other's video, median of {GROUP_RUNS}: {:.0} ms",
        median(&mut from_arrival)
    );
    println!(
        "  CPU of one browser (all its processes) during {} s of the call of four: {:.0} % of one core",
        CPU_WINDOW.as_secs(),
        cpu.context("the last run measures the CPU")?
    );
    Ok(())
}

/// `/proc/loadavg`'s first three fields: how busy the machine was (the figures above depend on
/// it when other work shares the cores).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}
