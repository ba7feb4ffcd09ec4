//! The verification code (`#verify-code`, `.verify-code` on each tile): what two people read to
//! each other to know that no one sits in the middle of their call. Real Chromiums, the real
//! backend, and for the last test a relay that plays a compromised signalling server
//! ([`SignallingMitm`]): it rewrites the DTLS fingerprint of every SDP between one page and the
//! backend.

use anyhow::{Context, bail, ensure};
use e2e::{
    Browser, BrowserOptions, SignallingMitm, Stack, StackOptions, UdpBlackhole, connected_call,
    mesh::peer_id, new_room_path,
};
use regex::Regex;
use sha2::{Digest, Sha256};

/// The code's shape: eight digits in two groups of four.
const CODE_PATTERN: &str = r"^\d{4} \d{4}$";

/// `return` of the text of the code `selector` finds, or `null` while it is absent, hidden or
/// empty.
fn code_script(selector: &str) -> String {
    let selector = serde_json::to_string(selector).expect("a string");
    format!(
        "const e = document.querySelector({selector});
         if (!e || e.closest('[hidden]')) return null;
         const text = e.textContent.trim();
         return text || null;"
    )
}

/// The code the page shows at `selector` now, if any.
async fn shown_code(person: &Browser, selector: &str) -> anyhow::Result<Option<String>> {
    Ok(person
        .eval(&code_script(selector))
        .await?
        .as_str()
        .map(str::to_owned))
}

/// Waits until the page shows a code at `selector`; returns it.
async fn wait_code(person: &Browser, selector: &str) -> anyhow::Result<String> {
    person
        .wait_for(
            &format!("return (() => {{ {} }})() !== null;", code_script(selector)),
            &format!("a verification code at {selector}"),
        )
        .await?;
    shown_code(person, selector)
        .await?
        .context("the code went away at once")
}

/// Waits until the page shows no code at `selector`.
async fn wait_no_code(person: &Browser, selector: &str) -> anyhow::Result<()> {
    person
        .wait_for(
            &format!("return (() => {{ {} }})() === null;", code_script(selector)),
            &format!("no verification code at {selector}"),
        )
        .await
}

/// The certificate fingerprints of the connected DTLS transport of `person`'s call with
/// `other` (or of the first call, with `None`), read straight from `getStats()`: (local,
/// remote). Chromium sometimes names no remote certificate on a DTLS 1.3 client transport;
/// then the remote description's fingerprint, which a connected DTLS has checked, stands in.
async fn fingerprints(person: &Browser, other: Option<&str>) -> anyhow::Result<(String, String)> {
    let pc = match other {
        Some(other) => format!(
            "window.__peerConnections[{}]",
            serde_json::to_string(other)?
        ),
        None => "window.__peerConnection".to_owned(),
    };
    let value = person
        .eval(&format!(
            "const report = await {pc}.getStats(); const byId = new Map();
             report.forEach(r => byId.set(r.id, r));
             for (const r of byId.values()) {{
               if (r.type === 'transport' && r.dtlsState === 'connected') {{
                 const local = byId.get(r.localCertificateId), remote = byId.get(r.remoteCertificateId);
                 const line = ({pc}.remoteDescription.sdp.match(/^a=fingerprint:sha-256 (\\S+)/m) || [])[1];
                 const theirs = remote ? remote.fingerprint : line;
                 if (local && theirs) return [local.fingerprint, theirs];
               }}
             }}
             return null;"
        ))
        .await?;
    let pair: Option<(String, String)> = serde_json::from_value(value)?;
    pair.with_context(|| format!("{}: no connected DTLS transport", person.name))
}

/// The code as the README defines it, computed here from two fingerprints: SHA-256 of the two
/// (upper case) sorted and joined by a newline, the first eight bytes big-endian modulo 10⁸.
fn expected_code(a: &str, b: &str) -> String {
    let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{first}\n{second}"));
    let head = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
    let digits = format!("{:08}", head % 100_000_000);
    format!("{} {}", &digits[..4], &digits[4..])
}

