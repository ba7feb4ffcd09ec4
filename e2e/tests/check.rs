//! The connection check at `/check` in real Chromium, with a real coturn behind the backend
//! (STUN and TURN on one loopback port) and, for the failing case, the same TURN configuration
//! pointing at a coturn that has been stopped. Also: the microphone meter follows the fake
//! microphone, and a call that fails links here.

use std::time::Duration;

use anyhow::Context;
use e2e::{Browser, BrowserOptions, Stack, StackOptions, UdpBlackhole, join_both};

const NAMES: [&str; 5] = ["media", "signalling", "stun", "turn", "browser"];

/// The sentence `#check-turn` must say when no relay candidate can be gathered.
const NO_RELAY: &str = "No relay (TURN) server could be reached. Calls across strict firewalls will fail: ask the operator to check the TURN server, or try another network.";

/// Opens `/check` (typed in, or `via_start_page` through the start page's link) and waits
/// until every line has a result; returns them in [`NAMES`] order.
async fn run_check(
    stack: &Stack,
    via_start_page: bool,
) -> anyhow::Result<(Browser, Vec<(String, String)>)> {
    let browser = stack.browser(BrowserOptions::default()).await?;
    if via_start_page {
        browser
            .goto(&format!("{}/", stack.backend.origin()))
            .await?;
        browser.click("check-link").await?;
    } else {
        browser
            .goto(&format!("{}/check", stack.backend.origin()))
            .await?;
    }
    let all_done = NAMES
        .iter()
        .map(|name| format!("!!document.querySelector('#check-{name}[data-result]')"))
        .collect::<Vec<_>>()
        .join(" && ");
    browser
        .wait_for(&format!("return {all_done};"), "every check to finish")
        .await?;
    let mut results = Vec::new();
    for name in NAMES {
        let line = browser
            .eval(&format!(
                "const e = document.getElementById('check-{name}'); \
                 return [e.dataset.result, e.textContent];"
            ))
            .await?;
        results.push((
            line[0].as_str().unwrap_or_default().to_owned(),
            line[1].as_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok((browser, results))
}

/// The report names every check with its result.
async fn assert_report(browser: &Browser, results: &[(String, String)]) -> anyhow::Result<()> {
    let report = browser
        .eval("return document.getElementById('check-report').textContent;")
        .await?;
    let report = report.as_str().unwrap_or_default();
    for (name, (result, _)) in NAMES.iter().zip(results) {
        let expected = format!("check-{name}: {result}");
        assert!(
            report.contains(&expected),
            "{expected:?} in the report:\n{report}"
        );
    }
    Ok(())
}

/// With coturn answering STUN and TURN behind a NAT, every line is green: the preview plays,
/// the meter exists, the server answers pings, STUN shows the address the NAT gave, and data
/// goes through the relay.
#[tokio::test]
async fn every_check_passes_with_a_working_turn_server() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    let coturn = stack.coturn.as_ref().context("coturn runs")?;
    let _nat = NatInFrontOfStun::start(coturn.port)?;
    let (browser, results) = run_check(&stack, true).await?;
    for (name, (result, text)) in NAMES.iter().zip(&results) {
        assert_eq!(result, "pass", "#check-{name}: {text}");
    }
    assert!(
        results[2].1.contains(NAT_ADDRESS),
        "#check-stun shows the public address {NAT_ADDRESS}: {}",
        results[2].1
    );
    assert!(
        results[1].1.contains(" ms"),
        "the round-trip time: {}",
        results[1].1
    );
    assert!(
        results[3].1.contains(" ms"),
        "the relay round trip: {}",
        results[3].1
    );
    browser
        .wait_for(
            "const v = document.getElementById('check-preview'); return v.videoWidth > 0;",
            "the camera preview",
        )
        .await?;
    let meter = browser
        .eval("return document.querySelector('meter#check-mic-level') !== null;")
        .await?;
    assert_eq!(meter.as_bool(), Some(true), "a microphone level meter");
    assert_report(&browser, &results).await?;
    browser.quit().await
}

/// With the TURN server down, `#check-turn` is red and says what to do; the rest still passes.
#[tokio::test]
async fn turn_fails_in_words_when_the_relay_server_is_down() -> anyhow::Result<()> {
    let mut stack = Stack::start(StackOptions {
        coturn: true,
        ..Default::default()
    })
    .await?;
    // The backend keeps handing out the coturn's URL and credentials.
    drop(stack.coturn.take());
    let (browser, results) = run_check(&stack, false).await?;
    for (index, name) in NAMES.iter().enumerate() {
        if ["media", "signalling", "browser"].contains(name) {
            assert_eq!(
                results[index].0, "pass",
                "#check-{name}: {}",
                results[index].1
            );
        }
    }
    assert_eq!(results[3].0, "fail", "#check-turn: {}", results[3].1);
    assert!(
        results[3].1.contains(NO_RELAY),
        "#check-turn says: {}",
        results[3].1
    );
    assert_report(&browser, &results).await?;
    browser.quit().await
}

/// The microphone level meter on `/check` follows the fake microphone's beeps (about one a
/// second): once it has started, sampled every 100 ms for 4 s, it falls to silence and rises
/// with a beep at least twice — a meter stuck at any value fails.
#[tokio::test]
async fn microphone_level_meter_moves() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = stack.browser(BrowserOptions::default()).await?;
    browser
        .goto(&format!("{}/check", stack.backend.origin()))
        .await?;
    browser
        .wait_for(
            "const e = document.getElementById('check-media'); \
             const m = document.getElementById('check-mic-level'); \
             return !!e && e.dataset.result === 'pass' && m.value > 0;",
            "the camera and microphone, and the meter started",
        )
        .await?;
    let levels = browser
        .eval(
            "const meter = document.getElementById('check-mic-level'); const seen = []; \
             for (let i = 0; i < 40; i++) { \
               seen.push(meter.value); await new Promise(r => setTimeout(r, 100)); } \
             return seen;",
        )
        .await?;
    let levels: Vec<f64> = levels
        .as_array()
        .map(|levels| {
            levels
                .iter()
                .filter_map(serde_json::Value::as_f64)
                .collect()
        })
        .unwrap_or_default();
    // A beep, caught at some point of its decay by a 100 ms sample, reads 0.04 to 0.7; the
    // silence between beeps reads below 0.001.
    const LOUD: f64 = 0.02;
    const QUIET: f64 = 0.005;
    let mut rises = 0;
    let mut was_quiet = false;
    for &level in &levels {
        if level < QUIET {
            was_quiet = true;
        } else if level > LOUD && was_quiet {
            rises += 1;
            was_quiet = false;
        }
    }
    assert!(
        rises >= 2,
        "the meter must rise with each beep and fall between them ({rises} rises): {levels:?}"
    );
    browser.quit().await
}

/// The "public" address of [`NatInFrontOfStun`]: a benchmarking-range address routed to this
/// namespace's `lo` but not one of its addresses (a browser would otherwise gather a host
/// candidate on it, equal to the reflexive one).
const NAT_ADDRESS: &str = "198.18.0.2";

/// A NAT between the browsers and the STUN/TURN server, as a home router is: UDP to the
/// server's port leaves from [`NAT_ADDRESS`]. On bare loopback the address STUN sees is the
/// host address itself, and Chromium drops a server-reflexive candidate equal to a host one;
/// behind this NAT it finds one, as it would on the internet. Removed on drop, so that no
/// later test in the namespace inherits it.
struct NatInFrontOfStun {
    port: String,
}

impl NatInFrontOfStun {
    fn start(server_port: u16) -> anyhow::Result<Self> {
        run(
            "ip",
            &["route", "add", &format!("{NAT_ADDRESS}/32"), "dev", "lo"],
        )?;
        let nat = Self {
            port: server_port.to_string(),
        };
        run("iptables", &nat.rule("-A"))?;
        Ok(nat)
    }

    fn rule<'a>(&'a self, action: &'a str) -> [&'a str; 14] {
        [
            "-t",
            "nat",
            action,
            "POSTROUTING",
            "-o",
            "lo",
            "-p",
            "udp",
            "--dport",
            &self.port,
            "-j",
            "SNAT",
            "--to-source",
            NAT_ADDRESS,
        ]
    }
}

