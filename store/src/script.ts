/**
 * A Lua script run by its SHA (EVALSHA), with the source sent once when the server does not know
 * it yet (NOSCRIPT: a restarted Redis, a new shard). Nodes and the emitter run every script
 * through this one runner.
 */
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

/** A connection scripts run on: one Redis, or a Redis Cluster (the keys of one call share a slot). */
export type RedisClient = Redis | Cluster;

export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
