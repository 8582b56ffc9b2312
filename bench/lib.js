"use strict";
/**
 * What every benchmark in this folder needs: free ports on 127.0.0.1, a redis-server of its own,
 * child processes that are all killed on exit, error or signal, and a bound on the whole run; the
 * nodes of either system (Switchboard or the bare baseline), a paced send loop, CPU and memory of
 * processes read from /proc, a forced GC through a node's inspector, and a TCP proxy that counts
 * the bytes Redis sends a node.
 */
const { spawn } = require("node:child_process");
const { mkdtempSync, rmSync } = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { SignJWT } = require("jose");
const { io } = require("socket.io-client");
const { cpuSeconds, threadCpuSeconds, rssBytes, machineCpu } = require("./proc");

const HOST = "127.0.0.1";
const ROOT = path.join(__dirname, "..");
const SB_MAIN = path.join(ROOT, "server", "dist", "main.js");
const BARE_MAIN = path.join(__dirname, "bare-server.js");
const SECRET = "switchboard-bench-secret-0123456789abcdef-xyz";

const children = new Set();
/** Client sockets a bench opened: disconnected on exit. */
const sockets = [];
function killAll() {
  for (const s of sockets) {
    try {
      s.disconnect();
    } catch {
      /* ignore */
    }
  }
  sockets.length = 0;
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* ignore */
      }
    }
  }
  children.clear();
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping`);
    killAll();
    process.exit(130);
  });
}
process.on("unhandledRejection", (err) => {
  console.error("bench failed:", err);
  killAll();
  process.exit(1);
});
/** Ends the whole run after `timeoutMs`, whatever it is doing. */
function limitRun(timeoutMs) {
  setTimeout(() => {
    console.error(`bench exceeded ${timeoutMs / 1000}s, aborting`);
    killAll();
    process.exit(1);
  }, timeoutMs).unref();
}

/** Runs a bench's `main()`, then stops every child and exits: 0 when it resolved, 1 when it failed. */
function runMain(main) {
  main()
    .then(() => {
      killAll();
      process.exit(0);
    })
    .catch((err) => {
      console.error("bench failed:", err);
      killAll();
      process.exit(1);
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 100 ms until it answers a truthy value, which it returns; throws after `timeoutMs`. */
async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      if (err && err.fatal) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** `ipc`: a Node child with an IPC channel (child.send / process.send) whose stdout is ours. */
function spawnChild(args, env, label, { ipc = false } = {}) {
  const stdio = ipc ? ["ignore", "inherit", "pipe", "ipc"] : ["ignore", "ignore", "pipe"];
  const child = spawn(args[0], args.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio });
  children.add(child);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c) => {
    if (stderr.length < 4000) stderr += c;
  });
  child.on("exit", (code, signal) => {
    children.delete(child);
    if (!child.stopping) console.error(`${label} exited unexpectedly (code ${code}, signal ${signal}) ${stderr.trim()}`);
  });
  child.label = label;
  child.stderrText = () => stderr;
  return child;
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stopping = true;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
}

/** How many ports a server is started on before the bench gives up (see startsAgain). */
const PORT_TRIES = 3;

/**
 * Whether a server that exited before it was ready is started again on another port: between
 * freePort's check and the server's listen, another process can take the port (an outgoing
 * connection's local port comes from the same range), and the server exits with EADDRINUSE.
 */
function startsAgain(label, port, attempt) {
  if (attempt >= PORT_TRIES) return false;
  console.error(`${label} could not listen on ${port}; starting it again on another port`);
  return true;
}

async function startRedis() {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), "sb-bench-redis-"));
    const child = spawnChild(["redis-server", "--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir], {}, `redis-server:${port}`);
    const { Redis } = require("ioredis");
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw Object.assign(new Error(`redis-server exited: ${child.stderrText()}`), { fatal: true });
          const c = new Redis(port, HOST, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 1000, commandTimeout: 1000 });
          c.on("error", () => undefined);
          try {
            await c.connect();
            return (await c.ping()) === "PONG";
          } finally {
            c.disconnect();
          }
        },
        10000,
        "redis-server",
      );
      return { port, url: `redis://${HOST}:${port}`, child, dir };
    } catch (err) {
      // redis-server says why on stdout, which the bench does not keep: any exit before PONG is retried
      rmSync(dir, { recursive: true, force: true });
      if (child.exitCode === null || !startsAgain(`redis-server:${port}`, port, attempt)) throw err;
    }
  }
}

