//! The connectivity check at `/check`, as plain Rust: what each result says, given what the
//! browser measured, and the report a person copies to whoever helps them.
//!
//! The page ([`crate::pages::CheckPage`]) measures with [`crate::browser::check`] and renders the
//! [`Outcome`]s decided here.

use std::fmt::Write;

/// One line of the check. The page shows each as `#check-<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckName {
    Media,
    Signalling,
    Stun,
    Turn,
    Browser,
}

impl CheckName {
    /// Every check, in the order the page shows them.
    pub const ALL: [Self; 5] = [
        Self::Media,
        Self::Signalling,
        Self::Stun,
        Self::Turn,
        Self::Browser,
    ];

    /// The element id, `check-<name>`; also the line's name in the report.
    pub fn id(self) -> &'static str {
        match self {
            Self::Media => "check-media",
            Self::Signalling => "check-signalling",
            Self::Stun => "check-stun",
            Self::Turn => "check-turn",
            Self::Browser => "check-browser",
        }
    }

    /// The heading a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Self::Media => "Camera and microphone",
            Self::Signalling => "Connection to the server",
            Self::Stun => "Public address (STUN)",
            Self::Turn => "Relay server (TURN)",
            Self::Browser => "Browser support",
        }
    }
}

/// The mark: green, amber or red. Spelled as `data-result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// A finished check: its mark and a sentence in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub sentence: String,
}

impl Outcome {
    fn new(verdict: Verdict, sentence: impl Into<String>) -> Self {
        Self {
            verdict,
            sentence: sentence.into(),
        }
    }
}

/// Camera and microphone: `Ok` when both tracks were opened, else the explanation of why not.
pub fn media_outcome(result: Result<(bool, bool), String>) -> Outcome {
    match result {
        Ok((true, true)) => Outcome::new(
            Verdict::Pass,
            "Your camera and microphone work: you should see yourself and the meter should move when you speak.",
        ),
        Ok((camera, _)) => Outcome::new(
            Verdict::Warn,
            if camera {
                "Your camera works, but no microphone was found: the other person will not hear you."
            } else {
                "Your microphone works, but no camera was found: the other person will not see you."
            },
        ),
        Err(explanation) => Outcome::new(Verdict::Fail, explanation),
    }
}

/// The signalling connection: the `ping`→`pong` round trip in milliseconds, or why it failed.
pub fn signalling_outcome(result: Result<f64, String>) -> Outcome {
    match result {
        Ok(rtt) => Outcome::new(
            Verdict::Pass,
            format!("The server answers in {} ms.", rtt.round()),
        ),
        Err(why) => Outcome::new(
            Verdict::Fail,
            format!(
                "The server could not be reached ({why}). Calls cannot start: check your internet connection, or try another network."
            ),
        ),
    }
}

/// What one `candidate:` line says: its type (`host`, `srflx`, `relay`...) and `address:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateLine {
    pub kind: String,
    pub address: String,
}

/// Reads an ICE candidate line (`candidate:1 1 udp 2122 192.0.2.1 5000 typ srflx raddr ...`).
pub fn parse_candidate(line: &str) -> Option<CandidateLine> {
    let mut fields = line.split_whitespace();
    let _foundation = fields.next()?;
    let _component = fields.next()?;
    let _protocol = fields.next()?;
    let _priority = fields.next()?;
    let ip = fields.next()?;
    let port = fields.next()?;
    if fields.next()? != "typ" {
        return None;
    }
    let kind = fields.next()?.to_owned();
    let address = if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    };
    Some(CandidateLine { kind, address })
}

fn first_of_kind(candidates: &[String], kind: &str) -> Option<String> {
    candidates
        .iter()
        .filter_map(|line| parse_candidate(line))
        .find(|candidate| candidate.kind == kind)
        .map(|candidate| candidate.address)
}

