//! Range-checked value parsers for the numeric and duration flags.
//!
//! A value outside a flag's range would not be refused anywhere else: it would panic a task
//! later (`tokio::time::interval` panics on a zero period, `Instant + d` and `Duration + d`
//! overflow on a huge `d`, `mpsc::channel` panics past its largest size) or quietly make no
//! sense (a heartbeat every year). Each flag gets a range wide enough for any real deployment,
//! and clap refuses anything else at start with the flag's name and the range.

use std::{fmt::Display, str::FromStr, time::Duration};

/// A human duration (`15s`, `1500ms`, `10min`) between `min` and `max`, inclusive.
pub fn duration(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |value| {
        let parsed = humantime::parse_duration(value).map_err(|error| error.to_string())?;
        within(parsed, min, max)
    }
}

/// Refuses `value` outside `min..=max`, naming the range in human units.
pub fn within(value: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if value < min || value > max {
        return Err(format!(
            "must be between {} and {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(value)
}

/// A whole number between `min` and `max`, inclusive.
pub fn number<T>(
    min: T,
    max: T,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
    T::Err: Display,
{
    move |value| {
        let parsed: T = value
            .trim()
            .parse()
            .map_err(|error: T::Err| error.to_string())?;
        if parsed < min || parsed > max {
            return Err(format!("must be between {min} and {max}"));
        }
        Ok(parsed)
    }
}

/// `n` milliseconds, seconds, minutes, hours, days: the ranges read as they are meant.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

pub const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}
