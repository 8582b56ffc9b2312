#!/usr/bin/env node
// The tests start real redis-server and nginx processes, drive the demo page in Debian's
// chromium (tests/e2e, through playwright-core), and docker-compose validates the cluster file
// when it can be installed. Installs what is missing with apt-get when possible, otherwise says
// exactly what to run. Nothing is run when everything is there already.
const { execSync, spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");

const needed = [
  { bin: "redis-server", pkg: "redis-server", required: true },
  { bin: "nginx", pkg: "nginx", required: true, paths: ["/usr/sbin/nginx"] },
  // The browser test launches this exact binary (or CHROMIUM_PATH); playwright's own download is not used.
  { bin: "chromium", pkg: "chromium", required: true, only: process.env.CHROMIUM_PATH || "/usr/bin/chromium" },
  { bin: "docker-compose", pkg: "docker-compose", required: false },
];
const has = (n) =>
  n.only ? existsSync(n.only) : spawnSync("sh", ["-c", `command -v ${n.bin}`]).status === 0 || (n.paths ?? []).some((p) => existsSync(p));
const aptGet = () => {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const sudo = !isRoot && spawnSync("sh", ["-c", "command -v sudo"]).status === 0 ? "sudo -n " : "";
  if (!isRoot && !sudo) return undefined;
  if (spawnSync("sh", ["-c", "command -v apt-get"]).status !== 0) return undefined;
  return sudo;
};

const missing = needed.filter((n) => !has(n));
if (missing.length === 0) process.exit(0);

const sudo = aptGet();
if (sudo !== undefined) {
  const pkgs = missing.map((m) => m.pkg).join(" ");
  console.log(`[switchboard] installing ${pkgs} for the tests…`);
  try {
    execSync(`${sudo}apt-get update -qq`, { stdio: "inherit" });
  } catch {
    // the install below reports the failure
  }
  for (const m of missing) {
    try {
      execSync(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${m.pkg}`, { stdio: "inherit" });
    } catch {
      // reported below
    }
  }
}

const still = needed.filter((n) => !has(n));
for (const n of still.filter((s) => !s.required)) {
  console.log(`[switchboard] optional ${n.bin} is not installed (sudo apt-get install -y ${n.pkg}); its checks are skipped`);
}
const required = still.filter((s) => s.required);
if (required.length === 0) process.exit(0);
const pkgs = required.map((m) => m.pkg).join(" ");
console.error(`[switchboard] the tests need: ${pkgs}\n  install with: sudo apt-get install -y ${pkgs}`);
process.exit(1);
