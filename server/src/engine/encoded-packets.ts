/**
 * Broadcast packets whose arguments are still JSON text: as a frame from Redis brought them (see
 * redis/adapter-frames.ts), or as this node's publish wrote them into the frame it published (see
 * socket-delivery.ts). Encoded by taking that text as it is, parsed only when read.
 */

import { Adapter, type BroadcastOptions } from "socket.io-adapter";

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
/** The encoder below writes packets as socket.io-parser does in this namespace only (no prefix). */
const MAIN_NAMESPACE = "/";

interface Packet {
  type: number;
  nsp: string;
  data?: unknown[];
}

/** socket.io-parser's encoder, as the in-memory adapter holds it (the server's own). */
export interface Encoder {
  encode(packet: Packet): unknown[];
}

/** An encoded packet's event, read from its text: `["<event>",…` with no escape in the name. */
function leadingEvent(args: string): string | undefined {
  if (!args.startsWith('["')) return undefined;
  const end = args.indexOf('"', 2);
  if (end < 0) return undefined;
  const escape = args.indexOf("\\", 2);
  return escape >= 0 && escape < end ? undefined : args.slice(2, end);
}

/**
 * A packet of the main namespace whose arguments are `args`, the JSON text of `[event, ...args]`.
 * A class, so that every such packet has the same shape: an object literal with a getter of its
 * own gets a hidden class of its own, which V8 keeps outside the young generation, and with it the
 * getter and the text it reads, so each delivered frame outlived the next minor GCs and was left
 * for a full one.
 */
class TextPacket implements Packet {
  readonly type = EVENT_PACKET;
  nsp = MAIN_NAMESPACE;
  readonly event: string | undefined;
  private parsed: unknown[] | undefined = undefined;

  constructor(readonly args: string) {
    this.event = leadingEvent(args);
  }

  get data(): unknown[] {
    return (this.parsed ??= JSON.parse(this.args) as unknown[]);
  }
}

export function encodedPacket(args: string): Packet {
  return new TextPacket(args);
}

/**
 * Hands `[event, ...args]`, given as JSON text, to this node's sockets of `opts` through the
 * in-memory broadcast that a local emit runs (`adapter` of the main namespace, its encoder
 * wrapped by encodingAlsoEncoded; with any other encoder the text is parsed and encoded again).
 */
export function broadcastText(adapter: Adapter, args: string, opts: BroadcastOptions): void {
  Adapter.prototype.broadcast.call(adapter, encodedPacket(args), opts);
}

/** The event a broadcast packet carries, read without parsing its arguments when they are still text. */
export function packetEvent(packet: { data?: unknown[] }): unknown {
  if (packet instanceof TextPacket && packet.event !== undefined) return packet.event;
  return packet.data?.[0];
}

/** `encoder` that also encodes packets made by encodedPacket(), as socket.io-parser would write them in the main namespace. */
export function encodingAlsoEncoded(encoder: Encoder): Encoder {
  return {
    encode(packet) {
      return packet instanceof TextPacket ? [`${EVENT_PACKET}${packet.args}`] : encoder.encode(packet);
    },
  };
}
