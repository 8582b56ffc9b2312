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

/**
 * A room message's frame as the publish script completes it: `head`, then the id, seq and epoch it
 * gives the message, `room`, the stored message's JSON without its opening brace, and `tail`.
 */
export interface MessageFrame {
  channel: string;
  head: string;
  room: string;
  tail: string;
  /** `head` and `tail` cut to the packet's arguments (`["room:message",{"id":` and `]`): see messageArguments. */
  argsHead: string;
  argsTail: string;
}

/** Stands for the message in the frame messageFrame() cuts in two; only the uid and the room's name precede it, and neither can hold a control character. */
const MESSAGE_MARKER = "\u0000message";

/** The shard channel of `room`. */
export function roomChannel(room: string): string {
  return `${ADAPTER_CHANNEL_PREFIX}#${NSP}#${room}#`;
}

/**
 * The frame of `event` to the sockets of `room` (but `except`'s). The packet's arguments come
 * last, so a node can hand them to its sockets as they came (readEventFrame).
 */
export function adapterFrame(uid: string, room: string, event: string, args: readonly unknown[], except: readonly string[] = []): Frame {
  const packet = { type: EVENT_PACKET, nsp: NSP, data: [event, ...args] };
  const opts = { rooms: [room], except: [...except], flags: {} };
  return { channel: roomChannel(room), data: Buffer.from(JSON.stringify({ uid, nsp: NSP, type: BROADCAST_MESSAGE, data: { opts, packet } })) };
}

/** What precedes the packet's arguments in adapterFrame's layout; after them come `}}}` and nothing else. */
const PACKET_HEAD_TEXT = `,"packet":{"type":${EVENT_PACKET},"nsp":${JSON.stringify(NSP)},"data":`;
const FRAME_END_TEXT = "}}}";
const PACKET_HEAD = Buffer.from(PACKET_HEAD_TEXT);
const FRAME_END = Buffer.from(FRAME_END_TEXT);

/**
 * The frame of a `room:message` to `room`, around the message that the publish script writes
 * (store/lua/rooms/publish-messages.lua): `{"id":…,"seq":…,"epoch":…,"room":…,` then the stored
 * fields, as toMessage() orders them. So what is delivered is what is stored, and the message's
 * data is sent to Redis once. A room's history keeps its frame (RedisRoomHistory's publish targets).
 */
export function messageFrame(uid: string, socketRoom: string, room: string): Readonly<MessageFrame> {
  const marker = JSON.stringify(MESSAGE_MARKER);
  const text = adapterFrame(uid, socketRoom, "room:message", [MESSAGE_MARKER]).data.toString();
  const at = text.indexOf(marker);
  const head = `${text.slice(0, at)}{"id":`;
  const tail = text.slice(at + marker.length);
  return {
    channel: roomChannel(socketRoom),
    head,
    room: `,"room":${JSON.stringify(room)},`,
    tail,
    argsHead: head.slice(head.indexOf(PACKET_HEAD_TEXT) + PACKET_HEAD_TEXT.length),
    argsTail: tail.slice(0, -FRAME_END_TEXT.length),
  };
}

/**
 * The packet's arguments of a room message, `["room:message",{…}]`, as JSON text: what the publish
 * script writes between the frame's head and tail for the same message (the same concatenation),
 * so this process's own sockets get the text every other node's get. `stored` is the stored JSON.
 */
export function messageArguments(frame: Readonly<MessageFrame>, id: string, seq: number, epoch: string, stored: string): string {
  return `${frame.argsHead}"${id}","seq":${seq},"epoch":"${epoch}"${frame.room}${stored.slice(1)}${frame.argsTail}`;
}

/** A broadcast frame read without its packet's arguments. */
export interface EventFrame {
  uid: string;
  nsp: string;
  opts: { rooms: string[]; except: string[]; flags: Record<string, unknown> };
  /** The packet's arguments `[event, ...args]`: the JSON bytes as the frame carries them. */
  data: Buffer;
}

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === "string");

/**
 * Reads a BROADCAST frame in adapterFrame's layout (the nodes', the emitter's and the publish
 * script's) without parsing its packet's arguments: what precedes them is parsed, and they stay
 * the JSON bytes they are. Any other frame (another layout, an ack request, msgpack): undefined.
 * Frames come from this cluster's own Redis, written by JSON.stringify (or around its output).
 */
export function readEventFrame(raw: Buffer): EventFrame | undefined {
  if (raw[0] !== 0x7b || raw.length < PACKET_HEAD.length + FRAME_END.length + 2) return undefined;
  if (raw.compare(FRAME_END, 0, FRAME_END.length, raw.length - FRAME_END.length) !== 0) return undefined;
  const at = raw.indexOf(PACKET_HEAD);
  if (at < 0) return undefined;
  const data = raw.subarray(at + PACKET_HEAD.length, raw.length - FRAME_END.length);
  if (data[0] !== 0x5b || data[data.length - 1] !== 0x5d) return undefined;
  let head: { uid?: unknown; nsp?: unknown; type?: unknown; data?: { opts?: { rooms?: unknown; except?: unknown; flags?: unknown } } };
  try {
    // `{"uid":…,"nsp":…,"type":3,"data":{"opts":{…}` closed where the packet began.
    head = JSON.parse(`${raw.toString("utf8", 0, at)}}}`) as typeof head;
  } catch {
    return undefined;
  }
  const opts = head.data?.opts;
  if (typeof head.uid !== "string" || typeof head.nsp !== "string" || head.type !== BROADCAST_MESSAGE || !opts || Object.keys(head.data!).length !== 1) return undefined;
  if (!isStrings(opts.rooms) || !isStrings(opts.except) || typeof opts.flags !== "object" || opts.flags === null) return undefined;
  return { uid: head.uid, nsp: head.nsp, opts: { rooms: opts.rooms, except: opts.except, flags: opts.flags as Record<string, unknown> }, data };
}
