//! Calls that survive the server: a backend killed or stopped mid-call and started again on
//! the same port, and a tab reloaded mid-call. Real Chromiums, the real backend, loopback only.
//!
//! The figures (time from the restart until both pages are back in the room, the longest
//! pause of the remote video) are printed with `eprintln!` for the README's "What survives
//! what" table: run with `-- --nocapture` to see them.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use e2e::{
    Browser, BrowserOptions, FrameGaps, FrameWatch, Signal, Stack, StackOptions, connect,
    connected_call, wait_media_flowing,
};

/// How long both pages may take to be back in the room after the restart (the bound).
const REJOIN_WITHIN: Duration = Duration::from_secs(10);
/// The longest the remote video may stand still while the server is away.
const MAX_FRAME_GAP: Duration = Duration::from_secs(1);
/// How long the server stays down (the scenario).
const DOWN_FOR: Duration = Duration::from_secs(3);

/// Whether the page shows the "Reconnecting to the server…" note.
async fn server_note_shown(browser: &Browser) -> anyhow::Result<bool> {
    let shown = browser
        .eval("const n = document.getElementById('server-note'); return !!n && !n.hidden;")
        .await?;
    Ok(shown.as_bool() == Some(true))
}

/// A stack whose rooms hold two people (`--room-capacity 2`), for the tests in which a third
/// tab must be refused with `full` while a seat is held.
fn room_for_two() -> StackOptions {
    StackOptions {
        backend_args: vec!["--room-capacity".into(), "2".into()],
        ..Default::default()
    }
}

/// The page's peer id from its last `joined` (test hook).
async fn peer_id(browser: &Browser) -> anyhow::Result<String> {
    let id = browser.eval("return window.__peerId || null;").await?;
    id.as_str()
        .map(str::to_owned)
        .context("the page has no peer id (built without test-hooks?)")
}

