//! The room page during a call, laid out for a desktop window and for a phone: where things
//! are, that nothing is out of reach, and an automated accessibility check (axe-core: names,
//! roles, contrast, landmarks) with no violation. Each test leaves a screenshot in the
//! artifacts (`room-desktop.png`, `room-phone.png`); the README shows them.
//!
//! axe-core is installed by the README's test command (`ensure_axe_core` in scripts/lib.sh),
//! which exports its path as `AXE_CORE_JS`.

use anyhow::{Context, bail};
use e2e::{
    Browser, BrowserOptions, Stack, StackOptions, connect, connected_call, join_both,
    workspace_root,
};
use serde::Deserialize;
use thirtyfour::prelude::*;

/// A laptop window, in CSS pixels.
const DESKTOP: (u32, u32) = (1280, 800);
/// The issue's phone: 390×844, touch.
const PHONE: (u32, u32) = (390, 844);
/// The smallest touch target people can hit reliably (WCAG 2.5.5, Apple's and Google's
/// guidelines), in CSS pixels.
const MIN_TOUCH_TARGET: f64 = 44.0;

#[derive(Debug, Clone, Copy, Deserialize)]
struct Rect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    width: f64,
    height: f64,
}

impl Rect {
    fn contains(&self, other: &Rect) -> bool {
        other.left >= self.left - 0.5
            && other.right <= self.right + 0.5
            && other.top >= self.top - 0.5
            && other.bottom <= self.bottom + 0.5
    }
}

#[derive(Debug, Deserialize)]
struct Control {
    id: String,
    title: String,
    label: String,
    disabled: bool,
    rect: Rect,
}

/// Where the room page put things, scrolled to the bottom.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Geometry {
    viewport_width: f64,
    viewport_height: f64,
    scroll_width: f64,
    remote: Rect,
    local: Rect,
    bar: Rect,
    /// The chat panel, or `None` while it is closed.
    chat: Option<Rect>,
    /// The visible buttons of the control bar, in document order.
    controls: Vec<Control>,
}

const GEOMETRY: &str = r#"
window.scrollTo(0, document.documentElement.scrollHeight);
await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
const rect = e => { const b = e.getBoundingClientRect();
  return { left: b.left, top: b.top, right: b.right, bottom: b.bottom, width: b.width, height: b.height }; };
const bar = document.querySelector('nav.controls');
return {
  viewportWidth: window.innerWidth, viewportHeight: window.innerHeight,
  scrollWidth: document.documentElement.scrollWidth,
  remote: rect(document.getElementById('remote-video')),
  local: rect(document.getElementById('local-video')),
  bar: rect(bar),
  chat: document.getElementById('chat').getClientRects().length ? rect(document.getElementById('chat')) : null,
  controls: [...bar.querySelectorAll('button')].filter(b => b.offsetParent !== null).map(b => ({
    id: b.id, title: b.title || '', label: (b.innerText || '').trim(), disabled: b.disabled,
    rect: rect(b) })),
};
"#;

