"use strict";
/**
 * `npm run bench` (BENCH_SUITES=connections): what an idle connection costs and how fast a node
 * takes new ones, Switchboard (JWT verification, presence) vs the bare Socket.IO server
 * (bench/bare-server.js), in one run.
 *
 * Per system: its own redis-server, ONE node on 127.0.0.1 started with `--inspect` on a free port
 * of 127.0.0.1 (the bench forces full GCs through the inspector and reads `process.memoryUsage()`:
 * no server code takes part). Then:
 *   1. warm-up: BENCH_CONN_WARMUP (default 2000) clients connect and disconnect, at most
 *      BENCH_CONN_CONCURRENCY at once, then the node and its Redis are let go idle. V8 compiles the
 *      node's hot paths over its first few thousand connects, and the compiler's memory stays in the
 *      process's RSS: measured from a node that has not done so, it would be counted as the
 *      connections' (with 200 warm-up clients Switchboard's RSS per connection varied from 13.0
 *      to 15.4 KiB between runs, bare's from 11.3 to 12.2; with 2000, 11.2–12.2 and 10.2–11.6,
 *      close to their heap per connection, 11.0–11.1 and 10.2–10.3);
 *   2. connect rate, on the warmed node: BENCH_CONN_N (default 2000) clients connect, at most
 *      BENCH_CONN_CONCURRENCY (default 50) handshakes open at once (a new one as soon as one
 *      completes); connects/s = clients / time until the last `session` event (both servers send
 *      it on connection); handshake (start -> `session`) p50/p95; then they leave and the node is
 *      let go idle. This comes before any forced GC: a forced full GC (HeapProfiler.collectGarbage
 *      reduces memory) shrinks V8's new space, 32 MiB here, to 1 MiB, and the connects right
 *      after it run while it grows back, with more scavenges and more objects promoted (measured
 *      after the memory baseline, five pairs of runs: Switchboard's helper threads spent 355–520
 *      µs per connect instead of 110–135, bare's 205–305 instead of 90–120);
 *   3. baseline: GC, then the node's RSS (median of 5 samples 200 ms apart) and heap;
 *   4. idle: BENCH_CONN_N other clients connect the same way and stay; after BENCH_CONN_SETTLE_MS
 *      (default 2000), GC, RSS and heap again; per connection = (idle - baseline) / clients.
 * Switchboard clients are distinct users with a signed JWT each (signed before the clock starts),
 * so every connect verifies a token and writes presence. The client count is lowered to fit the
 * process's file limit (ulimit -n) when that is smaller.
 * Each system is measured from its own new client process (this script with `--system <name>`):
 * the clients' own code runs about twice as fast once V8 has compiled it, so a client process
 * that had already connected the first system's clients would favour the second. The systems run
 * BENCH_CONN_RUNS times (default 5) in turn (A, B, A, B, ...), each run with a new node and
 * redis-server, so a change in the machine's speed during the suite falls on both; each figure
 * is the median of a system's runs, every run is printed and kept in the results.
 *
 * Beside each connect rate, the CPU a connect cost each process, in µs (from /proc over step 2):
 * the node's main thread (its JavaScript), its other threads (V8's compiler and GC helpers), its
 * redis-server, and the client process. The processes share the machine's cores, so the rate
 * follows their sum as much as the node's own share.
 *
 * Output: a table and bench/results-connections.json (KiB per connection, connects/s and CPU per
 * connect of both systems, and the ratios).
 */
const { rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execSync } = require("node:child_process");
const { createProgress } = require("../scripts/progress");

const {
  spawnChild,
  sockets,
  limitRun,
  sleep,
  waitFor,
  stopChild,
  startRedis,
  startNodes,
  systemNode,
  authFor,
  connect,
  withConcurrency,
  settleCpu,
  latencyStats,
  round,
  rssBytes,
  cpuSeconds,
  threadCpuSeconds,
  gcAndMemory,
  runMain,
} = require("./lib");