/// Waits (up to `within`) until the page says the server is gone, with the call still on.
async fn wait_note_shown(browser: &Browser, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if server_note_shown(browser).await? {
            let state = browser.state().await?;
            ensure!(
                state.as_deref() == Some("connected"),
                "{}: the status must keep saying connected while the server is away, not {state:?}",
                browser.name
            );
            let text = browser
                .eval("return document.getElementById('server-note').innerText;")
                .await?;
            ensure!(
                text.as_str() == Some("Reconnecting to the server…"),
                "the note says {text}"
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{}: no server note within {within:?}", browser.name);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until both pages are back in the room (the note gone, the status still connected,
/// the server counting two members in one room); returns how long that took from `since`.
async fn wait_both_back(
    stack: &Stack,
    pages: [&Browser; 2],
    since: Instant,
) -> anyhow::Result<Duration> {
    let deadline = since + REJOIN_WITHIN;
    loop {
        let mut back = true;
        for page in pages {
            back &= !server_note_shown(page).await?
                && page.state().await?.as_deref() == Some("connected");
        }
        if back {
            let metrics = stack.backend.metrics().await?;
            back =
                metrics["videochat_rooms_open"] == 1 && metrics["videochat_connections_open"] == 2;
        }
        if back {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            let metrics = stack.backend.metrics().await.unwrap_or_default();
            bail!(
                "not both back in the room within {REJOIN_WITHIN:?} of the restart; server {metrics}; \
                 {}; {}",
                pages[0].diagnostics().await,
                pages[1].diagnostics().await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole scenario: a call, the backend stopped with `signal`, started again on the same
/// port [`DOWN_FOR`] later; both pages back without a click, video never paused, and a new
/// call works. Returns the ids before and after, for the caller's own check.
async fn restart_mid_call(
    signal: Signal,
    backend_args: Vec<String>,
) -> anyhow::Result<((String, String), (String, String))> {
    let mut stack = Stack::start(StackOptions {
        backend_args,
        ..Default::default()
    })
    .await?;
    let (alice, bob) = connected_call(&stack).await?;
    wait_media_flowing(&alice, &bob).await?;
    let before = (peer_id(&alice).await?, peer_id(&bob).await?);
    let watches = [
        FrameWatch::start(&alice).await?,
        FrameWatch::start(&bob).await?,
    ];
    // A second of steady video before the server goes, so a pause cannot hide at the start.
    tokio::time::sleep(Duration::from_secs(1)).await;

    stack.stop_backend(signal).await?;
    let stopped = Instant::now();
    for page in [&alice, &bob] {
        wait_note_shown(page, Duration::from_secs(5)).await?;
    }
    // The scenario: the server is away this long (nothing to await; it is the fault itself).
    tokio::time::sleep(DOWN_FOR.saturating_sub(stopped.elapsed())).await;
    stack.restart_backend().await?;
    let restarted = Instant::now();
    let rejoin = wait_both_back(&stack, [&alice, &bob], restarted).await?;
    // Some video after the return too, so a freeze caused by the rejoin would show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let [alice_watch, bob_watch] = watches;
    let gaps: [FrameGaps; 2] = [alice_watch.finish().await?, bob_watch.finish().await?];
    let after = (peer_id(&alice).await?, peer_id(&bob).await?);
    eprintln!(
        "FIGURE restart ({signal}): both pages back in the room {} ms after the restart; \
         longest remote-video pause alice {} ms shown / {} ms decoded ({} samples), \
         bob {} ms shown / {} ms decoded ({} samples)",
        rejoin.as_millis(),
        gaps[0].shown.as_millis(),
        gaps[0].decoded.as_millis(),
        gaps[0].samples,
        gaps[1].shown.as_millis(),
        gaps[1].decoded.as_millis(),
        gaps[1].samples,
    );
    for (gap, who) in gaps.iter().zip(["alice", "bob"]) {
        ensure!(gap.samples > 20, "{who}: too few frame samples: {gap:?}");
        ensure!(
            gap.worst() <= MAX_FRAME_GAP,
            "{who}'s remote video paused for {:?} (> {MAX_FRAME_GAP:?}): {gap:?}",
            gap.worst()
        );
    }

    // Hang up and call again, through the restarted server.
    alice.click("hang-up").await?;
    bob.wait_state("hung-up").await?;
    alice.wait_state("ready").await?;
    connect(&alice, &bob).await?;
    wait_media_flowing(&alice, &bob).await?;
    Ok((before, after))
}

/// Backend killed (SIGKILL) mid-call and started again 3 s later with a new random key (so
/// nobody's seat can be verified and both get new ids): both remote videos keep decoding (no
/// pause over 1 s), both pages are back in the room within 10 s without a click, and hang up
/// then call again works.
#[tokio::test]
async fn call_survives_a_killed_and_restarted_server() -> anyhow::Result<()> {
    let (before, after) = restart_mid_call(Signal::SIGKILL, Vec::new()).await?;
    ensure!(
        before.0 != after.0 && before.1 != after.1,
        "a new key gives new ids: before {before:?}, after {after:?}"
    );
    Ok(())
}

/// The same with a graceful stop (SIGTERM) and a fixed resume key: the restarted server
/// verifies the tokens, so both pages get their old ids back.
#[tokio::test]
async fn call_survives_a_graceful_restart_with_the_same_key() -> anyhow::Result<()> {
    let key = format!("{:064x}", rand::random::<u128>());
    let (before, after) =
        restart_mid_call(Signal::SIGTERM, vec!["--resume-key".into(), key]).await?;
    ensure!(
        before == after,
        "the same key gives the same ids back: before {before:?}, after {after:?}"
    );
    Ok(())
}

/// A tab reloaded mid-call gets its own seat back (never "full", the same id), the other side's
/// stale call ends at once, and they can call it again straight away; a tab that left without
/// saying goodbye keeps its seat for the grace period, so a third browser arriving meanwhile
/// gets "full", and the tab coming back takes the seat.
#[tokio::test]
async fn reloaded_tab_gets_its_seat_back() -> anyhow::Result<()> {
    let stack = Stack::start(room_for_two()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    let room = alice.driver.current_url().await?.to_string();
    let alice_id = peer_id(&alice).await?;

    let reloaded = Instant::now();
    alice.driver.refresh().await?;
    // Back in the room with her seat: Bob is there, and there is no call on this page.
    alice.wait_state("ready").await?;
    ensure!(
        peer_id(&alice).await? == alice_id,
        "the reloaded tab has its old id"
    );
    // Bob's call with the page that no longer exists ends at once.
    bob.wait_state("hung-up").await?;
    let stale_closed = reloaded.elapsed();
    alice.click("get-video").await?;
    alice
        .wait_for(
            "const v = document.getElementById('local-video'); return !!v && v.videoWidth > 0;",
            "local preview after the reload",
        )
        .await?;
    connect(&bob, &alice).await?;
    wait_media_flowing(&alice, &bob).await?;
    eprintln!(
        "FIGURE reload: the other side's stale call closed {} ms after the reload",
        stale_closed.as_millis()
    );

    // Alice's tab leaves without a word (navigates away): her seat is held for the grace.
    alice.goto("about:blank").await?;
    let carol = stack.browser(BrowserOptions::default()).await?;
    carol.goto(&room).await?;
    carol.wait_state("full").await?;
    // Alice comes back in the same tab and takes her seat, not "full".
    alice.goto(&room).await?;
    alice.wait_state("ready").await?;
    ensure!(
        peer_id(&alice).await? == alice_id,
        "the seat held for her is hers"
    );
    Ok(())
}

/// The page's stored seat (`sessionStorage` `resume:<room>`), as text.
async fn stored_seat(browser: &Browser, room: &str) -> anyhow::Result<String> {
    let key = serde_json::to_string(&format!("resume:{room}"))?;
    let seat = browser
        .eval(&format!("return sessionStorage.getItem({key});"))
        .await?;
    seat.as_str()
        .map(str::to_owned)
        .context("no seat stored in sessionStorage")
}

/// Puts `seat` (a stored seat's JSON, `in_use` replaced) into this tab's `sessionStorage` and
/// reloads, as a duplicated tab starts with a copy of its original's storage.
async fn reload_with_seat(
    browser: &Browser,
    room: &str,
    seat: &str,
    in_use: bool,
) -> anyhow::Result<()> {
    let mut seat: serde_json::Value = serde_json::from_str(seat)?;
    seat["in_use"] = in_use.into();
    let key = serde_json::to_string(&format!("resume:{room}"))?;
    let value = serde_json::to_string(&seat.to_string())?;
    browser
        .eval(&format!(
            "sessionStorage.setItem({key}, {value}); return true;"
        ))
        .await?;
    browser.driver.refresh().await?;
    Ok(())
}

/// A copy of a live tab (its storage says the seat is in use) joins as a newcomer and does not
/// take the seat (here: "full"); a window that does take it (the token released) moves the
/// call there, and the first says in plain words that the call continued elsewhere, with a
/// button that takes it back (and the other window then says the same).
#[tokio::test]
async fn a_seat_taken_by_another_window_can_be_taken_back() -> anyhow::Result<()> {
    let stack = Stack::start(room_for_two()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    let url = alice.driver.current_url().await?;
    let room = url
        .path()
        .rsplit('/')
        .next()
        .context("a room path")?
        .to_owned();
    let alice_id = peer_id(&alice).await?;
    let seat = stored_seat(&alice, &room).await?;
    let first = alice.driver.window().await?;

    // A copy of Alice's tab: same storage, seat marked in use by the live original.
    let second = alice.driver.new_window().await?;
    alice.driver.switch_to_window(second.clone()).await?;
    alice.goto(url.as_str()).await?;
    alice.wait_state("full").await?;
    reload_with_seat(&alice, &room, &seat, true).await?;
    alice.wait_state("full").await?;

    // Released (as after a pagehide): this window takes the seat, with Alice's id.
    reload_with_seat(&alice, &room, &seat, false).await?;
    alice.wait_state("ready").await?;
    ensure!(peer_id(&alice).await? == alice_id, "the seat taken is hers");
    alice.driver.switch_to_window(first.clone()).await?;
    alice.wait_state("replaced").await?;
    alice
        .wait_text("The call continued in another tab or window.")
        .await?;
    ensure!(
        !server_note_shown(&alice).await?,
        "no reconnecting: the call is elsewhere"
    );
    // Bob's call with the first window is over; he can call the window that has the seat.
    bob.wait_state("hung-up").await?;

    alice.click("take-back").await?;
    alice.wait_state("ready").await?;
    ensure!(
        peer_id(&alice).await? == alice_id,
        "taken back under her id"
    );
    alice.driver.switch_to_window(second).await?;
    alice.wait_state("replaced").await?;
    alice.driver.switch_to_window(first).await?;
    connect(&bob, &alice).await?;
    Ok(())
}

/// Tells the page it became visible again (as after the tab was in the background or the
/// machine slept); headless windows never change visibility by themselves.
async fn page_visible_again(browser: &Browser) -> anyhow::Result<()> {
    browser
        .eval("document.dispatchEvent(new Event('visibilitychange')); return true;")
        .await?;
    Ok(())
}

/// A socket that looks open but no longer answers (the server frozen, as a dead network path
/// or a sleeping laptop leaves it): when the page becomes visible it pings, gets no pong within
/// 3 s, drops the socket and reconnects — the call going on meanwhile — and is back in the
/// room once the server answers again.
#[tokio::test]
async fn a_silent_socket_is_found_out_when_the_page_is_visible_again() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    let alice_id = peer_id(&alice).await?;
    stack.backend.signal(Signal::SIGSTOP)?;
    let frozen = Instant::now();
    let result = async {
        page_visible_again(&alice).await?;
        wait_note_shown(&alice, Duration::from_secs(10)).await?;
        let noticed = frozen.elapsed();
        ensure!(
            noticed >= Duration::from_millis(2_500),
            "the socket was dropped before its pong was due ({noticed:?})"
        );
        eprintln!(
            "FIGURE silent socket: dropped {} ms after the visibility check",
            noticed.as_millis()
        );
        anyhow::Ok(())
    }
    .await;
    stack.backend.signal(Signal::SIGCONT)?;
    result?;
    let thawed = Instant::now();
    wait_both_back(&stack, [&alice, &bob], thawed).await?;
    ensure!(
        peer_id(&alice).await? == alice_id,
        "her seat, taken back from the silent connection"
    );
    wait_media_flowing(&alice, &bob).await?;
    Ok(())
}
