//! Page benchmark (`scripts/bench page`): what the page weighs and how fast it becomes
//! interactive.
//!
//! - Every file a room page loads (the document and each resource Resource Timing lists), with
//!   its bytes in `dist/`, its gzip -9 bytes and the bytes the server actually sent, and the
//!   total against the goal of issue 12 (80 KB gzip).
//! - Navigation → interactive (the app's `app-interactive` mark), median of [`RUNS`]: cold
//!   cache (a fresh headless Chromium with a fresh profile per run) and warm cache (the same
//!   browser reloading the page), against the goal (150 ms).
//!
//! Serves whatever `dist/` holds (scripts/bench builds it with `trunk build --release` first,
//! as scripts/run ships it) from the real backend, and must run in a loopback-only namespace.

use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

use anyhow::{Context, bail};
use e2e::{
    BrowserOptions, Stack, StackOptions, load_average, median,
    page_load::{Timeline, fetched, interactive_ms, timeline},
    workspace_root,
};

/// Page loads per measure (cold, warm).
const RUNS: usize = 12;
/// Issue 12's goal for everything the page loads, gzip -9 (80 KB).
const GOAL_GZIP_BYTES: u64 = 80 * 1024;
/// Issue 12's goal for navigation → interactive.
const GOAL_INTERACTIVE_MS: f64 = 150.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let dist = workspace_root().join("dist");

    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    let (mut cold_timelines, mut warm_timelines) = (Vec::new(), Vec::new());
    let mut files = BTreeMap::new();
    for run in 1..=RUNS {
        let browser = stack.browser(BrowserOptions::default()).await?;
        let room = stack.new_room_url();
        browser.goto(&room).await?;
        let first = interactive_ms(&browser).await?;
        cold_timelines.push(timeline(&browser).await?);
        if run == 1 {
            for entry in fetched(&browser).await? {
                files.insert(entry.name.clone(), entry.encoded_body_size);
            }
        }
        browser.driver.refresh().await?;
        let second = interactive_ms(&browser).await?;
        warm_timelines.push(timeline(&browser).await?);
        println!("load {run:2}: cold {first:5.0} ms, warm {second:5.0} ms");
        cold.push(first);
        warm.push(second);
        browser.quit().await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    println!();
    println!("everything a room page loads (dist/ of `trunk build --release`):");
    println!(
        "  {:<44} {:>9} {:>9} {:>9}",
        "file", "bytes", "gzip -9", "sent"
    );
    let (mut total, mut total_gzip, mut total_sent) = (0, 0, 0.0);
    for (url, sent) in &files {
        let path = url_path(url);
        // A path that is no file of dist/ (the room URL itself, the favicon Chromium asks
        // for) is answered with dist/index.html by the backend's fallback.
        let named = dist.join(path.trim_start_matches('/'));
        let file = if path.len() > 1 && named.is_file() {
            named
        } else {
            dist.join("index.html")
        };
        let bytes = std::fs::metadata(&file)
            .with_context(|| format!("{} is not in dist/", file.display()))?
            .len();
        let gzip = gzip9_len(&file)?;
        let shown = file.file_name().unwrap_or_default().to_string_lossy();
        let label = if path.ends_with(&*shown) {
            shown.into_owned()
        } else {
            format!("{path} ({shown})")
        };
        println!("  {label:<44} {bytes:>9} {gzip:>9} {sent:>9.0}");
        total += bytes;
        total_gzip += gzip;
        total_sent += sent;
    }
    println!(
        "  {:<44} {total:>9} {total_gzip:>9} {total_sent:>9.0}",
        "total"
    );
    println!(
        "  goal: {GOAL_GZIP_BYTES} bytes gzip (80 KB): {:.2}× the goal",
        total_gzip as f64 / GOAL_GZIP_BYTES as f64
    );

    let (cold, warm) = (median(&mut cold), median(&mut warm));
    println!();
    println!(
        "navigation → interactive (app-interactive mark), median of {RUNS}, headless Chromium, loopback; load average {}:",
        load_average()
    );
    println!(
        "  cold cache (fresh profile): {cold:.0} ms ({:.2}× the goal of {GOAL_INTERACTIVE_MS:.0} ms)",
        cold / GOAL_INTERACTIVE_MS
    );
    println!(
        "  warm cache (reload):        {warm:.0} ms ({:.2}× the goal of {GOAL_INTERACTIVE_MS:.0} ms)",
        warm / GOAL_INTERACTIVE_MS
    );
    println!();
    println!("where the time goes, ms from navigation start, median of {RUNS} (cold / warm):");
    type Phase = fn(&Timeline) -> Option<f64>;
    let phases: [(&str, Phase); 6] = [
        ("document received", |t| t.document),
        ("JavaScript glue received", |t| t.glue),
        ("wasm received", |t| t.wasm),
        ("wasm compiled, main() entered (app-start)", |t| t.start),
        ("app mounted (app-interactive)", |t| t.interactive),
        ("first contentful paint", |t| t.paint),
    ];
    for (label, phase) in phases {
        println!(
            "  {label:<44} {:>7} / {:>7}",
            phase_median(&cold_timelines, phase),
            phase_median(&warm_timelines, phase)
        );
    }
    Ok(())
}

/// The median of one phase over the loads that have it, or `-` when none has.
fn phase_median(timelines: &[Timeline], phase: fn(&Timeline) -> Option<f64>) -> String {
    let mut values: Vec<f64> = timelines.iter().filter_map(phase).collect();
    if values.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.0}", median(&mut values))
    }
}

/// The path of an absolute `http://host:port/path` URL.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// The size of `file` compressed by `gzip -9`.
fn gzip9_len(file: &Path) -> anyhow::Result<u64> {
    let output = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .context("running gzip")?;
    if !output.status.success() {
        bail!("gzip -9 {} failed", file.display());
    }
    Ok(output.stdout.len() as u64)
}
