/**
 * The bounds of collaborative documents' ops (shared/src/doc-types.ts) as properties: an op within
 * its document normalizes, applies, transforms and moves selections exactly as ot-text-unicode and
 * ot-json1 do on their own; an op or selection that reaches past its document, even by one code
 * point or by 10^15, is refused with VALIDATION_FAILED. The huge counts run in a worker thread with
 * a deadline, since a library walking 10^15 code points would otherwise hang the test runner.
 */
import { AppError, applyEntries, commitOp, DOC_COUNT_MAX, DOC_OT, moveSelection } from "@switchboard/shared";
import fc from "fast-check";
import { type as json1 } from "ot-json1";
import { type as text, type TextOp } from "ot-text-unicode";
import { Worker } from "node:worker_threads";

const RUNS = { numRuns: 300 };

/** Code points as ot-text-unicode counts them, for well-formed text. */
const length = (s: string) => [...s].length;

const char = fc.constantFrom("a", "b", "é", "😀", "\n", "中", "🙂");
const textDoc = fc.array(char, { maxLength: 24 }).map((cs) => cs.join(""));
const insert = fc.array(char, { minLength: 1, maxLength: 4 }).map((cs) => cs.join(""));

type Part = { kind: "skip" | "delete" | "insert"; n: number; s: string };
const part = fc.record({ kind: fc.constantFrom("skip", "delete", "insert"), n: fc.integer({ min: 1, max: 6 }), s: insert }) as fc.Arbitrary<Part>;

/** A text op whose skips and deletes stay within `room` code points, in the library's normal form. */
function opWithin(room: number): fc.Arbitrary<TextOp> {
  return fc.array(part, { maxLength: 8 }).map((parts) => {
    let left = room;
    const op: TextOp = [];
    for (const { kind, n, s } of parts) {
      if (kind === "insert") {
        op.push(s);
        continue;
      }
      const count = Math.min(n, left);
      if (count === 0) continue;
      left -= count;
      op.push(kind === "skip" ? count : { d: count });
    }
    return text.normalize(op);
  });
}

const docAndOp = textDoc.chain((doc) => fc.tuple(fc.constant(doc), opWithin(length(doc))));

/** An op that reaches `over` code points past a text of `room` code points (a skip then an insert, or a delete at the end). */
function opPast(room: number, over: fc.Arbitrary<number>): fc.Arbitrary<TextOp> {
  return fc.tuple(opWithin(room), over, fc.boolean()).map(([op, extra, asDelete]) => {
    const reach = op.reduce((sum: number, c) => sum + (typeof c === "number" ? c : typeof c === "string" ? 0 : (c.d as number)), 0);
    const rest = room - reach + extra;
    return text.normalize([...op, ...(asDelete ? [{ d: rest }] : [rest, "x"])]);
  });
}

const refused = (work: () => unknown) => {
  try {
    work();
  } catch (err) {
    return err instanceof AppError && err.code === "VALIDATION_FAILED";
  }
  return false;
};

