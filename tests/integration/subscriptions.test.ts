/**
 * Subscriptions per socket (MAX_SUBSCRIPTIONS_PER_SOCKET) on the memory engine (one node) and on
 * Redis (two nodes): every subscribing command — room:join, presence:watch, leaderboard:subscribe,
 * stream:subscribe, agent:subscribe, workspace:join, doc:open — counts against one cap per socket;
 * over it the command answers QUOTA_EXCEEDED and changes nothing; an unsubscribe frees a place.
 */
import { closeClients, command, connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { sleep, waitFor } from "../helpers/ports";
import { serviceToken } from "../helpers/tokens";

const LIMIT = 3;

type Command = [event: string, payload: Record<string, unknown>];

/** One kind of subscription: what to subscribe to, how, and what reaches a subscriber of it. */
interface Kind {
  /** LIMIT + 1 things `userId` may subscribe to. */
  setup(userId: string): Promise<string[]>;
  subscribe(id: string): Command;
  unsubscribe(id: string): Command;
  /** Makes something happen that a subscriber of `id` hears as `event`. */
  trigger(id: string): Promise<void>;
  event: string;
  /** The id an event is about. */
  about(event: Record<string, unknown>): unknown;
  /** Checks that a refused subscription to `id` left nothing behind in the store. */
  unchanged?(id: string): Promise<void>;
}

describe.each(["memory", "redis"] as const)("subscriptions per socket (%s engine)", (name) => {
  const { url, unique } = clusterFixture({
    backing: name,
    nodes: name === "redis" ? 2 : 1,
    env: {
      MAX_SUBSCRIPTIONS_PER_SOCKET: String(LIMIT),
      RATE_LIMIT_POINTS: "10000",
      LEADERBOARD_UPDATE_INTERVAL_MS: "20",
      STREAM_UPDATE_INTERVAL_MS: "20",
      STREAM_BATCH_MS: "0",
    },
  });
  const user = (sub: string, i = 0) => connect(url(i), { tokenOptions: { sub }, deviceId: unique("dev") });

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${url(0)}${path}`, {
      method,
      headers: { authorization: `Bearer ${await serviceToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function created(path: string, body: unknown): Promise<void> {
    const reply = await rest("POST", path, body);
    if (reply.status !== 201 && reply.status !== 200) throw new Error(`${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  }

  const many = <T>(make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: LIMIT + 1 }, (_, i) => make(i)));

  async function workspaceOf(userId: string): Promise<string> {
    const id = unique("ws");
    await created("/v1/workspaces", { id, name: id, members: [userId] });
    return id;
  }

  const kinds: Record<string, Kind> = {
    "room:join": {
      setup: () =>
        many(async () => {
          const id = unique("room");
          await created("/v1/rooms", { id, name: id });
          return id;
        }),
      subscribe: (room) => ["room:join", { room }],
      unsubscribe: (room) => ["room:leave", { room }],
      trigger: async (room) => void (await rest("POST", `/v1/rooms/${room}/messages`, { data: "hi" })),
      event: "room:message",
      about: (e) => e.room,
      // The refused join did not make the user a member.
      unchanged: async (room) => expect((await rest("GET", `/v1/rooms/${room}`)).body.room).toMatchObject({ memberCount: 0 }),
    },
    "presence:watch": {
      setup: () => many(async () => unique("watched")),
      subscribe: (userId) => ["presence:watch", { userIds: [userId] }],
      unsubscribe: (userId) => ["presence:unwatch", { userIds: [userId] }],
      trigger: async (userId) => void (await user(userId, 1)),
      event: "presence:update",
      about: (e) => e.userId,
    },
    "leaderboard:subscribe": {
      setup: () => many(async () => unique("board")),
      subscribe: (id) => ["leaderboard:subscribe", { id }],
      unsubscribe: (id) => ["leaderboard:unsubscribe", { id }],
      trigger: async (id) => void (await rest("POST", `/v1/leaderboards/${id}/scores`, { userId: "player", value: 1 })),
      event: "leaderboard:update",
      about: (e) => e.id,
    },
    "stream:subscribe": {
      setup: () => many(async () => unique("signal")),
      subscribe: (name) => ["stream:subscribe", { name }],
      unsubscribe: (name) => ["stream:unsubscribe", { name }],
      trigger: async (name) => void (await rest("POST", `/v1/streams/${name}/points`, { points: [{ value: 1 }] })),
      event: "stream:update",
      about: (e) => e.name,
    },
    "agent:subscribe": {
      setup: async (userId) => {
        const ws = await workspaceOf(userId);
        return many(async () => {
          const id = unique("agent");
          await created("/v1/agents", { id, workspaceId: ws, ownerId: userId });
          return id;
        });
      },
      subscribe: (agentId) => ["agent:subscribe", { agentId }],
      unsubscribe: (agentId) => ["agent:unsubscribe", { agentId }],
      trigger: async (agentId) => void (await rest("POST", `/v1/agents/${agentId}/started`, { executionId: unique("run") })),
      event: "agent:execution_start",
      about: (e) => e.agentId,
    },
    "workspace:join": {
      setup: (userId) => many(() => workspaceOf(userId)),
      subscribe: (workspaceId) => ["workspace:join", { workspaceId }],
      unsubscribe: (workspaceId) => ["workspace:leave", { workspaceId }],
      trigger: async (workspaceId) => void (await rest("POST", `/v1/workspaces/${workspaceId}/updates`, { updateType: "ping" })),
      event: "workspace:update",
      about: (e) => e.workspaceId,
    },
    "doc:open": {
      setup: async (userId) => {
        const ws = await workspaceOf(userId);
        return many(async (i) => `workspace:${ws}/notes-${i}`);
      },
      subscribe: (docId) => ["doc:open", { docId }],
      unsubscribe: (docId) => ["doc:close", { docId }],
      trigger: async (docId) => void (await rest("POST", `/v1/docs/${encodeURIComponent(docId)}/ops`, { version: 0, op: ["x"] })),
      event: "doc:op",
      about: (e) => e.docId,
      // A member's doc:open creates the document: a refused one did not.
      unchanged: async (docId) => expect((await rest("GET", `/v1/docs/${encodeURIComponent(docId)}`)).status).toBe(404),
    },
  };

  afterEach(() => closeClients());

  it.each(Object.keys(kinds))("%s: refuses past the cap with QUOTA_EXCEEDED, changes nothing, and subscribes again after an unsubscribe", async (kindName) => {
    const kind = kinds[kindName]!;
    const userId = unique("user");
    const ids = await kind.setup(userId);
    const client = await user(userId);
    for (const id of ids.slice(0, LIMIT)) expect(await command(client, ...kind.subscribe(id))).toMatchObject({ ok: true });
    // What the socket has already costs nothing.
    expect(await command(client, ...kind.subscribe(ids[0]!))).toMatchObject({ ok: true });

    const over = ids[LIMIT]!;
    expect(await command(client, ...kind.subscribe(over))).toEqual({ ok: false, error: { code: "QUOTA_EXCEEDED", message: expect.any(String), details: { limit: LIMIT } } });
    await kind.unchanged?.(over);
    // Nothing of the refused subscription reaches the socket, while the others still do.
    const heard: unknown[] = [];
    client.on(kind.event, (event: Record<string, unknown>) => heard.push(kind.about(event)));
    await kind.trigger(over);
    await kind.trigger(ids[1]!);
    await waitFor(() => heard.includes(ids[1]), 5000);
    await sleep(150);
    expect(heard).not.toContain(over);

    // An unsubscribe frees a place.
    expect(await command(client, ...kind.unsubscribe(ids[0]!))).toMatchObject({ ok: true });
    expect(await command(client, ...kind.subscribe(over))).toMatchObject({ ok: true });
    expect((await command(client, ...kind.subscribe(ids[0]!))).error).toMatchObject({ code: "QUOTA_EXCEEDED" });
    // The cap is per socket: another connection of the same user has places of its own.
    const other = await user(userId, 1);
    expect(await command(other, ...kind.subscribe(ids[0]!))).toMatchObject({ ok: true });
  });

  it("counts every kind against one cap, and simultaneous subscribes never overshoot it", async () => {
    const userId = unique("user");
    const [room] = await kinds["room:join"]!.setup(userId);
    const client = await user(userId);
    expect(await command(client, "room:join", { room })).toMatchObject({ ok: true });
    expect(await command(client, "leaderboard:subscribe", { id: unique("board") })).toMatchObject({ ok: true });
    expect(await command(client, "presence:watch", { userIds: [unique("watched"), unique("watched")] })).toEqual({
      ok: false,
      error: { code: "QUOTA_EXCEEDED", message: expect.any(String), details: { limit: LIMIT } },
    });
    expect(await command(client, "stream:subscribe", { name: unique("signal") })).toMatchObject({ ok: true });
    expect((await command(client, "presence:watch", { userIds: [unique("watched")] })).error).toMatchObject({ code: "QUOTA_EXCEEDED" });

    const racer = await user(userId);
    const rooms = await kinds["room:join"]!.setup(userId);
    const boards = [unique("board"), unique("board")];
    const acks = await Promise.all([...rooms.map((r) => command(racer, "room:join", { room: r })), ...boards.map((id) => command(racer, "leaderboard:subscribe", { id }))]);
    expect(acks.filter((a) => a.ok)).toHaveLength(LIMIT);
    expect(acks.filter((a) => !a.ok).map((a) => a.error?.code)).toEqual(Array.from({ length: acks.length - LIMIT }, () => "QUOTA_EXCEEDED"));
    // A refused room:join made nobody a member.
    const joined = acks.slice(0, rooms.length).filter((a) => a.ok).length;
    const counts = await Promise.all(rooms.map(async (r) => ((await rest("GET", `/v1/rooms/${r}`)).body.room as { memberCount: number }).memberCount));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(joined);
  });

  it("keeps room:join's ROOM_FULL, private-room and membership answers under the cap", async () => {
    const userId = unique("user");
    const full = unique("full");
    const secret = unique("secret");
    await created("/v1/rooms", { id: full, name: full, maxSize: 1, members: ["someone"] });
    await created("/v1/rooms", { id: secret, name: secret, visibility: "private" });
    const client = await user(userId);
    expect((await command(client, "room:join", { room: full })).error).toMatchObject({ code: "ROOM_FULL" });
    expect((await command(client, "room:join", { room: secret })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(client, "room:join", { room: unique("missing") })).error).toMatchObject({ code: "NOT_FOUND" });
    // None of those took a place: the socket still subscribes to LIMIT things.
    const rooms = await kinds["room:join"]!.setup(userId);
    for (const room of rooms.slice(0, LIMIT)) expect(await command(client, "room:join", { room })).toMatchObject({ ok: true, room: { memberCount: 1 } });
    // Past the cap, the refusals that come before membership still come first.
    expect((await command(client, "room:join", { room: secret })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(client, "room:join", { room: rooms[LIMIT]! })).error).toMatchObject({ code: "QUOTA_EXCEEDED" });
    // Leaving ends the membership and frees the place.
    expect(await command(client, "room:leave", { room: rooms[0]! })).toEqual({ ok: true, removed: true });
    expect(((await rest("GET", `/v1/rooms/${rooms[0]!}`)).body.room as { memberCount: number }).memberCount).toBe(0);
    expect(await command(client, "room:join", { room: rooms[LIMIT]! })).toMatchObject({ ok: true, room: { memberCount: 1 } });
  });
});
