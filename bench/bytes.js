"use strict";
/**
 * `npm run bench` (BENCH_SUITES=bytes): how many bytes each node reads from Redis per published
 * room message, with 1, 3 and 6 nodes, Switchboard vs the bare Socket.IO server, when every
 * member of the rooms is on ONE node (so ideally the other nodes read nothing of that traffic).
 *
 * Per system: one redis-server; each node reaches it through its own counting TCP proxy
 * (bench/lib.js startCountingProxy), which counts the bytes Redis sends that node — replies on its
 * command connections and pub/sub deliveries on the connections that subscribed — measured from
 * outside, with no server code involved. Node 1 holds every socket: 10 rooms of 10 members and
 * the publisher (a service token on Switchboard; on bare a socket that joined every room). The
 * cluster grows from 1 to 3 to 6 nodes (the rooms and sockets stay); at each size:
 *   - an idle window (no publishes) gives each node's background bytes/s (heartbeats, sweeps);
 *   - BENCH_BYTES_MESSAGES messages (default 1000) are published round-robin over the rooms at
 *     BENCH_BYTES_RATE/s (default 500), and the window lasts until all deliveries arrived (+250 ms).
 * Bytes per message of a node = (bytes in the publish window - its background rate x window) /
 * messages. A node's "pub/sub" part is what came on its subscribed connections.
 *
 * Output: a table and bench/results-bytes.json.
 */
const { rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { createProgress } = require("../scripts/progress");

const {
  sockets,
  limitRun,
  runMain,
  sleep,
  stopChild,
  startRedis,
  startNodes,
  systemNode,
  authFor,
  token,
  connect,
  ack,
  inBatches,
  round,
  pace,
  startCountingProxy,
} = require("./lib");

const SYSTEMS = (process.env.BENCH_SYSTEMS || "switchboard,bare").split(",").map((s) => s.trim()).filter(Boolean);
const SIZES = (process.env.BENCH_BYTES_NODES || "1,3,6").split(",").map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const MESSAGES = Number(process.env.BENCH_BYTES_MESSAGES || 1000);
const RATE = Number(process.env.BENCH_BYTES_RATE || 500);
const ROOMS = 10;
const PER_ROOM = 10;
const IDLE_MS = 1500;
const DRAIN_MS = 3000;
const TEXT = "a message of about sixty-four bytes of text, the same every time";
const GLOBAL_TIMEOUT_MS = 3 * 60 * 1000;
/** A node that reads less than this per message (after its background is taken off) reads nothing of the room's traffic. */
const ZERO_BYTES = 1;

limitRun(GLOBAL_TIMEOUT_MS);
const progress = createProgress({ label: "bytes" });

const snapshot = (proxies) => proxies.map((p) => ({ ...p.counts }));

async function runSystem(system) {
  const redis = await startRedis();
  const nodes = [];
  const proxies = [];
  const runId = Date.now().toString(36);
  const roomIds = Array.from({ length: ROOMS }, (_, r) => `bytes-${runId}-r${r}`);
  const state = { tag: "", received: 0, deliveries: 0 }; // deliveries: never reset, for the progress line
  let pub;
  const sizes = [];

  for (const [step, size] of SIZES.entries()) {
    progress.step(`${system} with ${size} node${size === 1 ? "" : "s"}`, { index: step + 1, of: SIZES.length, count: () => state.deliveries, unit: "deliveries" });
    // grow the cluster to `size` nodes, each behind its own proxy
    const first = nodes.length;
    const added = [];
    for (let i = first; i < size; i++) added.push(await startCountingProxy(redis.port));
    proxies.push(...added);
    nodes.push(...(await startNodes(size - first, (i) => systemNode(system, `bytes-${system}-${first + i + 1}`, added[i].url, { RATE_LIMIT_POINTS: "1000000" }))));

    if (!pub) {
      // every socket on node 1: the publisher and 10 rooms of 10 members
      if (system === "switchboard") {
        pub = await connect(nodes[0].url, { token: await token(`bytes-svc-${runId}`, ["service"]), deviceId: "pub" });
        for (const room of roomIds) await ack(pub, "room:create", { id: room, name: room });
      } else {
        pub = await connect(nodes[0].url, await authFor(system, `bytes-pub-${runId}`));
        for (const room of roomIds) await ack(pub, "room:join", { room });
      }
      await inBatches(Array.from({ length: ROOMS * PER_ROOM }, (_, i) => i), 25, async (i) => {
        const s = await connect(nodes[0].url, await authFor(system, `bytes-${runId}-${i}`));
        await ack(s, "room:join", { room: roomIds[Math.floor(i / PER_ROOM)] });
        s.on("room:message", (m) => {
          if (m && m.data && m.data.g === state.tag) {
            state.received++;
            state.deliveries++;
          }
        });
      });
    }
    await sleep(1000);

    // background: an idle window
    const idleStart = snapshot(proxies);
    const idleT0 = performance.now();
    await sleep(IDLE_MS);
    const idleEnd = snapshot(proxies);
    const idleS = (performance.now() - idleT0) / 1000;

    // the publish window
    state.tag = `${system}-${size}`;
    state.received = 0;
    let acked = 0;
    const start = snapshot(proxies);
    const t0 = performance.now();
    await pace({
      rate: RATE,
      durationMs: (MESSAGES / RATE) * 1000,
      send: (n) => pub.emit("room:publish", { room: roomIds[n % ROOMS], data: { g: state.tag, n, text: TEXT } }, (res) => res && res.ok && acked++),
    });
    const expected = MESSAGES * PER_ROOM;
    const deadline = performance.now() + DRAIN_MS;
    while ((state.received < expected || acked < MESSAGES) && performance.now() < deadline) await sleep(20);
    await sleep(250);
    const end = snapshot(proxies);
    const windowS = (performance.now() - t0) / 1000;

    const perNode = nodes.map((node, i) => {
      const rate = (k) => (idleEnd[i][k] - idleStart[i][k]) / idleS;
      const net = (k) => (end[i][k] - start[i][k] - rate(k) * windowS) / MESSAGES;
      return { nodeId: node.nodeId, members: i === 0, bytesPerMessage: round(net("bytes"), 1), pubsubBytesPerMessage: round(net("subscriberBytes"), 1), backgroundBytesPerSec: round(rate("bytes")) };
    });
    const others = perNode.slice(1);
    const result = {
      nodes: size,
      messages: MESSAGES,
      acked,
      delivered: state.received,
      expectedDeliveries: expected,
      windowS: round(windowS, 2),
      membersNode: perNode[0],
      otherNodesMaxBytesPerMessage: others.length ? Math.max(...others.map((n) => n.bytesPerMessage)) : null,
      otherNodesMeanBytesPerMessage: others.length ? round(others.reduce((a, n) => a + n.bytesPerMessage, 0) / others.length, 1) : null,
      totalBytesPerMessage: round(perNode.reduce((a, n) => a + n.bytesPerMessage, 0), 1),
      perNode,
    };
    sizes.push(result);
    progress.end();
    console.log(
      `${system.padEnd(12)}${String(size).padStart(6)}${String(result.membersNode.bytesPerMessage).padStart(14)}${String(result.membersNode.pubsubBytesPerMessage).padStart(10)}` +
        `${String(result.otherNodesMeanBytesPerMessage ?? "-").padStart(14)}${String(result.otherNodesMaxBytesPerMessage ?? "-").padStart(10)}${String(result.totalBytesPerMessage).padStart(10)}` +
        `   ${acked}/${MESSAGES} acked, ${state.received}/${expected} delivered`,
    );
  }

  for (const s of sockets) s.disconnect();
  sockets.length = 0;
  for (const node of nodes) await stopChild(node.child);
  for (const proxy of proxies) await proxy.close();
  await stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });
  return { system, sizes };
}

