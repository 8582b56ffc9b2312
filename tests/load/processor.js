// Artillery processor for the Switchboard load scenarios: mints the JWTs the scenarios need
// (HS256 with the cluster's JWT_SECRET, node:crypto only), builds payloads, and records the
// latencies the socketio-v3 engine does not (ack round trips, connect time) as histograms, so
// `ensure` can hold them to thresholds.
"use strict";

const { createHmac, randomBytes } = require("node:crypto");
const { threadId } = require("node:worker_threads");

const STATUSES = ["online", "away", "busy", "dnd", "in_call"];
/** Presence users come from a fixed pool so that watchers see the same users churn. */
const PRESENCE_POOL = 200;
/** Notification recipients: the burst targets them, some of them are online as receivers. */
const NOTIFY_POOL = 50;
const ROOMS = 10;

// Unique per artillery worker (workers are threads, possibly in several processes).
const run = `${process.pid.toString(36)}${threadId}${randomBytes(2).toString("hex")}`;
let counter = 0;

function secret() {
  const value = process.env.LOAD_JWT_SECRET || process.env.JWT_SECRET;
  if (!value) throw new Error("set JWT_SECRET (the cluster's) so the load scenarios can sign tokens");
  return value;
}

const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT as the nodes verify it (HS256, sub, exp). */
function sign(claims, ttlS = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ iat: now, exp: now + ttlS, ...claims })}`;
  return `${body}.${createHmac("sha256", secret()).update(body).digest("base64url")}`;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/**
 * A loopback source address of its own for each virtual user. nginx balances by client address
 * (`hash $remote_addr consistent`), so from one address every user would land on one node; the
 * whole 127.0.0.0/8 is local on Linux, so spreading the users over it looks like many clients.
 */
function clientAddress() {
  const n = 1 + Math.floor(Math.random() * 65024);
  return `127.0.${n >> 8}.${(n & 255) || 1}`;
}

/** rooms.yml: a user of its own, one of ten rooms. */
function roomUser(context, _events, done) {
  const n = ++counter;
  context.vars.userId = `load-${run}-${n}`;
  context.vars.deviceId = `d${n}`;
  context.vars.token = sign({ sub: context.vars.userId, name: `Load ${n}` });
  context.vars.room = `load-room-${n % ROOMS}`;
  context.vars.clientAddress = clientAddress();
  return done();
}

/** presence.yml: a user of the pool (round robin, so no user exceeds its device limit). */
function presenceUser(context, _events, done) {
  const n = ++counter;
  const index = n % PRESENCE_POOL;
  context.vars.userId = `presence-${index}`;
  // One device per user and worker: a reconnecting device takes no new MAX_DEVICES_PER_USER slot.
  context.vars.deviceId = `p${index}-${run}`;
  context.vars.token = sign({ sub: context.vars.userId });
  const others = new Set();
  while (others.size < 20) others.add(`presence-${Math.floor(Math.random() * PRESENCE_POOL)}`);
  context.vars.watch = { userIds: [...others] };
  context.vars.lookup = { userIds: [...others].slice(0, 10) };
  context.vars.clientAddress = clientAddress();
  return done();
}

function randomStatus(context, _events, done) {
  context.vars.status = { status: pick(STATUSES), message: `load ${counter}` };
  return done();
}

/** notify.yml receivers: an online recipient that acknowledges what it gets (socket path). */
function notifyReceiver(context, _events, done) {
  const n = ++counter;
  const index = n % NOTIFY_POOL;
  context.vars.userId = `notify-${index}`;
  context.vars.deviceId = `n${index}-${run}`;
  context.vars.token = sign({ sub: context.vars.userId });
  context.vars.clientAddress = clientAddress();
  return done();
}

function listenForNotifications(context, events, done) {
  const socket = context.sockets && context.sockets[""];
  if (!socket) return done(new Error("not connected"));
  socket.on("notification", (notification) => {
    events.emit("counter", "switchboard.notifications_received", 1);
    events.emit("histogram", "switchboard.notification_delivery_ms", Math.max(0, Date.now() - notification.createdAt));
    socket.emit("notification:ack", { id: notification.id }, () => undefined);
  });
  return done();
}

/** notify.yml burst: a service token and a recipient (half of them online at most). */
function notifyRequest(context, _events, done) {
  context.vars.serviceToken = sign({ sub: "load-service", roles: ["service"] });
  context.vars.notification = {
    userId: `notify-${Math.floor(Math.random() * NOTIFY_POOL)}`,
    type: "milestone_achieved",
    priority: pick(["low", "normal", "high"]),
    title: "Load test",
    body: `burst ${++counter}`,
    data: { run },
  };
  return done();
}

/** beforeRequest hook of HTTP steps: the request leaves from the user's own address too. */
function spreadAddress(requestParams, _context, _events, done) {
  requestParams.localAddress = clientAddress();
  return done();
}

/** Fails the virtual user on anything but 202, so `vusers.failed == 0` covers the REST answers. */
function expectAccepted(_req, res, _context, events, done) {
  if (res.statusCode !== 202) {
    events.emit("counter", `switchboard.notify_status_${res.statusCode}`, 1);
    return done(new Error(`POST /v1/notify answered ${res.statusCode}`));
  }
  events.emit("counter", "switchboard.notify_accepted", 1);
  return done();
}

// ---- timing around engine steps ---------------------------------------------------------------

function startTimer(context, _events, done) {
  context._switchboardStart = performance.now();
  return done();
}

function record(name) {
  return (context, events, done) => {
    if (context._switchboardStart !== undefined) {
      events.emit("histogram", name, performance.now() - context._switchboardStart);
      context._switchboardStart = undefined;
    }
    return done();
  };
}

module.exports = {
  roomUser,
  presenceUser,
  randomStatus,
  notifyReceiver,
  listenForNotifications,
  notifyRequest,
  expectAccepted,
  spreadAddress,
  startTimer,
  recordConnect: record("switchboard.connect_ms"),
  recordJoinAck: record("switchboard.join_ack_ms"),
  recordPublishAck: record("switchboard.publish_ack_ms"),
  recordPresenceAck: record("switchboard.presence_ack_ms"),
};
