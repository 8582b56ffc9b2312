/**
 * Multi-device state sync (PROTOCOL §3, §4 `/v1/sync`) through real nodes and socket.io-client:
 * on one memory node, and on two nodes sharing a redis-server (devices of one user on different
 * nodes). Pushes, `sync:state` to the other devices only, pulls, REST, who may read and write,
 * validation, limits, metrics, and vector clocks with conflicts.
 */
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { sleep } from "../helpers/ports";
import { serviceToken, signToken, type TokenOptions } from "../helpers/tokens";

interface SyncState {
  key: string;
  state: Record<string, unknown>;
  clock: Record<string, number>;
  conflicts: string[];
  strategy: string;
  sourceDevice: string;
  ts: number;
}

const MAX_BYTES = 4096;

describe.each(["memory", "redis"] as const)("sync (%s engine)", (name) => {
  const count = name === "redis" ? 2 : 1;
  // Vector-clock nodes use their own key prefix, so the two strategies never share documents.
  const vectorEnv = { CONFLICT_STRATEGY: "vector_clock", REDIS_KEY_PREFIX: "vc:" };
  const cluster = clusterFixture({
    backing: name,
    nodes: [...Array.from({ length: count }, () => ({})), ...Array.from({ length: count }, () => vectorEnv)],
    env: { RATE_LIMIT_POINTS: "10000", MAX_MESSAGE_BYTES: String(MAX_BYTES) },
  });
  const { unique } = cluster;
  /** lww nodes, and vector_clock nodes (a cluster runs one strategy). */
  let lww: SwitchboardNode[] = [];
  let vector: SwitchboardNode[] = [];
  const urlOf = (nodes: SwitchboardNode[], i: number) => nodes[i % nodes.length]!.url;
  const device = (nodes: SwitchboardNode[], i: number, sub: string, deviceId: string, token: TokenOptions = {}) =>
    connect(urlOf(nodes, i), { tokenOptions: { sub, ...token }, deviceId });

  const rest = async (method: "GET" | "POST", path: string, token: string, body?: unknown) => {
    const res = await fetch(`${lww[0]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(() => {
    lww = cluster.nodes.slice(0, count);
    vector = cluster.nodes.slice(count);
  });
  afterEach(() => closeClients());

  it("acks a push, sends sync:state to the user's other devices on every node (not the pusher), and pulls", async () => {
    const user = unique("alice");
    const [a, b, other] = await Promise.all([device(lww, 0, user, "phone"), device(lww, 1, user, "laptop"), device(lww, 1, unique("bob"), "phone")]);
    const seenByA = collect<SyncState>(a, "sync:state");
    const seenByOther = collect<SyncState>(other, "sync:state");
    const atB = nextEvent<SyncState>(b, "sync:state");

    const before = Date.now();
    const ack = await command(a, "sync:push", { key: "progress", state: { chapter: 3, done: [], meta: {} } });
    expect(ack).toEqual({ ok: true, state: { chapter: 3, done: [], meta: {} }, clock: { wall: expect.any(Number), counter: expect.any(Number) }, conflicts: [], strategy: "lww" });
    expect((ack.clock as { wall: number }).wall).toBeGreaterThanOrEqual(before - 1000);
    const event = await atB;
    expect(event).toEqual({ key: "progress", state: ack.state, clock: ack.clock, conflicts: [], strategy: "lww", sourceDevice: "phone", ts: expect.any(Number) });

    // B writes another field and deletes one: A hears it, B does not hear its own push.
    const seenByB = collect<SyncState>(b, "sync:state");
    const atA = nextEvent<SyncState>(a, "sync:state");
    const second = await command(b, "sync:push", { key: "progress", state: { score: 0.5, meta: null } });
    expect(second).toMatchObject({ ok: true, state: { chapter: 3, done: [], score: 0.5 }, conflicts: [] });
    expect(await atA).toMatchObject({ key: "progress", state: second.state, clock: second.clock, sourceDevice: "laptop" });
    const clockA = ack.clock as { wall: number; counter: number };
    const clockB = second.clock as { wall: number; counter: number };
    expect(clockB.wall > clockA.wall || (clockB.wall === clockA.wall && clockB.counter > clockA.counter)).toBe(true);

    await sleep(300);
    expect(seenByA).toHaveLength(1);
    expect(seenByB).toHaveLength(0);
    expect(seenByOther).toHaveLength(0);
    for (const client of [a, b]) {
      expect(await command(client, "sync:pull", { key: "progress" })).toEqual({ ok: true, state: second.state, clock: second.clock, conflicts: [], strategy: "lww" });
    }
    // Another user's document of the same key is their own.
    expect(await command(other, "sync:pull", { key: "progress" })).toEqual({ ok: true, state: {}, clock: { wall: 0, counter: 0 }, conflicts: [], strategy: "lww" });
  });

  it("lww: a change made earlier on the device (ts) loses to a later one", async () => {
    const user = unique("carol");
    const a = await device(lww, 0, user, "tablet");
    const now = Date.now();
    await command(a, "sync:push", { key: "prefs", state: { theme: "dark" }, ts: now - 1000 });
    const late = await command(a, "sync:push", { key: "prefs", state: { theme: "light" }, ts: now - 5000 });
    expect(late).toMatchObject({ ok: true, state: { theme: "dark" }, clock: { wall: now - 1000, counter: 0 } });
    // Without ts the server stamps after everything stored: this write wins.
    expect(await command(a, "sync:push", { key: "prefs", state: { theme: "light" } })).toMatchObject({ ok: true, state: { theme: "light" } });
  });

  it("REST: services push as a device (default `service`) to every device; users read their own; others are refused", async () => {
    const user = unique("dave");
    const [a, b] = await Promise.all([device(lww, 0, user, "phone"), device(lww, 1, user, "laptop")]);
    const svc = await serviceToken();
    const atA = nextEvent<SyncState>(a, "sync:state");
    const atB = nextEvent<SyncState>(b, "sync:state");
    const pushed = await rest("POST", `/v1/sync/${user}/progress`, svc, { state: { level: 2 } });
    expect(pushed).toEqual({ status: 200, body: { state: { level: 2 }, clock: { wall: expect.any(Number), counter: 0 }, conflicts: [], strategy: "lww" } });
    for (const event of [await atA, await atB]) expect(event).toMatchObject({ key: "progress", state: { level: 2 }, sourceDevice: "service" });

    const named = nextEvent<SyncState>(b, "sync:state");
    expect((await rest("POST", `/v1/sync/${user}/progress`, svc, { state: { level: 3 }, deviceId: "backend-1" })).status).toBe(200);
    expect(await named).toMatchObject({ state: { level: 3 }, sourceDevice: "backend-1" });

    const own = await signToken({ sub: user });
    expect(await rest("GET", `/v1/sync/${user}/progress`, own)).toEqual({ status: 200, body: { state: { level: 3 }, clock: expect.any(Object), conflicts: [], strategy: "lww" } });
    expect((await rest("POST", `/v1/sync/${user}/progress`, own, { state: { mine: true } })).body).toMatchObject({ state: { level: 3, mine: true } });
    expect(await command(a, "sync:pull", { key: "progress" })).toMatchObject({ state: { level: 3, mine: true } });

    const stranger = await signToken({ sub: unique("eve") });
    for (const res of [await rest("GET", `/v1/sync/${user}/progress`, stranger), await rest("POST", `/v1/sync/${user}/progress`, stranger, { state: { x: 1 } })]) {
      expect(res).toEqual({ status: 403, body: { error: { code: "FORBIDDEN", message: expect.any(String) } } });
    }
    // A service of another tenant sees nothing of this tenant.
    const foreign = await serviceToken({ tenant: "other-tenant" });
    expect((await rest("GET", `/v1/sync/${user}/progress`, foreign)).body).toMatchObject({ state: {} });
    expect(await command(a, "sync:pull", { key: "progress" })).toMatchObject({ state: { level: 3, mine: true } });
  });

  it("refuses malformed pushes with VALIDATION_FAILED and changes nothing", async () => {
    const user = unique("frank");
    const a = await device(lww, 0, user, "phone");
    const b = await device(lww, 1, user, "laptop");
    const seenByB = collect<SyncState>(b, "sync:state");
    const stored = await command(a, "sync:push", { key: "doc", state: { x: 1 } });
    const tooMany = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`f${i}`, 1]));
    const bad: unknown[] = [
      { key: "bad key!", state: { x: 2 } },
      { key: "x".repeat(129), state: { x: 2 } },
      { key: "doc", state: { x: 2 }, extra: true },
      { key: "doc", state: {} },
      { key: "doc" },
      { key: "doc", state: { "bad field": 2 } },
      { key: "doc", state: tooMany },
      { key: "doc", state: { x: 2 }, ts: -1 },
      { key: "doc", state: { x: 2 }, clock: { phone: 1 } },
      "doc",
    ];
    for (const payload of bad) {
      const res = await command(a, "sync:push", payload);
      expect(res).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    }
    const clockRefusal = await command(a, "sync:push", { key: "doc", state: { x: 2 }, clock: { phone: 1 } });
    expect(clockRefusal.error!.message).toBe("clock is only used with CONFLICT_STRATEGY=vector_clock");
    expect(await command(a, "sync:pull", { key: "bad key!" })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect(await command(a, "sync:pull", { key: "doc" })).toEqual({ ok: true, state: { x: 1 }, clock: stored.clock, conflicts: [], strategy: "lww" });

    const own = await signToken({ sub: user });
    for (const [path, body] of [
      [`/v1/sync/${user}/bad%20key`, { state: { x: 2 } }],
      [`/v1/sync/${user}/doc`, { state: { x: 2 }, clock: { a: 1 } }],
      [`/v1/sync/${user}/doc`, { state: { x: 2 }, deviceId: "bad device" }],
      [`/v1/sync/${user}/doc`, { state: {} }],
    ] as const) {
      expect(await rest("POST", path, own, body)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    }
    expect(await command(a, "sync:pull", { key: "doc" })).toMatchObject({ state: { x: 1 }, clock: stored.clock });
    await sleep(200);
    expect(seenByB).toHaveLength(1);
  });

  it("refuses a push that would make the document larger than MAX_MESSAGE_BYTES, and counts writes", async () => {
    const user = unique("gina");
    const a = await device(lww, 0, user, "phone");
    const first = await command(a, "sync:push", { key: "big", state: { x: "a".repeat(3000) } });
    expect(first.ok).toBe(true);
    const refused = await command(a, "sync:push", { key: "big", state: { y: "b".repeat(1500) } });
    expect(refused).toEqual({ ok: false, error: { code: "PAYLOAD_TOO_LARGE", message: expect.any(String), details: { bytes: 3002 + 1502, limit: MAX_BYTES } } });
    expect(await command(a, "sync:pull", { key: "big" })).toMatchObject({ state: { x: "a".repeat(3000) }, clock: first.clock });
    // Replacing the value keeps the document within the limit.
    expect(await command(a, "sync:push", { key: "big", state: { x: null, y: "b".repeat(1500) } })).toMatchObject({ ok: true, state: { y: "b".repeat(1500) } });
    const svc = await serviceToken();
    expect(await rest("POST", `/v1/sync/${user}/big`, svc, { state: { z: "c".repeat(3000) } })).toMatchObject({ status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE", details: { limit: MAX_BYTES } } } });

    const text = await scrape(lww[0]!.url);
    expect(metricValue(text, "switchboard_sync_writes_total", { strategy: "lww", outcome: "too_large" })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, "switchboard_sync_writes_total", { strategy: "lww", outcome: "applied" })).toBeGreaterThanOrEqual(2);
  });

  it("vector_clock: concurrent writes are kept and reported as conflicts until a write that saw them all", async () => {
    const user = unique("hana");
    const [a, b] = await Promise.all([device(vector, 0, user, "devA"), device(vector, 1, user, "devB")]);
    const first = await command(a, "sync:push", { key: "notes", state: { title: "from A", body: "x" }, clock: { devA: 1 } });
    expect(first).toEqual({ ok: true, state: { title: "from A", body: "x" }, clock: { devA: 1 }, conflicts: [], strategy: "vector_clock" });

    // B has not seen A's write: its title is concurrent.
    const atA = nextEvent<SyncState>(a, "sync:state");
    const second = await command(b, "sync:push", { key: "notes", state: { title: "from B" }, clock: { devB: 1 } });
    // Both kept; the visible one is the greater (deviceId, value): devB's.
    expect(second).toEqual({ ok: true, state: { title: "from B", body: "x" }, clock: { devA: 1, devB: 1 }, conflicts: ["title"], strategy: "vector_clock" });
    expect(await atA).toEqual({ key: "notes", state: second.state, clock: second.clock, conflicts: ["title"], strategy: "vector_clock", sourceDevice: "devB", ts: expect.any(Number) });

    // A's first clock again: the write still lands (the store makes it A's next event), replacing
    // A's own value and staying beside B's, which it has not seen.
    expect(await command(a, "sync:push", { key: "notes", state: { title: "again" }, clock: { devA: 1 } })).toMatchObject({
      state: { title: "from B" },
      clock: { devA: 2, devB: 1 },
      conflicts: ["title"],
    });

    // A write that saw both resolves the conflict (explicit clock here; a push without clock has seen everything too).
    const resolved = await command(a, "sync:push", { key: "notes", state: { title: "merged" }, clock: { devA: 2, devB: 1 } });
    expect(resolved).toEqual({ ok: true, state: { title: "merged", body: "x" }, clock: { devA: 3, devB: 1 }, conflicts: [], strategy: "vector_clock" });
    await command(b, "sync:push", { key: "notes", state: { body: "y" }, clock: { devB: 2 } });
    await command(a, "sync:push", { key: "notes", state: { body: null }, clock: { devA: 3, devB: 1 } });
    const contested = await command(b, "sync:pull", { key: "notes" });
    expect(contested).toMatchObject({ conflicts: ["body"], clock: { devA: 4, devB: 2 } });
    const implicit = await command(b, "sync:push", { key: "notes", state: { body: "final" } });
    expect(implicit).toEqual({ ok: true, state: { title: "merged", body: "final" }, clock: { devA: 4, devB: 3 }, conflicts: [], strategy: "vector_clock" });

    const text = await scrape(vector[1 % vector.length]!.url);
    expect(metricValue(text, "switchboard_sync_writes_total", { strategy: "vector_clock", outcome: "conflict" })).toBeGreaterThanOrEqual(1);
  });

  it("vector_clock: a push that sends back the clock the device received always lands", async () => {
    const user = unique("ines");
    const [a, b] = await Promise.all([device(vector, 0, user, "devA"), device(vector, 1, user, "devB")]);
    await command(a, "sync:push", { key: "todo", state: { milk: false, eggs: 6 } });
    await command(a, "sync:push", { key: "todo", state: { milk: true } });

    // B pulls, then changes a field sending back the clock it pulled: the change is in the ack, on A's
    // screen and in A's next pull.
    const pulled = await command(b, "sync:pull", { key: "todo" });
    expect(pulled).toMatchObject({ state: { milk: true, eggs: 6 }, clock: { devA: 2 } });
    const atA = nextEvent<SyncState>(a, "sync:state");
    const echoed = await command(b, "sync:push", { key: "todo", state: { milk: false }, clock: pulled.clock });
    expect(echoed).toEqual({ ok: true, state: { milk: false, eggs: 6 }, clock: { devA: 2, devB: 1 }, conflicts: [], strategy: "vector_clock" });
    expect(await atA).toMatchObject({ state: { milk: false, eggs: 6 }, sourceDevice: "devB" });
    expect(await command(a, "sync:pull", { key: "todo" })).toEqual(echoed);

    // A sends back the sync:state it received, twice in a row: each write is newer than the last.
    const first = await command(a, "sync:push", { key: "todo", state: { eggs: 12 }, clock: echoed.clock });
    expect(first).toEqual({ ok: true, state: { milk: false, eggs: 12 }, clock: { devA: 3, devB: 1 }, conflicts: [], strategy: "vector_clock" });
    expect(await command(a, "sync:push", { key: "todo", state: { eggs: 10 }, clock: echoed.clock })).toMatchObject({ state: { eggs: 10 }, conflicts: [] });

    // Both devices send back the same clock at once: both writes land, side by side in conflicts.
    const seen = (await command(b, "sync:pull", { key: "todo" })).clock;
    const both = await Promise.all([
      command(a, "sync:push", { key: "todo", state: { eggs: 1 }, clock: seen }),
      command(b, "sync:push", { key: "todo", state: { eggs: 2 }, clock: seen }),
    ]);
    // Whichever the store resolved second answers the conflict; the first had none yet.
    expect(both.map((ack) => [ack.ok, (ack.conflicts as string[]).length]).sort()).toEqual([[true, 0], [true, 1]]);
    const merged = await command(a, "sync:pull", { key: "todo" });
    // The visible sibling is the greater (deviceId, value): devB's; devA's is kept beside it.
    expect(merged).toEqual({ ok: true, state: { milk: false, eggs: 2 }, clock: { devA: 5, devB: 2 }, conflicts: ["eggs"], strategy: "vector_clock" });
    // A write that has seen both ends the conflict.
    expect(await command(a, "sync:push", { key: "todo", state: { eggs: 3 }, clock: merged.clock })).toMatchObject({ state: { eggs: 3 }, conflicts: [] });
  });
});
