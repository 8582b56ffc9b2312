/**
 * The Redis engine: stores in Redis (or a Redis Cluster), the Socket.IO sharded Redis adapter
 * (per-room shard channels, on one Redis and on a cluster alike), and availability that follows
 * the connections.
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { keyLayout, socketRooms, type KeyLayout, type SocketRooms } from "@switchboard/shared";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import type { AppServer } from "../../io";
import type { Engine, EngineKind, RateLimiterOptions } from "../types";
import { Availability } from "../availability";
import { createBlockingClient, createRedisClients, isClusterTarget, isReady, watchResubscriptions, type RedisClient, type RedisClients, type RedisTarget } from "./clients";
import { beforeTurnWritesLeave } from "../../connections/turn-writes";
import { openRedisStores } from "@switchboard/store";
import type {
  RedisAgents,
  RedisDocStore,
  RedisLeaderboards,
  RedisLiveStreams,
  RedisNodeRegistry,
  RedisNotificationInbox,
  RedisNotificationQueue,
  RedisPresenceRegistry,
  RedisPushDevices,
  RedisRoomHistory,
  RedisRoomRegistry,
  RedisSyncStore,
  RedisWorkspaces,
} from "@switchboard/store";
import { SocketIoDelivery } from "../socket-delivery";
import { deliverClassicBroadcasts } from "./classic-broadcasts";
import { readFramesOnce } from "./adapter-frames";

/** How long close() lets a connected client's QUIT take before cutting the connection. */
const QUIT_TIMEOUT_MS = 1000;
/** How long the resubscribed listeners wait for the store after the subscription came back. */
const RESUBSCRIBED_STORE_WAIT_MS = 30_000;

export interface RedisEngineOptions extends RedisTarget {
  keyPrefix: string;
  /** Told about every client error (the engine keeps running and reconnects by itself). */
  onError?: (client: string, err: Error) => void;
  /** Tests only (SWITCHBOARD_TEST_KILL_AFTER_STORE): the event whose delivery after its store step kills the process. */
  testKillAfterStore?: string;
}

type ShardedAdapter = ReturnType<ReturnType<typeof createShardedAdapter>>;

/**
 * The sharded adapter subscribes a room's channel when the room first appears on this node,
 * without waiting for the reply (on a cold shard the SSUBSCRIBE even waits for a connection), so
 * what another node sends to the room in that window is lost. This makes `socket.join()` resolve
 * once the channels of the joined rooms are subscribed.
 */
function confirmedJoins(factory: (nsp: unknown) => ShardedAdapter, sub: RedisClient): (nsp: unknown) => ShardedAdapter {
  const pending = new Map<string, Promise<unknown>>();
  const client = sub as unknown as { ssubscribe: (...channels: string[]) => Promise<unknown> };
  const ssubscribe = client.ssubscribe.bind(sub);
  client.ssubscribe = (...channels: string[]) => {
    // Never rejects: clients.ts reports a failed subscription instead.
    const reply = ssubscribe(...channels);
    for (const channel of channels) {
      pending.set(channel, reply);
      void reply.finally(() => pending.get(channel) === reply && pending.delete(channel));
    }
    return reply;
  };
  // A plain function, not an arrow: socket.io calls the adapter factory with `new`.
  return function ConfirmedJoinAdapter(nsp: unknown) {
    const adapter = factory(nsp);
    const channelOf = (room: string) => (adapter as unknown as { dynamicChannel(room: string): string }).dynamicChannel(room);
    const addAll = adapter.addAll.bind(adapter);
    adapter.addAll = (id, rooms) => {
      void addAll(id, rooms);
      const waits = [...rooms].map((room) => pending.get(channelOf(room))).filter((p) => p !== undefined);
      return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
    };
    return adapter;
  } as unknown as (nsp: unknown) => ShardedAdapter;
}

export class RedisEngine implements Engine {
  readonly kind: EngineKind;
  readonly adapter: Engine["adapter"];
  readonly keys: KeyLayout;
  readonly clients: RedisClients;
  readonly nodes: RedisNodeRegistry;
  readonly presence: RedisPresenceRegistry;
  readonly sync: RedisSyncStore;
  readonly notifications: RedisNotificationQueue;
  readonly inbox: RedisNotificationInbox;
  readonly pushDevices: RedisPushDevices;
  readonly rooms: RedisRoomRegistry;
  readonly history: RedisRoomHistory;
  readonly workspaces: RedisWorkspaces;
  readonly agents: RedisAgents;
  readonly leaderboards: RedisLeaderboards;
  readonly streams: RedisLiveStreams;
  readonly docs: RedisDocStore;
  readonly socketRooms: SocketRooms;
  private readonly testKillAfterStore?: string;
  private readonly onError: (client: string, err: Error) => void;
  private readonly availability = new Availability(false);
  private readonly resubscribed = new Set<() => void>();
  private closed = false;

