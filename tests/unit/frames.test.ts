/**
 * The sharded adapter's frames the stores and the emitter publish (store/src/frames.ts): JSON, as
 * the adapter sends its own packets, decoded here the way the adapter decodes what it hears; and
 * the frame of a room message, cut where the publish script writes the message (the script itself
 * is tested through the nodes in tests/integration/message-frames.test.ts).
 */
import { adapterFrame, messageFrame } from "@switchboard/store";
import { decode } from "notepack.io";

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

  it("gives each uid and room its own message frame, also once more rooms were framed than it keeps", () => {
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
    // As store/lua/rooms/publish-message.lua completes it, around a stored message's JSON.
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