/// The DTLS and connection states of `person`'s first call, from the browser itself.
async fn dtls_states(person: &Browser) -> anyhow::Result<serde_json::Value> {
    person
        .eval(
            "const pc = window.__peerConnection; if (!pc) return null;
             const states = [];
             (await pc.getStats()).forEach(r => { if (r.type === 'transport') states.push(r.dtlsState); });
             return { dtls: states, connection: pc.connectionState, ice: pc.iceConnectionState };",
        )
        .await
}

/// Both people of a normal call see the same code, eight digits as `1234 5678`, and it is the
/// one computed from the two certificates their browser reports (each side's local certificate
/// is the other's remote one).
#[tokio::test(flavor = "multi_thread")]
async fn both_sides_of_a_call_show_the_same_code() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    let alice_code = wait_code(&alice, "#verify-code").await?;
    let bob_code = wait_code(&bob, "#verify-code").await?;
    ensure!(
        Regex::new(CODE_PATTERN)?.is_match(&alice_code),
        "the code {alice_code:?} is not eight digits as 1234 5678"
    );
    ensure!(
        alice_code == bob_code,
        "the two sides show different codes: {alice_code:?} and {bob_code:?}"
    );
    let (alice_local, alice_remote) = fingerprints(&alice, None).await?;
    let (bob_local, bob_remote) = fingerprints(&bob, None).await?;
    ensure!(
        alice_local == bob_remote && bob_local == alice_remote,
        "no one is in the middle, so each side's certificate is the other's remote one"
    );
    let expected = expected_code(&alice_local, &alice_remote);
    ensure!(
        alice_code == expected,
        "the page shows {alice_code:?}; the two certificates give {expected:?}"
    );
    // The explanation goes with it.
    let help = alice
        .eval("return document.querySelector('[data-peer] .verify-help').textContent;")
        .await?;
    ensure!(
        help.as_str()
            == Some(
                "Compare this code out loud: the same code on both sides means no one is in the middle."
            ),
        "the explanation says {help}"
    );
    Ok(())
}

/// The code is only shown while the call is connected: gone while the network is cut and the
/// call recovers by ICE restarts, back (the same certificates, so the same code) once it is
/// connected again; gone with a hang-up; and a new call (new peer connections, new
/// certificates) shows a new code, again the same on both sides.
#[tokio::test(flavor = "multi_thread")]
async fn code_is_cleared_while_not_connected_and_renewed_by_a_new_call() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;
    let first = wait_code(&alice, "#verify-code").await?;

    let cut = UdpBlackhole::start()?;
    for person in [&alice, &bob] {
        person.wait_state("reconnecting").await?;
        wait_no_code(person, "#verify-code").await?;
    }
    cut.lift()?;
    for person in [&alice, &bob] {
        person.wait_state("connected").await?;
        let again = wait_code(person, "#verify-code").await?;
        ensure!(
            again == first,
            "{}: after the ICE restart the code is {again:?}, not {first:?}",
            person.name
        );
    }

    alice.click("hang-up").await?;
    for person in [&alice, &bob] {
        wait_no_code(person, "[data-peer] .verify-code").await?;
    }
    bob.click("call").await?;
    for person in [&alice, &bob] {
        person.wait_state("connected").await?;
    }
    let alice_new = wait_code(&alice, "#verify-code").await?;
    let bob_new = wait_code(&bob, "#verify-code").await?;
    ensure!(alice_new == bob_new, "{alice_new:?} and {bob_new:?} differ");
    ensure!(
        alice_new != first,
        "the new call shows the old call's code {first:?}"
    );
    let (local, remote) = fingerprints(&alice, None).await?;
    ensure!(alice_new == expected_code(&local, &remote));
    Ok(())
}

