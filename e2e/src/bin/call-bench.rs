//! Call benchmark.
//!
//! Two people, the median of 10 runs, each run timing the app and the plain-JavaScript
//! reference page (`bench/reference/`: the same call flow over the same protocol and the same
//! backend) the same way, two fresh Chromiums each:
//! - Call pressed → first remote video frame decoded, on each side, with the timeline of each
//!   run (offer set, sent, answer received, ICE checking → connected, DTLS connected, first
//!   packet, first frame; see `e2e::timeline`) and the ratio app / reference;
//! - navigation → page interactive (the app's `app-interactive` performance mark).
//!
//! Four people (a full mesh), the median of 5 runs: three are in a call, the fourth opens the
//! link and presses Get Video as soon as it can; measured from that press (and from the fourth
//! page's navigation start) until every browser decodes every other's video. Then the CPU one
//! browser (its whole process tree) uses during 20 s of the four-person call.
//!
//! Uses the end-to-end set-up (real backend serving the release build with `--room-capacity 4`,
//! coturn, fresh headless Chromiums per run, cold caches) and must run in a loopback-only
//! namespace: `scripts/bench call`. Arguments: `two` or `four` runs only that case;
//! `--twilio-delay-ms N` gets the ICE servers from the Twilio stand-in, answering N ms late.
//!
//! For experiments (where does the time go?) without rebuilding the page: `CALL_BENCH_RUNS=N`
//! runs N runs instead of 10, and `CALL_BENCH_EXTRA_JS='…'` runs that script (a function
//! body) on every page of the two-person case right after the timeline's watch is installed,
//! e.g. to stub a browser API on both pages or, testing `location.pathname`, on one;
//! `CALL_BENCH_PRINT_JS='…'` runs that script (a function body, `PRESSED` holding when Call
//! was pressed, epoch ms) on both pages once the caller decoded a frame and prints what it
//! returns, e.g. what a probe put in by `CALL_BENCH_EXTRA_JS` recorded (`bench/call-probe.js`
//! is one: where each page's main thread goes during the set-up).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use e2e::{
    Browser, BrowserOptions, Signal, Stack, StackOptions,
    cpu::browser_cpu_percent,
    load_average, median,
    mesh::{peer_id, wait_mesh_connected, wait_mesh_flowing},
    page_load::interactive_ms,
    reference::ReferenceServer,
    timeline::{self, CALLEE_STEPS, CALLER_STEPS},
};

const RUNS: usize = 10;
/// Runs of the four-person case (four fresh Chromiums each).
const GROUP_RUNS: usize = 5;
/// How long the CPU of one browser is measured in the four-person call.
const CPU_WINDOW: Duration = Duration::from_secs(20);
/// How long after Call is enabled on both pages it is pressed, on either page: a person needs
/// at least this long to see the button and press it, and the pages may use it.
const REACTION: Duration = Duration::from_millis(1_000);

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

/// What to run.
struct Args {
    two: bool,
    four: bool,
    twilio_delay_ms: Option<u64>,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut args = Args {
            two: true,
            four: true,
            twilio_delay_ms: None,
        };
        let mut words = std::env::args().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "two" => args.four = false,
                "four" => args.two = false,
                "--twilio-delay-ms" => {
                    let value = words.next().context("--twilio-delay-ms needs a number")?;
                    args.twilio_delay_ms =
                        Some(value.parse().context("--twilio-delay-ms: milliseconds")?);
                }
                other => bail!(
                    "unknown argument {other:?}; usage: call-bench [two|four] [--twilio-delay-ms N]"
                ),
            }
        }
        Ok(args)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let mut stack = Stack::start(StackOptions {
        coturn: true,
        twilio: args.twilio_delay_ms.is_some(),
        twilio_delay_ms: args.twilio_delay_ms.unwrap_or(0),
        backend_args: vec!["--room-capacity".into(), "4".into()],
        ..Default::default()
    })
    .await?;
    if args.two {
        // The reference page comes from its own origin: the backend is started again on its
        // port, allowing that origin beside its own.
        let reference = ReferenceServer::start().await?;
        stack.backend_args.extend([
            "--allowed-origins".into(),
            format!("{},{}", stack.backend.origin(), reference.origin()),
        ]);
        stack.stop_backend(Signal::SIGTERM).await?;
        stack.restart_backend().await?;
        two_people(&stack, &reference, args.twilio_delay_ms).await?;
        println!();
    }
    if args.four {
        four_people(&stack).await?;
    }
    Ok(())
}

/// Which page a run times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    /// The app, served by the backend.
    App,
    /// The plain-JavaScript reference page.
    Reference,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::App => "app",
            Page::Reference => "reference",
        }
    }
}

/// One call set up on one page kind: both sides' timelines, relative to the press (ms).
struct CallRun {
    caller: BTreeMap<String, f64>,
    callee: BTreeMap<String, f64>,
}

impl CallRun {
    fn caller_frame(&self) -> Option<f64> {
        self.caller.get("first frame decoded").copied()
    }

    fn callee_frame(&self) -> Option<f64> {
        self.callee.get("first frame decoded").copied()
    }
}

