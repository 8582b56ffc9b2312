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


module.exports = { HOST, ROOT, SB_MAIN, SECRET, sockets, killAll, limitRun, sleep, freePort, waitFor, spawnChild, stopChild, startRedis };