const SYSTEMS = (process.env.BENCH_SYSTEMS || "switchboard,bare").split(",").map((s) => s.trim()).filter(Boolean);
const WANTED = Number(process.env.BENCH_CONN_N || 2000);
const WARMUP = Number(process.env.BENCH_CONN_WARMUP || 2000);
const CONCURRENCY = Number(process.env.BENCH_CONN_CONCURRENCY || 50);
const SETTLE_MS = Number(process.env.BENCH_CONN_SETTLE_MS || 2000);
const RUNS = Math.max(1, Number(process.env.BENCH_CONN_RUNS || 5));
const GLOBAL_TIMEOUT_MS = 6 * 60 * 1000;
const MEMORY_RATIO_TARGET = 1.2;
const RATE_RATIO_TARGET = 0.8;

limitRun(GLOBAL_TIMEOUT_MS);
const progress = createProgress({ label: "connections" });

/** Clients that fit the file limit: each one is a socket here and one in the node (same user, same limit). */
function clientCount() {
  let limit = Infinity;
  try {
    limit = Number(execSync("ulimit -n", { shell: "/bin/sh" }).toString().trim()) || Infinity;
  } catch {
    /* unknown: keep the wanted count */
  }
  return Math.max(100, Math.min(WANTED, Math.floor((limit - 500) / 2)));
}

/** Median RSS of 5 samples 200 ms apart. */
async function rssMedian(pid) {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssBytes(pid));
    await sleep(200);
  }
  return samples.sort((a, b) => a - b)[2];
}

async function measureMemory(node) {
  const mem = await gcAndMemory(node.inspectPort);
  await sleep(300);
  return { rss: await rssMedian(node.child.pid), heapUsed: mem.heapUsed, external: mem.external };
}

/** The parts of a connect's CPU (see cpuNow), in the order printed. */
const CPU_PARTS = ["node", "helpers", "redis", "client"];

/**
 * CPU seconds used so far by the node's main thread (its JavaScript), the node's other threads
 * (V8's compiler and GC helpers), its redis-server, and this client process.
 */
function cpuNow(node, redis) {
  const { main, helpers } = threadCpuSeconds(node.child.pid);
  return { node: main, helpers, redis: cpuSeconds(redis.child.pid), client: cpuSeconds(process.pid) };
}

const cpuTotal = (us) => CPU_PARTS.reduce((sum, part) => sum + us[part], 0);
const cpuColumns = (us) => ` ${CPU_PARTS.map((part) => String(us[part]).padStart(8)).join("")}`;

/** What Node prints on stderr when its inspector listens. */
const INSPECTOR = /Debugger listening on ws:\/\/[^/\s]+:(\d+)\//;

