/**
 * Positions of room messages (PROTOCOL §3 "Rooms and messages"): every message carries its room's
 * `seq` (1, 2, 3, … with no hole) and history `epoch`, assigned where it is stored, so a receiver
 * can tell a lost delivery from the next message. Publishers on every node (and the emitter)
 * share one sequence; acks, join answers, history, `since` recovery and REST history carry the
 * positions; a room whose history was lost (its key gone, Redis restarted empty) starts a new epoch.
 */
import { keyLayout } from "@switchboard/shared";
import { SwitchboardEmitter } from "@switchboard/emitter";
import { closeClients, command, connect } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { waitFor } from "../helpers/ports";

interface Msg {
  id: string;
  seq: number;
  epoch: string;
  data: unknown;
}

/** Orders `<ms>-<n>` message ids. */
function compareIds(a: string, b: string): number {
  const [am, an] = a.split("-").map(Number) as [number, number];
  const [bm, bn] = b.split("-").map(Number) as [number, number];
  return am - bm || an - bn;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(["memory", "redis"] as const)("room message positions (%s engine)", (name) => {
  const nodeCount = name === "redis" ? 3 : 1;
  const cluster = clusterFixture({ backing: name, nodes: nodeCount, env: { RATE_LIMIT_POINTS: "100000" } });
  const { url, unique, rest } = cluster;
  const user = (sub: string, i: number) => connect(url(i), { tokenOptions: { sub } });
  afterEach(() => closeClients());

  it("numbers messages of concurrent publishers on every node contiguously, in history order, and says where a room stands", async () => {
    const room = unique("seq");
    const publishers = await Promise.all([0, 1, 2].map((i) => user(`pub-${i}`, i)));
    await command(publishers[0]!, "room:create", { id: room, name: "Seq" });
    const empty = await command(publishers[1]!, "room:join", { room });
    expect(empty).toMatchObject({ ok: true, seq: 0 });
    expect(empty.epoch).toBeUndefined();
    await command(publishers[0]!, "room:join", { room });
    await command(publishers[2]!, "room:join", { room });
    const inboxes = publishers.map((p) => collect<Msg>(p, "room:message"));

    const perPublisher = 15;
    const acks = (await Promise.all(publishers.map((p, i) => Promise.all(range(1, perPublisher).map((n) => command(p, "room:publish", { room, data: `${i}:${n}` })))))).flat();
    const total = publishers.length * perPublisher;
    expect(acks.every((a) => a.ok)).toBe(true);
    expect(acks.map((a) => a.seq as number).sort((a, b) => a - b)).toEqual(range(1, total));
    const epoch = acks[0]!.epoch as string;
    expect(acks.every((a) => a.epoch === epoch)).toBe(true);

    // Every member gets every message with the stored position; ordered by id, seq counts up with no hole.
    await waitFor(() => inboxes.every((inbox) => inbox.length >= total), 10000, "every message on every node");
    for (const inbox of inboxes) {
      const byId = [...inbox].sort((a, b) => compareIds(a.id, b.id));
      expect(byId.map((m) => m.seq)).toEqual(range(1, total));
      expect(inbox.every((m) => m.epoch === epoch)).toBe(true);
    }

    // History, REST history, recovery and the join answer carry the same positions.
    const history = await command(publishers[0]!, "room:history", { room, limit: 500 });
    const stored = history.messages as Msg[];
    expect(stored.map((m) => m.seq)).toEqual(range(1, total));
    expect(stored.every((m) => m.epoch === epoch)).toBe(true);
    const viaRest = await rest("GET", `/v1/rooms/${room}/messages?after=${stored[total - 3]!.id}`);
    expect((viaRest.body.messages as Msg[]).map((m) => [m.seq, m.epoch])).toEqual([
      [total - 1, epoch],
      [total, epoch],
    ]);
    const late = await user("late", 1);
    const join = await command(late, "room:join", { room, since: stored[total - 2]!.id });
    expect(join).toMatchObject({ ok: true, recovered: true, seq: total, epoch, missed: [{ seq: total, epoch }] });
    expect(await command(late, "room:join", { room })).toMatchObject({ ok: true, seq: total, epoch });
  });

  it("answers a retried publish with the first one's position, and a service's publish takes the next one", async () => {
    const room = unique("dup");
    const alice = await user("alice", 0);
    await command(alice, "room:create", { id: room, name: "Dup" });
    const first = await command(alice, "room:publish", { room, data: "pay", clientMsgId: "pay-1" });
    const other = await command(alice, "room:publish", { room, data: "other" });
    const retry = await command(alice, "room:publish", { room, data: "pay", clientMsgId: "pay-1" });
    expect([first.seq, other.seq]).toEqual([1, 2]);
    expect(retry).toMatchObject({ ok: true, duplicate: true, id: first.id, seq: 1, epoch: first.epoch });
    const service = await rest("POST", `/v1/rooms/${room}/messages`, { body: { data: "from a backend", clientMsgId: "svc-1" }, node: nodeCount - 1 });
    expect(service.body).toMatchObject({ seq: 3, epoch: first.epoch });
    const again = await rest("POST", `/v1/rooms/${room}/messages`, { body: { data: "from a backend", clientMsgId: "svc-1" } });
    expect(again.body).toMatchObject({ seq: 3, epoch: first.epoch, duplicate: true });
  });

  if (name !== "redis") return;

  it("shares the sequence with the emitter", async () => {
    const room = unique("emitter");
    const alice = await user("alice", 0);
    await command(alice, "room:create", { id: room, name: "Emitter" });
    await command(alice, "room:join", { room });
    const inbox = collect<Msg>(alice, "room:message");
    const emitter = new SwitchboardEmitter({ redis: cluster.redis.url });
    try {
      const before = await command(alice, "room:publish", { room, data: "node" });
      const emitted = await emitter.room(room).publish("backend");
      expect(emitted).toEqual({ id: expect.any(String), ts: expect.any(Number), seq: 2, epoch: before.epoch });
      const retried = await emitter.room(room).publish("backend", { clientMsgId: "e-1" });
      expect(await emitter.room(room).publish("backend", { clientMsgId: "e-1" })).toMatchObject({ duplicate: true, seq: retried.seq, epoch: before.epoch });
      await waitFor(() => inbox.length >= 3, 5000, "three messages");
      expect(inbox.map((m) => [m.seq, m.epoch])).toEqual([
        [1, before.epoch],
        [2, before.epoch],
        [3, before.epoch],
      ]);
    } finally {
      await emitter.close();
    }
  });

  it("starts a new epoch at 1 when the room's history key is lost while the room lives on", async () => {
    const room = unique("lost");
    const alice = await user("alice", 0);
    const bob = await user("bob", 1);
    await command(alice, "room:create", { id: room, name: "Lost" });
    await command(bob, "room:join", { room });
    const inbox = collect<Msg>(bob, "room:message");
    await command(alice, "room:publish", { room, data: 1 });
    const last = await command(alice, "room:publish", { room, data: 2 });
    const probe = cluster.redis.client();
    try {
      expect(await probe.del(keyLayout().roomHistory("", room))).toBe(1);
    } finally {
      probe.disconnect();
    }
    expect(await command(bob, "room:join", { room })).toMatchObject({ ok: true, seq: 0 });
    const next = await command(alice, "room:publish", { room, data: 3 });
    expect(next.seq).toBe(1);
    expect(next.epoch).not.toBe(last.epoch);
    await waitFor(() => inbox.length >= 3, 5000, "three messages");
    expect(inbox.map((m) => [m.data, m.seq, m.epoch])).toEqual([
      [1, 1, last.epoch],
      [2, 2, last.epoch],
      [3, 1, next.epoch],
    ]);
    expect(await command(bob, "room:join", { room, since: last.id })).toMatchObject({ ok: true, recovered: false, seq: 1, epoch: next.epoch });
  });

  it("starts a new epoch at 1 after Redis restarted empty, for the room re-created with its id", async () => {
    const room = unique("restart");
    const alice = await user("alice", 0);
    await command(alice, "room:create", { id: room, name: "Restart" });
    await command(alice, "room:join", { room });
    const inbox = collect<Msg>(alice, "room:message");
    const before = await command(alice, "room:publish", { room, data: "before" });
    await cluster.redis.kill();
    await cluster.redis.restart();
    // Nodes serve again, and the socket is still in the room; the room itself was lost with Redis.
    await waitFor(async () => (await rest("GET", `/v1/rooms/${room}`)).status === 404, 15000, "nodes back on the empty Redis");
    expect((await rest("POST", "/v1/rooms", { body: { id: room, name: "Restart", members: ["alice"] } })).status).toBe(201);
    const after = await command(alice, "room:publish", { room, data: "after" });
    expect(after).toMatchObject({ ok: true, seq: 1 });
    expect(after.epoch).not.toBe(before.epoch);
    await waitFor(() => inbox.length >= 2, 5000, "both messages");
    expect(inbox.map((m) => [m.data, m.seq, m.epoch])).toEqual([
      ["before", 1, before.epoch],
      ["after", 1, after.epoch],
    ]);
  });
});
