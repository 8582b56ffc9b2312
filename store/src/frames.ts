/**
 * The Socket.IO Redis adapters' wire formats, encoded in one place for the nodes and the emitter,
 * so a packet a script PUBLISHes is the one the adapters on every node decode.
 *
 * - Classic adapter (one Redis): PUBLISH on `socket.io#/#<room>#` of msgpack `[uid, packet, opts]`.
 *   An adapter ignores frames carrying its own uid (its node delivered locally already); the
 *   emitter's uid is one no node has, so every node delivers its frames.
 * - Sharded adapter (Redis Cluster, subscription mode `dynamic`): SPUBLISH on the room's channel
 *   of the ClusterAdapter's JSON BROADCAST message.
 */
import { ADAPTER_CHANNEL_PREFIX } from "@switchboard/shared";
import { encode } from "notepack.io";

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
/** socket.io-adapter's ClusterAdapter BROADCAST message type. */
const BROADCAST_MESSAGE = 3;
const NSP = "/";
const MAIN_CHANNEL = `${ADAPTER_CHANNEL_PREFIX}#${NSP}#`;

/** A classic adapter frame: the channel and the bytes to PUBLISH there. */
export interface ClassicFrame {
  channel: string;
  data: Buffer;
}

/** A classic frame split where values known only inside a script go (a message's id and position): n values, n + 1 parts. */
export interface SplitFrame {
  channel: string;
  parts: Buffer[];
}

const packetOf = (event: string, args: readonly unknown[]) => ({ type: EVENT_PACKET, data: [event, ...args], nsp: NSP });
const optsOf = (room: string, except: readonly string[]) => ({ rooms: [room], except: [...except], flags: {} });

/** The classic adapter's frame of `event` to the sockets of `room` (but `except`'s). */
export function classicFrame(uid: string, room: string, event: string, args: readonly unknown[], except: readonly string[] = []): ClassicFrame {
  return { channel: `${MAIN_CHANNEL}${room}#`, data: encode([uid, packetOf(event, args), optsOf(room, except)]) };
}

/**
 * The classic frame of `event`, split around `placeholders` (strings that `args` hold once each,
 * in this order, and nothing else can contain): a script splices the real values, msgpack-encoded,
 * in between the parts.
 */
export function splitClassicFrame(uid: string, room: string, event: string, args: readonly unknown[], placeholders: readonly string[]): SplitFrame {
  const { channel, data } = classicFrame(uid, room, event, args);
  const parts: Buffer[] = [];
  let from = 0;
  for (const placeholder of placeholders) {
    const marker = encode(placeholder);
    const at = data.indexOf(marker, from);
    if (at < 0) throw new Error("a placeholder is missing from the encoded frame");
    parts.push(data.subarray(from, at));
    from = at + marker.length;
  }
  parts.push(data.subarray(from));
  return { channel, parts };
}

/** A room whose name socket.io-adapter takes for a socket id (20 characters) travels on the main channel. */
const looksLikeASocketId = (room: string) => room.length === 20;

/** The channel the sharded adapter (subscription mode `dynamic`) uses for a broadcast to one room. */
export function shardedChannel(room: string): string {
  return looksLikeASocketId(room) ? MAIN_CHANNEL : `${MAIN_CHANNEL}${room}#`;
}

/** The sharded adapter's BROADCAST of `event` to `room`: the channel and the JSON to SPUBLISH there. */
export function shardedBroadcast(uid: string, room: string, event: string, args: readonly unknown[]): { channel: string; data: string } {
  const message = { uid, nsp: NSP, type: BROADCAST_MESSAGE, data: { opts: optsOf(room, []), packet: packetOf(event, args) } };
  return { channel: shardedChannel(room), data: JSON.stringify(message) };
}
