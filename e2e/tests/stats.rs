//! The live stats panel in a real call: `#stats-toggle` opens `#stats`, every `data-stat` shows
//! a number with its unit within 3 s of the call connecting, the graph draws, and the route
//! names the candidate types — direct on host candidates, relayed through a real coturn when
//! only relayed candidates are allowed.

use std::time::Duration;

use e2e::{Browser, BrowserOptions, Stack, StackOptions, wait_media_flowing};
use regex::Regex;

/// How long after `connected` every number must be on screen (the issue's figure).
const WITHIN: Duration = Duration::from_secs(3);

/// Each `data-stat` and the pattern its text must match: a number and its unit.
const PATTERNS: [(&str, &str); 8] = [
    ("rtt", r"^\d+ ms$"),
    ("bitrate-in", r"^\d+(\.\d)? (kbit|Mbit)/s$"),
    ("bitrate-out", r"^\d+(\.\d)? (kbit|Mbit)/s$"),
    ("packet-loss", r"^\d+\.\d %$"),
    ("resolution", r"^[1-9]\d*×[1-9]\d*$"),
    ("fps", r"^\d+ fps$"),
    ("codec", r"^[A-Za-z0-9-]+ / [A-Za-z0-9-]+$"),
    (
        "route",
        r"^(direct|relayed) \((host|srflx|prflx|relay) → (host|srflx|prflx|relay)\)$",
    ),
];

/// The text of every `data-stat`, as shown (`innerText`: empty while the panel is hidden).
const SHOWN: &str = r#"
const shown = {};
for (const e of document.querySelectorAll('#stats [data-stat]')) shown[e.dataset.stat] = e.innerText;
return shown;
"#;

/// Two people in a room with video; `alice` has opened the stats panel (checked to be hidden,
/// and not pressed, before).
async fn two_people_with_the_panel_open(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    let room = stack.new_room_url();
    for person in [&alice, &bob] {
        person.join_with_video(&room).await?;
    }
    let closed = alice
        .eval(
            "const t = document.getElementById('stats-toggle'); \
             return [t.tagName, t.type, t.getAttribute('aria-pressed'), \
                     t.getAttribute('aria-controls'), document.getElementById('stats').hidden];",
        )
        .await?;
    assert_eq!(
        closed,
        serde_json::json!(["BUTTON", "button", "false", "stats", true]),
        "the toggle before it is pressed"
    );
    alice.click("stats-toggle").await?;
    let open = alice
        .eval(
            "return [document.getElementById('stats-toggle').getAttribute('aria-pressed'), \
                     document.getElementById('stats').hidden];",
        )
        .await?;
    assert_eq!(
        open,
        serde_json::json!(["true", false]),
        "the toggle pressed"
    );
    // Opening the panel scrolled the page to it; back to the top, where Call is.
    alice.eval("window.scrollTo(0, 0); return true;").await?;
    alice.screenshot("stats-panel-open").await?;
    Ok((alice, bob))
}

/// Waits for `connected`, then polls until every stat matches its pattern; fails if that takes
/// longer than [`WITHIN`]. Returns the texts and how long they took.
async fn every_stat_within_three_seconds(
    person: &Browser,
) -> anyhow::Result<(serde_json::Value, Duration)> {
    person.wait_state("connected").await?;
    let connected = tokio::time::Instant::now();
    let patterns: Vec<(&str, Regex)> = PATTERNS
        .iter()
        .map(|(name, pattern)| (*name, Regex::new(pattern).expect("valid pattern")))
        .collect();
    loop {
        let shown = person.eval(SHOWN).await?;
        let wrong: Vec<String> = patterns
            .iter()
            .filter(|(name, pattern)| !pattern.is_match(shown[name].as_str().unwrap_or_default()))
            .map(|(name, _)| format!("{name}={}", shown[name]))
            .collect();
        let took = connected.elapsed();
        if wrong.is_empty() {
            return Ok((shown, took));
        }
        if took > WITHIN {
            person.screenshot("stats-timeout").await?;
            anyhow::bail!("after {took:?}, not a number with its unit: {wrong:?} (all: {shown})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A direct call on loopback: every number is there within 3 s, media flows at a rate above
/// zero both ways, the route is host to host, and the graph has drawn lines.
#[tokio::test]
async fn every_stat_shows_a_number_with_its_unit_and_the_route_is_direct() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = two_people_with_the_panel_open(&stack).await?;
    alice.click("call").await?;
    let (shown, took) = every_stat_within_three_seconds(&alice).await?;
    eprintln!("every stat shown {took:?} after connecting: {shown}");
    assert_eq!(shown["route"], "direct (host → host)", "{shown}");
    wait_media_flowing(&alice, &bob).await?;
    alice
        .wait_for(
            "const s = [...document.querySelectorAll('#stats [data-stat]')] \
               .reduce((m, e) => (m[e.dataset.stat] = e.innerText, m), {}); \
             return s['bitrate-in'] !== '0 kbit/s' && s['bitrate-out'] !== '0 kbit/s';",
            "media bitrates above zero",
        )
        .await?;
    // Three samples or more: each line of the graph has at least one segment.
    alice
        .wait_for(
            "return ['in', 'out'].every(k => /L/.test(document.querySelector('#stats svg path.line-bitrate-' + k).getAttribute('d') || '')) \
               && /L/.test(document.querySelector('#stats svg path.line-rtt').getAttribute('d') || '');",
            "the graph's three lines",
        )
        .await?;
    alice
        .eval("document.getElementById('stats').scrollIntoView(); return true;")
        .await?;
    alice.screenshot("stats-direct").await?;
    // The numbers go with the call.
    alice.click("hang-up").await?;
    alice
        .wait_for(
            "return [...document.querySelectorAll('#stats [data-stat]')].every(e => e.innerText === '—');",
            "every stat back to the dash after hanging up",
        )
        .await?;
    Ok(())
}

/// With only relayed candidates allowed, the call goes through coturn and the panel says
/// `relayed (relay → relay)`, every number still there within 3 s.
#[tokio::test]
async fn route_is_relayed_through_coturn() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        relay_only: true,
        ..Default::default()
    })
    .await?;
    let (alice, _bob) = two_people_with_the_panel_open(&stack).await?;
    alice.click("call").await?;
    let (shown, took) = every_stat_within_three_seconds(&alice).await?;
    eprintln!("relayed: every stat shown {took:?} after connecting: {shown}");
    assert_eq!(shown["route"], "relayed (relay → relay)", "{shown}");
    alice
        .eval("document.getElementById('stats').scrollIntoView(); return true;")
        .await?;
    alice.screenshot("stats-relayed").await?;
    Ok(())
}
