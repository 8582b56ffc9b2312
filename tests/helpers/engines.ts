/**
 * Runs a suite against both engines: `memory` (no Redis) and `redis` (a fresh redis-server).
 */
import { RedisServer } from "./redis";

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
