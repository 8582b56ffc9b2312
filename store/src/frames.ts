/**
 * The Socket.IO sharded Redis adapter's wire format, encoded in one place for the nodes and the
 * emitter, so a packet a script publishes is the one the adapters on every node decode.
 *
 * The nodes run the sharded adapter (subscription mode `dynamic`) on one Redis and on a Redis
 * Cluster alike: SPUBLISH on `socket.io#/#<room>#` of the ClusterAdapter's BROADCAST message as
 * JSON, as the adapter sends its own packets without binary (it reads a frame that begins with
 * `{` as JSON, anything else as msgpack; every payload here is JSON). A node subscribes that channel of
 * every room it holds sockets in but their own one-socket rooms, so a frame to a room reaches
 * every node that has sockets there, and no other. (The adapter itself sends to a 20-character
 * room on its main channel, as such a name may be a socket id; nodes hear that channel too, so
 * both reach them.) On a Redis Cluster a room's channel hashes to its name's hash tag: a script
 * whose keys share that tag publishes there in the same step as it writes.
 *
 * An adapter ignores frames carrying its own uid (its node delivered locally already); the
 * emitter's uid is one no node has, so every node delivers its frames.
 */
import { ADAPTER_CHANNEL_PREFIX } from "@switchboard/shared";

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
/** socket.io-adapter's ClusterAdapter BROADCAST message type. */
const BROADCAST_MESSAGE = 3;
const NSP = "/";

/** An adapter frame: the shard channel to SPUBLISH it on, and the bytes. */
export interface Frame {
  channel: string;
  data: Buffer;
}

/** A frame split where values known only inside a script go (a message's id and position): n values, n + 1 parts. */
export interface SplitFrame {
  channel: string;
  parts: Buffer[];
}

/** The shard channel of `room`. */
export function roomChannel(room: string): string {
  return `${ADAPTER_CHANNEL_PREFIX}#${NSP}#${room}#`;
}

/** The frame of `event` to the sockets of `room` (but `except`'s). */
export function adapterFrame(uid: string, room: string, event: string, args: readonly unknown[], except: readonly string[] = []): Frame {
  const packet = { type: EVENT_PACKET, data: [event, ...args], nsp: NSP };
  const opts = { rooms: [room], except: [...except], flags: {} };
  return { channel: roomChannel(room), data: Buffer.from(JSON.stringify({ uid, nsp: NSP, type: BROADCAST_MESSAGE, data: { opts, packet } })) };
}

/**
 * The frame of `event`, split around `placeholders` (strings that `args` hold once each, in this
 * order, and nothing else can contain): a script splices the real values, as JSON, in between
 * the parts.
 */
export function splitAdapterFrame(uid: string, room: string, event: string, args: readonly unknown[], placeholders: readonly string[]): SplitFrame {
  const { channel, data } = adapterFrame(uid, room, event, args);
  const parts: Buffer[] = [];
  let from = 0;
  for (const placeholder of placeholders) {
    const marker = Buffer.from(JSON.stringify(placeholder));
    const at = data.indexOf(marker, from);
    if (at < 0) throw new Error("a placeholder is missing from the encoded frame");
    parts.push(data.subarray(from, at));
    from = at + marker.length;
  }
  parts.push(data.subarray(from));
  return { channel, parts };
}
