//! A watcher installed in a page before the page's own scripts, for tests that must see what
//! the page did rather than what it shows: every `RTCPeerConnection` it created, every
//! signalling frame it sent or was handed, and a gate that holds incoming frames back.
//!
//! Installed with Chromium's `Page.addScriptToEvaluateOnNewDocument` (through chromedriver), so
//! it wraps `WebSocket` and `RTCPeerConnection` before the app opens its socket. The app's
//! behaviour is unchanged unless a test closes the gate ([`Probe::hold_incoming_until_offer_sent`]):
//! then frames from the server wait until the page has sent an offer of its own, as if the two
//! offers had crossed on a slow network. That makes a collision certain instead of likely.
//!
//! It does not decide anything about the call: tests read [`Probe::report`] and assert.

use anyhow::Context;
use serde::Deserialize;
use serde_json::json;
use thirtyfour::extensions::cdp::ChromeDevTools;

use crate::Browser;

/// Runs in every new document of the browser, before the app's scripts.
const PROBE: &str = r#"
(() => {
  const typeOf = (data) => { try { return JSON.parse(data).type || null; } catch { return null; } };
  // Every peer connection the page created, in order.
  window.__probedConnections = [];
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) { super(...args); window.__probedConnections.push(this); }
  };
  // Signalling frames by type, in the order the page sent them or was handed them.
  window.__signalling = [];
  window.__holdIncomingUntilOfferSent = false;
  let offerSent = false;
  const held = [];
  const released = new WeakSet();
  const hand = (socket, data) => {
    const event = new MessageEvent('message', { data });
    released.add(event);
    window.__signalling.push('received ' + typeOf(data));
    socket.dispatchEvent(event);
  };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      // Registered before the app's handler, so it can stop a frame from reaching it.
      this.addEventListener('message', (event) => {
        if (released.has(event)) return;
        if (window.__holdIncomingUntilOfferSent && !offerSent) {
          event.stopImmediatePropagation();
          held.push(event.data);
          return;
        }
        window.__signalling.push('received ' + typeOf(event.data));
      });
    }
    send(data) {
      const type = typeOf(data);
      window.__signalling.push('sent ' + type);
      super.send(data);
      if (type === 'offer' && !offerSent) {
        offerSent = true;
        // After the app's send returns, in arrival order.
        setTimeout(() => { for (const data of held.splice(0)) hand(this, data); }, 0);
      }
    }
  };
})();
"#;

/// What the probe saw in a page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    /// `sent <type>` / `received <type>` for every signalling frame, in order.
    pub signalling: Vec<String>,
    /// The `connectionState` of every peer connection the page created, oldest first.
    pub peer_connections: Vec<String>,
    /// Index in `peer_connections` of `window.__peerConnection`, if it is one of them.
    pub current: Option<usize>,
    /// Kinds of the current connection's transceivers (`receiver.track.kind`), in order.
    pub current_transceivers: Vec<String>,
    /// `currentDirection` of each of those transceivers.
    pub current_directions: Vec<Option<String>>,
}

const REPORT: &str = r#"
const all = window.__probedConnections || [];
const pc = window.__peerConnection;
const index = all.indexOf(pc);
const transceivers = pc ? pc.getTransceivers() : [];
return {
  signalling: window.__signalling || [],
  peerConnections: all.map(p => p.connectionState),
  current: index >= 0 ? index : null,
  currentTransceivers: transceivers.map(t => t.receiver.track.kind),
  currentDirections: transceivers.map(t => t.currentDirection || null),
};
"#;

impl ProbeReport {
    /// Frames of `type` the page sent.
    pub fn sent(&self, kind: &str) -> usize {
        let frame = format!("sent {kind}");
        self.signalling.iter().filter(|s| **s == frame).count()
    }

    /// Whether the page sent an offer before it was handed one: its own offer was out when the
    /// other's came in.
    pub fn offered_before_receiving_an_offer(&self) -> bool {
        let first = |frame: &str| self.signalling.iter().position(|s| s == frame);
        match (first("sent offer"), first("received offer")) {
            (Some(sent), Some(received)) => sent < received,
            _ => false,
        }
    }

    /// Peer connections that are not closed.
    pub fn open_peer_connections(&self) -> usize {
        self.peer_connections
            .iter()
            .filter(|state| *state != "closed")
            .count()
    }
}

/// The probe in one browser.
pub struct Probe<'a> {
    browser: &'a Browser,
}

impl<'a> Probe<'a> {
    /// Installs the probe for every page `browser` opens from now on (call before `goto`).
    pub async fn install(browser: &'a Browser) -> anyhow::Result<Self> {
        ChromeDevTools::new(browser.driver.handle.clone())
            .execute_cdp_with_params(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PROBE }),
            )
            .await
            .context("installing the page probe")?;
        Ok(Self { browser })
    }

    /// From now on, frames from the server wait until this page has sent an offer.
    pub async fn hold_incoming_until_offer_sent(&self) -> anyhow::Result<()> {
        let installed = self
            .browser
            .eval("window.__holdIncomingUntilOfferSent = true; return Array.isArray(window.__signalling);")
            .await?;
        anyhow::ensure!(
            installed.as_bool() == Some(true),
            "the probe is not in the page"
        );
        Ok(())
    }

    pub async fn report(&self) -> anyhow::Result<ProbeReport> {
        Ok(serde_json::from_value(self.browser.eval(REPORT).await?)?)
    }
}

/// Offers this page sent and received so far (the probe's record).
pub async fn offers(person: &Browser) -> anyhow::Result<u64> {
    let count = person
        .eval("return window.__signalling.filter(f => f.endsWith(' offer')).length;")
        .await?;
    count
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("{}: no probe in the page", person.name))
}

/// Both pages' offer counts, taken before and after something that must not renegotiate.
pub async fn offer_counts(a: &Browser, b: &Browser) -> anyhow::Result<(u64, u64)> {
    Ok((offers(a).await?, offers(b).await?))
}
