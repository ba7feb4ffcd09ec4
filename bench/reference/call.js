// The reference call page of `scripts/bench call`: what a plain-JavaScript page does for a
// call of two over our signalling protocol (PROTOCOL.md), and nothing more.
//
// - joins the room given as `?room=` on the signalling server `?ws=`, and asks for the ICE
//   servers as soon as it is in (as the app does, so no credential round trip delays Call);
// - Get Video: getUserMedia (camera and microphone), shown in #local-video;
// - Call (enabled once the room is ready and media is on): a peer connection with the tracks,
//   an offer, candidates trickled as they are found;
// - the other side answers on an offer; candidates that arrive before the remote description
//   is set are held and added right after it;
// - the remote stream plays in #remote-video.
// `window.__peerConnection` is the call's connection (the bench reads its stats).
'use strict';

const params = new URLSearchParams(location.search);
const room = params.get('room');
const socket = new WebSocket(params.get('ws'));
const status = document.getElementById('status');
const getVideo = document.getElementById('get-video');
const callButton = document.getElementById('call');
const localVideo = document.getElementById('local-video');
const remoteVideo = document.getElementById('remote-video');

let me = null;
let other = null;
let ready = false;
let config = {};
let media = null;
let pc = null;
let pending = [];
window.__peerConnection = null;

const send = (message) => socket.send(JSON.stringify(message));
const refresh = () => {
  getVideo.disabled = media !== null;
  callButton.disabled = !(ready && media && other && !pc);
};

function newPeer() {
  pc = new RTCPeerConnection(config);
  window.__peerConnection = pc;
  const remote = new MediaStream();
  pc.onicecandidate = (event) => send({ type: 'candidate', candidate: event.candidate, to: other });
  pc.ontrack = (event) => {
    remote.addTrack(event.track);
    remoteVideo.srcObject = remote;
  };
  if (media) media.getTracks().forEach((track) => pc.addTrack(track, media));
  refresh();
}

async function addCandidate(candidate) {
  try {
    await pc.addIceCandidate(candidate || undefined);
  } catch (error) {
    console.warn('addIceCandidate', error);
  }
}

async function remoteDescriptionSet() {
  const held = pending;
  pending = [];
  for (const candidate of held) await addCandidate(candidate);
}

socket.onopen = () => send({ type: 'join', room });
socket.onmessage = async (event) => {
  const message = JSON.parse(event.data);
  switch (message.type) {
    case 'joined':
      me = message.you;
      other = message.peers[0] || null;
      send({ type: 'ice_servers' });
      status.textContent = other ? 'Joined.' : 'Waiting for someone to join…';
      break;
    case 'ice_servers':
      config = { iceServers: message.ice_servers };
      if (message.ice_transport_policy) config.iceTransportPolicy = message.ice_transport_policy;
      break;
    case 'peer_joined':
      other = message.peer;
      break;
    case 'ready':
      ready = true;
      status.textContent = 'Ready.';
      break;
    case 'offer':
      other = message.from;
      if (!pc) newPeer();
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      await remoteDescriptionSet();
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'answer', sdp: pc.localDescription.sdp, to: other });
      status.textContent = 'In a call.';
      break;
    case 'answer':
      await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
      await remoteDescriptionSet();
      status.textContent = 'In a call.';
      break;
    case 'candidate':
      if (pc && pc.remoteDescription) await addCandidate(message.candidate);
      else pending.push(message.candidate);
      break;
    case 'error':
      console.warn('server error', message.code, message.message);
      break;
  }
  refresh();
};

getVideo.onclick = async () => {
  media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  localVideo.srcObject = media;
  refresh();
};

callButton.onclick = async () => {
  if (pc) return;
  newPeer();
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', sdp: pc.localDescription.sdp, to: other });
  status.textContent = 'Calling…';
};