/** Extra node flags for every server process, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS || "").split(" ").filter(Boolean);

/**
 * Starts `count` node processes and waits until each answers /health. `describe(i, port)` gives
 * each one's `{ nodeId, main, env, nodeArgs }` (main: the script to run, Switchboard's by default;
 * nodeArgs: node flags of this process, after BENCH_NODE_ARGS).
 */
async function startNodes(count, describe) {
  const start = async (i) => {
    const port = await freePort();
    const { nodeId, main = SB_MAIN, env, nodeArgs = [] } = describe(i, port);
    const child = spawnChild([process.execPath, ...NODE_ARGS, ...nodeArgs, main], { PORT: String(port), HOST, NODE_ID: nodeId, ...env }, nodeId);
    return { child, port, url: `http://${HOST}:${port}`, nodeId };
  };
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await start(i));
  for (let i = 0; i < count; i++) {
    for (let attempt = 1; ; attempt++) {
      const node = nodes[i];
      try {
        await waitFor(
          async () => {
            if (node.child.exitCode !== null) throw Object.assign(new Error(`${node.nodeId} exited: ${node.child.stderrText()}`), { fatal: true });
            return (await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(1000) })).ok;
          },
          20000,
          `${node.nodeId} /health`,
        );
        break;
      } catch (err) {
        if (!node.child.stderrText().includes("EADDRINUSE") || !startsAgain(node.nodeId, node.port, attempt)) throw err;
        nodes[i] = await start(i);
      }
    }
  }
  return nodes;
}

function token(sub, roles) {
  const claims = roles ? { roles } : {};
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));
}

/** The node description (for startNodes) of node `nodeId` of `system`: "switchboard" (JWT, presence, history) or "bare". */
function systemNode(system, nodeId, redisUrl, env = {}) {
  if (system === "bare") return { nodeId, main: BARE_MAIN, env: { REDIS_URL: redisUrl } };
  if (system !== "switchboard") throw new Error(`unknown system ${system}`);
  return { nodeId, main: SB_MAIN, env: { REDIS_URL: redisUrl, JWT_SECRET: SECRET, LOG_LEVEL: "warn", ...env } };
}

/** Handshake auth of a user of `system`: a signed JWT for Switchboard, the plain user id for bare. */
async function authFor(system, userId, deviceId = "bench", roles) {
  return system === "switchboard" ? { token: await token(userId, roles), deviceId } : { userId, deviceId };
}

/**
 * Connects a socket.io-client socket and resolves once the server's `session` event arrived.
 * `keep: false` leaves it out of the sockets disconnected on exit (short-lived sockets).
 */
function connect(url, auth, { keep = true } = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: 10000 });
    if (keep) sockets.push(socket);
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`no session from ${url} within 10s`));
    }, 10000);
    socket.once("session", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(new Error(`connect_error ${url}: ${err.message}`));
    });
  });
}

/** A JSON REST call with a bearer token: `{ status, body }`. */
async function rest(url, method, route, body, bearer) {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function ack(socket, event, payload, timeoutMs = 10000) {
  const res = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  if (!res || res.ok !== true) throw new Error(`${event} ${JSON.stringify(payload)} failed: ${JSON.stringify(res && res.error)}`);
  return res;
}

async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** Runs `fn` over `items` with at most `open` calls in flight at once (the next starts as soon as one ends). */
async function withConcurrency(items, open, fn) {
  let next = 0;
  const out = new Array(items.length);
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(open, items.length) }, lane));
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `{ n, p50, p95, p99, max }` (ms, 2 decimals) of a list of latencies. */
function latencyStats(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (p) => round(percentile(sorted, p), 2);
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: round(sorted.length ? sorted[sorted.length - 1] : NaN, 2) };
}

function round(n, d = 0) {
  if (!Number.isFinite(n)) return null;
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

/**
 * Calls `send()` at `rate` per second for `durationMs`: every `tickMs` it sends what is due so far
 * (at most `maxPerTick` at once, so a late tick does not burst unbounded). Every 250 ms `check()`
 * may return a reason to stop early. Resolves `{ sent, elapsedMs, aborted }`.
 */
function pace({ rate, durationMs, send, check = () => null, tickMs = 5, maxPerTick = 200 }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const total = Math.ceil((rate * durationMs) / 1000);
    let sent = 0;
    let lastCheck = t0;
    let aborted = null;
    const tick = () => {
      const now = performance.now();
      const elapsed = now - t0;
      const due = Math.min(Math.floor((rate * Math.min(elapsed, durationMs)) / 1000), total);
      for (let n = 0; sent < due && n < maxPerTick; n++) {
        send(sent);
        sent++;
      }
      if (now - lastCheck >= 250) {
        lastCheck = now;
        aborted = check() || null;
      }
      if (aborted || elapsed >= durationMs) resolve({ sent, elapsedMs: Math.min(elapsed, durationMs), aborted });
      else setTimeout(tick, tickMs);
    };
    tick();
  });
}