async function runSystem(system, clients) {
  const redis = await startRedis();
  // The node picks its inspector's port itself and names it on stderr: a port found free here
  // could be taken before the node listened on it.
  const [node] = await startNodes(1, () => ({ ...systemNode(system, `conn-${system}`, redis.url), nodeArgs: ["--inspect=127.0.0.1:0"] }));
  const [, inspectPort] = await waitFor(async () => INSPECTOR.exec(node.child.stderrText()), 5000, `${node.nodeId}'s inspector port`);
  node.inspectPort = Number(inspectPort);
  const runId = Date.now().toString(36);
  const auths = await Promise.all(Array.from({ length: WARMUP + 2 * clients }, (_, i) => authFor(system, `conn-${runId}-${i}`, "idle")));
  const [warmups, timed, idle] = [auths.slice(0, WARMUP), auths.slice(WARMUP, WARMUP + clients), auths.slice(WARMUP + clients)];

  // 1. warm-up: each client leaves as soon as it has its session; then the node finishes the departures
  let warmed = 0;
  progress.step(`${system}: ${WARMUP} clients warming the node up`, { count: () => warmed, total: WARMUP, unit: "connected and left" });
  await withConcurrency(warmups, CONCURRENCY, async (auth) => {
    (await connect(node.url, auth, { keep: false })).disconnect();
    warmed++;
  });
  progress.end();
  await settleCpu([node.child.pid, redis.child.pid], { maxCores: 0.1 });

  // 2. connect rate at a fixed concurrency, on the warmed node; then the clients leave
  const latencies = [];
  const timedSockets = [];
  const cpuBefore = cpuNow(node, redis);
  progress.step(`${system}: ${clients} clients connecting`, { count: () => latencies.length, total: clients, unit: "connected" });
  const t0 = performance.now();
  await withConcurrency(timed, CONCURRENCY, async (auth) => {
    const start = performance.now();
    timedSockets.push(await connect(node.url, auth, { keep: false }));
    latencies.push(performance.now() - start);
  });
  const elapsedS = (performance.now() - t0) / 1000;
  const cpuAfter = cpuNow(node, redis);
  progress.end();
  for (const socket of timedSockets) socket.disconnect();
  await settleCpu([node.child.pid, redis.child.pid], { maxCores: 0.1 });

  // 3. baseline
  const before = await measureMemory(node);

  // 4. idle clients: connected as in step 2, and kept
  let stayed = 0;
  progress.step(`${system}: ${clients} idle clients connecting`, { count: () => stayed, total: clients, unit: "connected" });
  await withConcurrency(idle, CONCURRENCY, async (auth) => {
    await connect(node.url, auth);
    stayed++;
  });
  progress.end();
  await sleep(SETTLE_MS);
  const after = await measureMemory(node);
  const perConn = (a, b) => round((a - b) / clients / 1024, 2);
  const result = {
    system,
    clients,
    concurrency: CONCURRENCY,
    connectsPerSec: round(clients / elapsedS),
    handshake: latencyStats(latencies),
    cpuUsPerConnect: Object.fromEntries(CPU_PARTS.map((part) => [part, Math.round(((cpuAfter[part] - cpuBefore[part]) / clients) * 1e6)])),
    rssBeforeMiB: round(before.rss / 2 ** 20, 1),
    rssAfterMiB: round(after.rss / 2 ** 20, 1),
    rssKiBPerConnection: perConn(after.rss, before.rss),
    heapKiBPerConnection: perConn(after.heapUsed, before.heapUsed),
    externalKiBPerConnection: perConn(after.external, before.external),
  };
  console.log(
    `${system.padEnd(12)} ${String(clients).padStart(6)} ${String(result.connectsPerSec).padStart(11)} ${String(result.handshake.p50).padStart(8)} ` +
      `${String(result.handshake.p95).padStart(8)} ${String(result.rssKiBPerConnection).padStart(10)} ${String(result.heapKiBPerConnection).padStart(11)} ` +
      `${cpuColumns(result.cpuUsPerConnect)}   ${result.rssBeforeMiB} -> ${result.rssAfterMiB}`,
  );

  for (const s of sockets) s.disconnect();
  sockets.length = 0;
  await stopChild(node.child);
  await stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });
  return result;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : round((sorted[mid - 1] + sorted[mid]) / 2, 2);
};

/** One system's figures over its runs: the median of each, with the runs themselves. */
function medianOf(runs) {
  const of = (pick) => median(runs.map(pick));
  const { system, clients, concurrency } = runs[0];
  return {
    system,
    clients,
    concurrency,
    connectsPerSec: of((r) => r.connectsPerSec),
    handshake: { p50: of((r) => r.handshake.p50), p95: of((r) => r.handshake.p95) },
    rssKiBPerConnection: of((r) => r.rssKiBPerConnection),
    heapKiBPerConnection: of((r) => r.heapKiBPerConnection),
    cpuUsPerConnect: Object.fromEntries(CPU_PARTS.map((part) => [part, Math.round(of((r) => r.cpuUsPerConnect[part]))])),
    externalKiBPerConnection: of((r) => r.externalKiBPerConnection),
    runs,
  };
}