impl Drop for NatInFrontOfStun {
    fn drop(&mut self) {
        if let Err(error) = run("iptables", &self.rule("-D")) {
            eprintln!("could not remove the NAT rule: {error}");
        }
        if let Err(error) = run(
            "ip",
            &["route", "del", &format!("{NAT_ADDRESS}/32"), "dev", "lo"],
        ) {
            eprintln!("could not remove the route to the NAT address: {error}");
        }
    }
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new(program).args(args).status()?;
    anyhow::ensure!(status.success(), "{program} {args:?} failed: {status}");
    Ok(())
}

/// How long the connection may take to give up once nothing arrives: Chromium says
/// `disconnected` within seconds, and `connectionState` `failed` about 16 s after the cut here
/// (`iceConnectionState` stays `disconnected`); the page calls the call lost 20 s after it
/// stopped at the latest, since its automatic ICE restarts keep the browser checking.
const ICE_GIVES_UP: Duration = Duration::from_secs(60);

/// A call whose network stops (every UDP packet dropped inside the namespace once connected)
/// fails, and then shows `#check-hint` with `a#check-link` to `/check` in the words —
/// hidden before; following the link opens the connection check.
#[tokio::test]
async fn a_failed_call_links_to_the_check() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    join_both([&alice, &bob], &stack.new_room_url()).await?;
    const HINT: &str = "const hint = document.getElementById('check-hint'); \
         const link = hint && hint.querySelector('a#check-link'); \
         return [!!hint && !hint.hidden && hint.offsetParent !== null, \
                 link && link.getAttribute('href'), link && link.textContent.trim()];";
    alice.click("call").await?;
    alice.wait_state("connected").await?;
    assert_eq!(
        alice.eval(HINT).await?[0],
        false,
        "the hint is hidden while the call works"
    );
    let blackhole = UdpBlackhole::start()?;
    let cut = tokio::time::Instant::now();
    loop {
        if alice.state().await?.as_deref() == Some("failed") {
            break;
        }
        anyhow::ensure!(
            cut.elapsed() < ICE_GIVES_UP,
            "no failure {ICE_GIVES_UP:?} after cutting UDP: {}",
            alice.diagnostics().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("the call failed {:?} after UDP was cut", cut.elapsed());
    assert_eq!(
        alice.eval(HINT).await?,
        serde_json::json!([
            true,
            "/check",
            "The call could not connect — run the connection check"
        ]),
        "#check-hint once the call failed"
    );
    alice.screenshot("call-failed-check-hint").await?;
    alice.click("check-link").await?;
    alice
        .wait_for(
            "return location.pathname === '/check' && !!document.getElementById('check-turn');",
            "the connection check opened from the link",
        )
        .await?;
    // Cut until here: with the network back, the call reconnects by itself (automatic ICE
    // restarts) and the hint goes away.
    blackhole.lift()
}
