//! `fuzz --target <name> (--inputs N | --seconds S) [--seed S] [--replay I]`: runs a target
//! on generated inputs and prints the figures, or the reproducer of the first failure (exit
//! status 1). `--target all` runs every target in turn with the same budget.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use fuzz::{
    driver::{self, Budget},
    targets,
};

/// Runs fuzz targets on stable Rust (see the crate's documentation).
#[derive(Debug, Parser)]
struct Args {
    /// `parse`, `registry`, `call`, or `all`.
    #[arg(long)]
    target: String,
    /// How many inputs to run.
    #[arg(long, conflicts_with = "seconds")]
    inputs: Option<u64>,
    /// How long to run, in seconds.
    #[arg(long)]
    seconds: Option<u64>,
    /// The run's seed (random when left out; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Runs only input number I of the seed (a reproducer), with the panic shown.
    #[arg(long, requires = "seed")]
    replay: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let chosen: Vec<(&str, driver::Target)> = if args.target == "all" {
        targets::ALL.to_vec()
    } else if let Some(target) = targets::by_name(&args.target) {
        vec![(
            targets::ALL
                .iter()
                .find(|(name, _)| *name == args.target)
                .map_or("", |(name, _)| name),
            target,
        )]
    } else {
        eprintln!(
            "unknown target {:?}: parse, registry, call or all",
            args.target
        );
        return ExitCode::from(2);
    };
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    if let Some(index) = args.replay {
        let mut bytes = Vec::new();
        driver::input(seed, index, &mut bytes);
        for (name, target) in chosen {
            println!(
                "{name}: input {index} of seed {seed}: {}",
                driver::hex(&bytes)
            );
            // The default panic hook stays: the panic prints with its location.
            let mut unstructured = arbitrary::Unstructured::new(&bytes);
            let _ = target(&mut unstructured);
            println!("{name}: passes");
        }
        return ExitCode::SUCCESS;
    }
    let budget = match (args.inputs, args.seconds) {
        (Some(count), _) => Budget::Inputs(count),
        (None, Some(seconds)) => Budget::Time(Duration::from_secs(seconds)),
        (None, None) => Budget::Inputs(1_000_000),
    };
    let mut failed = false;
    for (name, target) in chosen {
        let report = driver::run(target, seed, budget);
        let seconds = report.elapsed.as_secs_f64();
        println!(
            "{name}: {} inputs in {seconds:.1} s ({:.0}/s), seed {seed}",
            report.inputs,
            report.inputs as f64 / seconds.max(1e-9)
        );
        if let Some(failure) = report.failure {
            failed = true;
            println!(
                "{name}: FAILED on input {}: {}",
                failure.index, failure.message
            );
            println!(
                "{name}: replay with: cargo run --release -p fuzz -- --target {name} --seed {seed} --replay {}",
                failure.index
            );
            println!("{name}: input bytes: {}", driver::hex(&failure.bytes));
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
