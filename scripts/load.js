#!/usr/bin/env node
// `npm run load`: the artillery scenarios of tests/load against a local cluster.
//
// 1. Installs tests/load's own dependencies (artillery + artillery-engine-socketio-v3, about
//    600 MB) the first time, outside the main workspace, without browser downloads.
// 2. Starts `npm run cluster` (scripts/cluster.js) on free ports with a fresh JWT_SECRET, or uses
//    LOAD_TARGET (then JWT_SECRET must be the target's secret).
// 3. Runs each scenario (LOAD_SCENARIOS, default rooms,presence,notify) in the environment
//    LOAD_ENV (default smoke: a few seconds each, 127.0.0.1 only; `full` for the long runs), each
//    bounded by LOAD_TIMEOUT_S; every scenario's `ensure` thresholds decide pass or fail.
// 4. Prints the figures, writes them to tests/load/results.json, stops the cluster.
// While it runs, scripts/progress.js shows the step (the cluster starting, the scenario being run)
// and the time elapsed: a status line on a terminal, a plain line per step start and end otherwise.
// The cluster's and artillery's output pass through this process, line by line.
"use strict";

const { spawn, spawnSync } = require("node:child_process");
const { randomBytes } = require("node:crypto");
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require("node:fs");
const net = require("node:net");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
const readline = require("node:readline");
const { createProgress } = require("./progress");

const ROOT = join(__dirname, "..");
const LOAD_DIR = join(ROOT, "tests", "load");
const ARTILLERY = join(LOAD_DIR, "node_modules", "artillery", "bin", "run");
const ENGINE = join(LOAD_DIR, "node_modules", "artillery-engine-socketio-v3", "package.json");
const ENVIRONMENT = process.env.LOAD_ENV || "smoke";
const SCENARIOS = (process.env.LOAD_SCENARIOS || "rooms,presence,notify").split(",").map((s) => s.trim()).filter(Boolean);
const TIMEOUT_S = Number(process.env.LOAD_TIMEOUT_S || (ENVIRONMENT === "smoke" ? 120 : 900));
const QUIET_ENV = { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1", ARTILLERY_DISABLE_TELEMETRY: "true" };

let cluster;
let current;
let reports;
let interrupted = false;

const say = (message) => process.stdout.write(`[load] ${message}\n`);
const progress = createProgress({ label: "load" });

/** Passes a child's output on line by line (the status line stays below it on a terminal); `onLine` sees its stdout's. */
function relay(child, onLine = () => undefined) {
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    process.stdout.write(`${line}\n`);
    onLine(line);
  });
  readline.createInterface({ input: child.stderr }).on("line", (line) => process.stderr.write(`${line}\n`));
}

function install() {
  if (existsSync(ARTILLERY) && existsSync(ENGINE)) return;
  say("installing artillery and artillery-engine-socketio-v3 into tests/load (once; about 600 MB)…");
  const lock = existsSync(join(LOAD_DIR, "package-lock.json"));
  const result = spawnSync("npm", [lock ? "ci" : "install", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: LOAD_DIR,
    stdio: "inherit",
    env: { ...process.env, ...QUIET_ENV },
  });
  if (result.status !== 0 || !existsSync(ARTILLERY)) throw new Error("installing tests/load's dependencies failed");
}

function canListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
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

/** A base port with `size` free ports after it (the cluster's nodes). */
async function freeRange(size) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort();
    let ok = base + size <= 65535;
    for (let i = 1; i <= size && ok; i++) ok = await canListen(base + i);
    if (ok) return base;
  }
  throw new Error("found no free range of ports for the cluster");
}

async function startCluster(secret) {
  const nodes = Number(process.env.CLUSTER_NODES || 3);
  const port = process.env.CLUSTER_PORT || String(await freeRange(nodes));
  say(`starting a ${nodes}-node cluster on 127.0.0.1:${port} (npm run cluster)…`);
  progress.step(`starting a ${nodes}-node cluster`);
  const child = spawn(process.execPath, [join(__dirname, "cluster.js")], {
    env: { ...process.env, CLUSTER_PORT: port, JWT_SECRET: secret, LOG_LEVEL: process.env.LOG_LEVEL || "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cluster = child;
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster was not ready within 60 s:\n${output}`)), 60000);
    let ready = false;
    relay(child, (line) => {
      if (ready) return;
      output += `${line}\n`;
      const match = /^\[cluster\] state (.*)$/.exec(line);
      if (match) {
        ready = true;
        clearTimeout(timer);
        progress.end();
        resolve(JSON.parse(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster exited during start (code ${code})`));
    });
  });
}

function stopCluster() {
  if (!cluster || cluster.exitCode !== null || cluster.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => cluster.once("exit", resolve));
  cluster.kill("SIGTERM");
  return exited;
}

