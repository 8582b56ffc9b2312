/**
 * The sync stores of every engine against the TS resolver: random sequences of pushes must give
 * exactly the document the resolver gives (with the store's own clock), on the memory engine,
 * the Lua script on one redis-server, and on a three-master Redis Cluster. Also expiry, and that
 * a refused push changes nothing.
 */
import {
  applyWrite,
  emptyDoc,
  prepareWrite,
  viewOf,
  type AppliedSyncPush,
  type Engine,
  type RedisEngine,
  type StoredSyncDoc,
} from "@switchboard/server";
import type { ConflictStrategy, VectorClock } from "@switchboard/shared";
import fc from "fast-check";
import { openEngine, startBacking, type Backing } from "../helpers/engines";
import { sleep } from "../helpers/ports";


interface Push {
  tenant: string;
  userId: string;
  key: string;
  deviceId: string;
  state: Record<string, unknown>;
  clock?: VectorClock;
  ts?: number;
  strategy: ConflictStrategy;
  ttlS: number;
  maxBytes: number;
}

/** Both stores expose `apply` (outcome, stored document, the store's clock) beside `push`. */
type ApplyingStore = Engine["sync"] & { apply(push: Push): AppliedSyncPush | Promise<AppliedSyncPush> };

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** Values cjson would mangle if it decoded them: empty arrays and objects, big numbers, unicode. */
const tricky = fc.constantFrom<unknown>([], {}, [[]], { a: [] }, 0, -1.5, 1.2345678901234567e19, 1e21, 2 ** 53 + 2, "", "😀", "\uffff", "a\"b\\c/</", "\u0000", true, false);
const value = fc.oneof(
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: tricky, weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== null), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 4 }), weight: 1 },
);
const field = fc.constantFrom("x", "y", "1", "__proto__", "a.b:c", "$@-");
const device = fc.constantFrom("a", "b", "B", "7", "constructor");
const clock: fc.Arbitrary<VectorClock> = fc.dictionary(device, fc.nat(4), { maxKeys: 3 });
const TS_BASE = 1_700_000_000_000;

const pushSpec = fc.record(
  {
    deviceId: device,
    state: fc.dictionary(field, value, { minKeys: 1, maxKeys: 4 }),
    clock,
    // Near-equal times, so stamps tie and the tie-breakers run; one far in the future.
    ts: fc.oneof(fc.nat(3).map((n) => TS_BASE + n), fc.constant(8.64e15)),
    strategy: fc.constantFrom<ConflictStrategy>("lww", "vector_clock"),
  },
  { requiredKeys: ["deviceId", "state", "strategy"] },
);
const runSpec = fc.record({
  pushes: fc.array(pushSpec, { minLength: 1, maxLength: 20 }),
  /** One strategy for the whole document, or each push its own (a cluster switching strategy). */
  strategy: fc.constantFrom<ConflictStrategy | "mixed">("lww", "vector_clock", "mixed"),
  maxBytes: fc.constantFrom(40, 200, 100_000),
});