/// STUN: passes when a server-reflexive candidate was gathered, showing the public address.
pub fn stun_outcome(candidates: Result<Vec<String>, String>) -> Outcome {
    match candidates.map(|lines| first_of_kind(&lines, "srflx")) {
        Ok(Some(address)) => Outcome::new(
            Verdict::Pass,
            format!("The STUN server sees you at the public address {address}."),
        ),
        Ok(None) => Outcome::new(
            Verdict::Warn,
            "No public address was found (no STUN answer). A direct connection may still work on the same network, or through the relay server.",
        ),
        Err(why) => Outcome::new(
            Verdict::Warn,
            format!(
                "The public address could not be looked up ({why}). A direct connection may still work on the same network."
            ),
        ),
    }
}

/// The sentence when no relay candidate could be gathered.
pub const NO_RELAY: &str = "No relay (TURN) server could be reached. Calls across strict firewalls will fail: ask the operator to check the TURN server, or try another network.";

/// TURN: passes when a relay candidate was gathered and a data channel between two local
/// peers through the relay carried a message there and back (`loopback`, in milliseconds).
pub fn turn_outcome(
    candidates: Result<Vec<String>, String>,
    loopback: impl FnOnce() -> Result<f64, String>,
) -> Outcome {
    let relay = match candidates {
        Ok(lines) => first_of_kind(&lines, "relay"),
        Err(_) => None,
    };
    let Some(address) = relay else {
        return Outcome::new(Verdict::Fail, NO_RELAY);
    };
    match loopback() {
        Ok(rtt) => Outcome::new(
            Verdict::Pass,
            format!(
                "The relay server works (relay address {address}); a test message went through it and back in {} ms.",
                rtt.round()
            ),
        ),
        Err(why) => Outcome::new(
            Verdict::Fail,
            format!(
                "The relay server answered (relay address {address}) but no data got through it ({why}). Calls across strict firewalls will fail: ask the operator to check the TURN server, or try another network."
            ),
        ),
    }
}

/// What the browser offers of what the app uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    pub get_user_media: bool,
    pub peer_connection: bool,
    pub data_channel: bool,
    pub web_socket: bool,
    pub display_media: bool,
    pub sink_id: bool,
}