describe("ops within their document apply exactly as the libraries apply them", () => {
  it("text: normalize, apply and commit at the latest version", () => {
    fc.assert(
      fc.property(docAndOp, ([doc, op]) => {
        expect(DOC_OT.text.normalize(op)).toEqual(text.normalize(op));
        expect(DOC_OT.text.apply(doc, op)).toBe(text.apply(doc, op));
        expect(commitOp("text", doc, op, [])).toEqual({ op, doc: text.apply(doc, op) });
      }),
      RUNS,
    );
  });

  it("text: an op made against an older version is transformed against the log as before", () => {
    const concurrent = docAndOp.chain(([doc, logOp]) => fc.tuple(fc.constant(doc), fc.constant(logOp), opWithin(length(doc))));
    fc.assert(
      fc.property(concurrent, ([doc, logOp, op]) => {
        const head = text.apply(doc, logOp);
        const moved = text.transform(op, logOp, "left");
        expect(commitOp("text", head, op, [{ op: logOp }])).toEqual({ op: moved, doc: text.apply(head, moved) });
      }),
      RUNS,
    );
  });

  it("text: selections within the document move as before", () => {
    const withSelection = docAndOp.chain(([doc, logOp]) => fc.tuple(fc.constant(doc), fc.constant(logOp), fc.nat(length(doc)), fc.nat(length(doc))));
    fc.assert(
      fc.property(withSelection, ([doc, logOp, anchor, head]) => {
        const after = text.apply(doc, logOp);
        expect(moveSelection("text", [anchor, head], after, [{ op: logOp }])).toEqual(text.transformSelection([anchor, head], logOp));
        expect(moveSelection("text", anchor, after, [{ op: logOp }])).toEqual(text.transformSelection(anchor, logOp));
      }),
      RUNS,
    );
  });

  it("JSON: embedded text edits and number edits apply as the text op and the sum", () => {
    fc.assert(
      fc.property(docAndOp, fc.integer({ min: -1000, max: 1000 }), ([doc, op], n) => {
        const edit = [["k", { es: op }], ["n", { ena: n }]];
        const normal = DOC_OT.json.normalize(edit);
        expect(normal).toEqual(json1.normalize(edit as never));
        expect(DOC_OT.json.apply({ k: doc, n: 5 }, normal)).toEqual({ k: text.apply(doc, op), n: 5 + n });
        // An edit of a string the same op inserts.
        expect(DOC_OT.json.apply({}, DOC_OT.json.normalize(["k", { i: doc, es: op }]))).toEqual({ k: text.apply(doc, op) });
      }),
      RUNS,
    );
  });
});

