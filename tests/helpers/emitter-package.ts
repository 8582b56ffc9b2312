/**
 * Workspace packages as their users get them: `npm pack` of their built dist, installed into a
 * directory outside the repository with nothing else but their runtime dependencies from the
 * registry (installPacked). The emitter (@switchboard/shared, @switchboard/store and
 * @switchboard/emitter) is then driven from a child `node` process over stdin/stdout.
 *
 * The install is cached in the temp dir under a hash of what was packed, so reruns with an
 * unchanged build skip npm entirely.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(__dirname, "..", "..");

/** Every file npm pack takes (package.json and dist) of `packages`, hashed. */
function contentHash(packages: readonly string[]): string {
  const hash = createHash("sha256");
  const walk = (dir: string, base: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path, base);
      else if (!entry.endsWith(".tsbuildinfo")) hash.update(relative(base, path)).update(readFileSync(path));
    }
  };
  for (const pkg of packages) {
    hash.update(readFileSync(join(pkg, "package.json")));
    walk(join(pkg, "dist"), pkg);
  }
  return hash.digest("hex").slice(0, 16);
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): string {
  // The child npm must not inherit npm's own settings of the jest run (workspace, prefix…).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: timeoutMs });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** The child's program: one JSON request a line in, one JSON answer a line out. */
const RUNNER = `"use strict";
const { createInterface } = require("node:readline");
const { SwitchboardEmitter } = require("@switchboard/emitter");
const canResolve = (name) => { try { require.resolve(name); return true; } catch { return false; } };
const sb = new SwitchboardEmitter(JSON.parse(process.argv[2]));
const reply = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
createInterface({ input: process.stdin }).on("line", async (line) => {
  const { id, target, method, args } = JSON.parse(line);
  try {
    let result;
    if (method === "probe") {
      result = { emitter: require.resolve("@switchboard/emitter"), server: canResolve("@switchboard/server"), socketIo: canResolve("socket.io"), jest: canResolve("jest") };
    } else {
      const on = target ? sb[target[0]](target[1]) : sb;
      result = await on[method](...args);
    }
    reply({ id, ok: true, result: result === undefined ? null : result });
    if (method === "close") process.exit(0);
  } catch (err) {
    reply({ id, ok: false, error: { name: err.name, code: err.code, message: err.message } });
  }
});
`;

/**
 * `npm pack` of the workspace packages in `packages` (directories under the repository root),
 * installed into a directory of the temp dir named after `label` with nothing else but their
 * runtime dependencies from the registry; reused while what was packed is unchanged. `prepare`
 * adds files to a fresh install. Answers the directory.
 */
export function installPacked(label: string, packages: readonly string[], prepare: (dir: string) => void = () => undefined): { dir: string; reused: boolean } {
  const dirs = packages.map((pkg) => join(ROOT, pkg));
  const dir = join(tmpdir(), `sb-${label}-install-${contentHash(dirs)}`);
  const marker = join(dir, "installed.ok");
  if (existsSync(marker)) return { dir, reused: true };
  // Installs of earlier builds are of no more use.
  for (const entry of readdirSync(tmpdir())) if (entry.startsWith(`sb-${label}-install-`)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tarballs = dirs.map((pkg) => join(dir, run("npm", ["pack", "--silent", "--pack-destination", dir], pkg, 60_000).trim().split("\n").pop()!));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `${label}-consumer`, private: true, version: "1.0.0" }));
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", ...tarballs], dir, 180_000);
  prepare(dir);
  writeFileSync(marker, new Date().toISOString());
  return { dir, reused: false };
}

/** Installs (or reuses) the packed emitter; answers the directory. */
export function installEmitterPackage(): { dir: string; reused: boolean } {
  return installPacked("emitter", ["shared", "store", "emitter-client"], (dir) => writeFileSync(join(dir, "runner.js"), RUNNER));
}

export interface EmitterCallError {
  name: string;
  code?: string;
  message: string;
}

/** A child process running the installed emitter. */
export class EmitterProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error & Partial<EmitterCallError>) => void }>();
  private readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const message = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: EmitterCallError };
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(Object.assign(new Error(message.error!.message), message.error));
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    void this.exited.then(() => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the emitter process exited: ${this.stderr.join("")}`));
      this.pending.clear();
    });
  }

  /** Starts `node runner.js` in `dir` with only PATH in its environment. */
  static start(dir: string, options: object): EmitterProcess {
    const child = spawn(process.execPath, ["runner.js", JSON.stringify(options)], { cwd: dir, env: { PATH: process.env.PATH }, stdio: ["pipe", "pipe", "pipe"] });
    return new EmitterProcess(child);
  }

  /** Calls `method` on the emitter (or on `emitter[target[0]](target[1])`) in the child. */
  call<T = unknown>(target: [string, string] | null, method: string, ...args: unknown[]): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, target, method, args })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.call(null, "close").catch(() => undefined);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
