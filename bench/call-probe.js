// A probe for `call-bench` experiments: where the page's main thread goes during call set-up.
// Not part of any page, and a function body (as `CALL_BENCH_EXTRA_JS` takes it); run it on both pages of the two-person case with
//   CALL_BENCH_RUNS=3 CALL_BENCH_EXTRA_JS="$(cat bench/call-probe.js)" \
//   CALL_BENCH_PRINT_JS='return window.__probeReport(PRESSED);' ./target/release/call-bench two
// (in the loopback-only namespace, as `scripts/bench call` runs it). Per page it prints, in ms
// after Call was pressed:
// - GAPS: when the main thread could not run a task for more than 4 ms, and for how long
//   (a MessageChannel ping-pong from the first RTCPeerConnection call, or the press, for 1.5 s);
// - CALLS: each RTCPeerConnection / RTCRtpSender method called (the getters only when they held
//   the thread over 2 ms), when, how long its synchronous
//   part took and when its promise settled (negative: rejected);
// - WS handlers: each WebSocket message handler (the app's; the reference page sets `onmessage`
//   before the probe is installed), when and how long it ran synchronously;
// - LONGTASKS: the `longtask` entries (over 50 ms), buffered from the page's load.
// The ping-pong keeps one core busy while it runs, on both pages alike.
const P = window.__probe = {gaps: [], calls: [], long: [], ws: []};
const at = () => performance.timeOrigin + performance.now();
try {
  new PerformanceObserver((l) => { for (const e of l.getEntries()) P.long.push([performance.timeOrigin + e.startTime, e.duration]); })
    .observe({type: 'longtask', buffered: true});
} catch (e) { P.long.push(['no longtask', String(e)]); }
let spinUntil = 0, last = 0;
const ch = new MessageChannel();
ch.port1.onmessage = () => {
  const now = at();
  if (now - last > 4) P.gaps.push([last, now - last]);
  last = now;
  if (now < spinUntil) ch.port2.postMessage(0); else spinUntil = 0;
};
const spin = () => { if (!spinUntil) { spinUntil = at() + 1500; last = at(); ch.port2.postMessage(0); } };
document.addEventListener('click', (e) => { if (e.target && e.target.id === 'call') spin(); }, true);
const wrap = (proto, names, tag) => {
  for (const name of names) {
    const orig = proto[name];
    if (!orig) continue;
    proto[name] = function (...a) {
      spin();
      const t0 = at();
      const r = orig.apply(this, a);
      const rec = [tag + name, t0, at() - t0, null];
      P.calls.push(rec);
      if (r && typeof r.then === 'function') r.then(() => { rec[3] = at() - t0; }, () => { rec[3] = -(at() - t0); });
      return r;
    };
  }
};
wrap(RTCPeerConnection.prototype, ['setLocalDescription', 'setRemoteDescription', 'addIceCandidate', 'createDataChannel', 'addTrack', 'addTransceiver', 'createOffer', 'createAnswer'], '');
wrap(RTCPeerConnection.prototype, ['getTransceivers', 'getSenders', 'getReceivers'], '');
wrap(RTCRtpSender.prototype, ['setParameters', 'getParameters', 'replaceTrack'], 'sender.');
const ows = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
Object.defineProperty(WebSocket.prototype, 'onmessage', { configurable: true, get() { return ows.get.call(this); }, set(f) {
  ows.set.call(this, f && function (ev) { const t0 = at(); const r = f.call(this, ev); const d = typeof ev.data === 'string' ? ev.data : ''; P.ws.push([t0, at() - t0, (d.match(/"type":"(\w+)"/) || [])[1]]); return r; });
}});
const oadd = EventTarget.prototype.addEventListener;
EventTarget.prototype.addEventListener = function (type, f, o) {
  if (this instanceof WebSocket && type === 'message' && typeof f === 'function') {
    const g = function (ev) { const t0 = at(); const r = f.call(this, ev); const d = typeof ev.data === 'string' ? ev.data : ''; P.ws.push([t0, at() - t0, (d.match(/"type":"(\w+)"/) || [])[1]]); return r; };
    return oadd.call(this, type, g, o);
  }
  return oadd.call(this, type, f, o);
};
window.__probeReport = (pressed) => {
  const r = (x) => Math.round(x - pressed);
  const f = (x) => Math.round(x * 10) / 10;
  const gaps = P.gaps.filter(([t]) => t > pressed - 5).map(([t, d]) => `${r(t)}+${f(d)}`).join(' ');
  const calls = P.calls.filter(([n, t, s]) => t > pressed - 5 && !(/get[A-Z]/.test(n) && s < 2)).map(([n, t, s, a]) => `${n}@${r(t)} sync ${f(s)} done ${a === null ? '-' : f(a)}`).join('; ');
  const getters = P.calls.filter(([n, t]) => t > pressed - 5 && /get[A-Z]/.test(n)).length;
  const ws = P.ws.filter(([t]) => t > pressed - 5).map(([t, d, k]) => `${k}@${r(t)}+${f(d)}`).join(' ');
  const long = P.long.map(([t, d]) => typeof t === 'number' ? `${r(t)}+${f(d)}` : `${t} ${d}`).join(' ');
  return `\n    GAPS>4ms: ${gaps}\n    CALLS (getters only when over 2 ms; ${getters} getter calls): ${calls}\n    WS handlers: ${ws}\n    LONGTASKS: ${long}`;
};
return true;
