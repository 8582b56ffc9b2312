/**
 * How the emitter's events reach a Socket.IO room's sockets on every node: its side of the stores'
 * Delivery port (their scripts publish what they store; having no sockets, its `local` does
 * nothing), and `broadcast` for what it sends unstored. No node has its uid: all deliver its frames.
 *
 * - Single Redis: `@socket.io/redis-emitter` publishes the classic adapter's packets (PUBLISH on
 *   `socket.io#/#<room>#`, msgpack `[uid, packet, opts]`), which every node hears beside its
 *   sharded adapter's channels.
 * - Redis Cluster: the sharded adapter's own BROADCAST message, SPUBLISHed on the room's channel.
 */
import { Emitter } from "@socket.io/redis-emitter";
import { EMITTER_UID } from "@switchboard/shared";
import { adapterFrame, type Delivery, type RedisClient } from "@switchboard/store";
import type { Redis } from "ioredis";

/** Sends `event` to the sockets of `room`; the promise settles when Redis took the packet. */
type Send = (room: string, event: string, args: readonly unknown[]) => Promise<void>;

export type EmitterDelivery = Delivery & { broadcast: Send };

export function emitterDelivery(redis: RedisClient, sharded: boolean): EmitterDelivery {
  return { uid: EMITTER_UID, local: () => undefined, localText: () => undefined, broadcast: sharded ? shardedSend(redis) : classicSend(redis as Redis) };
}

function classicSend(redis: Redis): Send {
  // redis-emitter calls publish synchronously and drops its promise: kept here to be awaited.
  let last: Promise<unknown> | undefined;
  const emitter = new Emitter({ publish: (channel: string, message: Buffer) => (last = redis.publish(channel, message)) });
  return async (room, event, args) => {
    last = undefined;
    (emitter.to(room).emit as (ev: string, ...rest: unknown[]) => true)(event, ...args);
    await last;
  };
}

function shardedSend(redis: RedisClient): Send {
  return async (room, event, args) => {
    const { channel, data } = adapterFrame(EMITTER_UID, room, event, args);
    await redis.spublish(channel, data);
  };
}
