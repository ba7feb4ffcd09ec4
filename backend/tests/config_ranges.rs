//! Configuration that would panic a task later is refused at start, with the flag and its
//! range in clap's message; the edges of each range are accepted.

use backend::config::Config;

/// Parses `backend <flag> <value>` and returns clap's message when it is refused.
fn refusal(flag: &str, value: &str) -> Option<String> {
    Config::parse_from_args(["backend", flag, value])
        .err()
        .map(|error| error.to_string())
}

/// Every duration and number flag refuses the values that would panic (zero periods,
/// durations that overflow `Instant + d`, queues past what a channel can hold) and says why.
#[test]
fn out_of_range_values_are_refused_with_the_range() {
    let cases = [
        ("--heartbeat-interval", "0s", "between 10ms and 1h"),
        ("--heartbeat-interval", "500years", "between 10ms and 1h"),
        ("--heartbeat-timeout", "0s", "between 10ms and 1day"),
        (
            "--heartbeat-timeout",
            "100000000years",
            "between 10ms and 1day",
        ),
        ("--write-timeout", "0s", "between 1ms and 1h"),
        ("--header-read-timeout", "0s", "between 1ms and 1h"),
        ("--shutdown-grace", "10years", "between 0s and 1h"),
        ("--turn-ttl", "100years", "between 30s and 1day"),
        ("--turn-ttl", "0s", "between 30s and 1day"),
        ("--twilio-timeout", "0s", "between 1ms and 1m"),
        ("--twilio-retry-backoff", "0s", "between 1ms and 1m"),
        ("--redis-timeout", "2h", "between 1ms and 1m"),
        ("--redis-expiry", "100years", "between 300ms and 1day"),
        (
            "--resume-grace",
            "18446744073709551615",
            "between 100ms and 1day",
        ),
        ("--max-message-bytes", "0", "between 256 and 16777216"),
        ("--messages-per-second", "0", "between 1 and 100000"),
        ("--message-burst", "0", "between 1 and 1000000"),
        ("--ice-requests-per-minute", "0", "between 1 and 100000"),
        (
            "--ice-requests-per-minute-per-ip",
            "0",
            "between 1 and 1000000",
        ),
        ("--outgoing-queue", "0", "between 1 and 1000000"),
        (
            "--outgoing-queue",
            "18446744073709551615",
            "between 1 and 1000000",
        ),
        ("--twilio-ttl", "86401", "86401 is not in 1..=86400"),
    ];
    for (flag, value, expected) in cases {
        let message = refusal(flag, value)
            .unwrap_or_else(|| panic!("{flag} {value} must be refused, not accepted"));
        assert!(
            message.contains(flag) && message.contains(expected),
            "{flag} {value}: {message}"
        );
    }
}

/// The edges of every range, and the defaults, are accepted.
#[test]
fn values_at_the_edges_are_accepted() {
    let cases = [
        ("--heartbeat-interval", "10ms"),
        ("--heartbeat-interval", "1h"),
        ("--heartbeat-timeout", "1day"),
        ("--write-timeout", "1ms"),
        ("--shutdown-grace", "0s"),
        ("--turn-ttl", "30s"),
        ("--turn-ttl", "24h"),
        ("--redis-expiry", "300ms"),
        ("--resume-grace", "86400"),
        ("--max-message-bytes", "16777216"),
        ("--messages-per-second", "1"),
        ("--outgoing-queue", "1000000"),
    ];
    for (flag, value) in cases {
        assert_eq!(refusal(flag, value), None, "{flag} {value}");
    }
    Config::parse_from_args(["backend"]).expect("the defaults are in range");
}
