/**
 * Two nodes on one redis-server, one device of the same user on each, each firing hundreds of
 * interleaved pushes to the same document at once. Whatever order Redis serializes them in, the
 * final document must be exactly what the rules give for the whole set of writes: a lost update
 * (a read-modify-write that was not atomic) changes a field or drops a sibling, and fails.
 */
import { applyStamped, clockDominates, clockLeq, emptyDoc, viewOf, type SiblingValue, type StampedUpdate, type SwitchboardNode } from "@switchboard/server";
import type { VectorClock } from "@switchboard/shared";
import { closeClients, command, connect, type AckResult, type Client } from "../helpers/clients";
import { startNode } from "../helpers/nodes";
import { seededRandom } from "../helpers/random";
import { RedisServer } from "../helpers/redis";

const PUSHES_PER_DEVICE = 300;
const FIELDS = ["f0", "f1", "f2", "f3", "f4", "f5"];
const ACK_TIMEOUT_MS = 30000;

interface Push {
  device: string;
  state: Record<string, unknown>;
  ts?: number;
  clock?: VectorClock;
}

/** 1–3 distinct fields, unique values, now and then a delete. */
function randomState(rand: () => number, label: string): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  const count = 1 + Math.floor(rand() * 3);
  while (Object.keys(state).length < count) {
    const field = FIELDS[Math.floor(rand() * FIELDS.length)]!;
    state[field] = rand() < 0.1 ? null : `${label}-${field}`;
  }
  return state;
}

/** Sends every device's pushes at once (no waiting between them) and returns the acks in order. */
async function fire(clients: Record<string, Client>, pushes: readonly Push[]): Promise<AckResult[]> {
  return Promise.all(
    pushes.map(({ device, ...payload }) => command(clients[device]!, "sync:push", { key: "shared", ...payload }, ACK_TIMEOUT_MS)),
  );
}

/** Pushes of both devices, interleaved in the order they are sent. */
function interleaved(rand: () => number, make: (device: string, i: number) => Push): Push[] {
  const next = { A: 0, B: 0 };
  const pushes: Push[] = [];
  while (next.A < PUSHES_PER_DEVICE || next.B < PUSHES_PER_DEVICE) {
    const device = next.B >= PUSHES_PER_DEVICE || (next.A < PUSHES_PER_DEVICE && rand() < 0.5) ? "A" : "B";
    pushes.push(make(device, next[device]++));
  }
  return pushes;
}

const later = (p: { wall: number; counter: number }, q: { wall: number; counter: number }) => p.wall > q.wall || (p.wall === q.wall && p.counter > q.counter);

