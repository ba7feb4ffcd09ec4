//! The lost click: two people open the same room at once, and each presses **Get Video** the
//! moment it can be pressed. Every time, both must end up with their camera on and Call enabled.

use std::time::Duration;

use anyhow::Context;
use e2e::{Browser, BrowserOptions, Stack, StackOptions};
use thirtyfour::extensions::cdp::ChromeDevTools;

/// How many rooms in a row: enough to catch a race lost a few times in a hundred.
const ROUNDS: usize = 50;

/// Installed before any script of every new document: on a room page, presses Get Video the
/// moment it exists and is enabled, from a `MutationObserver` (the first moment the page's own
/// scripts yield after inserting or enabling the button), and records what the press landed on.
///
/// `AIMED` picks how: `false` clicks the button element itself; `true` plays a pointer, which
/// aims at the button's centre the moment it appears and presses that point of the screen as
/// soon as the page has heard from the server (the moment a second person's page learns that
/// someone is already there) — whatever is under that point then gets the click.
const PRESS_GET_VIDEO_AT_ONCE: &str = r#"
if (location.pathname.startsWith('/room/')) {
  window.__getVideoPressed = null;
  let aim = null;
  const heardFromServer = () => {
    const status = document.getElementById('status');
    return !!status && status.dataset.state !== 'connecting-signalling';
  };
  const press = () => {
    const button = document.getElementById('get-video');
    if (!AIMED) {
      if (!button || button.disabled) return false;
      window.__getVideoPressed = button.id;
      button.click();
      return true;
    }
    if (!aim && button && !button.disabled) {
      const r = button.getBoundingClientRect();
      aim = { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    }
    if (!aim || !heardFromServer()) return false;
    // As a pointer does: the click goes to the innermost element there and bubbles up.
    const target = document.elementFromPoint(aim.x, aim.y);
    const named = target && target.closest('[id]');
    window.__getVideoPressed = named ? named.id : (target ? target.tagName : 'nothing');
    if (target) target.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
    return true;
  };
  const observer = new MutationObserver(() => { if (press()) observer.disconnect(); });
  observer.observe(document, {
    childList: true, subtree: true, characterData: true, attributes: true,
    attributeFilter: ['disabled', 'data-state'],
  });
}
"#;

/// The camera preview plays and Call can be pressed.
const HAS_MEDIA: &str = r#"
const video = document.getElementById('local-video');
const call = document.getElementById('call');
return !!video && !!video.srcObject && video.videoWidth > 0 && !video.paused
  && !!call && !call.disabled;
"#;

/// What the page shows, for failure messages.
const PAGE_STATE: &str = r#"
const id = (name) => document.getElementById(name);
return {
  pressedAt: window.__getVideoPressed,
  status: id('status') && id('status').innerText,
  getVideoDisabled: id('get-video') && id('get-video').disabled,
  callDisabled: id('call') && id('call').disabled,
  mediaError: id('media-error') && !id('media-error').hidden,
  localVideo: !!(id('local-video') && id('local-video').srcObject),
};
"#;

async fn press_get_video_on_every_load(browser: &Browser, aimed: bool) -> anyhow::Result<()> {
    let source = format!("const AIMED = {aimed};\n{PRESS_GET_VIDEO_AT_ONCE}");
    ChromeDevTools::new(browser.driver.handle.clone())
        .execute_cdp_with_params(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": source }),
        )
        .await
        .context("installing the Get Video presser")?;
    Ok(())
}

/// Both pages of `round` got media, or the failure says what each page shows.
async fn wait_for_media(people: [&Browser; 2], round: usize) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + e2e::PATIENCE;
    loop {
        let mut all = true;
        for person in people {
            all &= person.eval(HAS_MEDIA).await?.as_bool() == Some(true);
        }
        if all {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let mut report = String::new();
            for person in people {
                let state = person.eval(PAGE_STATE).await.unwrap_or_default();
                report.push_str(&format!("\n{}: {state}", person.diagnostics().await));
                let _ = person
                    .screenshot(&format!("first-click-{round}-{}", person.name))
                    .await;
            }
            anyhow::bail!("round {round}: a page did not get media{report}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 50 rooms in a row: two fresh page loads of a new room at once, Get Video pressed on both
/// the moment it can be; every time both cameras start and both may call.
async fn both_get_media_every_time(aimed: bool) -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    for person in [&alice, &bob] {
        press_get_video_on_every_load(person, aimed).await?;
    }
    for round in 1..=ROUNDS {
        let room = stack.new_room_url();
        let (a, b) = tokio::join!(alice.goto(&room), bob.goto(&room));
        a?;
        b?;
        wait_for_media([&alice, &bob], round).await?;
        for person in [&alice, &bob] {
            let pressed = person.eval("return window.__getVideoPressed;").await?;
            anyhow::ensure!(
                pressed.as_str() == Some("get-video"),
                "round {round}: the press landed on {pressed}"
            );
        }
    }
    Ok(())
}

/// The button clicked the moment it exists and is enabled: the click reaches the session that
/// the page keeps (no re-render replaces the room, no result is dropped).
#[tokio::test]
async fn get_video_clicked_at_first_sight_is_never_lost() -> anyhow::Result<()> {
    both_get_media_every_time(false).await
}

/// The button pressed where it first appeared, once the page has heard from the server: the
/// controls must not move when the room fills, or the press lands beside the button.
#[tokio::test]
async fn get_video_stays_under_the_pointer_while_the_room_fills() -> anyhow::Result<()> {
    both_get_media_every_time(true).await
}
