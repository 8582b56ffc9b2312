/**
 * `POST /dev/token` mints a token for any user, so a node serves it only when DEV_TOKENS=1 (which
 * `npm start` and `npm run cluster` set for the demo page, and which production refuses, see
 * tests/unit/config.test.ts). Without it the path is the protocol's NOT_FOUND, NODE_ENV unset
 * included.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, connect } from "../helpers/clients";
import { startNode } from "../helpers/nodes";
import { freePort, waitFor } from "../helpers/ports";

const ROOT = join(__dirname, "..", "..");

function mint(url: string, userId: string): Promise<Response> {
  return fetch(`${url}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId }) });
}

describe("POST /dev/token", () => {
  const nodes: SwitchboardNode[] = [];
  afterEach(async () => {
    closeClients();
    await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  });

  it("is not served without DEV_TOKENS, even with NODE_ENV unset", async () => {
    const node = await startNode({ NODE_ENV: undefined, DEV_TOKENS: undefined });
    nodes.push(node);
    expect([node.config.nodeEnv, node.config.devTokens]).toEqual(["development", false]);
    const res = await mint(node.url, "mallory");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "no route for POST /dev/token" } });
  });

  it("mints a token a socket.io client connects with when DEV_TOKENS=1", async () => {
    const node = await startNode({ NODE_ENV: undefined, DEV_TOKENS: "1" });
    nodes.push(node);
    const res = await mint(node.url, "alice");
    expect(res.status).toBe(200);
    const { token, expiresIn } = (await res.json()) as { token: string; expiresIn: number };
    expect(expiresIn).toBe(3600);
    const socket = await connect(node.url, { token });
    expect(socket.session).toMatchObject({ userId: "alice", nodeId: node.nodeId });
  });
});

describe("npm start", () => {
  const { start } = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  let child: ChildProcess | undefined;

  afterEach(async () => {
    closeClients();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      process.kill(-child.pid!, "SIGTERM");
      await exited;
    }
    child = undefined;
  });

  /** Runs the start script as npm does (sh -c, in the repository), without its build step. */
  async function runStart(env: Record<string, string> = {}): Promise<{ url: string; lines: string[] }> {
    const port = await freePort();
    const lines: string[] = [];
    child = spawn("sh", ["-c", start!], { cwd: ROOT, env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok, 15000, "npm start's node");
    return { url, lines };
  }

  it("serves the demo page's token minting on a fresh clone (no environment), and says so in a warning", async () => {
    const { url, lines } = await runStart();
    const res = await mint(url, "newcomer");
    expect(res.status).toBe(200);
    const socket = await connect(url, { token: ((await res.json()) as { token: string }).token });
    expect(socket.session).toMatchObject({ userId: "newcomer" });
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /DEV_TOKENS is set/.test(String(l.message)));
    expect(warning).toMatchObject({ level: "warn", event: "config" });
  });

  it("starts a production node without it", async () => {
    const { url } = await runStart({ NODE_ENV: "production", JWT_SECRET: "p".repeat(32) });
    expect((await mint(url, "newcomer")).status).toBe(404);
  });

  it("leaves it off with DEV_TOKENS=0", async () => {
    const { url } = await runStart({ DEV_TOKENS: "0" });
    expect((await mint(url, "newcomer")).status).toBe(404);
  });
});
