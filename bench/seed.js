"use strict";
/**
 * `npm run bench` (BENCH_SUITES=seed): the seed's service table, all five workloads at once on one
 * 3-node Switchboard cluster (one redis-server, 3 nodes of server/dist/main.js with their default
 * settings, everything on 127.0.0.1), at a fraction of the full rates:
 *
 * | workload    | full rate | p95 target | what one sample is                                           |
 * |-------------|-----------|------------|--------------------------------------------------------------|
 * | connections | 1000/s    | 5 ms       | a new socket.io-client connection with a signed JWT (a       |
 * |             |           |            | distinct user, device "c"): handshake start -> the server's  |
 * |             |           |            | `session` event; the socket is then disconnected (live       |
 * |             |           |            | handshakes are bounded; over the bound an attempt is skipped)|
 * | direct      | 5000/s    | 2 ms       | a direct message. The protocol has no DM command: a DM is a  |
 * |             |           |            | message in a private room whose roster is the two users      |
 * |             |           |            | (created by a service). 100 pairs; the sender (on node i) is |
 * |             |           |            | on the roster but its socket did not join, so only the       |
 * |             |           |            | recipient (on node i+1) gets it: `room:publish` -> the       |
 * |             |           |            | recipient's `room:message`                                   |
 * | sync        | 2000/s    | 8 ms       | `sync:push` of a user's document by device A (node i) -> the |
 * |             |           |            | `sync:state` the user's device B (node i+1) receives (the    |
 * |             |           |            | change reaching the other device; the ack's own latency is   |
 * |             |           |            | reported beside it). 100 users of 2 devices                  |
 * | notify      | 1000/s    | 15 ms      | `POST /v1/notify` with a service token to node i+1 -> the    |
 * |             |           |            | user's `notification` event on node i (100 users online, one |
 * |             |           |            | device each, which acks every notification as the SDK does)  |
 * | broadcast   | 500/s     | 20 ms      | `room:publish` into a room of 10 members (50 rooms, member j |
 * |             |           |            | of room r on node r+j, the publishing member rotating) -> the|
 * |             |           |            | `room:message` of each of the 9 OTHER members: one sample per|
 * |             |           |            | delivery (the publisher's own copy is not counted)           |
 *
 * A fraction f runs all five at f x their full rates at once: BENCH_SEED_WARMUP_MS (default 2000)
 * of warm-up, BENCH_SEED_MS (default 5000) measured, then at most BENCH_SEED_DRAIN_MS (default
 * 2000) for what is still in flight; samples are the operations started in the measured window.
 * A workload meets its row when its p95 is within the target, nothing was lost or refused
 * (every connection got `session`, every message, state and notification arrived by the end of the
 * drain — "lost" counts those that had not —, no error answer)
 * and it was offered at >= 95 % of its rate (no attempt skipped because the backlog grew). The
 * search runs the full rates (1.0) first, then bisects on a grid of 0.05 (0.01 below 0.1) for the
 * largest fraction where all five meet theirs, at most BENCH_SEED_TRIES fractions in all (default 7);
 * BENCH_SEED_FRACTIONS (comma list) runs exactly those instead (BENCH_SEED_WORKLOADS runs a subset
 * of the workloads, to look at one alone; no headline then). Before each fraction the cluster
 * is let settle (its CPU back near idle, at most 10 s).
 *
 * The load generator shares the machine: each workload runs in its own child process (five
 * workers; the parent only coordinates), and the CPU of the workers, the nodes, Redis and the
 * whole machine is read from /proc over each measured window and printed, so the generator's share
 * (and other load present) is in the output. Every default rate limit stays on: each device sends
 * well under RATE_LIMIT_POINTS (100/s) even at the full rates.
 *
 * For reference, the rows bare Socket.IO can serve (connections, direct, broadcast: it has no sync
 * or notifications) then run against 3 bare nodes (bench/bare-server.js, @socket.io/redis-adapter,
 * its own redis-server) at the smallest fraction tried, with the same workers: the p95 a plain
 * Socket.IO cluster reaches on this machine beside the targets (BENCH_SEED_BARE=0 skips it). On
 * bare a direct message's sender joins the room too (bare publishes only to rooms it is in) and
 * rooms are not created first; nothing else differs.
 *
 * Output: a table per fraction, the p95 of each row at the full rates, the headline fraction and
 * the bare reference, on stdout and in bench/results-seed.json.
 */