/** Runs one system in a new client process (`--system`) and returns its result. */
function runSystemInChild(system, clients) {
  return new Promise((resolve, reject) => {
    const child = spawnChild([process.execPath, __filename, "--system", system, String(clients)], process.env, `connections (${system})`, { ipc: true });
    let result;
    child.on("message", (msg) => {
      result = msg;
      child.stopping = true; // its exit is expected now
    });
    child.on("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`connections (${system}) exited with code ${code}: ${child.stderrText()}`))));
  });
}

async function main() {
  const clients = clientCount();
  console.log(
    `connections bench: 1 node + its own redis-server per system; ${clients} idle clients${clients < WANTED ? ` (lowered from ${WANTED} to fit ulimit -n)` : ""}, ` +
      `at most ${CONCURRENCY} handshakes at once; ${os.cpus().length} CPUs; ` +
      `node/helpers/redis/client: CPU µs per connect of the node's main thread, its other threads, its redis-server and the client process`,
  );
  console.log(`${"system".padEnd(12)} ${"clients".padStart(6)} ${"connects/s".padStart(11)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"RSS KiB/c".padStart(10)} ${"heap KiB/c".padStart(11)} ${CPU_PARTS.map((part) => part.padStart(8)).join("")}   RSS MiB`);
  const runs = Object.fromEntries(SYSTEMS.map((system) => [system, []]));
  for (let i = 0; i < RUNS; i++) for (const system of SYSTEMS) runs[system].push(await runSystemInChild(system, clients));
  const results = {};
  for (const system of SYSTEMS) {
    results[system] = medianOf(runs[system]);
    const r = results[system];
    if (RUNS > 1) {
      console.log(
        `${`${system} median`.padEnd(19)} ${String(r.connectsPerSec).padStart(11)} ${String(r.handshake.p50).padStart(8)} ${String(r.handshake.p95).padStart(8)} ` +
          `${String(r.rssKiBPerConnection).padStart(10)} ${String(r.heapKiBPerConnection).padStart(11)}${cpuColumns(r.cpuUsPerConnect)}`,
      );
    }
  }

  let summary = null;
  if (results.switchboard && results.bare) {
    const sb = results.switchboard;
    const bare = results.bare;
    const memoryRatio = round(sb.rssKiBPerConnection / bare.rssKiBPerConnection, 2);
    const rateRatio = round(sb.connectsPerSec / bare.connectsPerSec, 2);
    summary = {
      memoryRatio,
      memoryTarget: MEMORY_RATIO_TARGET,
      memoryMet: memoryRatio !== null && memoryRatio <= MEMORY_RATIO_TARGET,
      heapRatio: round(sb.heapKiBPerConnection / bare.heapKiBPerConnection, 2),
      rateRatio,
      rateTarget: RATE_RATIO_TARGET,
      rateMet: rateRatio !== null && rateRatio >= RATE_RATIO_TARGET,
      cpuUsPerConnect: { switchboard: cpuTotal(sb.cpuUsPerConnect), bare: cpuTotal(bare.cpuUsPerConnect) },
    };
    console.log(
      `\nmemory per idle connection: Switchboard ${sb.rssKiBPerConnection} KiB vs bare ${bare.rssKiBPerConnection} KiB RSS = ${memoryRatio}x ` +
        `(target <= ${MEMORY_RATIO_TARGET}x) -> ${summary.memoryMet ? "PASS" : "FAIL"}; heap ${sb.heapKiBPerConnection} vs ${bare.heapKiBPerConnection} KiB = ${summary.heapRatio}x`,
    );
    console.log(
      `connect rate (JWT + presence vs bare): ${sb.connectsPerSec} vs ${bare.connectsPerSec} connects/s = ${rateRatio}x (target >= ${RATE_RATIO_TARGET}x) -> ${summary.rateMet ? "PASS" : "FAIL"}`,
    );
    console.log(
      `CPU per connect, every process on the machine's ${os.cpus().length} cores (node + helpers + redis + client): ` +
        `Switchboard ${summary.cpuUsPerConnect.switchboard} µs vs bare ${summary.cpuUsPerConnect.bare} µs`,
    );
  }
  const out = {
    suite: "connections",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0] && os.cpus()[0].model, node: process.version },
    settings: { clients, warmup: WARMUP, concurrency: CONCURRENCY, settleMs: SETTLE_MS, runs: RUNS },
    results,
    summary,
  };
  writeFileSync(path.join(__dirname, "results-connections.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log("wrote bench/results-connections.json");
}

if (process.argv[2] === "--system") {
  runMain(async () => {
    const result = await runSystem(process.argv[3], Number(process.argv[4]));
    await new Promise((resolve) => process.send(result, resolve));
  });
} else runMain(main);
