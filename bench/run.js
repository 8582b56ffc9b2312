"use strict";
/**
 * `npm run bench`: runs the benchmark suites one after the other, each a plain Node script in this
 * folder that prints its tables and writes bench/results-<suite>.json (fan-out writes
 * bench/results.json). BENCH_SUITES picks them (comma list, default: every suite present).
 */
const { spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const path = require("node:path");

const SUITES = { fanout: "fanout.js", docs: "docs.js", leaderboard: "leaderboard.js", connections: "connections.js", bytes: "bytes.js", seed: "seed.js" };
const wanted = (process.env.BENCH_SUITES || Object.keys(SUITES).join(",")).split(",").map((s) => s.trim()).filter(Boolean);

let failed = false;
for (const name of wanted) {
  const file = SUITES[name];
  if (!file) {
    console.error(`unknown suite ${name}; suites: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
  const script = path.join(__dirname, file);
  if (!existsSync(script)) continue;
  console.log(`\n=== bench: ${name} ===`);
  const run = spawnSync(process.execPath, [script], { stdio: "inherit", env: process.env });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
