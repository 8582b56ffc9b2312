#!/usr/bin/env node
// The tests start real redis-server processes (and later nginx and Chromium). Installs what is
// missing with apt-get when possible, otherwise says exactly what to run.
const { execSync, spawnSync } = require("node:child_process");

const needed = [{ bin: "redis-server", pkg: "redis-server" }];
const has = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
const missing = needed.filter((n) => !has(n.bin));
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((m) => m.pkg).join(" ");
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const sudo = !isRoot && has("sudo") ? "sudo -n " : "";
if ((isRoot || sudo) && has("apt-get")) {
  console.log(`[switchboard] installing ${pkgs} for the tests…`);
  try {
    execSync(`${sudo}apt-get update -qq && ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs}`, { stdio: "inherit" });
    process.exit(0);
  } catch {
    // fall through to the message below
  }
}
console.error(`[switchboard] the tests need: ${pkgs}\n  install it with: sudo apt-get install -y ${pkgs}`);
process.exit(1);
