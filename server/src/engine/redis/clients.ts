/**
 * The Redis connections of a node: `data` for stores (fails fast while Redis is away, so
 * commands answer UNAVAILABLE instead of queueing), and `pub`/`sub` for the Socket.IO adapter
 * (`sub` queues its subscriptions and re-subscribes by itself after a reconnect).
 */
import type { RedisClient } from "@switchboard/store";
import type { Socket } from "node:net";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { writeOncePerTurn } from "../../connections/turn-writes";

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
  const data = connect(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000 });
  const pub = connect(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const sub = connect(target, { ...common, maxRetriesPerRequest: null }, { shardedSubscribers: true });
  for (const client of [data, pub, sub]) writeRedisOncePerTurn(client);
  reportRejections(pub, ["publish", "spublish"], onAdapterError);
  reportRejections(sub, ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"], onAdapterError);
  return { data, pub, sub, all: () => [data, pub, sub] };
}

/**
 * Calls `listener` each time `sub` is subscribed again after its connection was lost, once Redis
 * has taken the subscriptions back. On one Redis, ioredis re-subscribes by itself right after
 * "ready"; on a Redis Cluster it replaces a lost sharded subscriber, subscribes its channels again
 * and emits "subscribersReady". Either way the SUBSCRIBEs are sent in the same turn, so a PING
 * sent after them on each subscriber connection answers once Redis has processed them.
 */
export function watchResubscriptions(sub: RedisClient, listener: () => void): void {
  let ready = false;
  let lost = false;
  /** After the turn that sent the SUBSCRIBEs; a failed PING means the connection went again, and its return tells. */
  const confirm = (connections: () => readonly Redis[]) =>
    setImmediate(() => {
      const up = connections();
      // Nothing back yet (on a cluster, before the slots are known): the next return tells.
      if (!lost || up.length === 0) return;
      lost = false;
      Promise.all(up.map((connection) => connection.ping())).then(listener, () => undefined);
    });
  sub.on("ready", () => (ready = true));
  sub.on("close", () => (lost ||= ready));
  if (sub instanceof Cluster) {
    sub.on("-subscriber", () => (lost = true));
    sub.on("subscribersReady", () => confirm(() => shardSubscribers(sub)));
  } else {
    sub.on("ready", () => confirm(() => (sub.status === "ready" ? [sub] : [])));
  }
}

/** The connections of a Redis Cluster's sharded subscribers that are up (ioredis keeps them to itself). */
function shardSubscribers(cluster: Cluster): Redis[] {
  type Group = { shardedSubscribers?: Map<string, { getInstance(): Redis | null }> };
  const group = (cluster as unknown as { shardedSubscribers?: Group }).shardedSubscribers;
  return [...(group?.shardedSubscribers?.values() ?? [])].map((s) => s.getInstance()).filter((r): r is Redis => r?.status === "ready");
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

/**
 * A node's Redis connections send each turn's commands (concurrent publishes, handshakes' presence
 * scripts and subscriptions) in one write, and the next turn's follow at once. ioredis's
 * auto-pipelining batches too, but sends a batch only once the previous one is answered, which
 * puts a command under load behind a whole round trip of others. Commands keep their order, and
 * ioredis matches replies as always.
 */
export function writeRedisOncePerTurn(client: RedisClient): void {
  const onConnect = (connection: Redis) => connection.on("connect", () => writeOncePerTurn((connection as unknown as { stream: Socket }).stream));
  if (client instanceof Cluster) client.on("+node", onConnect);
  else onConnect(client);
}
