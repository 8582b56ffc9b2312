/**
 * The Redis engine: stores in Redis (or a Redis Cluster), the Socket.IO Redis adapter (classic,
 * or sharded pub/sub on a cluster), and availability that follows the connections.
 */
import { createAdapter } from "@socket.io/redis-adapter";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { keyLayout, type KeyLayout } from "@switchboard/shared";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import type { Engine, EngineKind, RateLimiterOptions } from "../types";
import { Availability } from "../availability";
import { createRedisClients, isClusterTarget, isReady, type RedisClients, type RedisTarget } from "./clients";
import { RedisDeviceRegistry } from "./device-registry";
import { RedisNodeRegistry } from "./node-registry";

export interface RedisEngineOptions extends RedisTarget {
  keyPrefix: string;
  /** Told about every client error (the engine keeps running and reconnects by itself). */
  onError?: (client: string, err: Error) => void;
}

export class RedisEngine implements Engine {
  readonly kind: EngineKind;
  readonly adapter: Engine["adapter"];
  readonly keys: KeyLayout;
  readonly clients: RedisClients;
  readonly nodes: RedisNodeRegistry;
  readonly devices: RedisDeviceRegistry;
  private readonly availability = new Availability(false);
  private closed = false;

  constructor(options: RedisEngineOptions) {
    const onError = options.onError ?? (() => undefined);
    this.kind = isClusterTarget(options) ? "redis-cluster" : "redis";
    this.keys = keyLayout(options.keyPrefix);
    this.clients = createRedisClients(options, (err) => onError("adapter", err));
    const roles = { data: this.clients.data, pub: this.clients.pub, sub: this.clients.sub };
    for (const [role, client] of Object.entries(roles)) {
      client.on("error", (err: Error) => onError(role, err));
      for (const event of ["ready", "close", "end", "reconnecting"]) client.on(event, () => this.refresh());
    }
    // The adapter keeps socket.io's default channel prefix so @socket.io/redis-emitter reaches the nodes.
    this.adapter =
      this.kind === "redis-cluster"
        ? createShardedAdapter(this.clients.pub, this.clients.sub)
        : createAdapter(this.clients.pub, this.clients.sub);
    this.nodes = new RedisNodeRegistry(this.clients.data, this.keys);
    this.devices = new RedisDeviceRegistry(this.clients.data, this.keys);
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refresh();
    await Promise.all(
      this.clients.all().map(async (client) => {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }
}
