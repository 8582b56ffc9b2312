/**
 * A cluster for one describe block: in-process nodes on one backing (nothing for the memory
 * engine, a fresh redis-server, or a fresh three-master Redis Cluster), started in beforeAll and
 * stopped with their backing in afterAll; ids unique within the block; and an event collector.
 *
 *   describe.each(["memory", "redis"] as const)("rooms (%s engine)", (name) => {
 *     const { nodes, url, unique } = clusterFixture({ backing: name, nodes: name === "redis" ? 3 : 1, env: { RATE_LIMIT_POINTS: "10000" } });
 *     ...
 *   });
 */
import type { SwitchboardNode } from "@switchboard/server";
import type { Socket } from "socket.io-client";
import { closeClients } from "./clients";
import { startBacking, type Backing, type EngineName } from "./engines";
import { startNode } from "./nodes";
import type { RedisClusterServers, RedisServer } from "./redis";
import { serviceToken } from "./tokens";

export type Env = Record<string, string | undefined>;

export interface ClusterOptions {
  /** What the nodes share: `memory` (nothing: each node is a cluster of its own), `redis` or `redis-cluster`. */
  backing: EngineName;
  /** How many nodes (1 unless given), or one environment override per node. */
  nodes?: number | readonly Env[];
  /** Environment of every node, over the test defaults and the backing's; a function is called in beforeAll. */
  env?: Env | (() => Env);
  /** Starts the nodes one after another instead of all at once. */
  sequential?: boolean;
  /** How long a node's start waits for its engine (15 s on a Redis Cluster, startNode's default otherwise). */
  engineWaitMs?: number;
  /** The CA the nodes trust for push services, read in beforeAll. */
  pushCa?: () => string;
  /** beforeAll's timeout (60 s on a Redis Cluster, jest's otherwise). */
  timeoutMs?: number;
}

export interface RestReply {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } };
}

export interface ClusterFixture {
  /** The running nodes, in the order of `options.nodes` (filled in beforeAll, emptied in afterAll). */
  readonly nodes: readonly SwitchboardNode[];
  /** Node `i` modulo the node count, so one index list serves one node and three. */
  node(i?: number): SwitchboardNode;
  url(i?: number): string;
  /** The backing of the running cluster (its env, and its redis-server or cluster servers). */
  readonly backing: Backing;
  /** The redis-server of a `redis` backing. */
  readonly redis: RedisServer;
  /** The servers of a `redis-cluster` backing. */
  readonly redisCluster: RedisClusterServers;
  /** A JSON request to node `options.node` (0 unless given) with a bearer token (a service's unless given). */
  rest(method: string, path: string, options?: { token?: string; body?: unknown; node?: number }): Promise<RestReply>;
  /** `prefix-N`, N counting up from 1 in this fixture. */
  unique(prefix: string): string;
  /** Runs `close` in afterAll before the nodes shut down (for what uses them: an emitter, a browser). */
  beforeStop(close: () => unknown): void;
}

/** Registers beforeAll/afterAll in the calling describe block; see the file's comment. */
export function clusterFixture(options: ClusterOptions): ClusterFixture {
  const nodes: SwitchboardNode[] = [];
  const closers: (() => unknown)[] = [];
  let backing: Backing | undefined;
  let counter = 0;
  const perNode: readonly Env[] = typeof options.nodes === "object" ? options.nodes : Array.from({ length: options.nodes ?? 1 }, () => ({}));
  const onCluster = options.backing === "redis-cluster";
  const engineWaitMs = options.engineWaitMs ?? (onCluster ? 15000 : undefined);

  beforeAll(async () => {
    backing = await startBacking(options.backing);
    const shared: Env = { ...backing.env, ...(typeof options.env === "function" ? options.env() : options.env) };
    const pushCa = options.pushCa?.();
    const start = (own: Env) => startNode({ ...shared, ...own }, { engineWaitMs, pushCa });
    if (options.sequential) {
      for (const own of perNode) nodes.push(await start(own));
      return;
    }
    const started = await Promise.allSettled(perNode.map(start));
    for (const result of started) if (result.status === "fulfilled") nodes.push(result.value);
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }, options.timeoutMs ?? (onCluster ? 60000 : undefined));

  afterAll(async () => {
    try {
      for (const close of closers) await close();
    } finally {
      closeClients();
      await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
      await backing?.destroy();
      backing = undefined;
    }
  });

  const running = (): Backing => {
    if (!backing) throw new Error("the cluster is not running (use it inside tests or hooks)");
    return backing;
  };
  const node = (i = 0): SwitchboardNode => {
    if (nodes.length === 0) throw new Error("the cluster has no running node");
    return nodes[i % nodes.length]!;
  };
  const url = (i = 0) => node(i).url;
  return {
    nodes,
    node,
    url,
    get backing() {
      return running();
    },
    get redis() {
      const redis = running().redis;
      if (!redis) throw new Error(`a ${options.backing} backing has no redis-server`);
      return redis;
    },
    get redisCluster() {
      const cluster = running().cluster;
      if (!cluster) throw new Error(`a ${options.backing} backing is no Redis Cluster`);
      return cluster;
    },
    rest: async (method, path, { token, body, node: i = 0 } = {}) => {
      const res = await fetch(`${url(i)}${path}`, {
        method,
        headers: { authorization: `Bearer ${token ?? (await serviceToken())}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as RestReply["body"] };
    },
    unique: (prefix) => `${prefix}-${++counter}`,
    beforeStop: (close) => void closers.push(close),
  };
}

/** Every `event` the socket receives from now on, in arrival order. */
export function collect<T>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (value: T) => seen.push(value));
  return seen;
}