describe.each(["memory", "redis", "redis-cluster"] as const)("sync store (%s)", (name) => {
  let backing: Backing;
  let engine: Engine;
  let store: ApplyingStore;
  let counter = 0;
  const uniqueKey = () => `doc-${++counter}`;

  beforeAll(async () => {
    backing = await startBacking(name);
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(10000)).toBe(true);
    store = engine.sync as ApplyingStore;
  }, 60000);
  afterAll(async () => {
    await engine?.close();
    await backing?.destroy();
  });

  /** The remaining lifetime of a document (ms), by the store itself. */
  const pttl = async (key: string): Promise<number | undefined> => {
    if (name === "memory") return undefined;
    const redis = engine as RedisEngine;
    return redis.clients.data.pttl(redis.keys.syncDocument("t1", "u1", key));
  };

  it("agrees exactly with the TS resolver on random sequences of pushes", async () => {
    await fc.assert(
      fc.asyncProperty(runSpec, async (run) => {
        const key = uniqueKey();
        let model: StoredSyncDoc = emptyDoc();
        for (const spec of run.pushes) {
          const strategy = run.strategy === "mixed" ? spec.strategy : run.strategy;
          const push: Push = { tenant: "t1", userId: "u1", key, deviceId: spec.deviceId, state: spec.state, strategy, ttlS: 600, maxBytes: run.maxBytes };
          if (spec.clock !== undefined && strategy === "vector_clock") push.clock = spec.clock;
          if (spec.ts !== undefined) push.ts = spec.ts;

          const before = await store.get("t1", "u1", key, strategy);
          const applied = await store.apply(push);
          const expected = applyWrite(model, prepareWrite(push), strategy, applied.now, run.maxBytes);
          if (expected.status === "too_large") {
            expect(applied.outcome).toEqual({ status: "too_large", bytes: expected.bytes, limit: run.maxBytes });
            expect(applied.doc).toBeUndefined();
            expect(await store.get("t1", "u1", key, strategy)).toEqual(before);
            continue;
          }
          expect(plain(applied.doc)).toEqual(plain(expected.doc));
          expect(applied.outcome).toEqual({ status: "ok", document: viewOf(expected.doc, strategy) });
          expect(await store.get("t1", "u1", key, strategy)).toEqual(viewOf(expected.doc, strategy));
          model = expected.doc;
        }
      }),
      { numRuns: 30 },
    );
  }, 60000);

  it("vector_clock: a push that sends back the clock it received lands, and so do two at once", async () => {
    const key = uniqueKey();
    const base = { tenant: "t1", userId: "u1", key, strategy: "vector_clock" as const, ttlS: 600, maxBytes: 10_000 };
    await store.push({ ...base, deviceId: "a", state: { x: "a1", y: 1 } });
    await store.push({ ...base, deviceId: "a", state: { x: "a2" } });
    // b pulls, then writes x sending back the clock it received: its value is in the answer.
    const received = await store.get("t1", "u1", key, "vector_clock");
    const echoed = await store.apply({ ...base, deviceId: "b", state: { x: "b1" }, clock: received.clock as VectorClock });
    expect(echoed.outcome).toEqual({ status: "ok", document: { state: { x: "b1", y: 1 }, clock: { a: 2, b: 1 }, conflicts: [], strategy: "vector_clock" } });
    expect(await store.get("t1", "u1", key, "vector_clock")).toEqual((echoed.outcome as { document: unknown }).document);
    // a sends back a clock older than the document: its write still lands, beside b's.
    const older = await store.apply({ ...base, deviceId: "a", state: { x: "a3" }, clock: received.clock as VectorClock });
    expect(older.outcome).toMatchObject({ status: "ok", document: { state: { x: "b1", y: 1 }, clock: { a: 3, b: 1 }, conflicts: ["x"] } });
    expect(older.doc!.f.x!.map((s) => [s.d, s.v, s.vc])).toEqual([["a", '"a3"', { a: 3 }], ["b", '"b1"', { a: 2, b: 1 }]]);

    // Two devices send back the same clock at once: both land, as siblings.
    const now = await store.get("t1", "u1", key, "vector_clock");
    const [fromA, fromB] = await Promise.all(
      (["a", "b"] as const).map((d) => store.apply({ ...base, deviceId: d, state: { y: `${d}-y` }, clock: now.clock as VectorClock })),
    );
    for (const applied of [fromA!, fromB!]) expect(applied.outcome.status).toBe("ok");
    const after = await store.apply({ ...base, deviceId: "c", state: { z: 0 }, clock: { c: 1 } });
    expect(after.doc!.f.y!.map((s) => [s.d, s.v])).toEqual([["a", '"a-y"'], ["b", '"b-y"']]);
    expect(await store.get("t1", "u1", key, "vector_clock")).toMatchObject({ state: { x: "b1", y: "b-y", z: 0 }, clock: { a: 4, b: 2, c: 1 }, conflicts: ["x", "y"] });
  });

  it("keeps values exactly as pushed, whatever cjson would make of them", async () => {
    const key = uniqueKey();
    const state = { empty: [], obj: {}, nested: [{ a: [] }, {}], big: 1.2345678901234567e19, pi: 3.141592653589793, s: "😀\uffff\"\\/", t: true };
    const applied = await store.apply({ tenant: "t1", userId: "u1", key, deviceId: "a", state, strategy: "lww", ttlS: 60, maxBytes: 10_000 });
    expect(applied.outcome).toMatchObject({ status: "ok", document: { state } });
    expect((await store.get("t1", "u1", key, "lww")).state).toEqual(state);
    // Fields come back in byte order in every engine.
    const sorted = Object.fromEntries(Object.entries(state).sort(([p], [q]) => Buffer.compare(Buffer.from(p), Buffer.from(q))));
    expect(JSON.stringify((await store.get("t1", "u1", key, "lww")).state)).toBe(JSON.stringify(sorted));
  });

  it("answers an empty document for a key never written, and keeps users and tenants apart", async () => {
    const key = uniqueKey();
    expect(await store.get("t1", "u1", key, "lww")).toEqual({ state: {}, clock: { wall: 0, counter: 0 }, conflicts: [], strategy: "lww" });
    expect(await store.get("t1", "u1", key, "vector_clock")).toEqual({ state: {}, clock: {}, conflicts: [], strategy: "vector_clock" });
    await store.push({ tenant: "t1", userId: "u1", key, deviceId: "a", state: { x: 1 }, strategy: "lww", ttlS: 60, maxBytes: 1000 });
    expect((await store.get("t1", "u2", key, "lww")).state).toEqual({});
    expect((await store.get("t2", "u1", key, "lww")).state).toEqual({});
    expect((await store.get("t1", "u1", key, "lww")).state).toEqual({ x: 1 });
  });

  it("expires a document ttlS after its last write", async () => {
    const key = uniqueKey();
    const base = { tenant: "t1", userId: "u1", key, deviceId: "a", strategy: "lww" as const, maxBytes: 1000 };
    await store.push({ ...base, state: { x: 1 }, ttlS: 100 });
    const ttl = await pttl(key);
    if (ttl !== undefined) expect(ttl).toBeGreaterThan(95_000);
    await store.push({ ...base, state: { y: 2 }, ttlS: 1 });
    const shortTtl = await pttl(key);
    if (shortTtl !== undefined) expect(shortTtl).toBeLessThanOrEqual(1000);
    expect((await store.get("t1", "u1", key, "lww")).state).toEqual({ x: 1, y: 2 });
    await sleep(1200);
    expect(await store.get("t1", "u1", key, "lww")).toEqual({ state: {}, clock: { wall: 0, counter: 0 }, conflicts: [], strategy: "lww" });
  });

  it("changes nothing, not even the expiry, when a push would exceed the limit", async () => {
    for (const strategy of ["lww", "vector_clock"] as const) {
      const key = uniqueKey();
      const base = { tenant: "t1", userId: "u1", key, deviceId: "a", strategy, maxBytes: 20 };
      expect((await store.push({ ...base, state: { x: "0123456789" }, ttlS: 100 })).status).toBe("ok");
      const before = await store.get("t1", "u1", key, strategy);
      const ttl = await pttl(key);
      // 12 + 4 bytes fit; 12 + 10 do not.
      expect(await store.push({ ...base, state: { y: "0123456789" }, ttlS: 5000 })).toEqual({ status: "too_large", bytes: 24, limit: 20 });
      expect(await store.get("t1", "u1", key, strategy)).toEqual(before);
      if (ttl !== undefined) expect(await pttl(key)).toBeLessThanOrEqual(ttl);
      expect(await store.push({ ...base, state: { y: "ab" }, ttlS: 100 })).toMatchObject({ status: "ok", document: { state: { x: "0123456789", y: "ab" } } });
    }
  });
});
