/**
 * Packets a node hands its sockets with the arguments still JSON text (server/src/engine/
 * encoded-packets.ts: read from Redis frames by engine/redis/adapter-frames.ts, or written by the
 * node's own publish, engine/socket-delivery.ts):
 * encoded exactly as socket.io-parser encodes the same packet parsed, their event read without
 * parsing, their arguments parsed only when something reads them.
 */
import { execFileSync } from "node:child_process";
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

  it("share one hidden class, whatever their text and whether their arguments were read", () => {
    // V8's own test natives, in a process of their own: an object literal with a getter of its own
    // gives each packet a hidden class, which outlives the young generation with the text it holds.
    const script = `
      const { encodedPacket } = require(${JSON.stringify(require.resolve("@switchboard/server/dist/engine/encoded-packets"))});
      const packets = ['["a",1]', '["room:message",{"x":"y"}]', "[7]", '["e"'].map(encodedPacket);
      void packets[1].data;
      process.stdout.write(JSON.stringify(packets.map((p) => [%HaveSameMap(p, packets[0]), %HasFastProperties(p)])));
    `;
    const shapes = JSON.parse(execFileSync(process.execPath, ["--allow-natives-syntax", "-e", script], { encoding: "utf8" }));
    expect(shapes).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [true, true],
    ]);
  });

  it("take what the adapter writes into a packet it broadcasts, and an empty event name", () => {
    const packet = encodedPacket('["e",{"a":1}]') as { type: number; nsp: string; id?: number; data?: unknown[] };
    packet.nsp = "/";
    packet.id = 4;
    expect(packet).toMatchObject({ type: 2, nsp: "/", id: 4 });
    expect(packet.data).toEqual(["e", { a: 1 }]);
    expect(packetEvent(encodedPacket('["",1]'))).toBe("");
  });
});