describe("sync under concurrent pushes from two nodes (redis engine)", () => {
  let redis: RedisServer;
  let nodes: SwitchboardNode[] = [];
  let counter = 0;
  const seed = Date.now() % 1_000_000;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    closeClients();
    await Promise.all(nodes.map((n) => n.shutdown()));
    nodes = [];
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  /** Two nodes with the strategy, and device A on the first, device B on the second, one user. */
  async function devices(strategy: "lww" | "vector_clock"): Promise<Record<string, Client>> {
    const env = { REDIS_URL: redis.url, RATE_LIMIT_POINTS: "1000000", CONFLICT_STRATEGY: strategy, REDIS_KEY_PREFIX: `c${++counter}:` };
    nodes = await Promise.all([startNode(env), startNode(env)]);
    const [A, B] = await Promise.all(["A", "B"].map((d, i) => connect(nodes[i]!.url, { tokenOptions: { sub: "user" }, deviceId: d })));
    return { A: A!, B: B! };
  }

  const finalStates = (clients: Record<string, Client>) => Promise.all(Object.values(clients).map((c) => command(c, "sync:pull", { key: "shared" })));

  it(`lww with distinct device times: the latest ts of each field wins (seed ${seed})`, async () => {
    const rand = seededRandom(seed);
    const clients = await devices("lww");
    // Distinct times in the past, in random order.
    const offsets = Array.from({ length: 2 * PUSHES_PER_DEVICE }, (_, i) => i);
    for (let i = offsets.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [offsets[i], offsets[j]] = [offsets[j]!, offsets[i]!];
    }
    const base = Date.now() - 10_000_000;
    let n = 0;
    const pushes = interleaved(rand, (device, i) => ({ device, state: randomState(rand, `${device}${i}`), ts: base + offsets[n++]! * 1000 }));
    const acks = await fire(clients, pushes);
    expect(acks.filter((a) => !a.ok)).toEqual([]);

    const expected: Record<string, unknown> = {};
    for (const field of FIELDS) {
      const writers = pushes.filter((p) => field in p.state).sort((p, q) => p.ts! - q.ts!);
      const last = writers[writers.length - 1];
      if (last && last.state[field] !== null) expected[field] = last.state[field];
    }
    const maxTs = Math.max(...pushes.map((p) => p.ts!));
    for (const final of await finalStates(clients)) {
      expect(final).toEqual({ ok: true, state: expected, clock: { wall: maxTs, counter: 0 }, conflicts: [], strategy: "lww" });
    }
  }, 60000);

  it(`lww stamped by the server: each field holds the value of its write with the greatest ack clock (seed ${seed})`, async () => {
    const rand = seededRandom(seed + 1);
    const clients = await devices("lww");
    const pushes = interleaved(rand, (device, i) => ({ device, state: randomState(rand, `${device}${i}`) }));
    const acks = await fire(clients, pushes);
    expect(acks.filter((a) => !a.ok)).toEqual([]);
    const clocks = acks.map((a) => a.clock as { wall: number; counter: number });
    // Every push got its own stamp: the store serialized them all.
    expect(new Set(clocks.map((c) => `${c.wall}:${c.counter}`)).size).toBe(pushes.length);

    const expected: Record<string, unknown> = {};
    for (const field of FIELDS) {
      let best: number | undefined;
      pushes.forEach((p, i) => {
        if (field in p.state && (best === undefined || later(clocks[i]!, clocks[best]!))) best = i;
      });
      if (best !== undefined && pushes[best]!.state[field] !== null) expected[field] = pushes[best]!.state[field];
    }
    const newest = clocks.reduce((p, q) => (later(q, p) ? q : p));
    for (const final of await finalStates(clients)) {
      expect(final).toEqual({ ok: true, state: expected, clock: newest, conflicts: [], strategy: "lww" });
    }
  }, 60000);

  it(`vector_clock with random causal structure: the document is the resolver's over every write (seed ${seed})`, async () => {
    const rand = seededRandom(seed + 2);
    const clients = await devices("vector_clock");
    // Each device keeps its own clock and now and then learns the other's (as from sync:state);
    // some pushes carry no clock (the device has seen everything, as of when it is resolved).
    const local: Record<string, VectorClock> = { A: {}, B: {} };
    const pushes = interleaved(rand, (device, i) => {
      const push: Push = { device, state: randomState(rand, `${device}${i}`) };
      if (rand() < 0.15) return push;
      const other = device === "A" ? "B" : "A";
      const mine = local[device]!;
      if (rand() < 0.3) for (const [d, n] of Object.entries(local[other]!)) mine[d] = Math.max(mine[d] ?? 0, n);
      mine[device] = (mine[device] ?? 0) + 1;
      push.clock = { ...mine };
      return push;
    });
    const acks = await fire(clients, pushes);
    expect(acks.filter((a) => !a.ok)).toEqual([]);

    // The store made each write the device's next event: what the push sent (without a clock,
    // everything stored) with the device's entry of its ack clock.
    const updates: StampedUpdate[] = pushes.map((p, i) => {
      const acked = acks[i]!.clock as VectorClock;
      return {
        fields: Object.entries(p.state).map(([f, v]): [string, SiblingValue] => [f, v === null ? false : JSON.stringify(v)]),
        d: p.device,
        w: 0,
        c: 0,
        vc: p.clock ? { ...p.clock, [p.device]: acked[p.device]! } : acked,
      };
    });
    // Each write is its device's own event: no two of a device share its entry.
    for (const d of ["A", "B"]) {
      const own = updates.filter((u) => u.d === d).map((u) => u.vc![d]);
      expect(new Set(own).size).toBe(own.length);
    }
    // Every write landed: its value is a sibling of each field it wrote, unless a write of that
    // field that has seen it replaced it.
    const doc = updates.reduce((d, u) => applyStamped(d, u, "vector_clock"), emptyDoc());
    for (const u of updates) {
      for (const [f, v] of u.fields) {
        const kept = doc.f[f]!.some((s) => s.d === u.d && s.v === v && clockLeq(s.vc!, u.vc!) && clockLeq(u.vc!, s.vc!));
        const replaced = updates.some((o) => o !== u && o.fields.some(([g]) => g === f) && clockDominates(o.vc!, u.vc!));
        expect(kept || replaced).toBe(true);
      }
    }
    const expected = viewOf(doc, "vector_clock");
    expect(expected.conflicts.length + Object.keys(expected.state).length).toBeGreaterThan(0);
    for (const final of await finalStates(clients)) {
      expect(JSON.parse(JSON.stringify(final))).toEqual({ ok: true, ...JSON.parse(JSON.stringify(expected)) });
    }
  }, 60000);
});
