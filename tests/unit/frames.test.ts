/**
 * The sharded adapter's frames the stores and the emitter publish (store/src/frames.ts): JSON, as
 * the adapter sends its own packets, decoded here the way the adapter decodes what it hears; the
 * frame of a room message, cut where the publish script writes the message (the script itself
 * is tested through the nodes in tests/integration/message-frames.test.ts); and readEventFrame,
 * which a node reads them with, leaving the packet's arguments as their JSON bytes.
 */
import { adapterFrame, messageArguments, messageFrame, readEventFrame } from "@switchboard/store";
import fc from "fast-check";
import { decode, encode } from "notepack.io";

/** What ShardedRedisAdapter.onRawMessage does with a frame. */
const asAdapterReads = (raw: Buffer): unknown => (raw[0] === 0x7b ? JSON.parse(raw.toString()) : decode(raw));


describe("adapter frames", () => {
  it("is the ClusterAdapter's BROADCAST of the event to the room, on the room's channel", () => {
    const frame = adapterFrame("uid-1", "r1", "doc:op", [{ a: 1 }], ["sock-1"]);
    expect(frame.channel).toBe("socket.io#/#r1#");
    expect(frame.data[0]).toBe(0x7b);
    expect(asAdapterReads(frame.data)).toEqual({
      uid: "uid-1",
      nsp: "/",
      type: 3,
      data: { opts: { rooms: ["r1"], except: ["sock-1"], flags: {} }, packet: { type: 2, data: ["doc:op", { a: 1 }], nsp: "/" } },
    });
  });

  it("gives each uid and room its own message frame, the same each time, over many rooms", () => {
    const first = messageFrame("uid-a", "t/r1", "r1");
    for (let i = 0; i < 12_000; i++) {
      const frame = messageFrame("uid-a", `t/room-${i}`, `room-${i}`);
      expect(frame.channel).toBe(`socket.io#/#t/room-${i}#`);
      expect(frame.room).toBe(`,"room":"room-${i}",`);
    }
    expect(messageFrame("uid-a", "t/r1", "r1")).toEqual(first);
    expect(messageFrame("uid-b", "t/r1", "r1").head).toContain('"uid":"uid-b"');
    expect(messageFrame("uid-a", "t/r2", "r2").head).toContain('"rooms":["t/r2"]');
  });

  it("cuts a room message's frame where the publish script writes the message", () => {
    const { channel, head, room, tail } = messageFrame("uid-2", "acme/r1", "r1");
    expect(channel).toBe("socket.io#/#acme/r1#");
    // As store/lua/rooms/publish-messages.lua completes it, around a stored message's JSON.
    const stored = JSON.stringify({ from: { userId: "u" }, kind: "text", data: { "\"quoted\"": "\u2028" }, ts: 1, priority: "normal" });
    const raw = Buffer.from(`${head}"17-0","seq":3,"epoch":"ab"${room}${stored.slice(1)}${tail}`);
    expect(asAdapterReads(raw)).toEqual({
      uid: "uid-2",
      nsp: "/",
      type: 3,
      data: {
        opts: { rooms: ["acme/r1"], except: [], flags: {} },
        packet: { type: 2, data: ["room:message", { id: "17-0", seq: 3, epoch: "ab", room: "r1", ...JSON.parse(stored) }], nsp: "/" },
      },
    });
  });
});