// ---------------------------------------------------------------------------------------------
// processes: CPU time, resident memory, the machine's CPU (all from /proc; Linux only: ./proc.js)

/**
 * A CPU meter over groups of processes (`{ name: [pid, ...] }`): `stop()` gives each group's CPU in
 * cores (CPU seconds per wall second) since the meter started, and the whole machine's (`machine`,
 * every process, ours and others').
 */
function cpuMeter(groups) {
  const sample = () => ({
    at: performance.now(),
    machine: machineCpu(),
    groups: Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)])),
  });
  const start = sample();
  return {
    stop() {
      const end = sample();
      const wallS = (end.at - start.at) / 1000;
      const cores = Object.fromEntries(Object.keys(groups).map((name) => [name, round((end.groups[name] - start.groups[name]) / wallS, 3)]));
      const machineCores = round((end.machine.busy - start.machine.busy) / wallS, 3);
      const capacity = (end.machine.total - start.machine.total) / wallS;
      return { wallS: round(wallS, 2), cores, machineCores, machineCapacity: round(capacity, 1) };
    },
  };
}

/**
 * Waits until the processes `pids` together use less than `maxCores` CPU over half a second (the
 * previous load has drained), at most `timeoutMs`. Resolves the milliseconds it waited.
 */
async function settleCpu(pids, { maxCores = 0.15, timeoutMs = 10000 } = {}) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const meter = cpuMeter({ all: pids });
    await sleep(500);
    if (meter.stop().cores.all < maxCores) break;
  }
  return Math.round(performance.now() - t0);
}

// ---------------------------------------------------------------------------------------------
// a node's heap through its inspector (the node started with `--inspect=127.0.0.1:<port>`)

/**
 * Connects to the inspector on `port`, forces two full garbage collections and answers the
 * process's `process.memoryUsage()` read right after. A bench-only way in: no server code takes part.
 */
async function gcAndMemory(port) {
  const WebSocket = require("ws");
  const [target] = await (await fetch(`http://${HOST}:${port}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw.toString());
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 30000);
      pending.set(++id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const res = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true });
    return JSON.parse(res.result.value);
  } finally {
    ws.close();
  }
}

// ---------------------------------------------------------------------------------------------
// a TCP proxy in front of redis-server that counts the bytes Redis sends through it

/**
 * Listens on a free port of 127.0.0.1 and forwards every connection to `targetPort`. `bytes`
 * counts what Redis sent back through it; `subscriberBytes` the part on connections that
 * subscribed (SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE: pub/sub deliveries). `close()` ends it.
 */
async function startCountingProxy(targetPort) {
  const counts = { bytes: 0, subscriberBytes: 0, connections: 0 };
  const open = new Set();
  const server = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(targetPort, HOST);
    let subscriber = false;
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("data", (chunk) => {
      if (!subscriber && /\$1?\d\r\n[ps]?subscribe\r\n/i.test(chunk.toString("latin1"))) subscriber = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      counts.bytes += chunk.length;
      if (subscriber) counts.subscriberBytes += chunk.length;
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address();
  return {
    port,
    url: `redis://${HOST}:${port}`,
    counts,
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = {
  HOST,
  ROOT,
  SB_MAIN,
  BARE_MAIN,
  SECRET,
  sockets,
  killAll,
  limitRun,
  runMain,
  sleep,
  freePort,
  waitFor,
  spawnChild,
  stopChild,
  startRedis,
  startNodes,
  token,
  systemNode,
  authFor,
  connect,
  ack,
  rest,
  inBatches,
  withConcurrency,
  percentile,
  latencyStats,
  round,
  pace,
  cpuSeconds,
  threadCpuSeconds,
  rssBytes,
  machineCpu,
  cpuMeter,
  settleCpu,
  gcAndMemory,
  startCountingProxy,
};
