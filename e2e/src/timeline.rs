//! The call set-up timeline of `call-bench`: when each step of a call happened on a page,
//! recorded in the page itself from `performance.now()` and `getStats()`, the same way on any
//! page (the app, or the plain-JavaScript reference page of `bench/reference/`).
//!
//! [`INSTALL`] is run on a page right after it loads, before any peer connection exists. It
//! wraps `RTCPeerConnection` (each new connection is watched), `WebSocket.prototype.send` (an
//! offer or answer going out) and `MessageEvent`'s `data` (one coming in, when the page reads
//! it), and polls
//! each connection's `getStats()` every few milliseconds for the first video packet and frame.
//! Each step is kept once, at its first occurrence, as `performance.timeOrigin + now()` (epoch
//! milliseconds, comparable between two pages on one machine). Nothing here changes what the
//! page does; the polling costs both pages alike.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::Browser;

/// Installs the watch on the current page (see the module's documentation).
pub const INSTALL: &str = r#"
if (window.__timeline) return true;
const marks = {};
window.__timeline = marks;
const at = () => performance.timeOrigin + performance.now();
const mark = (name) => { if (!(name in marks)) marks[name] = at(); };
const peers = [];
window.__timelinePeers = peers;

const Native = window.RTCPeerConnection;
window.RTCPeerConnection = class extends Native {
  constructor(...args) {
    super(...args);
    peers.push(this);
    mark('peer connection created');
    this.addEventListener('icegatheringstatechange', () => mark('ICE gathering ' + this.iceGatheringState));
    this.addEventListener('iceconnectionstatechange', () => mark('ICE ' + this.iceConnectionState));
    this.addEventListener('connectionstatechange', () => mark('connection ' + this.connectionState));
    const watchDtls = () => {
      for (const t of [...this.getSenders(), ...this.getReceivers()]) {
        const dtls = t.transport;
        if (dtls && !dtls.__timeline) {
          dtls.__timeline = true;
          dtls.addEventListener('statechange', () => mark('DTLS ' + dtls.state));
        }
      }
    };
    const setLocal = this.setLocalDescription.bind(this);
    this.setLocalDescription = (...a) => setLocal(...a).then((r) => {
      if (this.localDescription) mark(this.localDescription.type + ' set locally');
      watchDtls();
      return r;
    });
    const setRemote = this.setRemoteDescription.bind(this);
    this.setRemoteDescription = (...a) => setRemote(...a).then((r) => {
      if (this.remoteDescription) mark(this.remoteDescription.type + ' set remotely');
      watchDtls();
      return r;
    });
  }
};

const kindOf = (data) => {
  if (typeof data !== 'string' || !(data.includes('"offer"') || data.includes('"answer"'))) return null;
  try {
    const type = JSON.parse(data).type;
    return type === 'offer' || type === 'answer' ? type : null;
  } catch (_) { return null; }
};
const nativeSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  const kind = kindOf(data);
  if (kind) mark(kind + ' sent');
  return nativeSend.call(this, data);
};
// A signalling message is "received" when the page reads it (`event.data`).
const nativeData = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data');
Object.defineProperty(MessageEvent.prototype, 'data', {
  configurable: true,
  enumerable: nativeData.enumerable,
  get() {
    const data = nativeData.get.call(this);
    if (this.target instanceof WebSocket) {
      const kind = kindOf(data);
      if (kind) mark(kind + ' received');
    }
    return data;
  },
});

const poll = async () => {
  for (const pc of peers) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        if (r.packetsReceived > 0) mark('first video packet received');
        if (r.framesDecoded > 0) mark('first frame decoded');
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.packetsReceived > 0) mark('first audio packet received');
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.packetsSent > 0) mark('first video packet sent');
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.keyFramesEncoded > 0) mark('first key frame encoded');
    });
  }
  if (!('first frame decoded' in marks)) setTimeout(poll, 4);
};
poll();
return true;
"#;

/// Presses `id` from a script and returns when (epoch milliseconds, the page's clock), so the
/// press and the timeline share one clock.
pub async fn press(browser: &Browser, id: &str) -> anyhow::Result<f64> {
    browser
        .eval(&format!(
            "const t = performance.timeOrigin + performance.now(); \
             document.getElementById('{id}').click(); return t;"
        ))
        .await?
        .as_f64()
        .context("press time")
}

/// Waits for the page's first decoded remote frame, then returns its timeline: each step's
/// name and when it happened (epoch milliseconds).
pub async fn until_first_frame(browser: &Browser) -> anyhow::Result<BTreeMap<String, f64>> {
    browser
        .wait_for(
            "return !!window.__timeline && 'first frame decoded' in window.__timeline;",
            "first remote frame",
        )
        .await?;
    let marks = browser.eval("return window.__timeline;").await?;
    serde_json::from_value(marks).context("the timeline's marks")
}

/// The steps of the caller's timeline that the bench prints, in the order a call goes through
/// them, with short labels.
pub const CALLER_STEPS: &[(&str, &str)] = &[
    ("peer connection created", "pc"),
    ("offer set locally", "offer"),
    ("offer sent", "sent"),
    ("answer received", "answer"),
    ("answer set remotely", "set"),
    ("ICE checking", "checking"),
    ("ICE connected", "ICE ok"),
    ("DTLS connected", "DTLS ok"),
    ("first video packet received", "packet"),
    ("first frame decoded", "frame"),
];

/// The callee's steps the bench prints.
pub const CALLEE_STEPS: &[(&str, &str)] = &[
    ("offer received", "offer in"),
    ("answer sent", "answer out"),
    ("first frame decoded", "frame"),
];
