/**
 * The sync rules (store/src/sync-resolver.ts) as properties: stamped updates merge in
 * any order to the same document, causally later writes win, concurrent writes stay side by side
 * as conflicts until a write that saw them all, deletes stick, and re-applying changes nothing.
 */
import {
  applyStamped,
  applyWrite,
  clockDominates,
  clockLeq,
  compareBytes,
  docBytes,
  emptyDoc,
  mergeClocks,
  parseDoc,
  prepareWrite,
  stampWrite,
  viewOf,
  type SiblingValue,
  type StampedUpdate,
  type StoredSyncDoc,
} from "@switchboard/server";
import type { ConflictStrategy, VectorClock } from "@switchboard/shared";
import fc from "fast-check";

const DEVICES = ["a", "b", "c", "B", "a-1", "constructor"];
const FIELDS = ["x", "y", "z"];
const RUNS = { numRuns: 300 };

const device = fc.constantFrom(...DEVICES);
const field = fc.constantFrom(...FIELDS);
/** JSON text of values, with characters whose UTF-16 and UTF-8 orders differ; false deletes. */
const value: fc.Arbitrary<SiblingValue> = fc.oneof(
  { arbitrary: fc.constant(false as const), weight: 1 },
  { arbitrary: fc.constantFrom(1, 2, "a", "\uffff", "😀", [], {}, true).map((v) => JSON.stringify(v)), weight: 3 },
  { arbitrary: fc.json({ maxDepth: 2 }).filter((t) => t !== "null"), weight: 2 },
);
const fields = fc.uniqueArray(fc.tuple(field, value), { minLength: 1, maxLength: 3, selector: ([f]) => f });
const vectorClock: fc.Arbitrary<VectorClock> = fc
  .dictionary(device, fc.nat(3), { maxKeys: 3 })
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0)));

/** Small ranges, so equal stamps and equal clocks (the tie-breakers) come up often. */
const lwwUpdate: fc.Arbitrary<StampedUpdate> = fc.record({ fields, d: device, w: fc.nat(4), c: fc.nat(2) });
const vectorUpdate: fc.Arbitrary<StampedUpdate> = fc.record({ fields, d: device, w: fc.nat(2), c: fc.constant(0), vc: vectorClock });

/** A list of updates and the same list in another order. */
const permuted = (update: fc.Arbitrary<StampedUpdate>) =>
  fc.array(update, { maxLength: 12 }).chain((updates) => fc.tuple(fc.constant(updates), fc.shuffledSubarray(updates, { minLength: updates.length, maxLength: updates.length })));

const applyAll = (updates: readonly StampedUpdate[], strategy: ConflictStrategy, doc = emptyDoc()): StoredSyncDoc =>
  updates.reduce((d, u) => applyStamped(d, u, strategy), doc);

/** Plain JSON, as both engines store it, so prototype-less objects compare like parsed ones. */
const plain = (doc: StoredSyncDoc): unknown => JSON.parse(JSON.stringify(doc));

interface Write {
  v: SiblingValue;
  d: string;
  w: number;
  c: number;
  vc?: VectorClock;
}

const writesTo = (updates: readonly StampedUpdate[], name: string): Write[] =>
  updates.flatMap((u) => u.fields.filter(([f]) => f === name).map(([, v]) => ({ v, d: u.d, w: u.w, c: u.c, vc: u.vc })));
const bytesOf = (v: SiblingValue) => Buffer.from(v === false ? "" : v);

/** The lww model, written independently of the resolver: per field the greatest (w, c, d, v). */
function lwwModel(updates: readonly StampedUpdate[]): Record<string, SiblingValue> {
  const out: Record<string, SiblingValue> = {};
  for (const name of FIELDS) {
    const writes = writesTo(updates, name);
    if (writes.length === 0) continue;
    writes.sort((p, q) => p.w - q.w || p.c - q.c || Buffer.compare(Buffer.from(p.d), Buffer.from(q.d)) || Buffer.compare(bytesOf(p.v), bytesOf(q.v)));
    out[name] = writes[writes.length - 1]!.v;
  }
  return out;
}

