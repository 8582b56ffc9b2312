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
import { ADAPTER_CHANNEL_PREFIX, EMITTER_UID } from "@switchboard/shared";
import type { Cluster, Redis } from "ioredis";
import { encode } from "notepack.io";

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
/** socket.io-adapter's ClusterAdapter BROADCAST message type. */
const BROADCAST_MESSAGE = 3;
const NSP = "/";

export interface Transport {
  /** Sends `event` to the sockets of `room`; the promise settles when Redis took the packet. */
  send(room: string, event: string, args: readonly unknown[]): Promise<void>;
}

/** The classic adapter's frame of a `room:message`, split where the message id goes (see PUBLISH_MESSAGE). */
export interface MessageFrame {
  channel: string;
  prefix: Buffer;
  suffix: Buffer;
}

/** Channel and frame for a room packet whose id is spliced in by the publish script. */
export function classicMessageFrame(room: string, event: string, message: object, placeholder: string): MessageFrame {
  const packet = { type: EVENT_PACKET, data: [event, message], nsp: NSP };
  const encoded = encode([EMITTER_UID, packet, { rooms: [room], except: [], flags: {} }]);
  const marker = encode(placeholder);
  const at = encoded.indexOf(marker);
  if (at < 0) throw new Error("the message id placeholder is missing from the encoded frame");
  return { channel: `${ADAPTER_CHANNEL_PREFIX}#${NSP}#${room}#`, prefix: encoded.subarray(0, at), suffix: encoded.subarray(at + marker.length) };
}

/** The classic adapter's complete frame of an event to one room, for a script to PUBLISH (see DOC_APPEND). */
export function classicFrame(room: string, event: string, args: readonly unknown[]): { channel: string; data: Buffer } {
  const packet = { type: EVENT_PACKET, data: [event, ...args], nsp: NSP };
  return { channel: `${ADAPTER_CHANNEL_PREFIX}#${NSP}#${room}#`, data: encode([EMITTER_UID, packet, { rooms: [room], except: [], flags: {} }]) };
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

/** A room whose name socket.io-adapter takes for a socket id (20 characters) travels on the main channel. */
const looksLikeASocketId = (room: string) => room.length === 20;

export class ShardedTransport implements Transport {
  constructor(private readonly redis: Cluster | Redis) {}

  async send(room: string, event: string, args: readonly unknown[]): Promise<void> {
    const message = {
      uid: EMITTER_UID,
      nsp: NSP,
      type: BROADCAST_MESSAGE,
      data: { opts: { rooms: [room], except: [], flags: {} }, packet: { type: EVENT_PACKET, data: [event, ...args], nsp: NSP } },
    };
    await this.redis.spublish(shardedChannel(room), JSON.stringify(message));
  }
}

/** The channel the sharded adapter (subscription mode `dynamic`) uses for a broadcast to one room. */
export function shardedChannel(room: string): string {
  const main = `${ADAPTER_CHANNEL_PREFIX}#${NSP}#`;
  return looksLikeASocketId(room) ? main : `${main}${room}#`;
}
