// The reference relay of `scripts/bench node`: the least a Node `ws` server needs to speak of
// PROTOCOL.md for `backend/examples/load.rs` to run against it unchanged (join/joined,
// peer_joined/ready, relays with `from` added and `to` addressing, ping/pong, leave). No
// validation, limits or resume: a floor for what a relay costs, not a product.
// Usage: node relay.js PORT
const { WebSocketServer } = require("ws");
const crypto = require("crypto");

const rooms = new Map(); // room name -> Map(peer id -> socket)
const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] || 3001), path: "/ws" });
const send = (ws, msg) => ws.send(JSON.stringify(msg));

wss.on("connection", (ws) => {
  const id = crypto.randomBytes(8).toString("hex");
  let room = null;
  const leave = () => {
    if (!room) return;
    const members = rooms.get(room);
    members.delete(id);
    if (members.size === 0) rooms.delete(room);
    else for (const other of members.values()) send(other, { type: "peer_left", peer: id });
    room = null;
  };
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    switch (msg.type) {
      case "join": {
        room = msg.room;
        if (!rooms.has(room)) rooms.set(room, new Map());
        const members = rooms.get(room);
        const peers = [...members.keys()];
        send(ws, { type: "joined", room, you: id, peers, resume: "" });
        for (const other of members.values()) send(other, { type: "peer_joined", peer: id });
        members.set(id, ws);
        return;
      }
      case "ping": return send(ws, { type: "pong" });
      case "leave": return leave();
      default: { // offer, answer, candidate, hang_up
        const members = rooms.get(room);
        msg.from = id;
        const text = JSON.stringify(msg);
        if (msg.to) members.get(msg.to)?.send(text);
        else for (const [peer, other] of members) if (peer !== id) other.send(text);
      }
    }
  });
  ws.on("close", leave);
});