/// Runs axe-core's WCAG 2.1 A/AA rules and best practices; returns one line per violation.
const AXE_RUN: &str = r#"
const result = await axe.run(document, { runOnly: { type: 'tag',
  values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
  v.nodes.map(n => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join(' | '));
"#;

/// Two people in a connected call, the remote video playing on `alice`'s side.
async fn call(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    let (alice, bob) = connected_call(stack).await?;
    wait_playing(&alice).await?;
    Ok((alice, bob))
}

async fn wait_playing(person: &Browser) -> anyhow::Result<()> {
    person
        .wait_for(
            "const v = document.getElementById('remote-video'); return v.videoWidth > 0 && !v.paused;",
            "the remote video playing",
        )
        .await
}

/// `#chat` is shown (not `hidden`).
async fn chat_shown(person: &Browser) -> anyhow::Result<bool> {
    Ok(person
        .eval("return !document.getElementById('chat').hidden;")
        .await?
        == serde_json::json!(true))
}

async fn geometry(person: &Browser) -> anyhow::Result<Geometry> {
    Ok(serde_json::from_value(person.eval(GEOMETRY).await?)?)
}

/// Injects axe-core into the page and fails with its findings if there is any violation.
async fn check_accessibility(person: &Browser, layout: &str) -> anyhow::Result<()> {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root().join("target/e2e-tools/node_modules/axe-core/axe.min.js")
        });
    let source = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "axe-core is not at {} (the README's test command installs it)",
            path.display()
        )
    })?;
    // WebDriver scripts run as a function body: axe's bundle defines its global from there.
    person
        .driver
        .execute(format!("{source}\n;return typeof axe;"), Vec::new())
        .await?;
    let duplicates = person.eval(DUPLICATE_IDS).await?;
    if duplicates != serde_json::json!([]) {
        bail!("{layout}: ids used more than once: {duplicates}");
    }
    let violations = person.eval(AXE_RUN).await?;
    let violations: Vec<String> = serde_json::from_value(violations)?;
    if !violations.is_empty() {
        bail!(
            "{layout}: {} accessibility violation(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }
    Ok(())
}

/// Ids the page uses more than once (axe-core no longer reports them).
const DUPLICATE_IDS: &str = r#"
const seen = new Map();
for (const e of document.querySelectorAll('[id]')) seen.set(e.id, (seen.get(e.id) || 0) + 1);
return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
"#;

/// Every visible control has a visible label (its accessible name) and a tooltip.
fn check_labels(controls: &[Control]) -> anyhow::Result<()> {
    for control in controls {
        if control.label.is_empty() || control.title.is_empty() {
            bail!(
                "#{} needs a visible label and a title: {control:?}",
                control.id
            );
        }
    }
    Ok(())
}

/// Presses Tab until focus leaves the control bar and comes back round; returns the ids of the
/// bar's buttons in the order they got focus.
async fn tab_order(person: &Browser, stops: usize) -> anyhow::Result<Vec<String>> {
    person
        .eval("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); return true;")
        .await?;
    let mut order = Vec::new();
    for _ in 0..stops {
        person
            .driver
            .action_chain()
            .send_keys(Key::Tab)
            .perform()
            .await?;
        let id = person
            .eval("const e = document.activeElement; return e && e.closest('nav.controls') ? e.id : null;")
            .await?;
        if let Some(id) = id.as_str()
            && !order.iter().any(|seen| seen == id)
        {
            order.push(id.to_owned());
        }
    }
    Ok(order)
}

#[tokio::test]
async fn desktop_layout_keeps_the_remote_video_large_and_passes_the_accessibility_check()
-> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = call(&stack).await?;
    alice.emulate_viewport(DESKTOP.0, DESKTOP.1, false).await?;

    let page = geometry(&alice).await?;
    assert!(
        page.scroll_width <= page.viewport_width,
        "no horizontal scroll: {page:?}"
    );
    assert!(
        page.remote.contains(&page.local) && page.local.width * 3.0 < page.remote.width,
        "yourself as a small picture in the corner of the remote video: {page:?}"
    );
    assert!(
        page.bar.top >= page.remote.bottom && page.bar.bottom <= page.viewport_height,
        "one bar of controls under the video, inside the window without scrolling: {page:?}"
    );
    let chat = page
        .chat
        .context("the chat is open beside the videos on a wide screen")?;
    assert!(
        chat.left >= page.remote.right && chat.right <= page.viewport_width,
        "the chat beside the remote video: {page:?}"
    );
    let rows = page.controls.iter().map(|c| c.rect.top.round() as i64);
    let (top, lowest) = (rows.clone().min(), rows.max());
    assert_eq!(top, lowest, "the controls in one row: {:?}", page.controls);
    check_labels(&page.controls)?;

    alice.screenshot("room-desktop").await?;

    // Focus moves through the enabled controls left to right, as they are seen.
    let mut seen: Vec<&Control> = page.controls.iter().filter(|c| !c.disabled).collect();
    seen.sort_by(|a, b| a.rect.left.total_cmp(&b.rect.left));
    let expected: Vec<String> = seen.iter().map(|c| c.id.clone()).collect();
    let focused = tab_order(&alice, 30).await?;
    assert_eq!(
        focused, expected,
        "Tab goes through the bar in visual order"
    );

    check_accessibility(&alice, "desktop").await?;

    // The chat closes; what arrives meanwhile is counted on its button; it opens again.
    alice.click("chat-close").await?;
    assert!(!chat_shown(&alice).await?, "#chat-close closes the chat");
    let toggle = alice.driver.find(By::Id("chat-toggle")).await?;
    assert_eq!(toggle.attr("aria-pressed").await?.as_deref(), Some("false"));
    let input = bob.driver.find(By::Id("chat-input")).await?;
    input.send_keys("are you there?").await?;
    input.send_keys(Key::Enter).await?;
    alice
        .wait_for(
            "const b = document.querySelector('#chat-toggle .badge'); return !!b && b.textContent === '1 new';",
            "a badge with one new message on #chat-toggle",
        )
        .await?;
    alice.click("chat-toggle").await?;
    assert!(chat_shown(&alice).await?, "#chat-toggle opens the chat");
    let badge = alice
        .eval("return document.querySelector('#chat-toggle .badge') === null;")
        .await?;
    assert_eq!(
        badge,
        serde_json::json!(true),
        "the badge goes once the chat is open"
    );
    alice.quit().await?;
    bob.quit().await?;
    Ok(())
}

