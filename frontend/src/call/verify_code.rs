//! The call's verification code: eight digits both people can read to each other to make
//! sure no one sits in the middle of the call.
//!
//! Media is encrypted end to end by DTLS-SRTP, but the certificate fingerprints that tie the
//! encryption to the other browser travel in the SDP, through the signalling server. A server
//! that swapped them could end each side's DTLS itself and pass the media on. Each browser
//! knows the two certificates its transport *really* used (`getStats()`: the `transport`
//! report's `localCertificateId` / `remoteCertificateId`, each naming a `certificate` report
//! with its `fingerprint`). Without anyone in the middle both browsers see the same two; with
//! someone in the middle each sees a different pair, so the codes differ.
//!
//! The code: the two fingerprints normalised ([`Fingerprint::parse`]: colon-separated hex
//! pairs, upper case), sorted so that both sides put them in the same order, joined by one
//! `\n`, hashed with SHA-256; the first eight bytes of the hash, as a big-endian number modulo
//! 10⁸, are the eight digits, shown as `1234 5678`. Anyone can recompute it:
//! `printf '%s\n%s' A B | sha256sum` with `A` ≤ `B`. Digits rather than words: the same in
//! every language, and easy to say.
//!
//! What it does not do: eight digits are about 26.6 bits. A man in the middle who can compute
//! around 10⁸ SHA-256 hashes while the call is being set up (seconds on a laptop) can grind a
//! certificate whose code matches; the code stops a plain swap, not such an attacker (a
//! commitment, as ZRTP's, or a longer code would). Nothing here touches the browser: the
//! session hands in the stats entries.

use std::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::stats_entry::StatsEntry;

/// How many digits the code has.
pub const DIGITS: usize = 8;

/// The sentence shown beside the code.
pub const EXPLANATION: &str =
    "Compare this code out loud: the same code on both sides means no one is in the middle.";

/// The shortest and longest fingerprint accepted, in bytes: SHA-1 (20) to SHA-512 (64), the
/// hash functions RFC 8122 lets a DTLS fingerprint use.
const MIN_BYTES: usize = 20;
const MAX_BYTES: usize = 64;

/// Why a fingerprint string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FingerprintError {
    #[error("the fingerprint is not colon-separated pairs of hex digits")]
    NotHexPairs,
    #[error("the fingerprint is {0} bytes long; 20 to 64 are accepted")]
    Length(usize),
}

