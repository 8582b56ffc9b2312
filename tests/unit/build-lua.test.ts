/**
 * store/scripts/build-lua.mjs: the build step that turns store/lua/**\/*.lua into
 * store/src/lua.generated.ts. Includes expand in place and once per script; cycles, missing
 * files and unknown directives stop the build; the store's dist carries what store/lua says.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const BUILD = join(ROOT, "store", "scripts", "build-lua.mjs");
const LUA_DIR = join(ROOT, "store", "lua");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sb-build-lua-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const root = join(dir, "lua");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function build(root: string) {
  const out = join(dir, "lua.generated.ts");
  const result = spawnSync(process.execPath, [BUILD, root, out], { encoding: "utf8" });
  return { status: result.status, stderr: result.stderr, out };
}

/** The scripts as the generator sees them, through its exported function. */
function scriptsOf(root: string): Record<string, string> {
  const code = `import { buildScripts } from ${JSON.stringify(BUILD)}; process.stdout.write(JSON.stringify(buildScripts(${JSON.stringify(root)})));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as Record<string, string>;
}

describe("build-lua", () => {
  it("expands includes in place, once per script, and names scripts by path; lib/ is not a script", () => {
    const root = tree({
      "lib/a.lua": "local a = 1\n",
      "lib/b.lua": "--#include lib/a.lua\nlocal b = a + 1\n",
      "x/op.lua": "-- header\n--#include lib/b.lua\n--#include lib/a.lua\nreturn b\n",
    });
    expect(scriptsOf(root)).toEqual({ "x/op": "-- header\nlocal a = 1\nlocal b = a + 1\nreturn b\n" });
    const { status, out } = build(root);
    expect(status).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toContain('export type LuaScriptName =\n  | "x/op";');
    expect(text).toContain('"x/op": "-- header\\nlocal a = 1\\nlocal b = a + 1\\nreturn b\\n",');
  });

  it("leaves an up-to-date output untouched", () => {
    const root = tree({ "x/op.lua": "return 1\n" });
    const { out } = build(root);
    const before = statSync(out).mtimeMs;
    spawnSync("sleep", ["0.05"]);
    expect(build(root).status).toBe(0);
    expect(statSync(out).mtimeMs).toBe(before);
  });

  it("refuses an include cycle, naming it", () => {
    const root = tree({
      "lib/a.lua": "--#include lib/b.lua\n",
      "lib/b.lua": "--#include lib/a.lua\n",
      "x/op.lua": "--#include lib/a.lua\nreturn 1\n",
    });
    const { status, stderr } = build(root);
    expect(status).toBe(1);
    expect(stderr).toMatch(/include cycle: .*lib\/a\.lua -> lib\/b\.lua -> lib\/a\.lua/);
  });

  it("refuses a script that includes itself", () => {
    const { status, stderr } = build(tree({ "x/op.lua": "--#include x/op.lua\n" }));
    expect(status).toBe(1);
    expect(stderr).toContain("include cycle: x/op.lua -> x/op.lua");
  });

  it("refuses a missing file, with the file and line that include it", () => {
    const { status, stderr } = build(tree({ "x/op.lua": "-- header\n--#include lib/nope.lua\n" }));
    expect(status).toBe(1);
    expect(stderr).toContain("store/lua/x/op.lua:2: included file lib/nope.lua does not exist");
  });

  it("refuses a path outside the Lua root", () => {
    const { status, stderr } = build(tree({ "x/op.lua": "--#include ../secret.lua\n" }));
    expect(status).toBe(1);
    expect(stderr).toContain("store/lua/x/op.lua:1: ../secret.lua is outside store/lua");
  });

  it("refuses an unknown directive", () => {
    const { status, stderr } = build(tree({ "x/op.lua": "--#inclde lib/a.lua\n" }));
    expect(status).toBe(1);
    expect(stderr).toContain("store/lua/x/op.lua:1: unknown directive --#inclde");
  });

  it("builds store/lua: every script documents KEYS/ARGV and its reply, and the store's dist carries them", () => {
    const scripts = scriptsOf(LUA_DIR);
    const files = (d: string): string[] =>
      readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? files(join(d, e)) : [relative(LUA_DIR, join(d, e))]));
    const scriptFiles = files(LUA_DIR).filter((f) => f.endsWith(".lua") && !f.startsWith("lib/"));
    expect(Object.keys(scripts).sort()).toEqual(scriptFiles.map((f) => f.replace(/\.lua$/, "")).sort());
    for (const file of scriptFiles) {
      const header = readFileSync(join(LUA_DIR, file), "utf8").split("\n").filter((l) => l.startsWith("--") && !l.startsWith("--#"));
      expect({ file, returns: header.some((l) => /^-- (Returns|Refused|Added)/.test(l)) }).toEqual({ file, returns: true });
    }
    for (const source of Object.values(scripts)) expect(source).not.toMatch(/^--#|\$\{/m);
    // The built store (what npm pack ships) holds these very scripts.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LUA } = require(join(ROOT, "store", "dist", "lua.generated.js")) as { LUA: Record<string, string> };
    expect(LUA).toEqual(scripts);
  });
});
