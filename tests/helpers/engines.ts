/**
 * Engines for tests: fixtures that run a suite against `memory` (no Redis) and `redis` (a fresh
 * redis-server), and bare engines on memory, Redis or a Redis Cluster for the engine contract.
 */
import { createEngine, loadConfig, type Engine } from "@switchboard/server";
import { RedisClusterServers, RedisServer } from "./redis";
import { TEST_SECRET } from "./tokens";

export interface EngineFixture {
  name: "memory" | "redis";
  /** Environment selecting the engine (REDIS_URL for redis). */
  env(): Record<string, string>;
}

export function engineFixtures(): EngineFixture[] {
  let redis: RedisServer | undefined;
  const memory: EngineFixture = { name: "memory", env: () => ({}) };
  const redisFixture: EngineFixture = {
    name: "redis",
    env: () => {
      if (!redis) throw new Error("redis fixture not started");
      return { REDIS_URL: redis.url };
    },
  };
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  return [memory, redisFixture];
}

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
