/**
 * Real redis-server processes on free ports, which a test may kill and restart. Without
 * persistence a restart starts empty (as a crash of a cache-only Redis does); with `persistence:
 * "aof"` every write is in the append-only file before Redis answers it (`appendfsync always`), so
 * a restart on the same directory, after SHUTDOWN or even SIGKILL, keeps every acknowledged write.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, waitFor } from "./ports";

export type RedisPersistence = "none" | "aof";

export interface RedisServerOptions {
  port?: number;
  /** `aof`: appendonly with fsync before every answer, kept in the server's directory across restarts. */
  persistence?: RedisPersistence;
  args?: string[];
}

export class RedisServer {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), "sb-redis-"));

  private constructor(
    readonly port: number,
    private readonly persistence: RedisPersistence,
    private readonly extraArgs: string[],
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options.persistence ?? "none", options.args ?? []);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and directory, and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) throw new Error("redis-server is already running");
    const appendOnly = this.persistence === "aof" ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
    this.process = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", ...appendOnly, "--dir", this.dir, ...this.extraArgs],
      { stdio: "ignore" },
    );
    await waitFor(() => this.ping(), 10000, `redis-server on ${this.port}`);
  }

  async ping(): Promise<boolean> {
    const client = new Redis(this.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on("error", () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === "PONG";
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** SIGTERM: Redis shuts down as with SHUTDOWN (the AOF is flushed and fsynced). */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client for assertions; the caller disconnects it. */
  client(): Redis {
    return new Redis(this.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill(signal);
    await exited;
  }
}

/** A Redis Cluster of `size` masters (no replicas) on free ports. */
export class RedisClusterServers {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(size = 3): Promise<RedisClusterServers> {
    const servers: RedisServer[] = [];
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      servers.push(await RedisServer.start({ port, args: ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "2000"] }));
    }
    const created = spawnSync("redis-cli", ["--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`), "--cluster-replicas", "0", "--cluster-yes"], {
      encoding: "utf8",
      timeout: 30000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    const cluster = new RedisClusterServers(servers);
    await waitFor(async () => {
      const client = servers[0]!.client();
      try {
        return (await client.call("CLUSTER", "INFO"))?.toString().includes("cluster_state:ok");
      } finally {
        client.disconnect();
      }
    }, 20000, "cluster_state:ok");
    return cluster;
  }

  get nodesList(): string {
    return this.servers.map((s) => `127.0.0.1:${s.port}`).join(",");
  }

  async destroy(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.destroy()));
  }
}
