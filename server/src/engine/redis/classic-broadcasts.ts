/**
 * `@socket.io/redis-emitter` (and any service written against the classic Redis adapter) speaks
 * the classic adapter's format: PUBLISH on `socket.io#/#` or `socket.io#/#<room>#` of msgpack
 * `[uid, packet, { rooms, except, flags }]`. The nodes run the sharded adapter, which listens on
 * shard channels only; this listens for the classic format too and hands each such broadcast to
 * this node's own sockets, as the classic adapter did on every node. Nodes themselves never send
 * it, so every node delivers what it hears.
 */
import { ADAPTER_CHANNEL_PREFIX } from "@switchboard/shared";
import { decode } from "notepack.io";
import type { AppServer } from "../../io";
import type { RedisClient } from "./clients";

/** socket.io-parser's EVENT packet type: the only packets a broadcast carries here. */
const EVENT_PACKET = 2;
const CHANNELS = `${ADAPTER_CHANNEL_PREFIX}#/#*`;

interface ClassicOpts {
  rooms?: unknown;
  except?: unknown;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

/** Starts hearing classic broadcasts on `sub` and delivering them to `io`'s local sockets; `onError` is told about frames it cannot read. */
export function deliverClassicBroadcasts(sub: RedisClient, io: AppServer, onError: (err: Error) => void): void {
  sub.on("pmessageBuffer", (pattern: Buffer, _channel: Buffer, message: Buffer) => {
    if (pattern.toString() !== CHANNELS) return;
    try {
      const [, packet, opts] = decode(message) as [unknown, { type?: number; data?: unknown; nsp?: string }, ClassicOpts];
      if (!packet || packet.type !== EVENT_PACKET || (packet.nsp ?? "/") !== "/" || !Array.isArray(packet.data) || typeof packet.data[0] !== "string") return;
      const [event, ...args] = packet.data as [string, ...unknown[]];
      const rooms = strings(opts?.rooms);
      const except = strings(opts?.except);
      let target = io.local.except(except);
      if (rooms.length > 0) target = target.to(rooms);
      (target.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  });
  void sub.psubscribe(CHANNELS);
}
