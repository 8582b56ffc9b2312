/**
 * Runs the Lua scripts shared with the nodes by their SHA (EVALSHA), sending the source once
 * when the server does not know it yet.
 */
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

export class SharedScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: Redis | Cluster, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
