//! File-transfer benchmark: a 200 MiB random file sent between two headless Chromiums in a
//! connected call on loopback, three times (a fresh call each), printing the median throughput
//! (file picked → the receiver shows it checked and ready to save, SHA-256 included) and both
//! tabs' peak JS memory (V8 heap + ArrayBuffer backing stores, CDP `Runtime.getHeapUsage`),
//! sampled every 100 ms. Must run in a loopback-only namespace: `scripts/bench files`.

use std::time::{Duration, Instant};

use e2e::chat::{js_memory, pick_file, random_file, transfer};
use e2e::connected_call;
use e2e::{Stack, StackOptions};

const RUNS: usize = 3;
const MIB: f64 = 1024.0 * 1024.0;
const FILE_BYTES: usize = 200 * 1024 * 1024;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let dir = tempfile::tempdir()?;
    let (path, _) = random_file(dir.path(), "bench.bin", FILE_BYTES)?;
    let done = format!(
        "const t = document.querySelector(\"{}\"); return t ? t.dataset.state : null;",
        transfer("them")
    );
    let (mut speeds, mut sender_peaks, mut receiver_peaks) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let (alice, bob) = connected_call(&stack).await?;
        let start = (js_memory(&alice).await?, js_memory(&bob).await?);
        let mut peak = start;
        let began = Instant::now();
        pick_file(&alice, &path).await?;
        loop {
            peak.0 = peak.0.max(js_memory(&alice).await?);
            peak.1 = peak.1.max(js_memory(&bob).await?);
            let state = bob.eval(&done).await?;
            match state.as_str() {
                Some("received") => break,
                Some("waiting" | "moving") | None => {}
                Some(other) => anyhow::bail!("run {run}: the transfer ended {other}"),
            }
            anyhow::ensure!(
                began.elapsed() < Duration::from_secs(600),
                "run {run}: too slow"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seconds = began.elapsed().as_secs_f64();
        let speed = FILE_BYTES as f64 / MIB / seconds;
        let to_mib = |bytes: u64| bytes as f64 / MIB;
        println!(
            "run {run}: {speed:6.1} MiB/s ({seconds:.2} s); peak JS memory sender {:.1} MiB (+{:.1}), receiver {:.1} MiB (+{:.1})",
            to_mib(peak.0),
            to_mib(peak.0 - start.0),
            to_mib(peak.1),
            to_mib(peak.1 - start.1),
        );
        speeds.push(speed);
        sender_peaks.push(to_mib(peak.0));
        receiver_peaks.push(to_mib(peak.1));
        alice.quit().await?;
        bob.quit().await?;
    }
    println!();
    println!(
        "median of {RUNS} (200 MiB, loopback, headless Chromium, SHA-256 checked on both sides):"
    );
    println!(
        "  throughput:                   {:.1} MiB/s",
        median(&mut speeds)
    );
    println!(
        "  sender's peak JS memory:      {:.1} MiB",
        median(&mut sender_peaks)
    );
    println!(
        "  receiver's peak JS memory:    {:.1} MiB",
        median(&mut receiver_peaks)
    );
    Ok(())
}