  constructor(options: RedisEngineOptions) {
    const onError = options.onError ?? (() => undefined);
    const sharded = isClusterTarget(options);
    this.kind = sharded ? "redis-cluster" : "redis";
    this.keys = keyLayout(options.keyPrefix);
    this.clients = createRedisClients(options, (err) => onError("adapter", err));
    const roles = { data: this.clients.data, pub: this.clients.pub, sub: this.clients.sub };
    for (const [role, client] of Object.entries(roles)) {
      client.on("error", (err: Error) => onError(role, err));
      for (const event of ["ready", "close", "end", "reconnecting"]) client.on(event, () => this.refresh());
    }
    // The sharded adapter on one Redis as on a Redis Cluster: a node subscribes the channel of each
    // room it has sockets in, so it hears only what it delivers. It keeps socket.io's default
    // channel prefix; classic-format broadcasts (@socket.io/redis-emitter) are heard in attach().
    this.adapter = confirmedJoins(readFramesOnce(createShardedAdapter(this.clients.pub, this.clients.sub, { subscriptionMode: "dynamic" })), this.clients.sub);
    this.onError = onError;
    watchResubscriptions(this.clients.sub, () => void this.announceResubscribed());
    const stores = openRedisStores(this.clients.data, this.keys, {
      cluster: sharded,
      openBlocking: () => createBlockingClient(options),
      endOfTurn: beforeTurnWritesLeave,
    });
    this.nodes = stores.nodes;
    this.presence = stores.presence;
    this.sync = stores.sync;
    this.notifications = stores.notifications;
    this.inbox = stores.inbox;
    this.pushDevices = stores.pushDevices;
    this.rooms = stores.rooms;
    this.history = stores.history;
    this.workspaces = stores.workspaces;
    this.agents = stores.agents;
    this.leaderboards = stores.leaderboards;
    this.streams = stores.streams;
    this.docs = stores.docs;
    this.socketRooms = socketRooms(sharded);
    this.testKillAfterStore = options.testKillAfterStore;
  }

  attach(io: AppServer): void {
    const delivery = new SocketIoDelivery(io, this.testKillAfterStore);
    this.history.deliverThrough(delivery);
    this.docs.deliverThrough(delivery);
    deliverClassicBroadcasts(this.clients.sub, io, (err) => this.onError("sub", err));
  }

  private refresh(): void {
    this.availability.set(!this.closed && this.clients.all().every(isReady));
  }

  createRateLimiter(options: RateLimiterOptions): RateLimiterRedis {
    return new RateLimiterRedis({
      storeClient: this.clients.data,
      keyPrefix: this.keys.rateLimit(options.name),
      points: options.points,
      duration: options.durationS,
      // While Redis is away, limits still hold per node.
      insuranceLimiter: new RateLimiterMemory({ points: options.points, duration: options.durationS }),
    });
  }

  isAvailable(): boolean {
    return this.availability.available;
  }

  onAvailabilityChange(listener: (available: boolean) => void): () => void {
    return this.availability.onChange(listener);
  }

  waitUntilAvailable(timeoutMs: number): Promise<boolean> {
    return this.availability.waitUntilAvailable(timeoutMs);
  }

  onResubscribed(listener: () => void): () => void {
    this.resubscribed.add(listener);
    return () => this.resubscribed.delete(listener);
  }

  /** What the listeners read comes from the store, which may be coming back too: they wait for it (bounded). */
  private async announceResubscribed(): Promise<void> {
    await this.availability.waitUntilAvailable(RESUBSCRIBED_STORE_WAIT_MS);
    if (!this.closed) for (const listener of this.resubscribed) listener();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refresh();
    this.notifications.close();
    await Promise.all(
      this.clients.all().map(async (client) => {
        // QUIT only reaches a connected server, and must not hold shutdown up: a client that is
        // reconnecting (Redis away) or slow to answer is cut instead.
        if (client.status !== "ready") return client.disconnect();
        const quit = client.quit().then(() => true, () => false);
        const timeout = new Promise<false>((resolve) => setTimeout(resolve, QUIT_TIMEOUT_MS, false).unref());
        if (!(await Promise.race([quit, timeout]))) client.disconnect();
      }),
    );
  }
}
