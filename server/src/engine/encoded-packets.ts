/**
 * Broadcast packets whose arguments are still the JSON text they arrived in (a frame from Redis,
 * see redis/adapter-frames.ts): encoded by taking that text as it is, parsed only when read.
 */

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const ENCODED = Symbol("encoded");

interface Packet {
  type: number;
  nsp: string;
  data?: unknown[];
}

/** A packet whose arguments are still the JSON bytes of the frame that brought it. */
interface EncodedPacket extends Packet {
  [ENCODED]: { args: Buffer; event?: string };
}

/** socket.io-parser's encoder, as the in-memory adapter holds it (the server's own). */
export interface Encoder {
  encode(packet: Packet): unknown[];
}

/** An encoded packet's event, read from its bytes: `["<event>",…` with no escape in the name. */
function leadingEvent(args: Buffer): string | undefined {
  if (args[1] !== QUOTE) return undefined;
  const end = args.indexOf(QUOTE, 2);
  if (end < 0) return undefined;
  const escape = args.indexOf(BACKSLASH, 2);
  return escape >= 0 && escape < end ? undefined : args.toString("utf8", 2, end);
}

/** A packet of the main namespace whose arguments are `args`, the JSON bytes of `[event, ...args]`. */
export function encodedPacket(nsp: string, args: Buffer): EncodedPacket {
  let data: unknown[] | undefined;
  return {
    type: EVENT_PACKET,
    nsp,
    [ENCODED]: { args, event: leadingEvent(args) },
    get data() {
      return (data ??= JSON.parse(args.toString()) as unknown[]);
    },
  };
}

/** The event a broadcast packet carries, read without parsing its arguments when they are still bytes. */
export function packetEvent(packet: { data?: unknown[] }): unknown {
  const encoded = (packet as Partial<EncodedPacket>)[ENCODED];
  return encoded?.event ?? packet.data?.[0];
}

/** `encoder` that also encodes packets made by encodedPacket(), as socket.io-parser would write them in the main namespace. */
export function encodingAlsoEncoded(encoder: Encoder): Encoder {
  return {
    encode(packet) {
      const encoded = (packet as Partial<EncodedPacket>)[ENCODED];
      return encoded ? [`${EVENT_PACKET}${encoded.args.toString()}`] : encoder.encode(packet);
    },
  };
}
