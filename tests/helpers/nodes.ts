/**
 * Switchboard nodes for tests: in-process (fast, inspectable) or as child processes of
 * server/dist/main.js (real signals, SIGKILL, exit codes, log lines).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createLogger, loadConfig, SwitchboardNode } from "@switchboard/server";
import { closeClients } from "./clients";
import { freePort, waitFor } from "./ports";
import { TEST_SECRET } from "./tokens";

export const MAIN = join(__dirname, "..", "..", "server", "dist", "main.js");

let counter = 0;
const nextNodeId = () => `test-${process.pid}-${++counter}`;

/** Test defaults: quick heartbeats so liveness tests stay short. */
export function testEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  const merged: Record<string, string | undefined> = {
    NODE_ENV: "test",
    JWT_SECRET: TEST_SECRET,
    HOST: "127.0.0.1",
    PORT: "0",
    NODE_ID: nextNodeId(),
    LOG_LEVEL: "error",
    HEARTBEAT_INTERVAL_MS: "1000",
    HEARTBEAT_TIMEOUT_MS: "1500",
    ...env,
  };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
}

/** An in-process node; `engineWaitMs` bounds how long start() waits for Redis. */
export async function startNode(
  env: Record<string, string | undefined> = {},
  options: { engineWaitMs?: number; pushCa?: string } = {},
): Promise<SwitchboardNode> {
  const config = loadConfig(testEnv(env));
  const logger = createLogger({ nodeId: config.nodeId, level: config.logLevel, silent: !process.env.SB_TEST_LOGS });
  const pushTransport = options.pushCa === undefined ? undefined : { extraCa: options.pushCa };
  return new SwitchboardNode(config, { logger, engineWaitMs: options.engineWaitMs ?? 5000, pushTransport }).start();
}

/**
 * One in-process node for the tests of a describe block: started before them; after them its
 * clients are closed and it shuts down. Call the returned function inside a test.
 */
export function inProcessNode(env: Record<string, string | undefined> = {}): () => SwitchboardNode {
  let node: SwitchboardNode | undefined;
  beforeAll(async () => {
    node = await startNode(env);
  });
  afterAll(async () => {
    closeClients();
    await node?.shutdown();
  });
  return () => node!;
}

export class NodeProcess {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly nodeId: string,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => this.lines.push(...chunk.split("\n").filter(Boolean)));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** Spawns a node; waits for /health unless `wait` is false. */
  static async spawn(env: Record<string, string | undefined> = {}, wait = true): Promise<NodeProcess> {
    const port = Number(env.PORT ?? (await freePort()));
    const full = testEnv({ LOG_LEVEL: "info", ...env, PORT: String(port) });
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, ...full }, stdio: ["ignore", "pipe", "pipe"] });
    const node = new NodeProcess(child, port, full.NODE_ID!);
    if (wait) {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}: ${node.stderr.join("")}`);
          return (await fetch(`${node.url}/health`)).ok;
        },
        15000,
        `node ${node.nodeId} /health`,
      );
    }
    return node;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Parsed JSON log lines. */
  logs(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * One node of a cluster as a supervisor runs it: a process on a fixed port and NODE_ID, which a
 * test kills and starts again (the same URL and id, as a restarted container). Exits nobody asked
 * for are kept in `crashes`, and the log lines of every process it ran in `logs()`.
 */
export class NodeSlot {
  private readonly processes: NodeProcess[] = [];
  private expectedExit = false;
  /** Exits nobody asked for, with the end of the process's stderr. */
  readonly crashes: string[] = [];

  constructor(
    readonly nodeId: string,
    readonly port: number,
    private readonly env: Record<string, string | undefined>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.expectedExit = false;
    const node = await NodeProcess.spawn({ ...this.env, NODE_ID: this.nodeId, PORT: String(this.port) });
    this.processes.push(node);
    void node.exited.then(({ code, signal }) => {
      if (!this.expectedExit && this.processes.at(-1) === node) this.crashes.push(`${this.nodeId} exited (code ${code}, signal ${signal}): ${node.stderr.join("").slice(-2000)}`);
    });
  }

  /** Ends the running process (SIGKILL unless told otherwise) and waits for its exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.expectedExit = true;
    await this.processes.at(-1)?.kill(signal);
  }

  /** The JSON log lines of every process this slot ran, each with `process`: `<nodeId>#<n>`. */
  logs(): Record<string, unknown>[] {
    return this.processes.flatMap((p, i) => p.logs().map((line) => ({ process: `${this.nodeId}#${i + 1}`, ...line })));
  }
}