function runScenario(name, target, secret, position) {
  const file = join(LOAD_DIR, `${name}.yml`);
  if (!existsSync(file)) throw new Error(`no scenario ${file}`);
  const output = join(reports, `${name}.json`);
  say(`${name}: artillery run -e ${ENVIRONMENT} --target ${target} tests/load/${name}.yml`);
  progress.step(`scenario ${name}`, position);
  const started = Date.now();
  // Its output comes through a pipe: keep its colours when ours go to a terminal.
  const colour = process.stdout.isTTY && process.env.FORCE_COLOR === undefined && process.env.NO_COLOR === undefined ? { FORCE_COLOR: "1" } : {};
  // offline.js keeps artillery from waiting on a telemetry request at exit (see the file).
  const child = spawn(process.execPath, ["-r", join(LOAD_DIR, "offline.js"), ARTILLERY, "run", "-e", ENVIRONMENT, "--target", target, "--output", output, file], {
    cwd: LOAD_DIR,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...QUIET_ENV, ...colour, JWT_SECRET: secret },
  });
  current = child;
  relay(child);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      say(`${name}: still running after ${TIMEOUT_S} s; stopping it`);
      child.kill("SIGKILL");
    }, TIMEOUT_S * 1000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      if (code === 0) progress.end("passed");
      else progress.fail(signal ? `stopped by ${signal}` : `exit code ${code}`);
      const report = existsSync(output) ? JSON.parse(readFileSync(output, "utf8")) : undefined;
      resolve({ name, passed: code === 0, code, signal, seconds: (Date.now() - started) / 1000, report });
    });
  });
}

/** The figures worth keeping from an artillery report. */
function figures(result) {
  const aggregate = result.report?.aggregate;
  if (!aggregate) return { scenario: result.name, passed: result.passed };
  const spanS = Math.max(1, (aggregate.lastMetricAt - aggregate.firstMetricAt) / 1000);
  const latencies = {};
  for (const [metric, s] of Object.entries(aggregate.summaries ?? {})) {
    if (!metric.startsWith("switchboard.") && metric !== "http.response_time") continue;
    latencies[metric] = { count: s.count, perSecond: Math.round(s.count / spanS), p50: s.median, p95: s.p95, p99: s.p99, max: s.max };
  }
  const c = aggregate.counters ?? {};
  return {
    scenario: result.name,
    passed: result.passed,
    vusers: { created: c["vusers.created"] ?? 0, completed: c["vusers.completed"] ?? 0, failed: c["vusers.failed"] ?? 0 },
    counters: Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith("switchboard.") || k.startsWith("http.codes.") || k.startsWith("errors."))),
    latencies,
  };
}

function printSummary(results) {
  say(`results (${ENVIRONMENT}); latencies in ms`);
  for (const r of results) {
    const v = r.vusers ?? {};
    say(`  ${r.scenario}: ${r.passed ? "PASS" : "FAIL"} — vusers ${v.created ?? "?"} created, ${v.failed ?? "?"} failed`);
    for (const [metric, l] of Object.entries(r.latencies ?? {})) {
      say(`    ${metric.padEnd(40)} n=${String(l.count).padStart(6)} (${l.perSecond}/s)  p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}`);
    }
    for (const [counter, value] of Object.entries(r.counters ?? {})) say(`    ${counter.padEnd(40)} ${value}`);
  }
}

async function main() {
  install();
  reports = mkdtempSync(join(tmpdir(), "sb-load-"));
  let target = process.env.LOAD_TARGET;
  let secret = process.env.JWT_SECRET;
  if (target) {
    if (!secret) throw new Error("LOAD_TARGET is set: set JWT_SECRET to that cluster's secret too (the scenarios sign tokens with it)");
    say(`using the cluster at ${target}`);
  } else {
    secret = randomBytes(32).toString("base64url");
    target = (await startCluster(secret)).entry;
  }

  const results = [];
  for (const [i, name] of SCENARIOS.entries()) {
    if (interrupted) break;
    results.push(figures(await runScenario(name, target, secret, { index: i + 1, of: SCENARIOS.length })));
  }
  await stopCluster();
  printSummary(results);
  const file = join(LOAD_DIR, "results.json");
  writeFileSync(file, `${JSON.stringify({ environment: ENVIRONMENT, at: new Date().toISOString(), results }, null, 2)}\n`);
  say(`written to ${file}`);
  const failed = results.filter((r) => !r.passed).map((r) => r.scenario);
  if (failed.length > 0 || interrupted) {
    say(interrupted ? "interrupted" : `failed: ${failed.join(", ")} (see the Checks of each run above)`);
    process.exitCode = 1;
  }
}

function onSignal(signal) {
  if (interrupted) return;
  interrupted = true;
  progress.fail(signal);
  say(`${signal}: stopping`);
  if (current) current.kill("SIGTERM");
  void stopCluster().then(() => process.exit(130));
}
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));
process.on("exit", () => {
  // cluster.js stops its own children on SIGTERM, even after this process is gone.
  if (cluster && cluster.exitCode === null) cluster.kill("SIGTERM");
  if (reports) rmSync(reports, { recursive: true, force: true });
});

main().catch(async (err) => {
  progress.fail();
  say(err.message);
  await stopCluster();
  process.exitCode = 1;
});
