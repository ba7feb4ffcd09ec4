// The browser half of the connection check (see check.rs): throwaway peer connections that
// gather candidates, a loopback data channel through a TURN relay, a microphone level meter,
// the feature probe and the clipboard. Values cross to Rust as JSON strings.

function until(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms));
}

export async function gatherCandidates(serversJson, relayOnly, timeoutMs) {
  const pc = new RTCPeerConnection({
    iceServers: JSON.parse(serversJson),
    iceTransportPolicy: relayOnly ? "relay" : "all",
  });
  const found = [];
  try {
    pc.createDataChannel("check");
    const complete = new Promise((resolve) => {
      pc.onicecandidate = (event) => {
        if (event.candidate) {
          if (event.candidate.candidate) found.push(event.candidate.candidate);
        } else {
          resolve();
        }
      };
      setTimeout(resolve, timeoutMs);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await complete;
  } finally {
    pc.close();
  }
  return JSON.stringify(found);
}

export async function relayLoopback(serversJson, timeoutMs) {
  const config = { iceServers: JSON.parse(serversJson), iceTransportPolicy: "relay" };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  try {
    a.onicecandidate = (event) => event.candidate && b.addIceCandidate(event.candidate).catch(() => {});
    b.onicecandidate = (event) => event.candidate && a.addIceCandidate(event.candidate).catch(() => {});
    b.ondatachannel = (event) => {
      event.channel.onmessage = (message) => event.channel.send(message.data);
    };
    const channel = a.createDataChannel("check");
    const opened = new Promise((resolve) => (channel.onopen = resolve));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    const roundTrip = opened.then(
      () =>
        new Promise((resolve) => {
          const sent = performance.now();
          channel.onmessage = () => resolve(performance.now() - sent);
          channel.send("ping");
        }),
    );
    return await Promise.race([roundTrip, until(timeoutMs, "timed out")]);
  } finally {
    a.close();
    b.close();
  }
}

export function startLevelMeter(stream, meter) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || stream.getAudioTracks().length === 0) return () => {};
  const context = new Context();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (context.state === "suspended") context.resume().catch(() => {});
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    meter.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
  }, 100);
  return () => {
    clearInterval(timer);
    context.close().catch(() => {});
  };
}

export function browserSupport() {
  const devices = navigator.mediaDevices;
  return JSON.stringify({
    get_user_media: !!(devices && devices.getUserMedia),
    peer_connection: typeof RTCPeerConnection === "function",
    data_channel:
      typeof RTCDataChannel === "function" &&
      typeof RTCPeerConnection === "function" &&
      typeof RTCPeerConnection.prototype.createDataChannel === "function",
    web_socket: typeof WebSocket === "function",
    display_media: !!(devices && devices.getDisplayMedia),
    sink_id: typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype,
  });
}

export async function copyText(text) {
  await navigator.clipboard.writeText(text);
}
