/**
 * createEngine: the memory engine when no Redis is configured, else the Redis engine.
 * Nothing outside src/engine knows which one runs.
 */
import type { Config } from "../config";
import { MemoryEngine } from "./memory";
import { RedisEngine } from "./redis";
import type { Engine } from "./types";

export * from "./types";
export { packetEvent } from "./encoded-packets";
export { encodeForRecipientsOnly, type BroadcastSteps } from "./lazy-encoding";

export function createEngine(config: Config, onError?: (client: string, err: Error) => void): Engine {
  if (config.redisClusterNodes || config.redisUrl) {
    return new RedisEngine({
      url: config.redisUrl,
      clusterNodes: config.redisClusterNodes,
      keyPrefix: config.redisKeyPrefix,
      onError,
      testKillAfterStore: config.testKillAfterStore,
    });
  }
  return new MemoryEngine();
}