/// Two fresh Chromiums open `page` in a new room and press Get Video; once Call is enabled on
/// both (and a person's reaction time later), the first presses Call. Returns both timelines
/// and, for the app, both pages' navigation → interactive.
async fn one_call(
    stack: &Stack,
    reference: &ReferenceServer,
    page: Page,
    interactive: &mut Vec<f64>,
) -> anyhow::Result<CallRun> {
    let room = e2e::new_room_path();
    let url = match page {
        Page::App => format!("{}{room}", stack.backend.origin()),
        Page::Reference => {
            let name = room.trim_start_matches("/room/");
            reference.page_url(&stack.backend.origin(), name)
        }
    };
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    for person in [&alice, &bob] {
        person.goto(&url).await?;
        person.eval(timeline::INSTALL).await?;
        if let Ok(extra) = std::env::var("CALL_BENCH_EXTRA_JS") {
            person.eval(&extra).await?;
        }
        if page == Page::App {
            interactive.push(interactive_ms(person).await?);
        }
        person.click("get-video").await?;
    }
    for person in [&alice, &bob] {
        person.wait_enabled("call").await?;
    }
    tokio::time::sleep(REACTION).await;
    let pressed_at = timeline::press(&alice, "call").await?;
    let relative = |marks: BTreeMap<String, f64>| {
        marks
            .into_iter()
            .map(|(step, at)| (step, at - pressed_at))
            .collect::<BTreeMap<_, _>>()
    };
    let caller = relative(timeline::until_first_frame(&alice).await?);
    let callee = relative(timeline::until_first_frame(&bob).await?);
    if let Ok(print) = std::env::var("CALL_BENCH_PRINT_JS") {
        for (side, person) in [("caller", &alice), ("callee", &bob)] {
            let printed = person
                .eval(&format!("const PRESSED = {pressed_at};\n{print}"))
                .await?;
            println!("  {} {side}: {printed}", page.name());
        }
    }
    alice.quit().await?;
    bob.quit().await?;
    Ok(CallRun { caller, callee })
}

/// One line of a timeline: each step's time after the press, `-` for a step not seen.
fn timeline_line(marks: &BTreeMap<String, f64>, steps: &[(&str, &str)]) -> String {
    steps
        .iter()
        .map(|(step, label)| match marks.get(*step) {
            Some(at) => format!("{label} {at:.0}"),
            None => format!("{label} -"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The median of each step over the runs that saw it.
fn median_timeline<'a>(
    runs: impl Iterator<Item = &'a BTreeMap<String, f64>> + Clone,
    steps: &[(&str, &str)],
) -> BTreeMap<String, f64> {
    let mut medians = BTreeMap::new();
    for (step, _) in steps {
        let mut values: Vec<f64> = runs
            .clone()
            .filter_map(|marks| marks.get(*step).copied())
            .collect();
        if !values.is_empty() {
            medians.insert((*step).to_owned(), median(&mut values));
        }
    }
    medians
}

/// The two-person case: Call pressed → first frame on the app and on the reference page,
/// alternately in each run, and the app's page loads.
async fn two_people(
    stack: &Stack,
    reference: &ReferenceServer,
    twilio_delay_ms: Option<u64>,
) -> anyhow::Result<()> {
    let mut runs: BTreeMap<&str, Vec<CallRun>> = BTreeMap::new();
    let mut interactive = Vec::new();
    let runs_wanted: usize = std::env::var("CALL_BENCH_RUNS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(RUNS);
    for run in 1..=runs_wanted {
        // Alternating which goes first spreads any drift of the machine's load over both.
        let order = if run % 2 == 1 {
            [Page::App, Page::Reference]
        } else {
            [Page::Reference, Page::App]
        };
        for page in order {
            let call = one_call(stack, reference, page, &mut interactive).await?;
            println!(
                "run {run:2} {:9} caller: {}",
                page.name(),
                timeline_line(&call.caller, CALLER_STEPS)
            );
            println!(
                "             {:9} callee: {}",
                "",
                timeline_line(&call.callee, CALLEE_STEPS)
            );
            runs.entry(page.name()).or_default().push(call);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!();
    let ice = match twilio_delay_ms {
        Some(ms) => format!("ICE servers from the Twilio stand-in answering after {ms} ms"),
        None => "ICE servers from the backend (coturn credentials)".to_owned(),
    };
    println!(
        "median of {runs_wanted} (loopback, fake devices, headless Chromium, cold cache; {ice}; Call pressed {} ms after it is enabled; load average {}):",
        REACTION.as_millis(),
        load_average()
    );
    for page in [Page::App, Page::Reference] {
        let calls = &runs[page.name()];
        let caller = median_timeline(calls.iter().map(|call| &call.caller), CALLER_STEPS);
        let callee = median_timeline(calls.iter().map(|call| &call.callee), CALLEE_STEPS);
        println!(
            "  {:9} timeline, caller: {}",
            page.name(),
            timeline_line(&caller, CALLER_STEPS)
        );
        println!(
            "  {:9} timeline, callee: {}",
            page.name(),
            timeline_line(&callee, CALLEE_STEPS)
        );
    }
    let figure = |page: Page, side: fn(&CallRun) -> Option<f64>| {
        let mut values: Vec<f64> = runs[page.name()].iter().filter_map(side).collect();
        (!values.is_empty()).then(|| median(&mut values))
    };
    for (what, of) in [
        (
            "first remote frame decoded, caller",
            CallRun::caller_frame as fn(&CallRun) -> Option<f64>,
        ),
        ("first remote frame decoded, callee", CallRun::callee_frame),
    ] {
        if let (Some(app), Some(reference)) = (figure(Page::App, of), figure(Page::Reference, of)) {
            println!(
                "  Call pressed → {what}: app {app:.0} ms, reference {reference:.0} ms, ratio {:.2}",
                app / reference
            );
        }
    }
    println!(
        "  navigation → page interactive (app):              {:.0} ms",
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