async function main() {
  console.log(
    `Redis -> node bytes per published message: ${ROOMS} rooms x ${PER_ROOM} members and the publisher all on node 1; ${MESSAGES} messages at ${RATE}/s ` +
      `(data ~${Buffer.byteLength(JSON.stringify({ g: "switchboard-6", n: 999, text: TEXT }))} bytes of JSON) per cluster size ${SIZES.join(", ")}`,
  );
  console.log(`${"system".padEnd(12)}${"nodes".padStart(6)}${"node 1 B/msg".padStart(14)}${"pub/sub".padStart(10)}${"others mean".padStart(14)}${"max".padStart(10)}${"total".padStart(10)}`);
  const results = {};
  for (const system of SYSTEMS) results[system] = await runSystem(system);

  let summary = null;
  if (results.switchboard) {
    const multi = results.switchboard.sizes.filter((s) => s.nodes > 1);
    summary = {
      zeroBytesBelow: ZERO_BYTES,
      otherNodesZero: multi.length > 0 && multi.every((s) => s.otherNodesMaxBytesPerMessage < ZERO_BYTES),
      switchboard: results.switchboard.sizes.map((s) => ({ nodes: s.nodes, membersNode: s.membersNode.bytesPerMessage, otherMax: s.otherNodesMaxBytesPerMessage, total: s.totalBytesPerMessage })),
      bare: results.bare ? results.bare.sizes.map((s) => ({ nodes: s.nodes, membersNode: s.membersNode.bytesPerMessage, otherMax: s.otherNodesMaxBytesPerMessage, total: s.totalBytesPerMessage })) : null,
    };
    console.log(
      `\nother nodes (no member of the rooms) read from Redis per message, Switchboard: ${multi.map((s) => `${s.otherNodesMaxBytesPerMessage} B at ${s.nodes} nodes`).join(", ") || "-"} ` +
        `(target 0, i.e. < ${ZERO_BYTES} B after background) -> ${summary.otherNodesZero ? "PASS" : "FAIL"}`,
    );
  }
  const out = {
    suite: "bytes",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    settings: { rooms: ROOMS, perRoom: PER_ROOM, messages: MESSAGES, rate: RATE, sizes: SIZES, idleMs: IDLE_MS },
    results,
    summary,
  };
  writeFileSync(path.join(__dirname, "results-bytes.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log("wrote bench/results-bytes.json");
}

runMain(main);
