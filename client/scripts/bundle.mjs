#!/usr/bin/env node
// Builds the browser bundle (dist/switchboard-client.js: an IIFE exposing `Switchboard`, with
// socket.io-client taken from the global `io` a node serves) and marks dist/esm as ES modules.
// `--report` prints the gzip sizes: the SDK's own code, and the same with socket.io-client bundled.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
mkdirSync(join(dist, "esm"), { recursive: true });
writeFileSync(join(dist, "esm", "package.json"), '{ "type": "module", "sideEffects": false }\n');

const common = { absWorkingDir: root, bundle: true, minify: true, format: "iife", globalName: "Switchboard", target: "es2020", legalComments: "none", logLevel: "warning" };
const sdk = await build({
  ...common,
  entryPoints: [join(root, "src", "browser.ts")],
  outfile: join(dist, "switchboard-client.js"),
  sourcemap: "linked",
  metafile: true,
  write: true,
});
const inputs = Object.keys(sdk.metafile.inputs);
const foreign = inputs.filter((p) => !p.startsWith("src/"));
if (foreign.length > 0) throw new Error(`the browser bundle must hold only the SDK's own code; it pulled in: ${foreign.join(", ")}`);

if (process.argv.includes("--report")) {
  const gz = (text) => gzipSync(text, { level: 9 }).length;
  const own = sdk.outputFiles ?? [];
  const { readFileSync } = await import("node:fs");
  const code = own.length ? own[0].text : readFileSync(join(dist, "switchboard-client.js"), "utf8");
  const full = await build({ ...common, entryPoints: [join(root, "src", "index.ts")], write: false, globalName: "Switchboard" });
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`switchboard-client.js (SDK only): ${kib(code.length)} minified, ${kib(gz(code))} gzip`);
  console.log(`with socket.io-client bundled:     ${kib(full.outputFiles[0].text.length)} minified, ${kib(gz(full.outputFiles[0].text))} gzip`);
}
