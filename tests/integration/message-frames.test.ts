/**
 * A room message reaches other nodes in a frame the publish script completes around the stored
 * JSON (store/lua/rooms/publish-messages.lua), and the publishing node's own members in the same
 * text (messageArguments): what a member on either node receives is exactly what history holds,
 * for any JSON data and any string, on one Redis and on a Redis Cluster.
 */
import fc from "fast-check";
import { closeClients, command, connect, type Client } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";

jest.setTimeout(60000);

describe.each(["redis", "redis-cluster"] as const)("room messages through the publish script's frames (%s)", (backing) => {
  const { url, unique } = clusterFixture({ backing, nodes: 2, env: { RATE_LIMIT_POINTS: "100000" } });
  afterAll(() => closeClients());

  it("delivers on both nodes exactly the stored message, with the acked id, seq and epoch", async () => {
    const room = unique("frames");
    const sender = await connect(url(0), { tokenOptions: { sub: "frames-a" } });
    const receiver: Client = await connect(url(1), { tokenOptions: { sub: "frames-b" } });
    expect((await command(sender, "room:create", { id: room, name: room })).ok).toBe(true);
    expect((await command(receiver, "room:join", { room })).ok).toBe(true);
    // A member on the publishing node too: it gets each message once, from that node itself.
    const local: Client = await connect(url(0), { tokenOptions: { sub: "frames-c" } });
    expect((await command(local, "room:join", { room })).ok).toBe(true);
    const received = new Map<string, unknown>();
    receiver.on("room:message", (m: { id: string }) => received.set(m.id, m));
    const localCounts = new Map<string, number>();
    const localReceived = new Map<string, unknown>();
    local.on("room:message", (m: { id: string }) => {
      localCounts.set(m.id, (localCounts.get(m.id) ?? 0) + 1);
      localReceived.set(m.id, m);
    });

    const acked: { id: string; seq: number; epoch: string }[] = [];
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.string({ unit: "binary", maxLength: 40 }), async (data, text) => {
        const ack = await command(sender, "room:publish", { room, data: { text, data }, kind: "note" });
        if (!ack.ok) {
          // A payload the nodes refuse (a reserved key, say) is refused, never half sent.
          expect(ack.error?.code).toBe("VALIDATION_FAILED");
          return;
        }
        acked.push({ id: ack.id as string, seq: ack.seq as number, epoch: ack.epoch as string });
      }),
      { numRuns: 60 },
    );
    expect(acked.length).toBeGreaterThan(40);
    const deadline = Date.now() + 10000;
    while (received.size < acked.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

    const history = await command(sender, "room:history", { room, limit: 100 });
    const stored = new Map((history.messages as { id: string }[]).map((m) => [m.id, m]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...localCounts.values()].every((n) => n === 1)).toBe(true);
    expect(localCounts.size).toBe(acked.length);
    for (const { id, seq, epoch } of acked) {
      expect(received.get(id)).toEqual(stored.get(id));
      expect(localReceived.get(id)).toEqual(stored.get(id));
      expect(received.get(id)).toMatchObject({ id, seq, epoch, room, kind: "note", from: { userId: "frames-a" } });
    }
  });
});
