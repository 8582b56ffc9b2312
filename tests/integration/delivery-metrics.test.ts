/**
 * `switchboard_messages_delivered_total` counts the `room:message` events this node's sockets were
 * handed — published on this node or on another — and nothing else: not the other events that
 * reach the same sockets (typing, presence, receipts), nor sockets outside the room. Summed over
 * the nodes it equals what the clients received.
 */
import { closeClients, command, connect, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { sleep, waitFor } from "../helpers/ports";

describe.each(["memory", "redis"] as const)("delivered room messages metric (%s engine)", (name) => {
  const nodes = name === "redis" ? 3 : 1;
  const { url, unique } = clusterFixture({ backing: name, nodes, env: { RATE_LIMIT_POINTS: "10000" } });
  afterEach(() => closeClients());

  const delivered = async () => {
    let total = 0;
    for (let i = 0; i < nodes; i++) total += metricValue(await scrape(url(i)), "switchboard_messages_delivered_total") || 0;
    return total;
  };

  it("equals the room messages the sockets received, on every node", async () => {
    const room = unique("room");
    const members: Client[] = [];
    for (let i = 0; i < 3; i++) members.push(await connect(url(i), { tokenOptions: { sub: unique(`member${i}`) } }));
    const outsider = await connect(url(1), { tokenOptions: { sub: unique("outsider") } });
    expect(await command(members[0]!, "room:create", { id: room, name: "Counted" })).toMatchObject({ ok: true });
    for (const socket of members) expect(await command(socket, "room:join", { room })).toMatchObject({ ok: true });
    const before = await delivered();

    // Another event the members get, in the same rooms: typing.
    const typing = nextEvent(members[1]!, "room:typing");
    expect(await command(members[0]!, "room:typing", { room, typing: true })).toEqual({ ok: true });
    await typing;
    const received = members.map((socket) => collect(socket, "room:message"));
    const outsiderGot = collect(outsider, "room:message");
    for (let i = 0; i < 4; i++) {
      const from = members[i % members.length]!;
      expect(await command(from, "room:publish", { room, data: { i } })).toMatchObject({ ok: true });
    }
    await waitFor(() => received.every((r) => r.length === 4), 5000, "every member's four messages");
    await waitFor(async () => (await delivered()) - before === 12, 5000, "12 deliveries counted");
    // Nothing more is counted afterwards either.
    await sleep(300);
    expect((await delivered()) - before).toBe(12);
    expect(outsiderGot).toHaveLength(0);
  });
});
