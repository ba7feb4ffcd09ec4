//! Controls benchmark: how long the other person waits to see that you muted.
//!
//! In one connected call (two fresh headless Chromiums, loopback, fake devices), the median
//! of 20 presses of `#mute` on one side → `#remote-muted` showing on the other, timed by both
//! pages' clocks (`performance.timeOrigin + performance.now()`, one machine). The reference,
//! measured in the same call: one message on a bare negotiated data channel between the same
//! two peer connections, sent by script and timed the same way — the floor that the app's
//! own path (click → state → data channel → indicator) is compared to.
//!
//! Run in a loopback-only namespace: `scripts/bench controls`.

use anyhow::Context;
use e2e::{Browser, Stack, StackOptions, connected_call, median};

const PRESSES: usize = 20;

/// Both pages: a clock, an observer noting when `#remote-muted` shows, and a bare data
/// channel (negotiated, so it needs no signalling) noting when a message arrives.
const INSTRUMENT: &str = r#"
window.__now = () => performance.timeOrigin + performance.now();
window.__shown = null;
window.__arrived = null;
const indicator = document.getElementById('remote-muted');
new MutationObserver(() => { if (!indicator.hidden && window.__shown === null) window.__shown = __now(); })
  .observe(indicator, { attributes: true, attributeFilter: ['hidden'] });
window.__bench = window.__peerConnection.createDataChannel('bench', { negotiated: true, id: 1000 });
window.__bench.onmessage = () => { window.__arrived = __now(); };
await new Promise(resolve => window.__bench.readyState === 'open' ? resolve() : window.__bench.onopen = resolve);
return true;
"#;

async fn number(browser: &Browser, script: &str) -> anyhow::Result<f64> {
    browser
        .eval(script)
        .await?
        .as_f64()
        .context(script.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    for person in [&alice, &bob] {
        person.eval(INSTRUMENT).await?;
    }
    let (mut app, mut bare) = (Vec::new(), Vec::new());
    for press in 1..=PRESSES {
        bob.eval("window.__shown = null; return true;").await?;
        let pressed = number(
            &alice,
            "const t = __now(); document.getElementById('mute').click(); return t;",
        )
        .await?;
        bob.wait_for("return window.__shown !== null;", "#remote-muted showing")
            .await?;
        let shown = number(&bob, "return window.__shown;").await?;
        // Unmute and let the indicator go before the next press.
        alice
            .eval("document.getElementById('mute').click(); return true;")
            .await?;
        bob.wait_for(
            "return document.getElementById('remote-muted').hidden;",
            "#remote-muted hidden",
        )
        .await?;

        bob.eval("window.__arrived = null; return true;").await?;
        let sent = number(
            &alice,
            "const t = __now(); window.__bench.send('x'); return t;",
        )
        .await?;
        bob.wait_for("return window.__arrived !== null;", "the bare message")
            .await?;
        let arrived = number(&bob, "return window.__arrived;").await?;
        println!(
            "press {press:2}: #mute → #remote-muted {:6.2} ms; bare data-channel message {:6.2} ms",
            shown - pressed,
            arrived - sent
        );
        app.push(shown - pressed);
        bare.push(arrived - sent);
    }
    let (app, bare) = (median(&mut app), median(&mut bare));
    println!();
    println!("median of {PRESSES} (loopback, one call, headless Chromium):");
    println!("  #mute pressed → #remote-muted showing on the other side: {app:.2} ms");
    println!("  reference, a bare data-channel message in the same call:  {bare:.2} ms");
    println!("  ratio: {:.2}×", app / bare);
    alice.quit().await?;
    bob.quit().await?;
    Ok(())
}