#[tokio::test]
async fn phone_layout_fits_the_screen_keeps_controls_under_the_thumb_and_passes_the_accessibility_check()
-> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    // The phone is a phone from the start: the page lays itself out for it when it loads.
    let alice = stack.browser(BrowserOptions::default()).await?;
    alice.emulate_viewport(PHONE.0, PHONE.1, true).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    join_both([&alice, &bob], &stack.new_room_url()).await?;
    connect(&alice, &bob).await?;
    wait_playing(&alice).await?;

    let page = geometry(&alice).await?;
    assert_eq!(
        page.viewport_width,
        f64::from(PHONE.0),
        "the phone viewport: {page:?}"
    );
    assert!(
        page.scroll_width <= page.viewport_width,
        "no horizontal scroll on a phone: {page:?}"
    );
    assert!(
        page.remote.contains(&page.local),
        "yourself in the corner of the remote video: {page:?}"
    );
    // Reachable with a thumb: along the bottom edge, on screen, big enough to hit.
    assert!(
        page.bar.top >= page.viewport_height * 0.75
            && (page.bar.bottom - page.viewport_height).abs() < 1.0,
        "the controls along the bottom edge of the screen: {page:?}"
    );
    for control in &page.controls {
        let r = control.rect;
        assert!(
            r.left >= 0.0 && r.right <= page.viewport_width && r.bottom <= page.viewport_height,
            "#{} on screen: {r:?}",
            control.id
        );
        assert!(
            r.height >= MIN_TOUCH_TARGET && r.width >= MIN_TOUCH_TARGET,
            "#{} at least {MIN_TOUCH_TARGET} px each way: {r:?}",
            control.id
        );
    }
    check_labels(&page.controls)?;

    assert!(
        page.chat.is_none(),
        "the chat starts closed on a phone: {page:?}"
    );

    alice.screenshot("room-phone").await?;
    check_accessibility(&alice, "phone").await?;

    // The chat opens as a sheet over the lower part of the screen, within it.
    alice.click("chat-toggle").await?;
    let page = geometry(&alice).await?;
    let sheet = page.chat.context("#chat-toggle opens the chat")?;
    assert!(
        sheet.left >= 0.0
            && sheet.right <= page.viewport_width
            && (sheet.bottom - page.viewport_height).abs() < 1.0
            && sheet.top > page.viewport_height * 0.2,
        "the chat as a sheet along the bottom of the screen: {page:?}; {}",
        alice.eval("const c = getComputedStyle(document.getElementById('chat')); return [c.position, c.bottom, matchMedia('(max-width: 640px)').matches, document.styleSheets.length, [...document.styleSheets].map(s => s.href).join()];").await?
    );
    assert!(
        page.scroll_width <= page.viewport_width,
        "no horizontal scroll with the chat: {page:?}"
    );
    alice.screenshot("room-phone-chat").await?;
    check_accessibility(&alice, "phone, chat open").await?;
    alice.click("chat-close").await?;
    assert!(!chat_shown(&alice).await?, "#chat-close closes the sheet");
    alice.quit().await?;
    bob.quit().await?;
    Ok(())
}
