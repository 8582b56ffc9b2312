/**
 * The Redis connections of a node: `data` for stores (fails fast while Redis is away, so
 * commands answer UNAVAILABLE instead of queueing), and `pub`/`sub` for the Socket.IO adapter
 * (`sub` queues its subscriptions and re-subscribes by itself after a reconnect).
 */
import type { RedisClient } from "@switchboard/store";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

export type { RedisClient };

export interface RedisTarget {
  url?: string;
  clusterNodes?: { host: string; port: number }[];
}

export interface RedisClients {
  data: RedisClient;
  pub: RedisClient;
  sub: RedisClient;
  all(): RedisClient[];
}

export function isClusterTarget(target: RedisTarget): boolean {
  return Boolean(target.clusterNodes && target.clusterNodes.length > 0);
}

function connect(target: RedisTarget, options: RedisOptions, cluster: Partial<ClusterOptions> = {}): RedisClient {
  if (isClusterTarget(target)) {
    return new Cluster(target.clusterNodes!, {
      ...cluster,
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      enableAutoPipelining: options.enableAutoPipelining ?? false,
      redisOptions: options,
      clusterRetryStrategy: (times) => Math.min(100 + times * 100, 2000),
    });
  }
  return new Redis(target.url!, options);
}

/**
 * The adapter calls publish without handling the returned promise; while Redis is away that
 * rejection would be unhandled. Cross-node delivery of that one packet is lost (local delivery
 * already happened), which is reported instead.
 */
function reportRejections(client: RedisClient, methods: readonly string[], onError: (err: Error) => void): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of methods) {
    const original = target[method]!.bind(client);
    target[method] = (...args: unknown[]) =>
      original(...args).catch((err: Error) => {
        onError(err);
        return 0;
      });
  }
}

export function createRedisClients(target: RedisTarget, onAdapterError: (err: Error) => void): RedisClients {
  const common: RedisOptions = { connectTimeout: 5000, retryStrategy: (times) => Math.min(50 * times, 2000) };
  // Auto-pipelining: what the node sends in one tick (concurrent publishes, their deliveries) goes
  // to Redis in one write.
  const data = connect(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000, enableAutoPipelining: true });
  const pub = connect(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true });
  const sub = connect(target, { ...common, maxRetriesPerRequest: null }, { shardedSubscribers: true });
  reportRejections(pub, ["publish", "spublish"], onAdapterError);
  reportRejections(sub, ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"], onAdapterError);
  return { data, pub, sub, all: () => [data, pub, sub] };
}

/**
 * A connection for blocking reads (XREADGROUP BLOCK holds it until data or timeout), which must
 * not share the `data` connection or its command timeout.
 */
export function createBlockingClient(target: RedisTarget): RedisClient {
  return connect(target, { connectTimeout: 5000, retryStrategy: (times) => Math.min(50 * times, 2000), maxRetriesPerRequest: 1 });
}

export function isReady(client: RedisClient): boolean {
  return client.status === "ready";
}
