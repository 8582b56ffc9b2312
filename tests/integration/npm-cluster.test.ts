/**
 * `npm run cluster` (scripts/cluster.js) for real: redis-server, three nodes and nginx on free
 * ports, each child's lines prefixed with its name, the environment passed to the nodes, a node
 * that dies reported while the rest keep serving, and SIGTERM leaving nothing behind: every
 * process (nginx workers included) gone, the ports closed, the temporary directory removed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { closeClients, connect } from "../helpers/clients";
import { freePort, waitFor } from "../helpers/ports";
import { TEST_SECRET } from "../helpers/tokens";

jest.setTimeout(45000);

const SCRIPT = join(__dirname, "..", "..", "scripts", "cluster.js");

interface ClusterState {
  entry: string;
  balancer: boolean;
  nodes: { name: string; url: string; pid: number }[];
  redis: string;
  pids: Record<string, number>;
  tmp: string;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A base port whose next three ports are free as well (bounded attempts). */
async function freeRange(size: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort();
    if (base + size > 65535) continue;
    let ok = true;
    for (let i = 1; i <= size && ok; i++) ok = await canListen(base + i);
    if (ok) return base;
  }
  throw new Error("no free range of ports");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose parent is `pid` (nginx's workers). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

describe("npm run cluster", () => {
  let script: ChildProcess | undefined;
  let output = "";
  let state: ClusterState;
  let basePort = 0;

  beforeAll(async () => {
    basePort = await freeRange(3);
    script = spawn(process.execPath, [SCRIPT], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CLUSTER_PORT: String(basePort), JWT_SECRET: TEST_SECRET, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    script.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    script.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const line = await waitFor(
      () => {
        if (script!.exitCode !== null) throw new Error(`cluster.js exited with ${script!.exitCode}:\n${output}`);
        return /^\[cluster\] state (.*)$/m.exec(output)?.[1];
      },
      30000,
      "the cluster to be ready",
      100,
    );
    state = JSON.parse(line) as ClusterState;
  });

  afterAll(async () => {
    closeClients();
    if (script && script.exitCode === null && script.signalCode === null) {
      script.kill("SIGKILL"); // its exit handler kills the process groups it started
    }
  });

  it("runs redis, three nodes and nginx on CLUSTER_PORT with prefixed logs and the given environment", async () => {
    expect(state.balancer).toBe(true);
    expect(state.entry).toBe(`http://127.0.0.1:${basePort}`);
    expect(state.nodes.map((n) => n.url)).toEqual([1, 2, 3].map((i) => `http://127.0.0.1:${basePort + i}`));
    expect(existsSync(state.tmp)).toBe(true);

    const health = await fetch(`${state.entry}/health`);
    expect(health.status).toBe(200);
    expect(state.nodes.map((n) => n.name)).toContain(((await health.json()) as { nodeId: string }).nodeId);
    expect((await fetch(`${state.entry}/metrics`)).status).toBe(404);
    for (const node of state.nodes) {
      const reply = (await (await fetch(`${node.url}/health/ready`)).json()) as { nodeId: string; engine: string };
      expect(reply).toMatchObject({ nodeId: node.name, engine: "redis" });
    }

    for (const name of ["node-1", "node-2", "node-3"]) {
      expect(output).toMatch(new RegExp(`^\\[${name}\\]\\s+\\{.*"nodeId":"${name}"`, "m"));
    }
    // Its progress, on a pipe: a plain line per step start and end, no control character.
    expect(output).toMatch(/^\[cluster\] starting redis-server \(1\/3\): started$/m);
    expect(output).toMatch(/^\[cluster\] starting 3 nodes \(2\/3\): done in \d+\.\d s, 3\/3 ready$/m);
    expect(output).toMatch(/^\[cluster\] starting nginx \(3\/3\): done in \d+\.\d s$/m);
    // eslint-disable-next-line no-control-regex
    expect(output).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    // JWT_SECRET reached the nodes: a token signed with it is accepted through nginx.
    const client = await connect(state.entry, { tokenOptions: { sub: "cluster-user" } });
    expect(state.nodes.map((n) => n.name)).toContain(client.session!.nodeId);
    // The demo page signs in: outside production the nodes get DEV_TOKENS=1 and mint tokens.
    const minted = await fetch(`${state.entry}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "demo-user" }) });
    expect(minted.status).toBe(200);
    const demo = await connect(state.entry, { token: ((await minted.json()) as { token: string }).token });
    expect(demo.session).toMatchObject({ userId: "demo-user" });
  });

  it("reports a node that dies and keeps serving with the others", async () => {
    process.kill(state.pids["node-2"]!, "SIGKILL");
    await waitFor(() => /\[cluster\] node-2 exited \(code null, signal SIGKILL\); the other nodes keep serving/.test(output), 5000, "the report");
    expect((await fetch(`${state.entry}/health`)).status).toBe(200);
    expect((await fetch(state.nodes[0]!.url + "/health")).status).toBe(200);
  });

  it("stops everything on SIGTERM and leaves nothing behind", async () => {
    const workers = childrenOf(state.pids.nginx!);
    expect(workers.length).toBeGreaterThan(0);
    const pids = [...Object.values(state.pids), ...workers];
    const exited = new Promise<number | null>((resolve) => script!.once("exit", (code) => resolve(code)));
    script!.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toMatch(/\[cluster\] SIGTERM: stopping/);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(state.tmp)).toBe(false);
    for (const port of [basePort, basePort + 1, basePort + 2, basePort + 3]) expect([port, await refused(port)]).toEqual([port, true]);
    const redisPort = Number(new URL(state.redis).port);
    expect(await refused(redisPort)).toBe(true);
  });
});