describe("readEventFrame", () => {
  it("reads every frame adapterFrame makes: the envelope parsed, the arguments as the JSON bytes of [event, ...args]", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }), fc.array(fc.string(), { maxLength: 2 }), (room, event, args, except) => {
        const frame = adapterFrame("uid-3", room, event, args, except);
        const read = readEventFrame(frame.data);
        expect(read).toEqual({ uid: "uid-3", nsp: "/", opts: { rooms: [room], except, flags: {} }, data: expect.any(Buffer) });
        expect(read!.data.toString()).toBe(JSON.stringify([event, ...args]));
        expect(JSON.parse(read!.data.toString())).toEqual((asAdapterReads(frame.data) as { data: { packet: { data: unknown } } }).data.packet.data);
      }),
      { numRuns: 300 },
    );
  });

  it("reads the arguments of a room message's frame as messageArguments writes them for the publisher's own sockets", () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), json, { minKeys: 1, maxKeys: 5 }), fc.nat(), (room, fields, seq) => {
        const frame = messageFrame("uid-5", `t/${room}`, room);
        const stored = JSON.stringify(fields);
        const id = `${seq + 1}-0`;
        // As store/lua/rooms/publish-messages.lua completes it.
        const raw = Buffer.from(`${frame.head}"${id}","seq":${seq},"epoch":"e1"${frame.room}${stored.slice(1)}${frame.tail}`);
        const args = messageArguments(frame, id, seq, "e1", stored);
        expect(readEventFrame(raw)!.data.toString()).toBe(args);
        expect(JSON.parse(args)).toEqual(["room:message", { id, seq, epoch: "e1", room, ...JSON.parse(stored) }]);
      }),
      { numRuns: 300 },
    );
  });

  it("reads a room message's frame as the publish script completes it", () => {
    const { head, room, tail } = messageFrame("uid-4", "acme/r1", "r1");
    const stored = JSON.stringify({ from: { userId: "u" }, kind: "text", data: { "}}}": "]}}}", "\"packet\"": 1 }, ts: 1, priority: "normal" });
    const raw = Buffer.from(`${head}"17-0","seq":3,"epoch":"ab"${room}${stored.slice(1)}${tail}`);
    const read = readEventFrame(raw)!;
    expect(read.opts).toEqual({ rooms: ["acme/r1"], except: [], flags: {} });
    expect(JSON.parse(read.data.toString())).toEqual(["room:message", { id: "17-0", seq: 3, epoch: "ab", room: "r1", ...JSON.parse(stored) }]);
  });

  it("leaves every other frame to the adapter: its own layout, ack requests, msgpack, cut or broken frames", () => {
    const packet = { type: 2, data: ["e", 1], nsp: "/" };
    const opts = { rooms: ["r"], except: [], flags: {} };
    const others = [
      // The adapter's own JSON: the packet's nsp after its arguments.
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts, packet } }),
      // A broadcast that waits for acks.
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts, packet: { type: 2, nsp: "/", data: ["e"] }, requestId: "q" } }),
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { requestId: "q", opts, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      // Another message type, and a binary packet type.
      JSON.stringify({ uid: "u", nsp: "/", type: 4, data: { opts, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts, packet: { type: 5, nsp: "/", data: ["e"] } } }),
      // Options that are not lists of names.
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts: { rooms: "r", except: [], flags: {} }, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts: { rooms: [1], except: [], flags: {} }, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts: { rooms: [], except: [], flags: null }, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      JSON.stringify({ uid: 7, nsp: "/", type: 3, data: { opts, packet: { type: 2, nsp: "/", data: ["e"] } } }),
      // Arguments that are not a list.
      JSON.stringify({ uid: "u", nsp: "/", type: 3, data: { opts, packet: { type: 2, nsp: "/", data: { e: 1 } } } }),
    ].map((text): Buffer => Buffer.from(text));
    const good = adapterFrame("u", "r", "e", [1]).data;
    others.push(
      Buffer.from(encode({ uid: "u", nsp: "/", type: 3, data: { opts, packet } })),
      good.subarray(0, good.length - 1),
      good.subarray(1),
      Buffer.from(good.toString().replace('"uid":"u"', '"uid":u')),
      Buffer.from(good.toString().replace('{"uid"', '[{"uid"')),
      Buffer.from(good.toString().replace('"opts":', '"opts":{"flags":')),
    );
    for (const raw of others) expect(readEventFrame(raw)).toBeUndefined();
    expect(readEventFrame(good)).toBeDefined();
  });
});