const { rmSync, writeFileSync } = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");

const lib = require("./lib");
const { createProgress } = require("../scripts/progress");
const { sleep, round, pace, latencyStats, token, connect, ack, rest, withConcurrency } = lib;

const WORKLOADS = {
  connections: { rate: 1000, p95: 5, sample: "handshake -> session" },
  direct: { rate: 5000, p95: 2, sample: "publish -> recipient's room:message" },
  sync: { rate: 2000, p95: 8, sample: "sync:push -> other device's sync:state" },
  notify: { rate: 1000, p95: 15, sample: "POST /v1/notify -> notification" },
  broadcast: { rate: 500, p95: 20, sample: "publish -> each other member's room:message" },
};
const NODES = 3;
const PAIRS = 100;
const SYNC_USERS = 100;
const NOTIFY_USERS = 100;
const ROOMS = 50;
const PER_ROOM = 10;
const CONN_USERS = 3000; // distinct users the connections workload cycles through
const WARMUP_MS = Number(process.env.BENCH_SEED_WARMUP_MS || 2000);
const WINDOW_MS = Number(process.env.BENCH_SEED_MS || 5000);
const DRAIN_MS = Number(process.env.BENCH_SEED_DRAIN_MS || 2000);
const TRIES = Math.max(1, Number(process.env.BENCH_SEED_TRIES || 7));
/** A subset of the workloads (comma list; default all five), for looking at one alone: its fractions then say nothing about the headline. */
const ONLY = (process.env.BENCH_SEED_WORKLOADS || Object.keys(WORKLOADS).join(",")).split(",").map((s) => s.trim()).filter((s) => WORKLOADS[s]);
const FRACTIONS = (process.env.BENCH_SEED_FRACTIONS || "").split(",").map(Number).filter((f) => f > 0);
const BARE_REFERENCE = process.env.BENCH_SEED_BARE !== "0";
/** The workloads bare Socket.IO serves (bench/bare-server.js: sessions, room:join, room:publish). */
const BARE_WORKLOADS = ["connections", "direct", "broadcast"];
/** The system a worker drives: "switchboard", or "bare" for the reference run. */
const SYSTEM = process.argv[2] === "--worker" ? process.argv[4] || "switchboard" : "switchboard";
/** The fractions tried lie on a grid of 0.05, and of 0.01 below 0.1. */
const gridPoint = (f) => {
  const grid = f < 0.1 ? 0.01 : 0.05;
  return round(Math.max(0.01, Math.round(f / grid) * grid), 2);
};
const MIN_OFFERED = 0.95;
const GLOBAL_TIMEOUT_MS = 6 * 60 * 1000;
const progress = createProgress({ label: "seed" });

// ---------------------------------------------------------------------------------------------
// worker side: one workload per process

/** Operations in flight by key: started in the measured window, completed, failed, or still open (lost). */
class Tracker {
  constructor() {
    this.open = new Map();
    this.lat = [];
    this.sent = 0;
    this.failed = 0;
    this.skipped = 0;
    this.errors = {};
  }
  start(key, at = performance.now()) {
    this.open.set(key, at);
  }
  done(key) {
    const t = this.open.get(key);
    if (t === undefined) return;
    this.open.delete(key);
    this.lat.push(performance.now() - t);
  }
  fail(key, code) {
    if (!this.open.delete(key)) return;
    this.failed++;
    this.errors[code] = (this.errors[code] || 0) + 1;
  }
}

const svcToken = () => token("seed-svc", ["service"]);

