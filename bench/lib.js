"use strict";
/**
 * What every benchmark in this folder needs: free ports on 127.0.0.1, a redis-server of its own,
 * child processes that are all killed on exit, error or signal, and a bound on the whole run.
 */
const { spawn } = require("node:child_process");
const { mkdtempSync } = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { SignJWT } = require("jose");
const { io } = require("socket.io-client");

const HOST = "127.0.0.1";
const ROOT = path.join(__dirname, "..");
const SB_MAIN = path.join(ROOT, "server", "dist", "main.js");
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

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err && err.fatal) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function spawnChild(args, env, label) {
  const child = spawn(args[0], args.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "ignore", "pipe"] });
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

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "sb-bench-redis-"));
  const child = spawnChild(["redis-server", "--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir], {}, `redis-server:${port}`);
  const { Redis } = require("ioredis");
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw Object.assign(new Error(`redis-server exited: ${child.stderrText()}`), { fatal: true });
      const c = new Redis(port, HOST, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
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
}


/**
 * Starts `count` node processes and waits until each answers /health. `describe(i, port)` gives
 * each one's `{ nodeId, main, env }` (main: the script to run, Switchboard's by default).
 */
/** Extra node flags for every server process, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS || "").split(" ").filter(Boolean);

async function startNodes(count, describe) {
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const { nodeId, main = SB_MAIN, env } = describe(i, port);
    const child = spawnChild([process.execPath, ...NODE_ARGS, main], { PORT: String(port), HOST, NODE_ID: nodeId, ...env }, nodeId);
    nodes.push({ child, port, url: `http://${HOST}:${port}`, nodeId });
  }
  for (const node of nodes) {
    await waitFor(
      async () => {
        if (node.child.exitCode !== null) throw Object.assign(new Error(`${node.nodeId} exited: ${node.child.stderrText()}`), { fatal: true });
        return (await fetch(`${node.url}/health`)).ok;
      },
      20000,
      `${node.nodeId} /health`,
    );
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

function connect(url, auth) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: 10000 });
    sockets.push(socket);
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

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

module.exports = {
  HOST,
  ROOT,
  SB_MAIN,
  SECRET,
  sockets,
  killAll,
  limitRun,
  sleep,
  freePort,
  waitFor,
  spawnChild,
  stopChild,
  startRedis,
  startNodes,
  token,
  connect,
  ack,
  inBatches,
  percentile,
};