/** The multi-value register model: the writes no other write of the field causally follows. */
function vectorModel(updates: readonly StampedUpdate[]): Record<string, { values: SiblingValue[]; visible: SiblingValue }> {
  const out: Record<string, { values: SiblingValue[]; visible: SiblingValue }> = {};
  const same = (p: VectorClock, q: VectorClock) => clockLeq(p, q) && clockLeq(q, p);
  const order = (p: Write, q: Write) =>
    Buffer.compare(Buffer.from(p.d), Buffer.from(q.d)) || Buffer.compare(bytesOf(p.v), bytesOf(q.v)) || p.w - q.w;
  for (const name of FIELDS) {
    const writes = writesTo(updates, name);
    if (writes.length === 0) continue;
    const maximal = writes.filter((p) => !writes.some((q) => clockDominates(q.vc!, p.vc!)));
    // Of writes with one clock, one survives: the greatest (d, v, w).
    const survivors: Write[] = [];
    for (const p of maximal) {
      const rival = survivors.findIndex((q) => same(p.vc!, q.vc!));
      if (rival < 0) survivors.push(p);
      else if (order(p, survivors[rival]!) > 0) survivors[rival] = p;
    }
    const byOrder = [...survivors].sort(order);
    out[name] = { values: byOrder.map((s) => s.v), visible: byOrder[byOrder.length - 1]!.v };
  }
  return out;
}

/** A device's entry of a clock; own keys only, as devices may be named `constructor`. */
const entryOf = (clock: VectorClock, d: string): number => (Object.hasOwn(clock, d) ? clock[d]! : 0);

const visibleOf = (model: Record<string, SiblingValue>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(model).filter(([, v]) => v !== false).map(([f, v]) => [f, JSON.parse(v as string)]));

describe("sync resolver: lww", () => {
  it("converges to the same document in any order, equal to the model", () => {
    fc.assert(
      fc.property(permuted(lwwUpdate), ([updates, shuffled]) => {
        const one = applyAll(updates, "lww");
        const other = applyAll(shuffled, "lww");
        expect(plain(other)).toEqual(plain(one));
        expect(viewOf(one, "lww")).toEqual(viewOf(other, "lww"));
        expect(viewOf(one, "lww").state).toEqual(visibleOf(lwwModel(updates)));
        expect(viewOf(one, "lww").conflicts).toEqual([]);
        for (const name of Object.keys(one.f)) expect(one.f[name]).toHaveLength(1);
      }),
      RUNS,
    );
  });

  it("re-applying an update changes nothing", () => {
    fc.assert(
      fc.property(fc.array(lwwUpdate, { maxLength: 8 }), lwwUpdate, (history, update) => {
        const once = applyStamped(applyAll(history, "lww"), update, "lww");
        expect(plain(applyStamped(once, update, "lww"))).toEqual(plain(once));
        expect(plain(applyAll(history, "lww", once))).toEqual(plain(once));
      }),
      RUNS,
    );
  });

  it("stamps a push without ts after everything stored, so it wins every field it writes", () => {
    fc.assert(
      fc.property(fc.array(lwwUpdate, { maxLength: 8 }), fields, device, fc.nat(6), (history, written, d, now) => {
        const doc = applyAll(history, "lww");
        const state = Object.fromEntries(written.map(([f, v]) => [f, v === false ? null : JSON.parse(v)]));
        const result = applyWrite(doc, prepareWrite({ deviceId: d, state }), "lww", now, 1e9);
        if (result.status !== "ok") throw new Error("refused");
        const stamp = [result.doc.h[0], result.doc.h[1]];
        expect(stamp[0]! > doc.h[0] || (stamp[0] === doc.h[0] && stamp[1]! > doc.h[1])).toBe(true);
        expect(stamp[0]).toBe(Math.max(now, doc.h[0]));
        const view = viewOf(result.doc, "lww");
        expect(view.clock).toEqual({ wall: stamp[0], counter: stamp[1] });
        for (const [f, v] of written) {
          expect(result.doc.f[f]).toEqual([{ v, d, w: stamp[0], c: stamp[1] }]);
          if (v === false) expect(view.state).not.toHaveProperty(f);
          else expect(view.state[f]).toEqual(JSON.parse(v));
        }
      }),
      RUNS,
    );
  });

  it("stamps a push with ts at min(ts, now), counter 0: an older change loses to a newer one", () => {
    const now = 1_000_000;
    const stamp = (ts: number | undefined) => stampWrite(emptyDoc(), prepareWrite({ deviceId: "a", state: { x: 1 }, ts }), "lww", now);
    expect(stamp(500)).toMatchObject({ w: 500, c: 0 });
    expect(stamp(now + 5000)).toMatchObject({ w: now, c: 0 });
    let doc = emptyDoc();
    for (const [d, ts, v] of [["b", 900, "new"], ["a", 800, "old"]] as const) {
      const result = applyWrite(doc, prepareWrite({ deviceId: d, state: { x: v }, ts }), "lww", now, 1e9);
      if (result.status !== "ok") throw new Error("refused");
      doc = result.doc;
    }
    expect(viewOf(doc, "lww")).toEqual({ state: { x: "new" }, clock: { wall: 900, counter: 0 }, conflicts: [], strategy: "lww" });
  });

  it("ties on the stamp go to the greater device id, then the greater value bytes", () => {
    const u = (d: string, v: unknown): StampedUpdate => ({ fields: [["x", JSON.stringify(v)]], d, w: 5, c: 0 });
    expect(viewOf(applyAll([u("b", 1), u("a", 2)], "lww"), "lww").state).toEqual({ x: 1 });
    expect(viewOf(applyAll([u("a", "😀"), u("a", "\uffff")], "lww"), "lww").state).toEqual({ x: "😀" });
  });

  it("deletes stick: a later null hides the field, an older write cannot bring it back", () => {
    const set = (w: number, v: unknown): StampedUpdate => ({ fields: [["x", JSON.stringify(v)]], d: "a", w, c: 0 });
    const del = (w: number): StampedUpdate => ({ fields: [["x", false]], d: "a", w, c: 0 });
    for (const order of [[set(1, "one"), del(2), set(1, "one")], [del(2), set(1, "one")]]) {
      const doc = applyAll(order, "lww");
      expect(viewOf(doc, "lww").state).toEqual({});
      expect(doc.f.x).toEqual([{ v: false, d: "a", w: 2, c: 0 }]);
      expect(docBytes(doc)).toBe(0);
    }
    expect(viewOf(applyAll([del(2), set(3, "back")], "lww"), "lww").state).toEqual({ x: "back" });
  });
});

