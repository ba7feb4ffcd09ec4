//! Helpers for the chat and file tests and the file benchmark: random files
//! with their SHA-256, the page's JS memory, and the SHA-256 of what a page offers to save.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;
use sha2::{Digest, Sha256};
use thirtyfour::extensions::cdp::ChromeDevTools;

use crate::Browser;

/// Writes `bytes` random bytes to `dir/name`; returns the path and their SHA-256 (hex).
pub fn random_file(dir: &Path, name: &str, bytes: usize) -> anyhow::Result<(PathBuf, String)> {
    use std::io::Write;
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1024 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        rand::rng().fill_bytes(&mut block[..n]);
        hasher.update(&block[..n]);
        file.write_all(&block[..n])?;
        left -= n;
    }
    file.flush()?;
    Ok((path, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Picks `path` in the page's `#file-input`, as a person choosing it in the dialog would.
pub async fn pick_file(person: &Browser, path: &Path) -> anyhow::Result<()> {
    let input = person.driver.find(thirtyfour::By::Id("file-input")).await?;
    input
        .send_keys(path.to_str().context("a UTF-8 temp path")?)
        .await?;
    Ok(())
}

/// The page's JavaScript memory in bytes: the V8 heap in use plus the backing stores of
/// ArrayBuffers (where chunks and file slices live), from CDP `Runtime.getHeapUsage`.
pub async fn js_memory(person: &Browser) -> anyhow::Result<u64> {
    let devtools = ChromeDevTools::new(person.driver.handle.clone());
    let usage = devtools.execute_cdp("Runtime.getHeapUsage").await?;
    let field = |name: &str| usage.get(name).and_then(serde_json::Value::as_f64);
    let used = field("usedSize").context("Runtime.getHeapUsage without usedSize")?;
    let backing = field("backingStorageSize").unwrap_or(0.0);
    Ok((used + backing) as u64)
}

/// [`js_memory`] after a forced garbage collection (CDP `HeapProfiler.collectGarbage`): what
/// the page really holds, without the file slices and chunks already dropped but not yet
/// collected (V8 collects ArrayBuffers lazily, up to tens of MiB later).
pub async fn live_js_memory(person: &Browser) -> anyhow::Result<u64> {
    ChromeDevTools::new(person.driver.handle.clone())
        .execute_cdp("HeapProfiler.collectGarbage")
        .await?;
    js_memory(person).await
}

/// A transfer element of the page: `from` is `"me"` or `"them"`.
pub fn transfer(from: &str) -> String {
    format!("#chat-log .transfer[data-from='{from}']")
}

/// Waits until the page's (only) transfer `from` is in `state`.
pub async fn wait_transfer_state(person: &Browser, from: &str, state: &str) -> anyhow::Result<()> {
    person
        .wait_for(
            &format!(
                "const t = document.querySelector(\"{}\"); return !!t && t.dataset.state === '{state}';",
                transfer(from)
            ),
            &format!("transfer from {from} {state}"),
        )
        .await
}

/// `[value, max]` of the transfer's `<progress>`.
pub async fn progress(person: &Browser, from: &str) -> anyhow::Result<(f64, f64)> {
    let value = person
        .eval(&format!(
            "const p = document.querySelector(\"{} progress\"); return p ? [p.value, p.max] : [0, 0];",
            transfer(from)
        ))
        .await?;
    let at = |i: usize| {
        value
            .get(i)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    Ok((at(0), at(1)))
}

/// Saves the file behind the page's `a[download=<name>]` link in its received transfer the
/// way a person does (a click; Chromium downloads it into `dir`), and returns the SHA-256
/// (hex) of the saved file: independent of the app's own check.
pub async fn download_sha256(person: &Browser, name: &str, dir: &Path) -> anyhow::Result<String> {
    let devtools = ChromeDevTools::new(person.driver.handle.clone());
    devtools
        .execute_cdp_with_params(
            "Browser.setDownloadBehavior",
            serde_json::json!({"behavior": "allow", "downloadPath": dir.to_str().context("a UTF-8 temp path")?}),
        )
        .await?;
    let link = person
        .driver
        .find(thirtyfour::By::Css(format!(
            "{} a[download={}]",
            transfer("them"),
            serde_json::to_string(name)?
        )))
        .await?;
    link.click().await?;
    let path = dir.join(name);
    let partial = dir.join(format!("{name}.crdownload"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while !path.exists() || partial.exists() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{}: {name} was not saved in {}",
            person.name,
            dir.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut file = std::fs::File::open(&path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}