/// In a call of three, each tile shows the code of the call with that person: Alice's tile of
/// Bob shows what Bob's tile of Alice shows, and so on for each pair; the first tile's code is
/// also `#verify-code`.
#[tokio::test(flavor = "multi_thread")]
async fn each_call_of_a_group_has_its_own_code() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        backend_args: vec!["--room-capacity".into(), "4".into()],
        ..Default::default()
    })
    .await?;
    let room = stack.new_room_url();
    let mut people = Vec::new();
    for _ in 0..3 {
        let person = stack.browser(BrowserOptions::default()).await?;
        person.join_with_video(&room).await?;
        let id = peer_id(&person).await?;
        people.push((person, id));
    }
    people[0].0.click("call").await?;
    let tile = |id: &str| format!("figure.tile[data-peer=\"{id}\"] .verify-code");
    let mut codes = std::collections::BTreeMap::new();
    for (person, me) in &people {
        for (_, other) in people.iter().filter(|(_, other)| other != me) {
            let code = match wait_code(person, &tile(other)).await {
                Ok(code) => code,
                Err(error) => {
                    let tiles = person
                        .eval("return [...document.querySelectorAll('figure.tile')].map(t => t.dataset.peer + ' ' + t.dataset.state + ' ' + t.querySelector('.tile-verify').outerHTML);")
                        .await?;
                    let stats = person.eval("const out = {}; for (const [id, pc] of Object.entries(window.__peerConnections)) { const s = []; (await pc.getStats()).forEach(r => { if (r.type === 'transport' || r.type === 'certificate') s.push(r); }); out[id] = s; } return out;").await?;
                    bail!("{error}\nme {me} tiles {tiles}\nstats {stats}");
                }
            };
            let (local, remote) = fingerprints(person, Some(other)).await?;
            ensure!(
                code == expected_code(&local, &remote),
                "{}: the tile of {other} shows {code:?}, not its call's code",
                person.name
            );
            codes.insert((me.clone(), other.clone()), code);
        }
        let first = shown_code(person, "#verify-code").await?;
        let first_tile = shown_code(person, "figure.tile .verify-code").await?;
        ensure!(
            first.is_some() && first == first_tile,
            "{}: #verify-code is not the first tile's code",
            person.name
        );
    }
    for ((me, other), code) in &codes {
        let theirs = &codes[&(other.clone(), me.clone())];
        ensure!(
            code == theirs,
            "{me} sees {code:?} for {other}, who sees {theirs:?}"
        );
    }
    let distinct: std::collections::BTreeSet<&String> = codes.values().collect();
    ensure!(
        distinct.len() == 3,
        "three calls, each with its own certificates, yet the codes are {codes:?}"
    );
    Ok(())
}

/// A signalling server that rewrites the DTLS fingerprint in the SDP between one page and the
/// backend (a man in the middle who does not hold the certificates) makes the call fail: each
/// browser checks the certificate it meets against the fingerprint it was given, the DTLS
/// handshake fails, the pages say the call failed, and no code is ever shown on either side.
#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_fingerprint_fails_the_call_and_shows_no_code() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let mitm = SignallingMitm::start(stack.backend.port).await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    let path = new_room_path();
    // Alice's page, and so her signalling, goes through the relay; Bob's straight to the server.
    alice
        .join_with_video(&format!("{}{path}", mitm.origin()))
        .await?;
    bob.join_with_video(&format!("{}{path}", stack.backend.origin()))
        .await?;
    alice.click("call").await?;

    for person in [&alice, &bob] {
        person.wait_state("failed").await?;
    }
    ensure!(
        mitm.rewritten() >= 2,
        "the relay rewrote {} descriptions: the offer and the answer must both have gone through it",
        mitm.rewritten()
    );
    for person in [&alice, &bob] {
        let states = dtls_states(person).await?;
        ensure!(
            states["dtls"] == serde_json::json!(["failed"]) && states["connection"] == "failed",
            "{}: the DTLS handshake must fail against the rewritten fingerprint: {states}",
            person.name
        );
        let code = shown_code(person, "[data-peer] .verify-code").await?;
        ensure!(
            code.is_none(),
            "{}: a call with a failed handshake shows the code {code:?}",
            person.name
        );
    }
    Ok(())
}
