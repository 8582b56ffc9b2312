/**
 * How an event reaches the sockets of a Socket.IO room on every node, without a socket.
 *
 * - Single Redis: the nodes run the classic Redis adapter; `@socket.io/redis-emitter` publishes
 *   its packets (PUBLISH on `socket.io#/#<room>#`, msgpack `[uid, packet, opts]`).
 * - Redis Cluster: the nodes run the sharded adapter, which `@socket.io/redis-emitter` does not
 *   speak; this publishes the sharded adapter's own BROADCAST message with SPUBLISH on the
 *   channel that adapter would choose.
 */
import { Emitter } from "@socket.io/redis-emitter";
import { EMITTER_UID } from "@switchboard/shared";
import { shardedBroadcast } from "@switchboard/store";
import type { Cluster, Redis } from "ioredis";

export interface Transport {
  /** Sends `event` to the sockets of `room`; the promise settles when Redis took the packet. */
  send(room: string, event: string, args: readonly unknown[]): Promise<void>;
}

export class ClassicTransport implements Transport {
  private readonly emitter: Emitter;
  /** The publish the emitter made last: redis-emitter calls publish synchronously and drops its promise. */
  private last?: Promise<unknown>;

  constructor(private readonly redis: Redis) {
    this.emitter = new Emitter({
      publish: (channel: string, message: Buffer) => {
        this.last = this.redis.publish(channel, message);
        return this.last;
      },
    });
  }

  send(room: string, event: string, args: readonly unknown[]): Promise<void> {
    this.last = undefined;
    (this.emitter.to(room).emit as (ev: string, ...rest: unknown[]) => true)(event, ...args);
    const published = this.last as Promise<unknown> | undefined;
    return published ? published.then(() => undefined) : Promise.resolve();
  }
}

export class ShardedTransport implements Transport {
  constructor(private readonly redis: Cluster | Redis) {}

  async send(room: string, event: string, args: readonly unknown[]): Promise<void> {
    const { channel, data } = shardedBroadcast(EMITTER_UID, room, event, args);
    await this.redis.spublish(channel, data);
  }
}
