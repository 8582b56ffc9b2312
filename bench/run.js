"use strict";
/**
 * `npm run bench`: runs the benchmark suites one after the other, each a plain Node script in this
 * folder that prints its tables and writes bench/results-<suite>.json (fan-out writes
 * bench/results.json). BENCH_SUITES picks them (comma list, default: every suite present).
 * Then it prints the goals 1-5, each with the figures of the suites that ran in this invocation
 * (read from their results files) and whether it is met; a goal whose suite did not run says so.
 */
const { spawnSync } = require("node:child_process");
const { existsSync, readFileSync, statSync } = require("node:fs");
const path = require("node:path");

const SUITES = {
  fanout: "fanout.js",
  connections: "connections.js",
  bytes: "bytes.js",
  seed: "seed.js",
  docs: "docs.js",
  leaderboard: "leaderboard.js",
};
const RESULTS = { fanout: "results.json", connections: "results-connections.json", bytes: "results-bytes.json", seed: "results-seed.json" };
const wanted = (process.env.BENCH_SUITES || Object.keys(SUITES).join(",")).split(",").map((s) => s.trim()).filter(Boolean);

let failed = false;
const ran = {};
for (const name of wanted) {
  const file = SUITES[name];
  if (!file) {
    console.error(`unknown suite ${name}; suites: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
  const script = path.join(__dirname, file);
  if (!existsSync(script)) continue;
  console.log(`\n=== bench: ${name} ===`);
  const started = Date.now();
  const run = spawnSync(process.execPath, [script], { stdio: "inherit", env: process.env });
  ran[name] = { started, seconds: Math.round((Date.now() - started) / 1000), status: run.status };
  if (run.status !== 0) failed = true;
}

/** The results a suite wrote in this invocation, or a string saying why there are none. */
function results(suite) {
  if (!ran[suite]) return "not run";
  const file = path.join(__dirname, RESULTS[suite]);
  if (!existsSync(file) || statSync(file).mtimeMs < ran[suite].started) return `no results (the ${suite} suite failed before writing them)`;
  return JSON.parse(readFileSync(file, "utf8"));
}

const mark = (met) => (met ? "MET" : "NOT MET");
const x = (v) => (v === null || v === undefined ? "-" : `${Number(v).toFixed(2)}x`);
/** The fan-out's ratios, kept to 3 decimals: the suite compares them rounded once to 2 (bench/fanout-compare.js). */
const x3 = (v) => (v === null || v === undefined ? "-" : `${Number(v).toFixed(3)}x`);

function goal1(fanout) {
  const s = fanout.summary;
  if (!s) return ["needs both systems in the fan-out run"];
  if (s.referenceRate === null) return ["bare never kept p99 < 50 ms: no reference step", "NOT MET"];
  const lines = s.steps.map((st) => {
    const sb = st.switchboard;
    const hist = sb && sb.history ? `${sb.history.checked - sb.history.missing}/${sb.history.checked} acked publishes in history` : "history not verified";
    return (
      `${st.rate}/s: ${sb ? sb.deliveredPerSec : 0} vs bare ${st.bare.deliveredPerSec} deliveries/s = ${x3(st.ratio)} ` +
      `(received in the window: ${sb ? sb.deliveriesPerSec : 0} vs ${st.bare.deliveriesPerSec}), p99 ${sb ? sb.p99 : "-"} ms, lost ${sb ? sb.lostDeliveries : "-"}, ${hist} -> ${st.met ? "ok" : "not ok"}`
    );
  });
  return [
    `steps up to ${s.referenceRate}/s (bare p99 < 50 ms up to there); deliveries/s of each window's own publishes:`,
    ...lines.map((l) => `  ${l}`),
    mark(s.meetsTarget),
  ];
}

function goal2(fanout) {
  const sat = fanout.summary && fanout.summary.saturation;
  if (!sat) return ["needs both systems in the fan-out run"];
  return [
    `bare saturates at ${sat.rate}/s with ${sat.bare.deliveriesPerSec} deliveries/s received in the window${sat.reached ? "" : " (it did not fall behind within the rates run: raise BENCH_RATES)"}` +
      `${sat.generatorBound ? ` (the bench process used ${sat.generatorCores} cores there: the load generator limits it too)` : ""}; ` +
      `Switchboard ${sat.switchboard && sat.switchboard.bestBelow ? `fell behind below that rate; its best, at ${sat.switchboard.atRate}/s,` : "at that rate"} ` +
      `${sat.switchboard ? sat.switchboard.deliveriesPerSec : 0} deliveries/s = ${x3(sat.ratio)}`,
    mark(sat.met && sat.reached),
  ];
}

function goal3(bytes) {
  const s = bytes.summary;
  if (!s) return ["needs Switchboard in the bytes run"];
  const row = (r) =>
    r.nodes > 1 ? `${r.nodes} nodes: members' node ${r.membersNode} B, each other node <= ${r.otherMax} B, total ${r.total} B` : `1 node: ${r.membersNode} B`;
  return [
    "Redis -> node bytes per published message, every member on one node:",
    ...s.switchboard.map((r) => `  Switchboard ${row(r)}`),
    ...(s.bare || []).map((r) => `  bare        ${row(r)}`),
    `other nodes read 0 of the rooms' traffic (< ${s.zeroBytesBelow} B per message after background): ${s.otherNodesZero ? "yes" : "no"}`,
    mark(s.otherNodesZero),
  ];
}

function goal4(seed) {
  if (!seed.headline) return ["the seed suite ran only some workloads (BENCH_SEED_WORKLOADS)"];
  const full = seed.fullRate
    ? Object.entries(seed.fullRate).map(
        ([name, r]) => `  ${name} ${r.rate}/s: ${r.p95 === null ? "-" : `p95 ${r.p95} ms`} (target <= ${r.target} ms) ${r.met ? "ok" : `not ok: ${r.reasons.join("; ")}`}`,
      )
    : ["  the full rates were not run"];
  const h = seed.headline;
  const runs = seed.runs.map((r) => `${r.fraction}${r.pass ? " met" : " not"}`).join(", ");
  return [
    "p95 at the full rates, all five at once on 3 nodes:",
    ...full,
    `fractions tried: ${runs}`,
    h.fraction !== null ? `HEADLINE: ${h.fraction}x of the full rates sustained together with every p95 met` : `HEADLINE: none of the fractions tried (down to ${h.smallestFailed}x) met every p95`,
    ...(seed.bareReference
      ? [
          `bare Socket.IO at ${seed.bareReference.fraction}x (reference, same workers): ` +
            Object.entries(seed.bareReference.workloads)
              .map(([name, r]) => `${name} p95 ${r.p95} ms (<= ${r.target}: ${r.met ? "met" : "not met"})`)
              .join(", "),
        ]
      : []),
    mark(h.fraction === 1),
  ];
}

function goal5(conn) {
  const s = conn.summary;
  if (!s) return ["needs both systems in the connections run"];
  const sb = conn.results.switchboard;
  const bare = conn.results.bare;
  return [
    `memory per idle connection (RSS, ${sb.clients} clients): Switchboard ${sb.rssKiBPerConnection} KiB vs bare ${bare.rssKiBPerConnection} KiB = ${x(s.memoryRatio)} (target <= ${s.memoryTarget}x) -> ${s.memoryMet ? "ok" : "not ok"}`,
    `connect rate (JWT + presence vs bare, ${sb.concurrency} at once): ${sb.connectsPerSec} vs ${bare.connectsPerSec} connects/s = ${x(s.rateRatio)} (target >= ${s.rateTarget}x) -> ${s.rateMet ? "ok" : "not ok"}`,
    ...(s.cpuUsPerConnect
      ? [`  CPU per connect, node + its helper threads + redis + client: Switchboard ${s.cpuUsPerConnect.switchboard} µs vs bare ${s.cpuUsPerConnect.bare} µs (the processes share the cores)`]
      : []),
    mark(s.memoryMet && s.rateMet),
  ];
}

const GOALS = [
  ["1. up to bare's p99 < 50 ms rate: >= 1.0x bare's deliveries/s, p99 < 50 ms, every acked publish in history", "fanout", goal1],
  ["2. at bare's saturation rate: >= 1.0x bare's throughput", "fanout", goal2],
  ["3. a node receives only what it delivers (Redis -> node bytes, 1/3/6 nodes)", "bytes", goal3],
  ["4. the seed's service table, all five at once on 3 nodes", "seed", goal4],
  ["5. memory per idle connection <= 1.2x bare, connect rate >= 0.8x bare", "connections", goal5],
];

if (Object.keys(ran).length > 0) {
  console.log(`\n=== Goals (${Object.entries(ran).map(([n, r]) => `${n} ${r.seconds} s`).join(", ")}) ===`);
  for (const [title, suite, describe] of GOALS) {
    console.log(`\n${title}`);
    const res = results(suite);
    const lines = typeof res === "string" ? [res] : describe(res);
    for (const line of lines) console.log(`  ${line}`);
  }
}
process.exit(failed ? 1 : 0);
