//! The CPU time used by one browser: its Chromium process and every process under it (zygote,
//! renderers, GPU, network and audio services), read from `/proc/<pid>/stat`.
//!
//! All Chromiums of a test share one chromedriver, so the process group does not tell them
//! apart; the browser's own process does (its command line names the profile directory the
//! harness gave it, and has no `--type=`), and the rest are its descendants. A process that
//! ends between two readings takes its time with it: the figure is a lower bound.

use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::{Context, bail};

/// `utime + stime` of one process (in clock ticks) and its parent, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), … utime (14), stime (15), counted from 1.
    let parent = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((parent, utime + stime))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The pid of the Chromium whose `--user-data-dir` is `profile`.
fn browser_pid(profile: &Path) -> anyhow::Result<u32> {
    let flag = format!("--user-data-dir={}", profile.display());
    let found: Vec<u32> = all_pids()
        .into_iter()
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.contains(&flag.as_bytes()) && !args.iter().any(|arg| arg.starts_with(b"--type="))
        })
        .collect();
    match found[..] {
        [pid] => Ok(pid),
        _ => bail!("expected one Chromium with {flag}, found {}", found.len()),
    }
}

/// CPU ticks of `root` and all its descendants.
fn tree_ticks(root: u32) -> u64 {
    let table: BTreeMap<u32, (u32, u64)> = all_pids()
        .into_iter()
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    let mut total = 0;
    let mut frontier = vec![root];
    while let Some(pid) = frontier.pop() {
        if let Some((_, ticks)) = table.get(&pid) {
            total += ticks;
        }
        frontier.extend(
            table
                .iter()
                .filter(|(_, (parent, _))| *parent == pid)
                .map(|(child, _)| *child),
        );
    }
    total
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux these tests run on).
fn ticks_per_second() -> anyhow::Result<f64> {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("getconf CLK_TCK")?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("CLK_TCK is a number")
}

/// The CPU the Chromium started with profile directory `profile` (and every process under it)
/// used over the next `window`, in % of one core.
pub async fn browser_cpu_percent(profile: &Path, window: Duration) -> anyhow::Result<f64> {
    let root = browser_pid(profile)?;
    let hz = ticks_per_second()?;
    let start = tokio::time::Instant::now();
    let before = tree_ticks(root);
    tokio::time::sleep(window).await;
    let after = tree_ticks(root);
    let seconds = start.elapsed().as_secs_f64();
    Ok((after.saturating_sub(before)) as f64 / hz / seconds * 100.0)
}
