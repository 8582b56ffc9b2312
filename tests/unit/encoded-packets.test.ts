/**
 * Packets a node hands its sockets with the arguments still JSON text (server/src/engine/
 * encoded-packets.ts: read from Redis frames by engine/redis/adapter-frames.ts, or written by the
 * node's own publish, engine/socket-delivery.ts):
 * encoded exactly as socket.io-parser encodes the same packet parsed, their event read without
 * parsing, their arguments parsed only when something reads them.
 */
import { encodedPacket, encodingAlsoEncoded, packetEvent } from "@switchboard/server/dist/engine/encoded-packets";
import fc from "fast-check";
import { Encoder } from "socket.io-parser";

const parser = new Encoder();
const encoder = encodingAlsoEncoded(parser);

describe("encoded packets", () => {
  it("encode as socket.io-parser encodes the parsed packet, for any event and JSON arguments", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }), (event, args) => {
        const data = [event, ...args];
        const packet = encodedPacket(JSON.stringify(data));
        expect(encoder.encode(packet)).toEqual(parser.encode({ type: 2, nsp: "/", data }));
        expect(packetEvent(packet)).toBe(event);
        expect(packet.data).toEqual(JSON.parse(JSON.stringify(data)));
      }),
      { numRuns: 300 },
    );
  });

  it("tell their event from the text alone and parse the arguments only when they are read", () => {
    // Text that could not be parsed: reading the event must not try.
    const packet = encodedPacket('["room:message",{"cut');
    expect(packetEvent(packet)).toBe("room:message");
    expect(encoder.encode(packet)).toEqual(['2["room:message",{"cut']);
    expect(() => packet.data).toThrow(SyntaxError);
  });

  it("parse an event name with an escape in it instead of reading it from the text", () => {
    const packet = encodedPacket(JSON.stringify(['a"b', 1]));
    expect(packetEvent(packet)).toBe('a"b');
    expect(packetEvent(encodedPacket(JSON.stringify([7])))).toBe(7);
  });

  it("leave every other packet to the encoder it wraps", () => {
    const packet = { type: 2, nsp: "/", data: ["e", { a: 1 }] };
    expect(encoder.encode(packet)).toEqual(parser.encode(packet));
    expect(packetEvent(packet)).toBe("e");
  });
});
