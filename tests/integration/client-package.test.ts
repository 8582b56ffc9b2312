/**
 * The event maps as an app without the SDK gets them: @switchboard/shared and @switchboard/client
 * packed and installed into a directory of their own (with socket.io-client from the registry),
 * and tests/types/client-events.test-d.ts compiled there by the TypeScript compiler. It types a
 * plain socket.io-client socket with the maps the installed @switchboard/client declares, so its
 * published declarations must resolve without the workspace, and its `@ts-expect-error` lines
 * fail the compile if the maps came out as `any`.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installPacked } from "../helpers/emitter-package";

const ROOT = join(__dirname, "..", "..");
const FIXTURE = join(ROOT, "tests", "types", "client-events.test-d.ts");
const TSC = require.resolve("typescript/bin/tsc");

/** Compiles the fixture in `dir` with one module setting; answers the compiler's exit and output. */
function compile(dir: string, name: string, module: "node16" | "esnext", moduleResolution: "node16" | "bundler") {
  const project = join(dir, name);
  mkdirSync(project, { recursive: true });
  copyFileSync(FIXTURE, join(project, "app.ts"));
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", lib: ["ES2022", "DOM"], module, moduleResolution, strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ["app.ts"],
    }),
  );
  const run = spawnSync(process.execPath, [TSC, "-p", project], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("@switchboard/client event maps, installed from its packages", () => {
  let dir = "";

  beforeAll(() => {
    dir = installPacked("client", ["shared", "client"]).dir;
  }, 240_000);

  it("lists @switchboard/shared as a dependency, so the declarations resolve", () => {
    const installed = JSON.parse(readFileSync(join(dir, "node_modules", "@switchboard", "client", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(["@switchboard/shared", "socket.io-client"]);
  });

  it.each([
    ["CommonJS (node16)", "cjs", "node16", "node16"],
    ["ES modules (bundler)", "esm", "esnext", "bundler"],
  ] as const)("types a plain socket.io-client socket: %s", (_title, name, module, resolution) => {
    const result = compile(dir, name, module, resolution);
    expect(result).toEqual({ status: 0, output: "" });
  }, 120_000);
});
