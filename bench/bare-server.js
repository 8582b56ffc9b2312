"use strict";
/**
 * Baseline for `npm run bench`: a bare Socket.IO 4 server with @socket.io/redis-adapter that
 * implements only room:join / room:publish / room:message, the plain way (no auth, no history).
 * Env: PORT, HOST (default 127.0.0.1), REDIS_URL, NODE_ID.
 */
const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Redis } = require("ioredis");

const port = Number(process.env.PORT || 0);
const host = process.env.HOST || "127.0.0.1";
const nodeId = process.env.NODE_ID || `bare-${process.pid}`;
const pubClient = new Redis(process.env.REDIS_URL || "redis://127.0.0.1:6379");
const subClient = pubClient.duplicate();

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok: true, nodeId }));
    return;
  }
  res.writeHead(404);
  res.end();
});
const io = new Server(server, { adapter: createAdapter(pubClient, subClient), transports: ["websocket"] });

let seq = 0;
io.on("connection", (socket) => {
  const userId = String(socket.handshake.auth?.userId ?? socket.id);
  const deviceId = String(socket.handshake.auth?.deviceId ?? "d");
  socket.emit("session", { sessionId: socket.id, userId, deviceId, nodeId, serverTime: Date.now() });
  socket.on("room:join", (payload, ack) => {
    const room = payload && typeof payload.room === "string" ? payload.room : undefined;
    if (!room) return typeof ack === "function" && ack({ ok: false, error: { code: "VALIDATION_FAILED", message: "room" } });
    socket.join(room);
    if (typeof ack === "function") ack({ ok: true, room: { id: room } });
  });
  socket.on("room:publish", (payload, ack) => {
    const room = payload && typeof payload.room === "string" ? payload.room : undefined;
    if (!room || !socket.rooms.has(room)) return typeof ack === "function" && ack({ ok: false, error: { code: "FORBIDDEN", message: "not a member" } });
    const ts = Date.now();
    const id = `${ts}-${nodeId}-${++seq}`;
    io.to(room).emit("room:message", { id, room, from: { userId, deviceId }, kind: payload.kind ?? "message", data: payload.data, ts, priority: payload.priority ?? "normal" });
    if (typeof ack === "function") ack({ ok: true, id, ts });
  });
});

server.listen(port, host);
const stop = () => {
  io.close();
  pubClient.disconnect();
  subClient.disconnect();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