/// A certificate fingerprint in one spelling: `AB:CD:…`, upper case, as in an SDP
/// `a=fingerprint` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Reads a `certificate` report's `fingerprint`: hex pairs separated by colons, either case,
    /// surrounding blanks ignored.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let pairs: Vec<&str> = text.trim().split(':').collect();
        let well_formed = pairs
            .iter()
            .all(|pair| pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(FingerprintError::NotHexPairs);
        }
        if !(MIN_BYTES..=MAX_BYTES).contains(&pairs.len()) {
            return Err(FingerprintError::Length(pairs.len()));
        }
        Ok(Self(text.trim().to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The eight digits both people compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyCode(u32);

impl VerifyCode {
    /// The code of a transport with these two certificates, whichever side is local: both
    /// browsers of a call get the same code.
    pub fn of(one: &Fingerprint, other: &Fingerprint) -> Self {
        let (first, second) = if one <= other {
            (one, other)
        } else {
            (other, one)
        };
        let mut hasher = Sha256::new();
        hasher.update(first.as_str());
        hasher.update("\n");
        hasher.update(second.as_str());
        let digest = hasher.finalize();
        let mut head = [0_u8; 8];
        head.copy_from_slice(&digest[..8]);
        // 10⁸ < 2³², so the remainder fits; the bias of a 64-bit number modulo 10⁸ is below
        // one in 10¹¹.
        Self((u64::from_be_bytes(head) % 100_000_000) as u32)
    }

    /// The code of the connected transport in a `getStats()` report: `None` until DTLS is
    /// `connected` and both certificates are known (never, in a browser that has no
    /// `transport` reports). The remote certificate comes from its `certificate` report or,
    /// when the transport names none, from `remote_sdp`'s `a=fingerprint` line: Chromium 156
    /// leaves `remoteCertificateId` out on some DTLS 1.3 client transports (seen in a call of
    /// three), and once DTLS is `connected` the browser has checked the other certificate
    /// against exactly that line, so it names the same certificate.
    pub fn from_stats(entries: &[StatsEntry], remote_sdp: Option<&str>) -> Option<Self> {
        let fingerprint = |id: &str| {
            let entry = entries
                .iter()
                .find(|entry| entry.kind == "certificate" && entry.id == id)?;
            Fingerprint::parse(entry.fingerprint.as_deref()?).ok()
        };
        entries
            .iter()
            .filter(|entry| {
                entry.kind == "transport" && entry.dtls_state.as_deref() == Some("connected")
            })
            .find_map(|transport| {
                let local = fingerprint(transport.local_certificate_id.as_deref()?)?;
                let remote = match transport.remote_certificate_id.as_deref() {
                    Some(id) => fingerprint(id)?,
                    None => fingerprint_in_sdp(remote_sdp?)?,
                };
                Some(Self::of(&local, &remote))
            })
    }

    /// The eight digits, unspaced.
    pub fn digits(self) -> String {
        format!("{:0width$}", self.0, width = DIGITS)
    }
}

/// The certificate fingerprint an SDP announces: its first `a=fingerprint:sha-256` line
/// (with bundling every media section carries the same one).
pub fn fingerprint_in_sdp(sdp: &str) -> Option<Fingerprint> {
    sdp.lines().find_map(|line| {
        let (algorithm, value) = line.strip_prefix("a=fingerprint:")?.split_once(' ')?;
        algorithm
            .eq_ignore_ascii_case("sha-256")
            .then(|| Fingerprint::parse(value).ok())?
    })
}

/// `1234 5678`: two groups of four, easier to read out than eight in a row.
impl fmt::Display for VerifyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        let (first, second) = digits.split_at(DIGITS / 2);
        write!(f, "{first} {second}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two SHA-256 fingerprints as Chromium reports them (bytes 0x00..0x1f and 0xa0..0xbf).
    const A: &str = "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:\
                     10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F";
    const B: &str = "A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:\
                     B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:BA:BB:BC:BD:BE:BF";

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint::parse(text).expect("a valid fingerprint")
    }

    /// The known vector: `printf '%s\n%s' A B | sha256sum` starts with 79bc404643a14d71,
    /// which is 8771956844737416561, whose last eight digits are 37416561.
    #[test]
    fn known_vector() {
        let code = VerifyCode::of(&fingerprint(A), &fingerprint(B));
        assert_eq!(code.digits(), "37416561");
        assert_eq!(code.to_string(), "3741 6561");
    }

    /// Both sides get the same code: the order the two fingerprints come in does not matter.
    #[test]
    fn order_does_not_matter() {
        assert_eq!(
            VerifyCode::of(&fingerprint(A), &fingerprint(B)),
            VerifyCode::of(&fingerprint(B), &fingerprint(A))
        );
    }

    /// Lower case and blanks around are the same fingerprint as Chromium's upper case.
    #[test]
    fn spelling_is_normalised() {
        let lower = format!("  {}\n", B.to_ascii_lowercase());
        assert_eq!(fingerprint(&lower), fingerprint(B));
        assert_eq!(
            VerifyCode::of(&fingerprint(A), &fingerprint(&lower)),
            VerifyCode::of(&fingerprint(A), &fingerprint(B))
        );
    }

    /// A different certificate on one side (someone in the middle) gives a different code.
    #[test]
    fn another_certificate_gives_another_code() {
        let swapped = B.replacen("A0", "A1", 1);
        assert_ne!(
            VerifyCode::of(&fingerprint(A), &fingerprint(B)),
            VerifyCode::of(&fingerprint(A), &fingerprint(&swapped))
        );
    }

    /// A code with leading zeros keeps all eight digits.
    #[test]
    fn leading_zeros_are_kept() {
        assert_eq!(VerifyCode(42).to_string(), "0000 0042");
    }

    /// Anything but 20 to 64 colon-separated hex pairs is refused.
    #[test]
    fn malformed_fingerprints_are_refused() {
        assert_eq!(Fingerprint::parse(""), Err(FingerprintError::NotHexPairs));
        assert_eq!(
            Fingerprint::parse("sha-256 AB:CD"),
            Err(FingerprintError::NotHexPairs)
        );
        assert_eq!(
            Fingerprint::parse(&A.replace(':', "")),
            Err(FingerprintError::NotHexPairs)
        );
        assert_eq!(
            Fingerprint::parse(&A.replacen("0A", "0G", 1)),
            Err(FingerprintError::NotHexPairs)
        );
        assert_eq!(
            Fingerprint::parse("AB:CD:EF"),
            Err(FingerprintError::Length(3))
        );
        let too_long = vec!["AB"; 65].join(":");
        assert_eq!(
            Fingerprint::parse(&too_long),
            Err(FingerprintError::Length(65))
        );
    }

    fn entry(id: &str, kind: &str) -> StatsEntry {
        StatsEntry {
            id: id.to_owned(),
            kind: kind.to_owned(),
            ..StatsEntry::default()
        }
    }

    fn certificate(id: &str, fingerprint: &str) -> StatsEntry {
        StatsEntry {
            fingerprint: Some(fingerprint.to_owned()),
            ..entry(id, "certificate")
        }
    }

    fn transport(dtls_state: &str) -> StatsEntry {
        StatsEntry {
            dtls_state: Some(dtls_state.to_owned()),
            local_certificate_id: Some("CFlocal".to_owned()),
            remote_certificate_id: Some("CFremote".to_owned()),
            ..entry("T01", "transport")
        }
    }

    /// The connected transport's two certificates give the code; other certificates in the
    /// report (an earlier transport's) do not count.
    #[test]
    fn code_from_the_connected_transport() {
        let report = [
            certificate(
                "CFold",
                "11:22:33:44:55:66:77:88:99:00:11:22:33:44:55:66:77:88:99:00",
            ),
            certificate("CFremote", B),
            transport("connected"),
            certificate("CFlocal", A),
        ];
        assert_eq!(
            VerifyCode::from_stats(&report, None).map(VerifyCode::digits),
            Some("37416561".to_owned())
        );
    }

    /// No code before DTLS is connected, nor after it failed (a swapped fingerprint).
    #[test]
    fn no_code_unless_dtls_is_connected() {
        for state in ["new", "connecting", "failed", "closed"] {
            let report = [
                certificate("CFlocal", A),
                certificate("CFremote", B),
                transport(state),
            ];
            assert_eq!(VerifyCode::from_stats(&report, None), None, "{state}");
        }
    }

    /// A transport that names no remote certificate (Chromium, sometimes) takes it from the
    /// remote description's fingerprint line: the same code as from its report.
    #[test]
    fn remote_certificate_from_the_sdp_when_the_report_names_none() {
        let sdp = format!(
            "v=0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             a=fingerprint:sha-256 {B}\r\na=setup:active\r\n"
        );
        let report = [
            certificate("CFlocal", A),
            StatsEntry {
                remote_certificate_id: None,
                ..transport("connected")
            },
        ];
        assert_eq!(
            VerifyCode::from_stats(&report, Some(&sdp)).map(VerifyCode::digits),
            Some("37416561".to_owned())
        );
        assert_eq!(
            fingerprint_in_sdp("v=0\r\na=fingerprint:sha-1 AB:CD\r\n"),
            None
        );
    }

    /// No code while the remote certificate is not in the report, or unreadable.
    #[test]
    fn no_code_without_both_certificates() {
        let missing = [certificate("CFlocal", A), transport("connected")];
        assert_eq!(VerifyCode::from_stats(&missing, None), None);
        let unreadable = [
            certificate("CFlocal", A),
            certificate("CFremote", "not a fingerprint"),
            transport("connected"),
        ];
        assert_eq!(VerifyCode::from_stats(&unreadable, None), None);
        let unnamed = [
            certificate("CFlocal", A),
            certificate("CFremote", B),
            StatsEntry {
                remote_certificate_id: None,
                ..transport("connected")
            },
        ];
        assert_eq!(VerifyCode::from_stats(&unnamed, None), None);
    }
}