describe("sync resolver: vector_clock", () => {
  it("converges to the same document in any order, equal to the multi-value register model", () => {
    fc.assert(
      fc.property(permuted(vectorUpdate), ([updates, shuffled]) => {
        const one = applyAll(updates, "vector_clock");
        const other = applyAll(shuffled, "vector_clock");
        expect(plain(other)).toEqual(plain(one));
        const view = viewOf(one, "vector_clock");
        expect(viewOf(other, "vector_clock")).toEqual(view);

        const model = vectorModel(updates);
        const expectedState: Record<string, unknown> = {};
        for (const [name, m] of Object.entries(model)) {
          expect(one.f[name]!.map((s) => s.v)).toEqual(m.values);
          if (m.visible !== false) expectedState[name] = JSON.parse(m.visible);
        }
        expect(Object.keys(one.f).sort()).toEqual(Object.keys(model).sort());
        expect(view.state).toEqual(expectedState);
        expect(view.conflicts).toEqual(Object.keys(model).filter((f) => model[f]!.values.length > 1).sort());
        expect(view.clock).toEqual(updates.reduce((c, u) => mergeClocks(c, u.vc!), {} as VectorClock));
      }),
      RUNS,
    );
  });

  it("re-applying an update changes nothing", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { maxLength: 8 }), vectorUpdate, (history, update) => {
        const once = applyStamped(applyAll(history, "vector_clock"), update, "vector_clock");
        expect(plain(applyStamped(once, update, "vector_clock"))).toEqual(plain(once));
      }),
      RUNS,
    );
  });

  it("a causally later write wins its fields and ends their conflicts, whatever came before", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { maxLength: 10 }), fields, device, fc.constantFrom("echo", "counted", "none"), (history, written, d, sent) => {
        const doc = applyAll(history, "vector_clock");
        const state = Object.fromEntries(written.map(([f, v]) => [f, v === false ? null : JSON.parse(v)]));
        // The device has seen everything: it sends back the clock it received, or that clock with
        // its own write counted, or no clock at all.
        const clock = sent === "echo" ? { ...doc.vc } : sent === "counted" ? mergeClocks(doc.vc, { [d]: (doc.vc[d] ?? 0) + 1 }) : undefined;
        const result = applyWrite(doc, prepareWrite({ deviceId: d, state, clock }), "vector_clock", 7, 1e9);
        if (result.status !== "ok") throw new Error("refused");
        const view = viewOf(result.doc, "vector_clock");
        for (const [f, v] of written) {
          expect(result.doc.f[f]).toHaveLength(1);
          expect(result.doc.f[f]![0]).toMatchObject({ v, d });
          expect(view.conflicts).not.toContain(f);
          if (v === false) expect(view.state).not.toHaveProperty(f);
          else expect(view.state[f]).toEqual(JSON.parse(v));
        }
        // Fields it did not write are untouched.
        for (const f of FIELDS.filter((n) => !written.some(([w]) => w === n))) expect(result.doc.f[f]).toEqual(doc.f[f]);
      }),
      RUNS,
    );
  });

  it("every push lands, whatever clock it sends: it replaces what it has seen and stays beside the rest", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { maxLength: 10 }), fields, device, fc.option(vectorClock, { nil: undefined }), (history, written, d, clock) => {
        const doc = applyAll(history, "vector_clock");
        const state = Object.fromEntries(written.map(([f, v]) => [f, v === false ? null : JSON.parse(v)]));
        const result = applyWrite(doc, prepareWrite({ deviceId: d, state, clock }), "vector_clock", 7, 1e9);
        if (result.status !== "ok") throw new Error("refused");
        // The write's clock: what the device sent (or everything stored), and its own next event.
        const seen = clock ?? doc.vc;
        const own = Math.max(entryOf(seen, d), entryOf(doc.vc, d) + 1);
        const stamped = mergeClocks(seen, { [d]: own });
        expect(result.doc.vc).toEqual(mergeClocks(doc.vc, stamped));
        const view = viewOf(result.doc, "vector_clock");
        for (const [f, v] of written) {
          const unseen = (doc.f[f] ?? []).filter((s) => !clockLeq(s.vc ?? {}, stamped));
          expect(result.doc.f[f]!.filter((s) => s.d === d && s.v === v && clockLeq(stamped, s.vc ?? {}) && clockLeq(s.vc ?? {}, stamped))).toHaveLength(1);
          expect(result.doc.f[f]).toHaveLength(unseen.length + 1);
          for (const s of unseen) expect(result.doc.f[f]).toContainEqual(s);
          expect(view.conflicts.includes(f)).toBe(unseen.length > 0);
        }
      }),
      RUNS,
    );
  });

  it("two devices sending back the same received clock both land, as siblings reported in conflicts", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { maxLength: 10 }), field, fc.uniqueArray(device, { minLength: 2, maxLength: 2 }), value, value, (history, f, [d1, d2], v1, v2) => {
        const doc = applyAll(history, "vector_clock");
        const received = { ...doc.vc };
        let next = doc;
        for (const [d, v] of [[d1!, v1], [d2!, v2]] as const) {
          const result = applyWrite(next, prepareWrite({ deviceId: d, state: { [f]: v === false ? null : JSON.parse(v) }, clock: received }), "vector_clock", 7, 1e9);
          if (result.status !== "ok") throw new Error("refused");
          next = result.doc;
        }
        expect(next.f[f]!.map((s) => [s.d, s.v]).sort()).toEqual([[d1, v1], [d2, v2]].sort());
        expect(viewOf(next, "vector_clock").conflicts).toContain(f);
      }),
      RUNS,
    );
  });

  it("merging: a stamped update that a stored value causally follows is dropped for that field (never a push)", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { minLength: 1, maxLength: 8 }), (history) => {
        const doc = applyAll(history, "vector_clock");
        const stale: StampedUpdate = { fields: FIELDS.map((f) => [f, JSON.stringify("stale")]), d: "zz", w: 0, c: 0, vc: {} };
        // The empty clock has seen nothing: every field with a non-empty clock keeps its siblings.
        const after = applyStamped(doc, stale, "vector_clock");
        for (const f of FIELDS) {
          const nonEmpty = (doc.f[f] ?? []).some((s) => Object.keys(s.vc ?? {}).length > 0);
          if (nonEmpty) expect(after.f[f]).toEqual(doc.f[f]);
        }
      }),
      RUNS,
    );
  });

  it("keeps concurrent writes as siblings and reports the field until a dominating write", () => {
    let doc = emptyDoc();
    const push = (deviceId: string, state: Record<string, unknown>, clock?: VectorClock) => {
      const result = applyWrite(doc, prepareWrite({ deviceId, state, clock }), "vector_clock", 100, 1e9);
      if (result.status !== "ok") throw new Error("refused");
      doc = result.doc;
      return viewOf(doc, "vector_clock");
    };
    push("a", { x: "a1", y: 1 }, { a: 1 });
    push("b", { x: "b1" }, { b: 1 });
    const both = push("c", { x: null }, { c: 1 });
    expect(doc.f.x!.map((s) => [s.d, s.v])).toEqual([["a", '"a1"'], ["b", '"b1"'], ["c", false]]);
    // The greatest (d, v) is visible: here c's delete hides the field while it is contested.
    expect(both).toEqual({ state: { y: 1 }, clock: { a: 1, b: 1, c: 1 }, conflicts: ["x"], strategy: "vector_clock" });
    // A write that saw a and b only still leaves c's concurrent delete beside it.
    expect(push("a", { x: "merged" }, { a: 2, b: 1 })).toMatchObject({ conflicts: ["x"], state: { y: 1 } });
    expect(doc.f.x!.map((s) => s.v)).toEqual(['"merged"', false]);
    // Without a clock the device has seen everything: the conflict is resolved.
    expect(push("b", { x: "final" })).toEqual({ state: { x: "final", y: 1 }, clock: { a: 2, b: 2, c: 1 }, conflicts: [], strategy: "vector_clock" });
  });

  it("deletes: a dominating null removes the value and is remembered against stale writes", () => {
    let doc = applyStamped(emptyDoc(), { fields: [["x", '"v"']], d: "a", w: 1, c: 0, vc: { a: 1 } }, "vector_clock");
    doc = applyStamped(doc, { fields: [["x", false]], d: "b", w: 2, c: 0, vc: { a: 1, b: 1 } }, "vector_clock");
    doc = applyStamped(doc, { fields: [["x", '"v"']], d: "a", w: 1, c: 0, vc: { a: 1 } }, "vector_clock");
    expect(viewOf(doc, "vector_clock")).toEqual({ state: {}, clock: { a: 1, b: 1 }, conflicts: [], strategy: "vector_clock" });
    expect(doc.f.x).toEqual([{ v: false, d: "b", w: 2, c: 0, vc: { a: 1, b: 1 } }]);
  });
});

