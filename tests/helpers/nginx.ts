/**
 * A real nginx in front of test nodes: the repository's nginx.conf rendered for 127.0.0.1 ports
 * (scripts/lib/nginx.js, the same renderer `npm run cluster` uses), a private prefix in a temp
 * directory, a free port, run in the foreground so the test owns the master process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNginx, renderNginxConf, type NginxNode } from "../../scripts/lib/nginx";
import { freePort, waitFor } from "./ports";

export interface NginxOptions {
  /** The upstream of the public listener (sticky by client address, as in production). */
  nodes: NginxNode[];
  /** Extra listeners, each proxying only to its own nodes (to put a client on a chosen node through nginx). */
  extraServers?: { nodes: NginxNode[] }[];
}

export function requireNginx(): string {
  const bin = findNginx();
  if (!bin) throw new Error("nginx is not installed; these tests need it: apt-get install -y nginx (npm test installs it when it can)");
  return bin;
}

export class NginxProcess {
  private readonly output: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    private readonly master: ChildProcess,
    readonly prefix: string,
    readonly port: number,
    readonly extraPorts: number[],
  ) {
    master.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.output.push(chunk));
    this.exited = new Promise((resolve) => master.once("exit", () => resolve()));
  }

  static async start(options: NginxOptions): Promise<NginxProcess> {
    const bin = requireNginx();
    const port = await freePort();
    const extraPorts: number[] = [];
    for (let i = 0; i < (options.extraServers ?? []).length; i++) extraPorts.push(await freePort());
    const prefix = mkdtempSync(join(tmpdir(), "sb-nginx-"));
    // Workers drop to nobody when the master runs as root; they must reach the temp dirs.
    chmodSync(prefix, 0o755);
    const conf = renderNginxConf({
      nodes: options.nodes,
      listen: `127.0.0.1:${port}`,
      extraServers: (options.extraServers ?? []).map((s, i) => ({ listen: `127.0.0.1:${extraPorts[i]}`, nodes: s.nodes })),
    });
    writeFileSync(join(prefix, "nginx.conf"), conf);
    const master = spawn(bin, ["-c", join(prefix, "nginx.conf"), "-p", `${prefix}/`, "-e", "stderr", "-g", "daemon off;"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const nginx = new NginxProcess(master, prefix, port, extraPorts);
    try {
      await waitFor(
        async () => {
          if (master.exitCode !== null) throw new Error(`nginx exited with ${master.exitCode}: ${nginx.log()}`);
          return (await fetch(`${nginx.url}/health`)).ok;
        },
        10000,
        "nginx /health",
      );
    } catch (err) {
      await nginx.stop();
      throw err;
    }
    return nginx;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  extraUrl(index: number): string {
    return `http://127.0.0.1:${this.extraPorts[index]}`;
  }

  get pid(): number {
    return this.master.pid!;
  }

  log(): string {
    return this.output.join("");
  }

  /** Fast shutdown (SIGTERM: the master stops its workers, then exits), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.master.exitCode === null && this.master.signalCode === null) {
      this.master.kill("SIGTERM");
      const timer = setTimeout(() => this.master.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.prefix, { recursive: true, force: true });
  }
}
