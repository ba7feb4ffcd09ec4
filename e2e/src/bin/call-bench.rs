//! Call benchmark: the median of 10 runs of
//! - Call pressed → first remote video frame decoded, on each side;
//! - navigation → page interactive (the app's `app-interactive` performance mark).
//!
//! Uses the end-to-end set-up (real backend serving the release build, coturn, two fresh
//! headless Chromiums per run, cold caches) and must run in a loopback-only namespace:
//! `scripts/bench`.

use std::time::Duration;

use anyhow::Context;
use e2e::{Browser, BrowserOptions, Stack, StackOptions, median};

const RUNS: usize = 10;

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
        ..Default::default()
    })
    .await?;
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
