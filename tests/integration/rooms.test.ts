/**
 * Rooms and messages (PROTOCOL §3) with clients spread over three nodes (Redis engine) and on
 * one node (memory engine): every command, the events that cross nodes, limits and refusals.
 */
import { closeClients, command, connect, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { sleep } from "../helpers/ports";
import { serviceToken, signToken } from "../helpers/tokens";

/** MAX_ROOMS_PER_USER of these nodes. */
const MAX_ROOMS = 20;

interface Msg {
  id: string;
  room: string;
  from: { userId: string; deviceId?: string };
  data: unknown;
  kind: string;
  ts: number;
  priority: string;
}

describe.each(["memory", "redis"] as const)("rooms (%s engine)", (name) => {
  /** Node i of the cluster is url(i) (the memory engine has one node serving every index). */
  const { url, unique } = clusterFixture({
    backing: name,
    nodes: name === "redis" ? 3 : 1,
    env: { ROOM_MAX_SIZE: "3", HISTORY_SIZE: "20", RATE_LIMIT_POINTS: "10000", MAX_ROOMS_PER_USER: String(MAX_ROOMS) },
  });
  const user = (sub: string, i: number, extra: { tenant?: string; deviceId?: string } = {}) =>
    connect(url(i), { tokenOptions: { sub, name: sub.toUpperCase(), tenant: extra.tenant }, deviceId: extra.deviceId });
  /** A JSON request with a bearer token (a service's unless given). */
  const rest = async (method: string, path: string, body?: unknown, token?: string, node = 0) => {
    const res = await fetch(`${url(node)}${path}`, {
      method,
      headers: { authorization: `Bearer ${token ?? (await serviceToken())}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { room?: { memberCount: number }; added?: boolean; error?: { code: string; details?: unknown } } };
  };

  afterEach(() => closeClients());

  it("creates, joins and delivers messages to members on every node with the stored id", async () => {
    const [alice, bob, carol] = await Promise.all([user("alice", 0), user("bob", 1), user("carol", 2)]);
    const id = unique("study");
    const created = await command(alice, "room:create", { id, name: "Study group", type: "study" });
    expect(created).toEqual({
      ok: true,
      room: { id, name: "Study group", type: "study", visibility: "public", createdBy: "alice", createdAt: expect.any(Number), maxSize: 3, memberCount: 1 },
    });
    // The creator may join the room it created (idempotent), then others join from other nodes.
    expect((await command(alice, "room:join", { room: id })).ok).toBe(true);
    const bobJoined = nextEvent<{ room: string; userId: string }>(alice, "room:member_joined");
    const bobJoin = await command(bob, "room:join", { room: id });
    expect(bobJoin).toMatchObject({ ok: true, recovered: false, room: { memberCount: 2 } });
    expect(bobJoin.members).toEqual([
      { userId: "alice", name: "ALICE", online: true, devices: [alice.session!.deviceId] },
      { userId: "bob", name: "BOB", online: true, devices: [bob.session!.deviceId] },
    ]);
    expect(await bobJoined).toEqual({ room: id, userId: "bob", name: "BOB", ts: expect.any(Number) });
    await command(carol, "room:join", { room: id });

    const inboxes = [alice, bob, carol].map((c) => collect<Msg>(c, "room:message"));
    const published = await command(bob, "room:publish", { room: id, data: { text: "hello" }, kind: "chat" });
    expect(published).toEqual({ ok: true, id: expect.stringMatching(/^\d+-\d+$/), ts: expect.any(Number), seq: 1, epoch: expect.stringMatching(/^\S+$/) });
    await waitForCount(inboxes, 1);
    for (const inbox of inboxes) {
      expect(inbox).toEqual([
        { id: published.id, seq: 1, epoch: published.epoch, room: id, from: { userId: "bob", deviceId: bob.session!.deviceId, name: "BOB" }, kind: "chat", data: { text: "hello" }, ts: published.ts, priority: "normal" },
      ]);
    }
    const history = await command(carol, "room:history", { room: id });
    expect(history).toEqual({ ok: true, messages: [inboxes[2]![0]], hasMore: false });
  });

  it("keeps message ids ordered and pages history before/after", async () => {
    const alice = await user("alice", 0);
    const id = unique("paging");
    await command(alice, "room:create", { id, name: "Paging" });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(String((await command(alice, "room:publish", { room: id, data: i })).id));
    expect([...ids].sort(compareIds)).toEqual(ids);
    expect(new Set(ids).size).toBe(8);

    const newest = await command(alice, "room:history", { room: id, limit: 3 });
    expect((newest.messages as Msg[]).map((m) => m.data)).toEqual([5, 6, 7]);
    expect(newest.hasMore).toBe(true);
    const before = await command(alice, "room:history", { room: id, before: ids[5], limit: 3 });
    expect((before.messages as Msg[]).map((m) => m.data)).toEqual([2, 3, 4]);
    const after = await command(alice, "room:history", { room: id, after: ids[1], limit: 2 });
    expect((after.messages as Msg[]).map((m) => m.data)).toEqual([2, 3]);
    expect(after.hasMore).toBe(true);
    const tail = await command(alice, "room:history", { room: id, after: ids[6] });
    expect(tail).toMatchObject({ messages: [{ data: 7 }], hasMore: false });
    expect((await command(alice, "room:history", { room: id, limit: 501 })).error).toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("recovers missed messages with since, on another node, and says when history was trimmed", async () => {
    const alice = await user("alice", 0);
    const id = unique("recover");
    await command(alice, "room:create", { id, name: "Recover" });
    const first = await command(alice, "room:publish", { room: id, data: "seen" });
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push((await command(alice, "room:publish", { room: id, data: `missed-${i}` })).id);

    const bob = await user("alice", 2, { deviceId: "other-device" });
    const join = await command(bob, "room:join", { room: id, since: first.id });
    expect(join).toMatchObject({ ok: true, recovered: true });
    expect((join.missed as Msg[]).map((m) => m.id)).toEqual(missed);

    // HISTORY_SIZE is 20, trimmed approximately (Redis trims whole stream nodes of 100 entries):
    // after 150 more messages, history no longer reaches back to `first`.
    for (let i = 0; i < 150; i++) await command(alice, "room:publish", { room: id, data: i });
    const late = await command(bob, "room:join", { room: id, since: first.id });
    expect(late.recovered).toBe(false);
    expect((late.missed as Msg[]).length).toBeGreaterThanOrEqual(20);
    expect((late.missed as Msg[]).length).toBeLessThanOrEqual(20 + 100);
    expect((late.missed as Msg[]).at(-1)!.data).toBe(149);
  });

  it("makes publish idempotent with clientMsgId", async () => {
    const [alice, bob] = await Promise.all([user("alice", 0), user("bob", 1)]);
    const id = unique("once");
    await command(alice, "room:create", { id, name: "Once" });
    await command(bob, "room:join", { room: id });
    const inbox = collect<Msg>(bob, "room:message");
    const firstTry = await command(alice, "room:publish", { room: id, data: "pay", clientMsgId: "m-1" });
    const retry = await command(alice, "room:publish", { room: id, data: "pay", clientMsgId: "m-1" });
    expect(retry).toEqual({ ok: true, id: firstTry.id, ts: firstTry.ts, seq: 1, epoch: firstTry.epoch, duplicate: true });
    await sleep(200);
    expect(inbox.map((m) => m.id)).toEqual([firstTry.id]);
    expect((await command(alice, "room:history", { room: id })).messages).toHaveLength(1);
    // Another sender's same clientMsgId is a different message.
    const bobs = await command(bob, "room:publish", { room: id, data: "other", clientMsgId: "m-1" });
    expect(bobs.id).not.toBe(firstTry.id);
  });

  it("refuses a full room, a private room, reserved names, other tenants, and non-members", async () => {
    const [alice, bob, carol, dave] = await Promise.all([user("alice", 0), user("bob", 1), user("carol", 2), user("dave", 0)]);
    const full = unique("full");
    await command(alice, "room:create", { id: full, name: "Full", maxSize: 2 });
    await command(bob, "room:join", { room: full });
    expect((await command(carol, "room:join", { room: full })).error).toMatchObject({ code: "ROOM_FULL" });
    expect((await command(alice, "room:create", { id: full, name: "Again" })).error).toMatchObject({ code: "CONFLICT" });
    expect((await command(alice, "room:create", { name: "Huge", maxSize: 10001 })).error).toMatchObject({ code: "VALIDATION_FAILED" });

    const secret = unique("secret");
    // A private room's members are put there by a service.
    expect((await rest("POST", "/v1/rooms", { id: secret, name: "Secret", visibility: "private", members: ["alice", "bob"] })).status).toBe(201);
    expect((await command(carol, "room:join", { room: secret })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(carol, "room:history", { room: secret })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(carol, "room:publish", { room: secret, data: 1 })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(bob, "room:join", { room: secret })).ok).toBe(true);

    for (const reserved of ["user:alice", "workspace:w1", "agent:a1", "presence:bob"]) {
      expect((await command(alice, "room:create", { id: reserved, name: "x" })).error).toMatchObject({ code: "FORBIDDEN" });
      expect((await command(alice, "room:join", { room: reserved })).error).toMatchObject({ code: "FORBIDDEN" });
      expect((await command(alice, "room:publish", { room: reserved, data: 1 })).error).toMatchObject({ code: "FORBIDDEN" });
      expect((await command(alice, "room:typing", { room: reserved, typing: true })).error).toMatchObject({ code: "FORBIDDEN" });
    }

    // A user of another tenant does not see the room at all, even with the same id.
    const outsider = await user("alice", 1, { tenant: "globex" });
    expect((await command(outsider, "room:join", { room: full })).error).toMatchObject({ code: "NOT_FOUND" });
    expect((await command(outsider, "room:publish", { room: full, data: 1 })).error).toMatchObject({ code: "NOT_FOUND" });

    // Publishing to a public room needs membership too.
    expect((await command(dave, "room:publish", { room: full, data: 1 })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await command(dave, "room:join", { room: unique("missing") })).error).toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses malformed payloads and changes nothing", async () => {
    const alice = await user("alice", 0);
    const id = unique("strict");
    await command(alice, "room:create", { id, name: "Strict" });
    const bad: [string, unknown][] = [
      ["room:create", { name: "" }],
      ["room:create", { id: "bad id!", name: "x" }],
      ["room:create", { name: "x", visibility: "secret" }],
      ["room:create", { name: "x", admin: true }],
      ["room:join", { room: id, since: "yesterday" }],
      ["room:publish", { room: id }],
      ["room:publish", { room: id, data: null }],
      ["room:publish", { room: id, data: 1, priority: "critical" }],
      ["room:publish", { room: id, data: 1, extra: 1 }],
      ["room:history", { room: id, limit: 0 }],
      ["room:typing", { room: id, typing: "yes" }],
      ["message:read", { room: id, id: 42 }],
    ];
    for (const [event, payload] of bad) {
      const ack = await command(alice, event, payload);
      expect([event, ack.error?.code]).toEqual([event, "VALIDATION_FAILED"]);
    }
    expect(await command(alice, "room:history", { room: id })).toEqual({ ok: true, messages: [], hasMore: false });
    expect((await command(alice, "room:members", { room: id })).members).toHaveLength(1);
  });

  it("sends typing and cursor to the room's other members, volatile and throttled", async () => {
    const [alice, bob] = await Promise.all([user("alice", 0), user("bob", 1)]);
    const id = unique("live");
    await command(alice, "room:create", { id, name: "Live" });
    expect((await command(alice, "room:typing", { room: id, typing: true })).error).toMatchObject({ code: "FORBIDDEN" });
    await command(alice, "room:join", { room: id });
    await command(bob, "room:join", { room: id });

    const typing = nextEvent(bob, "room:typing");
    expect(await command(alice, "room:typing", { room: id, typing: true })).toEqual({ ok: true });
    expect(await typing).toEqual({ room: id, userId: "alice", typing: true });
    expect(await command(alice, "room:typing", { room: id, typing: true })).toEqual({ ok: true, throttled: true });

    const cursors = collect<unknown>(bob, "room:cursor");
    const acks = [];
    for (let i = 0; i < 10; i++) acks.push(await command(alice, "room:cursor", { room: id, position: { line: i } }));
    await sleep(200);
    const sent = acks.filter((a) => a.throttled !== true).length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThan(10);
    expect(cursors).toHaveLength(sent);
    expect(cursors[0]).toEqual({ room: id, userId: "alice", deviceId: alice.session!.deviceId, position: { line: 0 } });
    expect((await command(alice, "room:cursor", { room: id, position: "x".repeat(2000) })).error).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    // Never stored.
    expect(await command(bob, "room:history", { room: id })).toMatchObject({ messages: [] });
  });

  it("sends read receipts to every device of the sender, and member_left on leave", async () => {
    const [alicePhone, aliceLaptop, bob] = await Promise.all([
      user("alice", 0, { deviceId: "phone" }),
      user("alice", 2, { deviceId: "laptop" }),
      user("bob", 1),
    ]);
    const id = unique("receipts");
    await command(alicePhone, "room:create", { id, name: "Receipts" });
    await command(bob, "room:join", { room: id });
    const sent = await command(alicePhone, "room:publish", { room: id, data: "read me" });
    const receipts = [nextEvent(alicePhone, "message:receipt"), nextEvent(aliceLaptop, "message:receipt")];
    expect(await command(bob, "message:read", { room: id, id: sent.id })).toEqual({ ok: true });
    for (const receipt of await Promise.all(receipts)) expect(receipt).toEqual({ room: id, id: sent.id, userId: "bob", ts: expect.any(Number) });
    expect((await command(bob, "message:read", { room: id, id: "1-0" })).error).toMatchObject({ code: "NOT_FOUND" });

    await command(alicePhone, "room:join", { room: id });
    const left = nextEvent(alicePhone, "room:member_left");
    expect(await command(bob, "room:leave", { room: id })).toEqual({ ok: true, removed: true });
    expect(await left).toEqual({ room: id, userId: "bob", ts: expect.any(Number) });
    // Leaving again removes nothing, and says so.
    expect(await command(bob, "room:leave", { room: id })).toEqual({ ok: true, removed: false });
    const inbox = collect<Msg>(bob, "room:message");
    await command(alicePhone, "room:publish", { room: id, data: "gone?" });
    await sleep(200);
    expect(inbox).toEqual([]);
    expect((await command(alicePhone, "room:members", { room: id })).members).toEqual([
      { userId: "alice", name: "ALICE", online: true, devices: ["laptop", "phone"] },
    ]);
  });

  it("makes nobody a member without consent: only a service puts another user in a room", async () => {
    const [mallory, victim] = await Promise.all([user("mallory", 0), user("victim", 1)]);
    const [malloryToken, victimToken] = await Promise.all([signToken({ sub: "mallory" }), signToken({ sub: "victim" })]);
    const trap = unique("trap");
    expect(await command(mallory, "room:create", { id: trap, name: "Trap", visibility: "private", members: ["victim"] })).toEqual({
      ok: false,
      error: { code: "FORBIDDEN", message: expect.stringContaining("only a service may add other users") },
    });
    expect((await command(mallory, "room:create", { id: trap, name: "Trap", members: ["mallory", "victim"] })).error).toMatchObject({ code: "FORBIDDEN" });
    expect((await rest("POST", "/v1/rooms", { id: trap, name: "Trap", members: ["victim"] }, malloryToken)).body.error).toMatchObject({ code: "FORBIDDEN" });
    // Nothing was created.
    expect((await rest("GET", `/v1/rooms/${trap}`)).status).toBe(404);

    // Listing only oneself is listing nobody: the creator is the first member either way.
    expect(await command(mallory, "room:create", { id: trap, name: "Trap", members: ["mallory"] })).toMatchObject({ ok: true, room: { memberCount: 1 } });
    expect((await command(mallory, "room:join", { room: trap })).ok).toBe(true);
    // Not even the room's creator adds another user over REST.
    const added = await rest("POST", `/v1/rooms/${trap}/members`, { userId: "victim" }, malloryToken, 1);
    expect([added.status, added.body.error?.code]).toEqual([403, "FORBIDDEN"]);
    // So the victim's presence reaches nobody through the room.
    const heard: unknown[] = [];
    mallory.on("presence:update", (p: { userId: string }) => heard.push(p.userId));
    expect((await command(victim, "presence:set", { status: "away" })).ok).toBe(true);
    await sleep(200);
    expect(heard).not.toContain("victim");

    // A user joins a public room themselves, by room:join or over REST.
    expect(await rest("POST", `/v1/rooms/${trap}/members`, { userId: "victim" }, victimToken)).toMatchObject({ status: 201, body: { added: true } });
    // A private room admits whom a service adds, and nobody by their own hand.
    const club = unique("club");
    expect((await command(mallory, "room:create", { id: club, name: "Club", visibility: "private" })).ok).toBe(true);
    expect(await rest("POST", `/v1/rooms/${club}/members`, { userId: "victim" }, victimToken)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    expect((await command(victim, "room:join", { room: club })).error).toMatchObject({ code: "FORBIDDEN" });
    expect(await rest("POST", `/v1/rooms/${club}/members`, { userId: "victim" })).toMatchObject({ status: 201, body: { added: true } });
    expect(await command(victim, "room:join", { room: club })).toMatchObject({ ok: true, room: { memberCount: 2 } });
  });

  it("caps the rooms a user created that still exist, across nodes and at once; services are not counted", async () => {
    const clients = await Promise.all([0, 1, 2].map((i) => user("quinn", i, { deviceId: `d${i}` })));
    const ids = Array.from({ length: MAX_ROOMS + 4 }, () => unique("quota"));
    const acks = await Promise.all(ids.map((id, i) => command(clients[i % clients.length]!, "room:create", { id, name: id })));
    expect(acks.filter((a) => a.ok)).toHaveLength(MAX_ROOMS);
    const refused = acks.filter((a) => !a.ok);
    expect(refused).toHaveLength(4);
    for (const ack of refused) expect(ack).toEqual({ ok: false, error: { code: "QUOTA_EXCEEDED", message: expect.any(String), details: { limit: MAX_ROOMS } } });
    // The refused creates made nothing.
    const stored = await Promise.all(ids.map(async (id) => (await rest("GET", `/v1/rooms/${id}`)).status));
    expect(stored.filter((status) => status === 200)).toHaveLength(MAX_ROOMS);

    // REST answers the same, as 403; joining others' rooms is not creating.
    const quinnToken = await signToken({ sub: "quinn" });
    expect(await rest("POST", "/v1/rooms", { name: "one more" }, quinnToken, 1)).toMatchObject({ status: 403, body: { error: { code: "QUOTA_EXCEEDED", details: { limit: MAX_ROOMS } } } });
    const elsewhere = unique("elsewhere");
    expect((await rest("POST", "/v1/rooms", { id: elsewhere, name: elsewhere })).status).toBe(201);
    expect((await command(clients[0]!, "room:join", { room: elsewhere })).ok).toBe(true);
    // Services create as many rooms as their backend needs.
    for (let i = 0; i < 3; i++) expect((await rest("POST", "/v1/rooms", { name: `svc ${i}`, members: ["quinn"] })).status).toBe(201);
  });

  it("serves the same rooms over REST: create, members, service publish, history, presence", async () => {
    const service = { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" };
    const asUser = { authorization: `Bearer ${await signToken({ sub: "erin" })}`, "content-type": "application/json" };
    const id = unique("rest");
    const post = (path: string, body: unknown, headers = service, node = 0) => fetch(`${url(node)}${path}`, { method: "POST", headers, body: JSON.stringify(body) });

    const created = await post("/v1/rooms", { id, name: "Announcements", visibility: "private" });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ room: { id, createdBy: "svc", memberCount: 0, visibility: "private" } });
    expect((await post(`/v1/rooms/${id}/members`, { userId: "erin", name: "Erin" }, service, 1)).status).toBe(201);
    expect((await post(`/v1/rooms/${id}/members`, { userId: "erin" }, service, 1)).status).toBe(200);

    const erin = await user("erin", 2);
    const join = await command(erin, "room:join", { room: id });
    expect(join).toMatchObject({ ok: true, room: { memberCount: 1 } });
    const delivered = nextEvent<Msg>(erin, "room:message");
    const published = await post(`/v1/rooms/${id}/messages`, { data: { text: "exam moved" }, kind: "system", priority: "high" }, service, 1);
    expect(published.status).toBe(202);
    const { id: messageId } = (await published.json()) as { id: string };
    expect(await delivered).toMatchObject({ id: messageId, from: { userId: "svc" }, kind: "system", priority: "high", data: { text: "exam moved" } });

    const page = await fetch(`${url(2)}/v1/rooms/${id}/messages?limit=5`, { headers: asUser });
    expect(await page.json()).toEqual({ messages: [await nextMessageFromHistory(erin, id)], hasMore: false });
    const info = await fetch(`${url(0)}/v1/rooms/${id}`, { headers: asUser });
    expect(await info.json()).toMatchObject({ room: { id, name: "Announcements", memberCount: 1 } });
    const presence = await fetch(`${url(1)}/v1/rooms/${id}/presence`, { headers: asUser });
    expect(await presence.json()).toEqual({ room: id, online: [{ userId: "erin", name: "Erin", online: true, devices: [erin.session!.deviceId] }] });

    // Users may not publish over REST; outsiders may not read a private room; bad input is refused.
    expect((await post(`/v1/rooms/${id}/messages`, { data: 1 }, asUser)).status).toBe(403);
    const outsider = { authorization: `Bearer ${await signToken({ sub: "frank" })}` };
    expect((await fetch(`${url(0)}/v1/rooms/${id}/messages`, { headers: outsider })).status).toBe(403);
    const badQuery = await fetch(`${url(0)}/v1/rooms/${id}/messages?limit=1000`, { headers: asUser });
    expect(badQuery.status).toBe(400);
    expect((await post("/v1/rooms", { id: "user:x", name: "x" })).status).toBe(403);
    expect((await post(`/v1/rooms/${id}/messages`, { data: 1, unknown: true })).status).toBe(400);

    const removed = nextEvent(erin, "room:member_left");
    const del = await fetch(`${url(0)}/v1/rooms/${id}/members/erin`, { method: "DELETE", headers: service });
    expect([del.status, await del.json()]).toEqual([200, { removed: true }]);
    expect(await removed).toMatchObject({ room: id, userId: "erin" });
    const again = await fetch(`${url(0)}/v1/rooms/${id}/members/erin`, { method: "DELETE", headers: service });
    expect([again.status, await again.json()]).toEqual([200, { removed: false }]);
    expect((await fetch(`${url(0)}/v1/rooms/${id}/messages`, { headers: asUser })).status).toBe(403);
  });
});

async function nextMessageFromHistory(client: Client, room: string): Promise<Msg> {
  const page = await command(client, "room:history", { room, limit: 1 });
  return (page.messages as Msg[])[0]!;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}

async function waitForCount(inboxes: unknown[][], count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (inboxes.some((i) => i.length < count)) {
    if (Date.now() > deadline) throw new Error(`inboxes hold ${inboxes.map((i) => i.length).join(",")} of ${count}`);
    await sleep(20);
  }
}