async function createRoom(url, id, members) {
  const res = await rest(url, "POST", "/v1/rooms", { id, name: id, visibility: "private", members }, await svcToken());
  if (res.status !== 201) throw new Error(`POST /v1/rooms ${id}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** `fn(i)` for i in 0..count-1, at most `open` at once. */
const times = (count, open, fn) => withConcurrency(Array.from({ length: count }, (_, i) => i), open, fn);

const auth = (userId, deviceId) => lib.authFor(SYSTEM, userId, deviceId);
const bare = () => SYSTEM === "bare";

/**
 * Each workload: `setup(urls, runId)` opens its sockets; `send(n, tracker)` starts operation n
 * (tracker undefined during warm-up); `open(tracker)` how many operations may still complete.
 */
const LOADS = {
  connections: () => {
    let tokens = [];
    let urls;
    let pending = 0;
    return {
      async setup(nodeUrls, runId) {
        urls = nodeUrls;
        tokens = await Promise.all(Array.from({ length: CONN_USERS }, (_, i) => auth(`seed-c-${runId}-${i}`, "c")));
      },
      send(n, t, rate) {
        if (pending >= Math.max(50, rate / 2)) {
          if (t) t.skipped++;
          return;
        }
        pending++;
        if (t) t.start(n);
        connect(urls[n % NODES], tokens[n % CONN_USERS], { keep: false }).then(
          (socket) => {
            pending--;
            if (t) t.done(n);
            socket.disconnect();
          },
          (err) => {
            pending--;
            if (t) t.fail(n, err.message.split(" ")[0] === "connect_error" ? err.message.split(" ").pop() : "TIMEOUT");
          },
        );
      },
    };
  },

  direct: () => {
    const pairs = [];
    return {
      async setup(urls, runId) {
        await times(PAIRS, 20, async (i) => {
          const room = `seed-dm-${runId}-${i}`;
          const [a, b] = [`seed-dm-${runId}-${i}-a`, `seed-dm-${runId}-${i}-b`];
          if (!bare()) await createRoom(urls[i % NODES], room, [a, b]);
          const sender = await connect(urls[i % NODES], await auth(a, "d"));
          const recipient = await connect(urls[(i + 1) % NODES], await auth(b, "d"));
          await ack(recipient, "room:join", { room });
          if (bare()) await ack(sender, "room:join", { room });
          recipient.on("room:message", (m) => this.tracker && this.tracker.done(m.data.n));
          pairs[i] = { room, sender };
        });
      },
      send(n, t) {
        const { room, sender } = pairs[n % PAIRS];
        if (t) t.start(n);
        sender.emit("room:publish", { room, data: { n, text: "hi" } }, (res) => res && !res.ok && t && t.fail(n, res.error.code));
      },
    };
  },

  sync: () => {
    const users = [];
    const acks = new Tracker();
    return {
      acks,
      async setup(urls, runId) {
        await times(SYNC_USERS, 20, async (i) => {
          const user = `seed-sync-${runId}-${i}`;
          const a = await connect(urls[i % NODES], await auth(user, "a"));
          const b = await connect(urls[(i + 1) % NODES], await auth(user, "b"));
          b.on("sync:state", (e) => e.key === "seed" && this.tracker && this.tracker.done(e.state.n));
          users[i] = a;
        });
      },
      send(n, t) {
        const a = users[n % SYNC_USERS];
        const at = performance.now();
        if (t) {
          t.start(n, at);
          acks.start(n, at);
        }
        a.emit("sync:push", { key: "seed", state: { n, at: Date.now() } }, (res) => {
          if (res && res.ok) acks.done(n);
          else if (t) t.fail(n, res ? res.error.code : "NO_ACK");
        });
      },
    };
  },

  notify: () => {
    const users = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    let bearer;
    let inflight = 0;
    return {
      async setup(urls, runId) {
        bearer = `Bearer ${await svcToken()}`;
        await times(NOTIFY_USERS, 20, async (i) => {
          const userId = `seed-n-${runId}-${i}`;
          const socket = await connect(urls[i % NODES], await auth(userId, "n"));
          socket.on("notification", (note) => {
            if (this.tracker) this.tracker.done(note.data.n);
            socket.emit("notification:ack", { id: note.id }, () => undefined);
          });
          users[i] = { userId, rest: new URL("/v1/notify", urls[(i + 1) % NODES]) };
        });
      },
      send(n, t, rate) {
        if (inflight >= Math.max(200, rate)) {
          if (t) t.skipped++;
          return;
        }
        const { userId, rest: url } = users[n % NOTIFY_USERS];
        const body = JSON.stringify({ userId, type: "peer_message", title: "seed", body: "", data: { n } });
        if (t) t.start(n);
        inflight++;
        const post = (retry) => {
          const req = http.request(url, { method: "POST", agent, headers: { authorization: bearer, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
            res.resume();
            res.on("end", () => {
              inflight--;
              if (res.statusCode !== 202 && t) t.fail(n, `HTTP_${res.statusCode}`);
            });
          });
          req.on("error", (err) => {
            // a kept-alive connection the node closed as the request left: it never arrived, send it again once
            if (retry && req.reusedSocket && err.code === "ECONNRESET") return post(false);
            inflight--;
            if (t) t.fail(n, err.code || "HTTP_ERROR");
          });
          req.end(body);
        };
        post(true);
      },
    };
  },

  broadcast: () => {
    const rooms = [];
    return {
      async setup(urls, runId) {
        await times(ROOMS, 10, async (r) => {
          const id = `seed-room-${runId}-${r}`;
          const members = Array.from({ length: PER_ROOM }, (_, j) => `seed-m-${runId}-${r}-${j}`);
          if (!bare()) await createRoom(urls[r % NODES], id, members);
          const sockets = [];
          for (let j = 0; j < PER_ROOM; j++) {
            const s = await connect(urls[(r + j) % NODES], await auth(members[j], "m"));
            await ack(s, "room:join", { room: id });
            s.on("room:message", (m) => this.tracker && this.tracker.done(`${m.data.n}:${j}`));
            sockets.push(s);
          }
          rooms[r] = { id, sockets };
        });
      },
      send(n, t) {
        const r = n % ROOMS;
        const { id, sockets } = rooms[r];
        const from = Math.floor(n / ROOMS) % PER_ROOM;
        if (t) {
          const at = performance.now();
          for (let j = 0; j < PER_ROOM; j++) if (j !== from) t.start(`${n}:${j}`, at);
        }
        sockets[from].emit("room:publish", { room: id, data: { n, text: "to the room" } }, (res) => {
          if (res && !res.ok && t) for (let j = 0; j < PER_ROOM; j++) if (j !== from) t.fail(`${n}:${j}`, res.error.code);
        });
      },
    };
  },
};

async function runLoad(load, { rate, warmupMs, windowMs, drainMs }) {
  let n = load.next || 0;
  load.tracker = undefined;
  await pace({ rate, durationMs: warmupMs, send: () => load.send(n++, undefined, rate) });
  const tracker = new Tracker();
  load.tracker = tracker;
  if (load.acks) Object.assign(load.acks, new Tracker());
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pace({
    rate,
    durationMs: windowMs,
    send: () => {
      tracker.sent++;
      load.send(n++, tracker, rate);
    },
  });
  const windowS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  load.next = n;
  const deadline = performance.now() + drainMs;
  while (tracker.open.size > 0 && performance.now() < deadline) await sleep(20);
  load.tracker = undefined;
  const offered = tracker.sent - tracker.skipped;
  return {
    rate,
    windowS: round(windowS, 2),
    offeredPerSec: round(offered / windowS, 1),
    offeredShare: round(offered / (rate * windowS), 3),
    samples: tracker.lat.length,
    ...latencyStats(tracker.lat),
    lost: tracker.open.size,
    failed: tracker.failed,
    skipped: tracker.skipped,
    errors: tracker.errors,
    ack: load.acks ? latencyStats(load.acks.lat) : undefined,
    generatorCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
  };
}

function runWorker(name) {
  const load = LOADS[name]();
  process.on("disconnect", () => process.exit(0));
  process.on("message", async (msg) => {
    try {
      let result;
      if (msg.type === "setup") await load.setup(msg.urls, msg.runId);
      else if (msg.type === "run") result = await runLoad(load, msg);
      else if (msg.type === "stop") {
        lib.killAll();
        process.exit(0);
      }
      process.send({ id: msg.id, ok: true, result });
    } catch (err) {
      process.send({ id: msg.id, ok: false, error: String((err && err.stack) || err) });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// parent side: the cluster, the workers, the fractions

function startWorker(name, system = "switchboard") {
  const child = lib.spawnChild([process.execPath, __filename, "--worker", name, system], {}, `seed worker ${name} (${system})`, { ipc: true });
  const waiting = new Map();
  let id = 0;
  child.on("message", (msg) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new Error(`${name}: ${msg.error}`));
  });
  child.on("exit", () => {
    for (const w of waiting.values()) w.reject(new Error(`seed worker ${name} exited: ${child.stderrText()}`));
    waiting.clear();
  });
  return {
    name,
    child,
    ask(msg) {
      return new Promise((resolve, reject) => {
        waiting.set(++id, { resolve, reject });
        child.send({ ...msg, id });
      });
    },
  };
}

const fmt = (v, w) => String(v === null || v === undefined ? "-" : v).padStart(w);
const HEADER = `${"workload".padEnd(12)}${fmt("target/s", 9)}${fmt("offered/s", 10)}${fmt("samples", 8)}${fmt("p50 ms", 9)}${fmt("p95 ms", 9)}${fmt("p99 ms", 9)}${fmt("p95 max", 8)}${fmt("lost", 6)}${fmt("failed", 7)}${fmt("skipped", 8)}  met`;

function verdict(name, r) {
  const spec = WORKLOADS[name];
  const reasons = [];
  if (r.samples === 0) reasons.push("no sample completed");
  else if (r.p95 > spec.p95) reasons.push(`p95 ${r.p95} > ${spec.p95} ms`);
  if (r.lost > 0) reasons.push(`${r.lost} lost`);
  if (r.failed > 0) reasons.push(`${r.failed} failed ${JSON.stringify(r.errors)}`);
  if (r.offeredShare < MIN_OFFERED) reasons.push(`offered ${Math.round(r.offeredShare * 100)} % of the rate`);
  return reasons;
}

async function runFraction(fraction, ctx, position) {
  progress.step(`${ctx.label ? `${ctx.label}: ` : ""}fraction ${fraction.toFixed(2)} of the rates`, position);
  const settledMs = await lib.settleCpu(ctx.clusterPids, { maxCores: 0.25 });
  const groups = { servers: ctx.nodePids, redis: [ctx.redisPid], generator: [process.pid, ...ctx.workers.map((w) => w.child.pid)] };
  const runs = ctx.workers.map((w) => w.ask({ type: "run", rate: WORKLOADS[w.name].rate * fraction, warmupMs: WARMUP_MS, windowMs: WINDOW_MS, drainMs: DRAIN_MS }));
  await sleep(WARMUP_MS);
  const meter = lib.cpuMeter(groups);
  await sleep(WINDOW_MS);
  const cpu = meter.stop();
  const results = await Promise.all(runs);
  const workloads = {};
  let pass = true;
  for (let i = 0; i < ctx.workers.length; i++) {
    const name = ctx.workers[i].name;
    const r = results[i];
    r.target = WORKLOADS[name].p95;
    r.reasons = verdict(name, r);
    r.met = r.reasons.length === 0;
    pass = pass && r.met;
    workloads[name] = r;
  }
  const ours = cpu.cores.servers + cpu.cores.redis + cpu.cores.generator;
  cpu.otherProcesses = round(Math.max(0, cpu.machineCores - ours), 2);
  cpu.generatorShareOfOurs = round(cpu.cores.generator / ours, 3);
  cpu.generatorShareOfMachine = round(cpu.cores.generator / cpu.machineCapacity, 3);
  progress.end(pass ? "all rows met" : "not met");

  console.log(`\n${ctx.label ? `${ctx.label}: ` : ""}fraction ${fraction.toFixed(2)} (${WARMUP_MS} ms warm-up, ${WINDOW_MS} ms measured; settled ${settledMs} ms before)`);
  console.log(HEADER);
  for (const [name, r] of Object.entries(workloads)) {
    console.log(
      `${name.padEnd(12)}${fmt(round(r.rate, 1), 9)}${fmt(r.offeredPerSec, 10)}${fmt(r.samples, 8)}${fmt(r.p50, 9)}${fmt(r.p95, 9)}${fmt(r.p99, 9)}${fmt(`<=${r.target}`, 8)}` +
        `${fmt(r.lost, 6)}${fmt(r.failed, 7)}${fmt(r.skipped, 8)}  ${r.met ? "yes" : `NO: ${r.reasons.join("; ")}`}` +
        `${r.ack ? ` (sync:push ack p50 ${r.ack.p50} / p95 ${r.ack.p95} ms)` : ""}`,
    );
  }
  console.log(
    `CPU over the window (cores of ${os.cpus().length}): nodes ${cpu.cores.servers}, redis ${cpu.cores.redis}, load generator ${cpu.cores.generator} ` +
      `(${Math.round(cpu.generatorShareOfOurs * 100)} % of this bench's CPU, ${Math.round(cpu.generatorShareOfMachine * 100)} % of the machine), ` +
      `other processes ${cpu.otherProcesses}; machine busy ${cpu.machineCores}`,
  );
  console.log(`=> fraction ${fraction.toFixed(2)}: ${pass ? `all ${ctx.workers.length} rows met` : "not met"}`);
  return { fraction, pass, settledMs, workloads, cpu };
}

async function main() {
  lib.limitRun(GLOBAL_TIMEOUT_MS);
  console.log(
    `seed bench: ${NODES} Switchboard nodes + 1 redis-server, five workloads at once at a fraction of ` +
      `${Object.entries(WORKLOADS)
        .map(([n, w]) => `${n} ${w.rate}/s (p95 <= ${w.p95} ms)`)
        .join(", ")}; ${os.cpus().length} CPUs`,
  );
  const redis = await lib.startRedis();
  const nodes = await lib.startNodes(NODES, (i) => lib.systemNode("switchboard", `seed-${i + 1}`, redis.url));
  const urls = nodes.map((n) => n.url);
  const runId = Date.now().toString(36);
  const workers = ONLY.map((name) => startWorker(name));
  const t0 = performance.now();
  await Promise.all(workers.map((w) => w.ask({ type: "setup", urls, runId })));
  console.log(
    `setup: ${PAIRS} DM pairs, ${SYNC_USERS} sync users x 2 devices, ${NOTIFY_USERS} notified users, ${ROOMS} rooms x ${PER_ROOM} members ` +
      `(${2 * PAIRS + 2 * SYNC_USERS + NOTIFY_USERS + ROOMS * PER_ROOM} sockets) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const nodePids = nodes.map((n) => n.child.pid);
  const ctx = { workers, nodePids, redisPid: redis.child.pid, clusterPids: [...nodePids, redis.child.pid] };

  const runs = [];
  const run = async (f) => {
    const r = await runFraction(f, ctx, { index: runs.length + 1, of: FRACTIONS.length > 0 ? FRACTIONS.length : undefined });
    runs.push(r);
    return r.pass;
  };
  if (FRACTIONS.length > 0) for (const f of FRACTIONS) await run(f);
  else if (!(await run(1))) {
    let lo = 0;
    let hi = 1;
    for (let i = 1; i < TRIES; i++) {
      const mid = gridPoint((lo + hi) / 2);
      if (mid <= lo || mid >= hi) break;
      if (await run(mid)) lo = mid;
      else hi = mid;
    }
  }

  const passed = runs.filter((r) => r.pass).map((r) => r.fraction);
  const failed = runs.filter((r) => !r.pass).map((r) => r.fraction);
  const complete = ONLY.length === Object.keys(WORKLOADS).length;
  const headline = complete && passed.length ? Math.max(...passed) : null;
  const full = runs.find((r) => r.fraction === 1) || null;
  console.log("\n=== seed: summary ===");
  if (full) {
    console.log("at the full rates (1.0x):");
    for (const [name, r] of Object.entries(full.workloads)) {
      console.log(`  ${name.padEnd(12)} ${WORKLOADS[name].rate}/s: ${r.p95 === null ? "-" : `p95 ${r.p95} ms`} (target <= ${r.target} ms)${r.met ? "" : ` - not met: ${r.reasons.join("; ")}`}`);
    }
  } else console.log("the full rates were not run (BENCH_SEED_FRACTIONS without 1)");
  console.log(`fractions run: ${runs.map((r) => `${r.fraction}${r.pass ? " met" : " not met"}`).join(", ")}`);
  if (!complete) console.log(`only ${ONLY.join(", ")} ran (BENCH_SEED_WORKLOADS): no headline`);
  else
    console.log(
      headline !== null
        ? `HEADLINE: all five rows sustained together with every p95 met up to ${headline}x of the full rates`
        : `HEADLINE: no fraction tried met every row (smallest tried ${Math.min(...failed)}x)`,
    );

  for (const w of workers) w.child.stopping = true;
  await Promise.all(workers.map((w) => w.ask({ type: "stop" }).catch(() => undefined)));
  for (const node of nodes) await lib.stopChild(node.child);
  await lib.stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });

  const bareLoads = ONLY.filter((name) => BARE_WORKLOADS.includes(name));
  const bareRun = BARE_REFERENCE && runs.length > 0 && bareLoads.length > 0 ? await runBareReference(Math.min(...runs.map((r) => r.fraction)), bareLoads, runId) : null;
  const bareReference = bareRun && {
    fraction: bareRun.fraction,
    workloads: Object.fromEntries(Object.entries(bareRun.workloads).map(([n, r]) => [n, { rate: r.rate, p50: r.p50, p95: r.p95, target: r.target, met: r.met, reasons: r.reasons }])),
  };
  if (bareReference) {
    console.log(`bare Socket.IO at ${bareReference.fraction}x, for reference (it serves ${bareLoads.join(", ")}):`);
    for (const [name, r] of Object.entries(bareReference.workloads)) {
      const ours = runs.find((x) => x.fraction === bareReference.fraction).workloads[name];
      console.log(`  ${name.padEnd(12)} p95 ${r.p95} ms (target <= ${r.target} ms, ${r.met ? "met" : "not met"}); Switchboard at ${bareReference.fraction}x: p95 ${ours.p95} ms`);
    }
  }

  const out = {
    suite: "seed",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0] && os.cpus()[0].model, node: process.version },
    settings: { nodes: NODES, workloads: WORKLOADS, ran: ONLY, pairs: PAIRS, syncUsers: SYNC_USERS, notifyUsers: NOTIFY_USERS, rooms: ROOMS, perRoom: PER_ROOM, warmupMs: WARMUP_MS, windowMs: WINDOW_MS, drainMs: DRAIN_MS, tries: TRIES, fractions: FRACTIONS },
    runs,
    fullRate: full ? Object.fromEntries(Object.entries(full.workloads).map(([n, r]) => [n, { rate: r.rate, p95: r.p95, target: r.target, met: r.met, reasons: r.reasons }])) : null,
    headline: complete ? { fraction: headline, smallestFailed: failed.length ? Math.min(...failed) : null } : null,
    bareReference,
  };
  writeFileSync(path.join(__dirname, "results-seed.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log("wrote bench/results-seed.json");
}

/** The rows bare Socket.IO serves, on 3 bare nodes with their own redis-server, at `fraction`. */
async function runBareReference(fraction, names, runId) {
  const redis = await lib.startRedis();
  const nodes = await lib.startNodes(NODES, (i) => lib.systemNode("bare", `seed-bare-${i + 1}`, redis.url));
  const urls = nodes.map((n) => n.url);
  const workers = names.map((name) => startWorker(name, "bare"));
  try {
    await Promise.all(workers.map((w) => w.ask({ type: "setup", urls, runId: `${runId}-bare` })));
    const nodePids = nodes.map((n) => n.child.pid);
    const ctx = { label: "bare Socket.IO (reference)", workers, nodePids, redisPid: redis.child.pid, clusterPids: [...nodePids, redis.child.pid] };
    return await runFraction(fraction, ctx, { index: 1, of: 1 });
  } finally {
    for (const w of workers) w.child.stopping = true;
    await Promise.all(workers.map((w) => w.ask({ type: "stop" }).catch(() => undefined)));
    for (const node of nodes) await lib.stopChild(node.child);
    await lib.stopChild(redis.child);
    rmSync(redis.dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--worker") runWorker(process.argv[3]);
else lib.runMain(main);