describe("ops and selections past their document are refused", () => {
  it("text: a skip or delete run that reaches past the end, at the latest or an older version", () => {
    const past = textDoc.chain((doc) => fc.tuple(fc.constant(doc), opPast(length(doc), fc.integer({ min: 1, max: 50 }))));
    fc.assert(
      fc.property(past, ([doc, op]) => {
        expect(refused(() => DOC_OT.text.apply(doc, op))).toBe(true);
        expect(refused(() => commitOp("text", doc, op, []))).toBe(true);
        // Made against `doc`, arriving after an insert that makes room for it: still refused.
        const head = text.apply(doc, ["y".repeat(60)]);
        expect(refused(() => commitOp("text", head, op, [{ op: ["y".repeat(60)] }]))).toBe(true);
      }),
      RUNS,
    );
  });

  it("JSON: an embedded text edit past the end of its string, a number edit of a non-number or past the finite", () => {
    const past = textDoc.chain((doc) => fc.tuple(fc.constant(doc), opPast(length(doc), fc.integer({ min: 1, max: 50 }))));
    fc.assert(
      fc.property(past, ([doc, op]) => {
        expect(refused(() => DOC_OT.json.apply({ k: doc }, ["k", { es: op }]))).toBe(true);
        expect(refused(() => DOC_OT.json.apply({}, ["k", { i: doc, es: op }]))).toBe(true);
      }),
      RUNS,
    );
    expect(refused(() => DOC_OT.json.apply({ k: "s" }, ["k", { ena: 1 }]))).toBe(true);
    expect(refused(() => DOC_OT.json.apply({ k: 1e308 }, ["k", { ena: 1e308 }]))).toBe(true);
    expect(refused(() => DOC_OT.json.normalize(["k", { ena: "1" }]))).toBe(true);
    expect(refused(() => DOC_OT.json.apply({ k: 1 }, ["k", { es: [1, "x"] }]))).toBe(true);
  });

  it("text: a selection beyond the end of the text at its version", () => {
    const past = docAndOp.chain(([doc, logOp]) => fc.tuple(fc.constant(doc), fc.constant(logOp), fc.integer({ min: length(doc) + 1, max: Number.MAX_SAFE_INTEGER })));
    fc.assert(
      fc.property(past, ([doc, logOp, position]) => {
        const head = text.apply(doc, logOp);
        expect(refused(() => moveSelection("text", position, head, [{ op: logOp }]))).toBe(true);
        expect(refused(() => moveSelection("text", [0, position], head, [{ op: logOp }]))).toBe(true);
      }),
      RUNS,
    );
    expect(refused(() => moveSelection("json", ["k", DOC_COUNT_MAX + 1], {}, []))).toBe(true);
  });

  it("refuses counts up to 10^15 and beyond at once: every entry point answers within the deadline", async () => {
    // The properties run in a worker, so an entry point that walks the counts fails the deadline instead of hanging jest.
    const source = `
      const { parentPort, workerData } = require("node:worker_threads");
      const fc = require(workerData.fastCheck);
      const { AppError, commitOp, DOC_OT, moveSelection } = require(workerData.shared);
      const refused = (work) => { try { work(); } catch (err) { return err instanceof AppError && err.code === "VALIDATION_FAILED"; } return false; };
      const huge = fc.oneof(fc.constant(1e15), fc.integer({ min: ${DOC_COUNT_MAX + 1}, max: Number.MAX_SAFE_INTEGER }));
      const doc = fc.string({ maxLength: 20 });
      const results = [];
      const check = (name, arb, predicate) => {
        const out = fc.check(fc.property(arb, predicate), { numRuns: 200 });
        results.push({ name, failed: out.failed, counterexample: out.counterexample });
      };
      check("text apply: huge skip", fc.tuple(doc, huge), ([s, n]) => refused(() => DOC_OT.text.apply(s, [n, "x"])));
      check("text apply: huge delete", fc.tuple(doc, huge), ([s, n]) => refused(() => DOC_OT.text.apply(s, [{ d: n }])));
      check("text normalize", huge, (n) => refused(() => DOC_OT.text.normalize([3, { d: n }])));
      check("text commit at an older version", fc.tuple(doc, huge), ([s, n]) => refused(() => commitOp("text", s + "x", [n, "y"], [{ op: [{ d: 1 }, "x"] }])));
      check("json apply: es", fc.tuple(doc, huge), ([s, n]) => refused(() => DOC_OT.json.apply({ k: s }, ["k", { es: [n, "x"] }])));
      check("json apply: et text-unicode", fc.tuple(doc, huge), ([s, n]) => refused(() => DOC_OT.json.apply({ k: s }, ["k", { et: "text-unicode", e: [{ d: n }] }])));
      check("json normalize: es", huge, (n) => refused(() => DOC_OT.json.normalize(["k", { es: [n, "x"] }])));
      check("json commit at an older version", fc.tuple(doc, huge), ([s, n]) => refused(() => commitOp("json", { k: s }, ["k", { es: [n, "x"] }], [{ op: ["k", { es: ["y"] }] }])));
      check("text selection", fc.tuple(doc, huge), ([s, n]) => refused(() => moveSelection("text", [0, n], s, [])));
      parentPort.postMessage(results);
    `;
    const worker = new Worker(source, { eval: true, workerData: { shared: require.resolve("@switchboard/shared"), fastCheck: require.resolve("fast-check") } });
    let timer: NodeJS.Timeout | undefined;
    try {
      const results = await new Promise<{ name: string; failed: boolean; counterexample: unknown }[]>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error("an entry point is still walking a huge count after 10 s")), 10000);
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      expect(results.filter((r) => r.failed)).toEqual([]);
      expect(results).toHaveLength(9);
    } finally {
      clearTimeout(timer);
      await worker.terminate();
    }
  });
});

describe("the stored log replays as it was committed", () => {
  it("replays a delete that earlier versions clipped at the end of the text, and still bounds counts", () => {
    // Committed before ops were measured against their document: the library clipped the delete.
    expect(applyEntries("text", "abc", [{ op: [1, { d: 5 }] }, { op: ["!"] }])).toBe("!a");
    expect(() => applyEntries("text", "abc", [{ op: [1e15, "x"] }])).toThrow(AppError);
    expect(() => applyEntries("text", "abc", [{ op: [1, { d: 1e15 }] }])).toThrow(AppError);
  });
});