/// Browser support: fails when an essential is missing, warns when only optional ones are.
pub fn browser_outcome(support: Support) -> Outcome {
    let essentials = [
        (support.get_user_media, "camera access (getUserMedia)"),
        (support.peer_connection, "calls (RTCPeerConnection)"),
        (support.data_channel, "chat and files (RTCDataChannel)"),
        (support.web_socket, "the server connection (WebSocket)"),
    ];
    let optional = [
        (support.display_media, "screen sharing (getDisplayMedia)"),
        (support.sink_id, "choosing a speaker (setSinkId)"),
    ];
    let missing = |list: &[(bool, &'static str)]| -> Vec<&'static str> {
        list.iter()
            .filter(|(present, _)| !present)
            .map(|(_, what)| *what)
            .collect()
    };
    let missing_essentials = missing(&essentials);
    let missing_optional = missing(&optional);
    if !missing_essentials.is_empty() {
        Outcome::new(
            Verdict::Fail,
            format!(
                "This browser lacks {}: calls will not work. Use a current Chrome, Edge, Firefox or Safari.",
                missing_essentials.join(", ")
            ),
        )
    } else if !missing_optional.is_empty() {
        Outcome::new(
            Verdict::Warn,
            format!(
                "This browser can make calls, but lacks {}.",
                missing_optional.join(", ")
            ),
        )
    } else {
        Outcome::new(
            Verdict::Pass,
            "This browser supports everything the app uses.",
        )
    }
}

/// The whole result as text: one line per check, `check-<name>: <result> — <sentence>`;
/// checks still running say `running`.
pub fn report(outcomes: &[(CheckName, Option<Outcome>)]) -> String {
    let mut text = String::from("Connection check\n");
    for (name, outcome) in outcomes {
        let _infallible = match outcome {
            Some(outcome) => writeln!(
                text,
                "{}: {} — {}: {}",
                name.id(),
                outcome.verdict.as_str(),
                name.title(),
                outcome.sentence
            ),
            None => writeln!(text, "{}: running — {}", name.id(), name.title()),
        };
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0";
    const SRFLX: &str =
        "candidate:2 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 50000";
    const RELAY: &str =
        "candidate:3 1 udp 41885439 198.51.100.9 49152 typ relay raddr 203.0.113.7 rport 61000";

    #[test]
    fn candidate_lines_give_their_type_and_address() {
        assert_eq!(
            parse_candidate(SRFLX),
            Some(CandidateLine {
                kind: "srflx".into(),
                address: "203.0.113.7:61000".into()
            })
        );
        assert_eq!(
            parse_candidate("candidate:1 1 udp 1 2001:db8::1 9 typ host").map(|line| line.address),
            Some("[2001:db8::1]:9".into())
        );
        assert_eq!(parse_candidate("candidate:1 1 udp"), None);
        assert_eq!(
            parse_candidate("candidate:1 1 udp 1 1.2.3.4 9 kind host"),
            None
        );
    }

    #[test]
    fn stun_passes_with_a_reflexive_candidate_and_shows_the_address() {
        let outcome = stun_outcome(Ok(vec![HOST.into(), SRFLX.into()]));
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert!(outcome.sentence.contains("203.0.113.7:61000"));
        let outcome = stun_outcome(Ok(vec![HOST.into()]));
        assert_eq!(outcome.verdict, Verdict::Warn);
        assert!(outcome.sentence.contains("same network"));
    }

    #[test]
    fn turn_needs_a_relay_candidate_and_data_through_it() {
        let outcome = turn_outcome(Ok(vec![RELAY.into()]), || Ok(12.4));
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert!(outcome.sentence.contains("12 ms"));
        assert!(outcome.sentence.contains("198.51.100.9:49152"));

        let outcome = turn_outcome(Ok(vec![HOST.into(), SRFLX.into()]), || {
            unreachable!("no loopback test without a relay")
        });
        assert_eq!(outcome, Outcome::new(Verdict::Fail, NO_RELAY));
        assert_eq!(
            turn_outcome(Err("no servers".into()), || Ok(1.0)).verdict,
            Verdict::Fail
        );
        assert_eq!(
            turn_outcome(Ok(vec![RELAY.into()]), || Err("timed out".into())).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn browser_support_fails_on_essentials_and_warns_on_extras() {
        let all = Support {
            get_user_media: true,
            peer_connection: true,
            data_channel: true,
            web_socket: true,
            display_media: true,
            sink_id: true,
        };
        assert_eq!(browser_outcome(all).verdict, Verdict::Pass);
        let phone = Support {
            display_media: false,
            ..all
        };
        assert_eq!(browser_outcome(phone).verdict, Verdict::Warn);
        let old = Support {
            data_channel: false,
            ..phone
        };
        let outcome = browser_outcome(old);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert!(outcome.sentence.contains("RTCDataChannel"));
    }

    #[test]
    fn signalling_and_media_say_what_happened() {
        assert_eq!(
            signalling_outcome(Ok(3.6)).sentence,
            "The server answers in 4 ms."
        );
        assert_eq!(
            signalling_outcome(Err("closed".into())).verdict,
            Verdict::Fail
        );
        assert_eq!(media_outcome(Ok((true, true))).verdict, Verdict::Pass);
        assert_eq!(media_outcome(Ok((true, false))).verdict, Verdict::Warn);
        assert_eq!(media_outcome(Err("denied".into())).verdict, Verdict::Fail);
    }

    #[test]
    fn the_report_names_every_check_and_its_result() {
        let report = report(&[
            (CheckName::Media, Some(media_outcome(Ok((true, true))))),
            (CheckName::Turn, Some(Outcome::new(Verdict::Fail, NO_RELAY))),
            (CheckName::Stun, None),
        ]);
        assert!(report.contains("check-media: pass — Camera and microphone: "));
        assert!(report.contains(&format!(
            "check-turn: fail — Relay server (TURN): {NO_RELAY}"
        )));
        assert!(report.contains("check-stun: running"));
    }
}