describe("sync resolver: documents", () => {
  it("refuses a push that would exceed maxBytes and counts only live values", () => {
    const doc = applyStamped(emptyDoc(), { fields: [["x", '"12345678"'], ["y", false]], d: "a", w: 1, c: 0 }, "lww");
    expect(docBytes(doc)).toBe(10);
    const grow = prepareWrite({ deviceId: "a", state: { y: "1234" } });
    expect(applyWrite(doc, grow, "lww", 5, 15)).toEqual({ status: "too_large", bytes: 16 });
    expect(applyWrite(doc, grow, "lww", 5, 16).status).toBe("ok");
    // Multi-byte characters count by their UTF-8 bytes.
    expect(applyWrite(emptyDoc(), prepareWrite({ deviceId: "a", state: { x: "😀" } }), "lww", 5, 5)).toEqual({ status: "too_large", bytes: 6 });
  });

  it("compares strings by UTF-8 bytes, not UTF-16 units or locale", () => {
    expect("😀" < "\uffff").toBe(true);
    expect(compareBytes("\uffff", "😀")).toBe(-1);
    expect(compareBytes("B", "a")).toBe(-1);
    expect(compareBytes("a", "a-1")).toBe(-1);
  });

  it("reads stored documents back, whichever way cjson wrote empty tables", () => {
    fc.assert(
      fc.property(fc.array(vectorUpdate, { maxLength: 6 }), (updates) => {
        const doc = applyAll(updates, "vector_clock");
        expect(plain(parseDoc(JSON.stringify(doc)))).toEqual(plain(doc));
      }),
      RUNS,
    );
    const cjsonEmpty = parseDoc('{"h":[0,0],"vc":[],"f":{"x":[{"v":"1","d":"a","w":1,"c":0,"vc":[]}]}}');
    expect(plain(cjsonEmpty)).toEqual({ h: [0, 0], vc: {}, f: { x: [{ v: "1", d: "a", w: 1, c: 0, vc: {} }] } });
    expect(plain(parseDoc('{"h":[3,1],"vc":{},"f":[]}'))).toEqual({ h: [3, 1], vc: {}, f: {} });
    expect(plain(parseDoc(null))).toEqual({ h: [0, 0], vc: {}, f: {} });
  });

  it("treats __proto__ and constructor as ordinary field and device names", () => {
    let doc = emptyDoc();
    for (const d of ["__proto__", "constructor"]) {
      const result = applyWrite(doc, prepareWrite({ deviceId: d, state: JSON.parse('{"__proto__":1,"constructor":2}') as Record<string, unknown> }), "vector_clock", 1, 1e9);
      if (result.status !== "ok") throw new Error("refused");
      doc = result.doc;
    }
    const view = viewOf(doc, "vector_clock");
    expect(JSON.parse(JSON.stringify(view))).toEqual(JSON.parse('{"state":{"__proto__":1,"constructor":2},"clock":{"__proto__":1,"constructor":1},"conflicts":[],"strategy":"vector_clock"}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
