/**
 * The messages a process publishes into one room in one turn are stored by one script call
 * (store/lua/rooms/publish-messages.lua), on a real redis-server: in the order they were
 * published, each answered as if it had been published alone (published with the next seq,
 * forbidden, duplicate, missing), nothing stored that was refused, and a failed call acknowledges
 * none of them. A burst from one socket, through two nodes, arrives everywhere in the order it
 * was sent.
 */
import { Redis } from "ioredis";
import type { Engine, PublishOutcome, PublishRequest } from "@switchboard/server";
import { closeClients, command, connect } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { openEngine, startBacking, type Backing } from "../helpers/engines";
import { waitFor } from "../helpers/ports";

const TENANT = "default";
const SETTINGS = { historySize: 1000, historyTtlS: 3600, idleTtlS: 3600 };

describe("publishes batched per room and turn (redis engine)", () => {
  let backing: Backing;
  let engine: Engine;
  /** A connection to Redis, and the monitor connection it opened (ioredis opens a new one). */
  let watcher: Redis;
  let monitor: Redis;
  /** The publish script calls Redis ran while watching: their rooms' history keys, and message counts. */
  let calls: { history: string; messages: number }[];

  beforeAll(async () => {
    backing = await startBacking("redis");
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(5000)).toBe(true);
  });
  afterAll(async () => {
    await engine.close();
    await backing.destroy();
  });
  beforeEach(async () => {
    calls = [];
    // Load the script first, so every call below is one EVALSHA.
    const warm = await createRoom("warm-up", ["u1"]);
    expect((await publish(warm, "u1", 0)).status).toBe("published");
    watcher = new Redis(backing.env.REDIS_URL!);
    monitor = await watcher.monitor();
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() !== "evalsha") return;
      const keys = Number(args[2]);
      // KEYS: meta, members, history, then one publish-once key per message.
      if (keys >= 4 && args[5]!.endsWith(":history")) calls.push({ history: args[5]!, messages: keys - 3 });
    });
  });
  afterEach(() => {
    monitor.disconnect();
    watcher.disconnect();
  });

  let roomCount = 0;
  async function createRoom(prefix: string, members: string[]): Promise<string> {
    const id = `${prefix}-${++roomCount}`;
    const record = { tenant: TENANT, id, name: id, type: "chat", visibility: "private" as const, createdBy: members[0]!, createdAt: Date.now(), maxSize: 100 };
    expect(await engine.rooms.create(record, members.map((userId) => ({ userId, joinedAt: Date.now() })), SETTINGS.idleTtlS)).toBe("created");
    return id;
  }

  function publish(room: string, userId: string, n: number, clientMsgId?: string): Promise<PublishOutcome> {
    const request: PublishRequest = {
      tenant: TENANT,
      room,
      message: { from: { userId, deviceId: `${userId}-d` }, kind: "text", data: { n }, ts: Date.now(), priority: "normal" },
      memberRequired: userId,
      ...SETTINGS,
    };
    if (clientMsgId !== undefined) request.clientMsgId = clientMsgId;
    return engine.history.publish(request);
  }

  /** Waits until the monitor has seen `count` publish script calls (it hears them a little after they ran). */
  async function seenCalls(count: number): Promise<typeof calls> {
    const deadline = Date.now() + 5000;
    while (calls.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100)); // and no more than that
    return calls;
  }

  async function historyOf(room: string): Promise<{ n: number; seq?: number; from: string }[]> {
    const { messages } = await engine.history.page(TENANT, room, { limit: 500 });
    return messages.map((m) => ({ n: (m.data as { n: number }).n, seq: m.seq, from: m.from.userId }));
  }

  it("stores one turn's messages of a room with one call, in order, each answered on its own", async () => {
    const room = await createRoom("together", ["u1", "u2"]);
    const outcomes = await Promise.all([
      publish(room, "u1", 1),
      publish(room, "u2", 2),
      publish(room, "stranger", 3), // not a member
      publish(room, "u1", 4, "retry-me"),
      publish(room, "u2", 5),
      publish(room, "u1", 6, "retry-me"), // the same clientMsgId again: the 4th message's answer
      publish(room, "u1", 7),
    ]);
    const published = outcomes.filter((o): o is Extract<PublishOutcome, { status: "published" }> => o.status === "published");
    expect(outcomes.map((o) => o.status)).toEqual(["published", "published", "forbidden", "published", "published", "duplicate", "published"]);
    expect(published.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(published.map((o) => o.epoch)).size).toBe(1);
    expect(outcomes[5]).toEqual({ status: "duplicate", id: (outcomes[3] as { id: string }).id, seq: 3, epoch: published[0]!.epoch });
    // Message ids grow in the order the messages were published.
    const ids = published.map((o) => o.id);
    expect([...ids].sort((a, b) => (a.split("-").map(Number) < b.split("-").map(Number) ? -1 : 1))).toEqual(ids);
    expect(await historyOf(room)).toEqual([
      { n: 1, seq: 1, from: "u1" },
      { n: 2, seq: 2, from: "u2" },
      { n: 4, seq: 3, from: "u1" },
      { n: 5, seq: 4, from: "u2" },
      { n: 7, seq: 5, from: "u1" },
    ]);
    expect(await seenCalls(1)).toEqual([{ history: expect.stringContaining(room), messages: 7 }]);
  });

  it("continues the room's positions across turns, and gives each room of a turn its own call", async () => {
    const [a, b] = [await createRoom("first", ["u1"]), await createRoom("second", ["u1"])];
    expect((await publish(a, "u1", 1)).status).toBe("published");
    const outcomes = await Promise.all([publish(a, "u1", 2), publish(b, "u1", 1), publish(a, "u1", 3), publish(b, "u1", 2)]);
    expect(outcomes.map((o) => (o.status === "published" ? o.seq : o.status))).toEqual([2, 1, 3, 2]);
    expect((await historyOf(a)).map((m) => m.n)).toEqual([1, 2, 3]);
    expect((await historyOf(b)).map((m) => m.n)).toEqual([1, 2]);
    const seen = await seenCalls(3);
    expect(seen.map((c) => c.messages)).toEqual([1, 2, 2]);
    expect(seen.filter((c) => c.history.includes(a)).length).toBe(2);
  });

  it("answers every message of a missing room missing, and stores nothing", async () => {
    const outcomes = await Promise.all([publish("never-made", "u1", 1), publish("never-made", "u1", 2)]);
    expect(outcomes).toEqual([{ status: "missing" }, { status: "missing" }]);
    expect(await historyOf("never-made")).toEqual([]);
  });

  it("splits a turn with more messages than one call holds into calls that keep the order", async () => {
    const room = await createRoom("many", ["u1"]);
    const outcomes = await Promise.all(Array.from({ length: 150 }, (_, i) => publish(room, "u1", i + 1)));
    expect(outcomes.map((o) => (o.status === "published" ? o.seq : o.status))).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect((await historyOf(room)).map((m) => m.n)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect((await seenCalls(3)).map((c) => c.messages)).toEqual([64, 64, 22]);
  });

  it("acknowledges none of a turn's messages when the call fails, and stores none", async () => {
    const room = await createRoom("refused", ["u1"]);
    // The room's history key made a plain string: the script's first read of it fails (WRONGTYPE),
    // before it writes anything.
    const writer = new Redis(backing.env.REDIS_URL!);
    const historyKey = (await writer.keys(`*${room}*:members`))[0]!.replace(/:members$/, ":history");
    await writer.set(historyKey, "not a stream");
    const outcomes = await Promise.allSettled([publish(room, "u1", 1), publish(room, "u1", 2), publish(room, "u1", 3)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(await writer.get(historyKey)).toBe("not a stream");
    writer.disconnect();
  });
});

describe("a burst of publishes from one socket (redis engine, 2 nodes)", () => {
  const cluster = clusterFixture({ backing: "redis", nodes: 2, env: { RATE_LIMIT_POINTS: "100000" } });
  afterEach(() => closeClients());

  it("is stored, acknowledged and delivered on every node in the order it was sent, nothing lost", async () => {
    const room = cluster.unique("burst");
    const publisher = await connect(cluster.url(0), { tokenOptions: { sub: "burst-pub" } });
    const near = await connect(cluster.url(0), { tokenOptions: { sub: "burst-near" } });
    const far = await connect(cluster.url(1), { tokenOptions: { sub: "burst-far" } });
    expect((await command(publisher, "room:create", { id: room, name: "Burst" })).ok).toBe(true);
    for (const socket of [publisher, near, far]) expect((await command(socket, "room:join", { room })).ok).toBe(true);
    const inboxes = [near, far].map((socket) => collect<{ seq: number; data: number }>(socket, "room:message"));

    // Sent in one go, without waiting for acks: the node reads them together and stores them in
    // few script calls (more than one call holds, so the order must also hold across calls).
    const count = 150;
    const acks = await Promise.all(Array.from({ length: count }, (_, i) => command(publisher, "room:publish", { room, data: i + 1 })));
    expect(acks.map((a) => a.ok)).toEqual(Array(count).fill(true));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));

    await waitFor(() => inboxes.every((inbox) => inbox.length >= count), 10000, "every message on both nodes");
    for (const inbox of inboxes) {
      expect(inbox.map((m) => m.data)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      expect(inbox.map((m) => m.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    }
    const history = await command(near, "room:history", { room, limit: 500 });
    expect((history.messages as { data: number }[]).map((m) => m.data)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});
