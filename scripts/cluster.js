#!/usr/bin/env node
// `npm run cluster`: a local Switchboard cluster on this machine (PROTOCOL §1).
//
//   redis-server  on a free port (unless REDIS_URL or REDIS_CLUSTER_NODES is given)
//   CLUSTER_NODES nodes (default 3) of server/dist/main.js on CLUSTER_PORT+1 … CLUSTER_PORT+N
//   nginx         on CLUSTER_PORT (default 8080) with the repository's nginx.conf, when installed
//
// Every line a child prints is prefixed with its name ([node-1], [redis], [nginx]). Ctrl-C or
// SIGTERM stops nginx, then the nodes (gracefully: they leave the registry), then Redis, and
// removes the temporary directory; a second Ctrl-C kills whatever is left at once. The rest of
// the environment (JWT_SECRET, HEARTBEAT_*, LOG_LEVEL, …) is passed to the nodes as is; outside
// production they also get DEV_TOKENS=1 unless it is set, so the demo page can sign in.
// While it starts, scripts/progress.js shows each step (Redis, the nodes ready so far, nginx) and
// the time elapsed: a status line on a terminal, a plain line per step start and end otherwise.
"use strict";

const { spawn } = require("node:child_process");
const { randomBytes } = require("node:crypto");
const { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } = require("node:fs");
const net = require("node:net");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
const readline = require("node:readline");
const { findNginx, renderNginxConf } = require("./lib/nginx");
const { createProgress } = require("./progress");

const ROOT = join(__dirname, "..");
const MAIN = join(ROOT, "server", "dist", "main.js");
const STOP_GRACE_MS = 12000; // a node allows itself 10 s to shut down
const START_TIMEOUT_MS = 30000;

const started = Date.now();
const children = []; // { name, child, kind }
let stopping = false;
let tmp;
const progress = createProgress({ label: "cluster" });

function say(message) {
  process.stdout.write(`[cluster] ${message}\n`);
}

function fail(message) {
  process.stderr.write(`[cluster] ${message}\n`);
  process.exitCode = 1;
}

function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function binaryOnPath(name) {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/sbin", "/usr/bin"])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Resolves when `port` on `host` can be listened on; rejects with the reason otherwise. */
function checkFree(host, port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err) => reject(new Error(`port ${port} on ${host} is not free (${err.code}); set CLUSTER_PORT to another base port`)));
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what, check, child) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what} exited during start (code ${child.exitCode}, signal ${child.signalCode})`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${START_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(1000);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("timeout", () => socket.destroy());
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
}

async function httpOk(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return response.ok;
}

/** Starts a child in its own process group (a terminal's Ctrl-C reaches only this script). */
function start(name, kind, command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const width = 8;
  const prefix = `[${name}]`.padEnd(width + 2);
  readline.createInterface({ input: child.stdout }).on("line", (line) => process.stdout.write(`${prefix} ${line}\n`));
  readline.createInterface({ input: child.stderr }).on("line", (line) => process.stderr.write(`${prefix} ${line}\n`));
  const entry = { name, kind, child, exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))) };
  child.once("error", (err) => say(`${name} could not start: ${err.message}`));
  child.once("exit", (code, signal) => {
    if (!stopping) say(`${name} exited (code ${code}, signal ${signal}); ${kind === "node" ? "the other nodes keep serving" : "the cluster is degraded"}`);
  });
  children.push(entry);
  return entry;
}

const running = (entry) => entry.child.exitCode === null && entry.child.signalCode === null && entry.child.pid !== undefined;

/** Signals a child's whole process group (nginx workers, anything a node started). */
function signalGroup(entry, signal) {
  if (!running(entry)) return;
  try {
    process.kill(-entry.child.pid, signal);
  } catch {
    try {
      entry.child.kill(signal);
    } catch {
      // already gone
    }
  }
}

async function stopAll(kinds, signal) {
  const entries = children.filter((e) => kinds.includes(e.kind) && running(e));
  for (const entry of entries) signalGroup(entry, signal);
  await Promise.all(
    entries.map(async (entry) => {
      const timer = setTimeout(() => {
        say(`${entry.name} did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
        signalGroup(entry, "SIGKILL");
      }, STOP_GRACE_MS);
      await entry.exited;
      clearTimeout(timer);
    }),
  );
}

function removeTmp() {
  if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}

