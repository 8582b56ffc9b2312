/**
 * Backings for tests (nothing, a fresh redis-server, or a fresh Redis Cluster) and bare engines on
 * them for the engine contract; nodes on a backing come from ./cluster.
 */
import { createEngine, loadConfig, type Engine } from "@switchboard/server";
import { RedisClusterServers, RedisServer } from "./redis";
import { TEST_SECRET } from "./tokens";

export type EngineName = "memory" | "redis" | "redis-cluster";

/** What an engine runs on: nothing, a fresh redis-server, or a fresh three-master Redis Cluster. */
export interface Backing {
  env: Record<string, string>;
  /** The redis-server of a `redis` backing. */
  redis?: RedisServer;
  /** The servers of a `redis-cluster` backing. */
  cluster?: RedisClusterServers;
  destroy(): Promise<void>;
}

export async function startBacking(name: EngineName): Promise<Backing> {
  if (name === "redis") {
    const redis = await RedisServer.start();
    return { env: { REDIS_URL: redis.url }, redis, destroy: () => redis.destroy() };
  }
  if (name === "redis-cluster") {
    const cluster = await RedisClusterServers.start(3);
    return { env: { REDIS_CLUSTER_NODES: cluster.nodesList }, cluster, destroy: () => cluster.destroy() };
  }
  return { env: {}, destroy: async () => undefined };
}

/** An engine alone, without a node, on the given backing. */
export function openEngine(env: Record<string, string>): Engine {
  return createEngine(loadConfig({ NODE_ENV: "test", JWT_SECRET: TEST_SECRET, ...env }));
}
