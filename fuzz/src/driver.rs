//! Runs a target on generated inputs, catching panics, and says how to replay a failure.
//!
//! Input `i` of a run with seed `s` is a byte string drawn from a generator seeded with
//! `mix(s, i)`: a pure function of `(s, i)`, so `--seed s --replay i` runs exactly that input
//! again (under a debugger, or as a regression test). Lengths vary from empty to
//! [`MAX_INPUT`] so that both tiny and large structured inputs occur.

use std::{
    cell::RefCell,
    panic::{self, AssertUnwindSafe},
    time::{Duration, Instant},
};

use arbitrary::Unstructured;

/// The largest input, in bytes: enough for a few dozen operations of the state-machine
/// targets or a message of a few kilobytes; larger only slows the run down.
pub const MAX_INPUT: usize = 4096;

/// One fuzz target: checks its property on one input, panicking when it does not hold.
/// Running out of input (`Err`) is not a failure.
pub type Target = fn(&mut Unstructured<'_>) -> arbitrary::Result<()>;

/// How long a run lasts.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Inputs(u64),
    Time(Duration),
}

/// A failing input: its index, the bytes, and the panic's message.
#[derive(Debug, Clone)]
pub struct Failure {
    pub index: u64,
    pub bytes: Vec<u8>,
    pub message: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub inputs: u64,
    pub elapsed: Duration,
    pub failure: Option<Failure>,
}

/// The seed of input `index`: splitmix64 of the run's seed and the index, so neighbouring
/// inputs are unrelated.
pub fn input_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The bytes of input `index` of a run with `seed`, written into `buffer`.
pub fn input(seed: u64, index: u64, buffer: &mut Vec<u8>) {
    let mut rng = fastrand::Rng::with_seed(input_seed(seed, index));
    // Short inputs are the most common (they reach the early exits), long ones still occur.
    let len = match rng.u8(..) {
        0..=127 => rng.usize(..=64),
        128..=223 => rng.usize(..=512),
        _ => rng.usize(..=MAX_INPUT),
    };
    buffer.clear();
    buffer.resize(len, 0);
    rng.fill(buffer);
}

thread_local! {
    /// The message of this thread's last panic, kept by the hook installed in [`run`] (the
    /// default hook would print every caught panic). Per thread, since the hook is global and
    /// tests run side by side.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `target` on one input; `Err` holds the panic's message.
pub fn run_one(target: Target, bytes: &[u8]) -> Result<(), String> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut unstructured = Unstructured::new(bytes);
        // Running out of bytes ends the input early; that is not a failure.
        let _ = target(&mut unstructured);
    }));
    outcome.map_err(|_| {
        LAST_PANIC
            .with_borrow_mut(Option::take)
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// Runs `target` on inputs `0, 1, 2...` of `seed` until the budget is spent or one fails.
pub fn run(target: Target, seed: u64, budget: Budget) -> Report {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        LAST_PANIC.set(Some(info.to_string()));
    }));
    let started = Instant::now();
    let mut bytes = Vec::with_capacity(MAX_INPUT);
    let mut index = 0;
    let mut failure = None;
    loop {
        let done = match budget {
            Budget::Inputs(count) => index >= count,
            // Reading the clock every 1024 inputs keeps it off the profile.
            Budget::Time(limit) => index % 1024 == 0 && started.elapsed() >= limit,
        };
        if done {
            break;
        }
        input(seed, index, &mut bytes);
        if let Err(message) = run_one(target, &bytes) {
            failure = Some(Failure {
                index,
                bytes: bytes.clone(),
                message,
            });
            break;
        }
        index += 1;
    }
    panic::set_hook(previous_hook);
    Report {
        inputs: index,
        elapsed: started.elapsed(),
        failure,
    }
}

/// Bytes as lowercase hex, for a reproducer that does not need the generator.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails_on_a_zero_byte(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
        let byte: u8 = u.arbitrary()?;
        assert_ne!(byte, 0, "a zero byte");
        Ok(())
    }

    /// A panicking input is caught, reported with its index and bytes, and replays from its
    /// seed and index alone.
    #[test]
    fn a_failure_is_caught_and_replays() {
        let report = run(fails_on_a_zero_byte, 7, Budget::Inputs(1_000_000));
        let failure = report.failure.expect("some input starts with a zero byte");
        assert_eq!(report.inputs, failure.index);
        assert!(
            failure.message.contains("a zero byte"),
            "{}",
            failure.message
        );
        let mut again = Vec::new();
        input(7, failure.index, &mut again);
        assert_eq!(again, failure.bytes);
        assert!(run_one(fails_on_a_zero_byte, &again).is_err());
    }

    /// A run without failure goes through exactly its budget of inputs.
    #[test]
    fn a_clean_run_spends_its_budget() {
        let report = run(|_| Ok(()), 1, Budget::Inputs(500));
        assert_eq!(report.inputs, 500);
        assert!(report.failure.is_none());
    }
}