async function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  progress.fail(reason);
  say(`${reason}: stopping`);
  // The balancer first (no new clients), then the nodes (they leave the registry in Redis and
  // release their devices), then Redis itself.
  await stopAll(["nginx"], "SIGTERM");
  await stopAll(["node"], "SIGTERM");
  await stopAll(["redis"], "SIGTERM");
  removeTmp();
  say(`stopped after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(process.exitCode ?? 0);
}

function onSignal(signal) {
  if (stopping) {
    say(`${signal} again: killing everything now`);
    for (const entry of children) signalGroup(entry, "SIGKILL");
    removeTmp();
    process.exit(1);
  }
  void shutdown(signal);
}

async function main() {
  const nodeCount = intFromEnv("CLUSTER_NODES", 3, 1, 32);
  const basePort = intFromEnv("CLUSTER_PORT", 8080, 1, 65535 - nodeCount);
  const host = process.env.CLUSTER_HOST || "127.0.0.1";
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm run cluster builds first)`);

  const nginxBin = findNginx();
  const ports = Array.from({ length: nodeCount }, (_, i) => basePort + 1 + i);
  for (const port of nginxBin ? [basePort, ...ports] : ports) await checkFree(host, port);

  tmp = mkdtempSync(join(tmpdir(), "sb-cluster-"));
  // nginx workers run as nobody when the master runs as root: they need to reach the prefix.
  chmodSync(tmp, 0o755);

  const env = { ...process.env };
  env.NODE_ENV = env.NODE_ENV || "development";
  // The demo page signs in through POST /dev/token; a production node refuses DEV_TOKENS.
  if (env.NODE_ENV !== "production" && !env.DEV_TOKENS) env.DEV_TOKENS = "1";
  if (!env.JWT_SECRET && !env.JWT_JWKS_URL) {
    env.JWT_SECRET = randomBytes(32).toString("base64url");
    say(`JWT_SECRET is not set: this run uses a random one (export it to sign tokens yourself):`);
    say(`  JWT_SECRET=${env.JWT_SECRET}`);
  }

  let redisUrl = env.REDIS_URL;
  const ownRedis = !redisUrl && !env.REDIS_CLUSTER_NODES;
  const stepCount = (ownRedis ? 1 : 0) + 1 + (nginxBin ? 1 : 0);
  let stepIndex = 0;
  if (ownRedis) {
    const redisBin = binaryOnPath("redis-server");
    if (!redisBin) throw new Error("redis-server is not installed: apt-get install -y redis-server, or set REDIS_URL");
    progress.step("starting redis-server", { index: ++stepIndex, of: stepCount });
    const redisPort = await freePort();
    const dir = join(tmp, "redis");
    mkdirSync(dir);
    const redis = start("redis", "redis", redisBin, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"]);
    await waitUntil("redis-server", () => redisPing(redisPort), redis.child);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    env.REDIS_URL = redisUrl;
    progress.end();
  }

  let ready = 0;
  progress.step(`starting ${nodeCount} node${nodeCount === 1 ? "" : "s"}`, { index: ++stepIndex, of: stepCount, count: () => ready, total: nodeCount, unit: "ready", rate: false });
  const nodes = ports.map((port, i) => {
    const name = `node-${i + 1}`;
    const entry = start(name, "node", process.execPath, [MAIN], { cwd: ROOT, env: { ...env, PORT: String(port), HOST: env.HOST || host, NODE_ID: name } });
    entry.url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
    return entry;
  });
  await Promise.all(nodes.map((node) => waitUntil(node.name, () => httpOk(`${node.url}/health`), node.child).then(() => ready++)));
  progress.end();

  let entry = nodes[0].url;
  let balancer;
  if (nginxBin) {
    const conf = renderNginxConf({
      nodes: ports.map((port) => ({ port })),
      listen: `${host}:${basePort}`,
      workers: "auto",
    });
    progress.step("starting nginx", { index: ++stepIndex, of: stepCount });
    writeFileSync(join(tmp, "nginx.conf"), conf);
    balancer = start("nginx", "nginx", nginxBin, ["-c", join(tmp, "nginx.conf"), "-p", `${tmp}/`, "-e", "stderr", "-g", "daemon off;"]);
    entry = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${basePort}`;
    await waitUntil("nginx", () => httpOk(`${entry}/health`), balancer.child);
    progress.end();
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`ready in ${seconds} s`);
  if (balancer) say(`  nginx     ${entry}  (sticky by client address; pid ${balancer.child.pid})`);
  else say(`  nginx is not installed (apt-get install -y nginx): no balancer, connect to a node directly`);
  for (const node of nodes) say(`  ${node.name.padEnd(8)}  ${node.url}  (pid ${node.child.pid})`);
  const redisEntry = children.find((c) => c.kind === "redis");
  say(`  redis     ${redisUrl ?? `cluster ${env.REDIS_CLUSTER_NODES}`}${redisEntry ? `  (pid ${redisEntry.child.pid})` : " (yours)"}`);
  if (env.NODE_ENV !== "production") say(`  demo      ${entry}/?user=alice  (and ${entry}/?user=bob in another window)`);
  say("Ctrl-C or SIGTERM stops everything");
  // One machine-readable line for scripts (npm run load, the tests).
  say(
    `state ${JSON.stringify({
      entry,
      balancer: Boolean(balancer),
      nodes: nodes.map((n) => ({ name: n.name, url: n.url, pid: n.child.pid })),
      redis: redisUrl ?? null,
      pids: Object.fromEntries(children.map((c) => [c.name, c.child.pid])),
      tmp,
    })}`,
  );
}

process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));
process.on("SIGHUP", () => onSignal("SIGHUP"));
// Last resort, whatever ended this process: nothing it started outlives it.
process.on("exit", () => {
  for (const entry of children) signalGroup(entry, "SIGKILL");
  removeTmp();
});
process.stdout.on("error", () => undefined);

main().catch((err) => {
  fail(err.message);
  void shutdown("start failed");
});
