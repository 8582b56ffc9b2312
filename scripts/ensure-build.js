#!/usr/bin/env node
// Installs dependencies when node_modules is missing, then builds (tsc -b only rebuilds what changed).
// Used by `npm start` and `npm test` so that both work on a fresh clone.
const { execSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..");
const run = (cmd) => execSync(cmd, { cwd: root, stdio: "inherit" });

const linked = (pkg) => existsSync(join(root, "node_modules", pkg));
// Every workspace must be linked: a checkout that gained a workspace since its last install needs one.
if (!["typescript", "esbuild", "@switchboard/shared", "@switchboard/store", "@switchboard/server", "@switchboard/emitter", "@switchboard/client"].every(linked)) {
  console.log("[switchboard] installing dependencies (npm ci)…");
  run("npm ci --no-audit --no-fund");
}
// store/src/lua.generated.ts (gitignored) from store/lua: the store imports its Lua scripts from it.
run("node store/scripts/build-lua.mjs");
run("npx tsc -b");
// The client SDK's browser bundle (esbuild, well under a second), served by every node at /sdk/.
run("node client/scripts/bundle.mjs");
