/**
 * The sharded adapter's frames the stores and the emitter publish (store/src/frames.ts): JSON, as
 * the adapter sends its own packets, decoded here the way the adapter decodes what it hears; and
 * the split frame of a room message, whose id, seq and epoch the publish script splices in.
 */
import { adapterFrame, splitAdapterFrame } from "@switchboard/store";
import { decode } from "notepack.io";
import fc from "fast-check";

/** What ShardedRedisAdapter.onRawMessage does with a frame. */
const asAdapterReads = (raw: Buffer): unknown => (raw[0] === 0x7b ? JSON.parse(raw.toString()) : decode(raw));

/** What store/lua/rooms/publish-message.lua does with the parts. */
const splice = (parts: Buffer[], id: string, seq: number, epoch: string): Buffer =>
  Buffer.concat([parts[0]!, Buffer.from(`"${id}"`), parts[1]!, Buffer.from(String(seq)), parts[2]!, Buffer.from(`"${epoch}"`), parts[3]!]);

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

  it("splits a message around its placeholders so the spliced frame carries the stored values, whatever the data", () => {
    const marks = ["sb-id-0f0f", "sb-seq-0f0f", "sb-epoch-0f0f"];
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.string({ unit: "binary" }),
        fc.nat(),
        fc.stringMatching(/^[0-9a-f]{1,16}$/),
        (data, text, seq, epoch) => {
          const message = { id: marks[0], seq: marks[1], epoch: marks[2], room: "r1", data, text, also: "sb-id-0f0" };
          const { channel, parts } = splitAdapterFrame("uid-2", "r1", "room:message", [message], marks);
          expect(channel).toBe("socket.io#/#r1#");
          expect(parts).toHaveLength(4);
          const id = `${1700000000000 + seq}-${seq % 7}`;
          const read = asAdapterReads(splice(parts, id, seq, epoch)) as { data: { packet: { data: [string, unknown] } } };
          expect(read.data.packet.data).toEqual(["room:message", JSON.parse(JSON.stringify({ ...message, id, seq, epoch }))]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses to split a frame that lacks a placeholder", () => {
    expect(() => splitAdapterFrame("uid", "r1", "room:message", [{ id: "sb-id-x" }], ["sb-id-x", "sb-seq-x"])).toThrow("placeholder");
  });
});
