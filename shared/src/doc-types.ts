/**
 * The OT types of collaborative documents, from their libraries: ot-text-unicode for text (positions
 * count Unicode code points) and ot-json1 for JSON (conflicts resolved by its transformNoConflict).
 * Nodes, the emitter and clients use the same functions, so every side transforms alike.
 */
import { type as json1 } from "ot-json1";
import { type as text, type TextOp } from "ot-text-unicode";
import type { DocOpEntry, DocSelection, DocType } from "./docs";

export interface DocOt {
  /** The content of a new document. */
  create(): unknown;
  /** A well-formed op in its normal form; throws with the reason otherwise. */
  normalize(op: unknown): unknown;
  /** The document after the op (never modifies `snapshot`); throws when the op does not fit it. */
  apply(snapshot: unknown, op: unknown): unknown;
  /** `op` moved past `other`, made concurrently on the same version. */
  transform(op: unknown, other: unknown, side: "left" | "right"): unknown;
  compose(a: unknown, b: unknown): unknown;
  /** True when `selection` has this type's shape. */
  isSelection(selection: unknown): selection is DocSelection;
  /** The selection moved through an op (null: the JSON item it pointed at was removed). */
  transformSelection(selection: DocSelection, op: unknown): DocSelection | null;
  /** The document's size in bytes (see DOC_MAX_BYTES). */
  size(snapshot: unknown): number;
}

const utf8Bytes = (s: string): number => (typeof Buffer === "undefined" ? new TextEncoder().encode(s).length : Buffer.byteLength(s, "utf8"));

const isPosition = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

const textOt: DocOt = {
  create: () => text.create(),
  normalize(op) {
    if (!Array.isArray(op)) throw new Error("a text op is an array of components");
    for (const c of op as unknown[]) {
      const ok =
        (typeof c === "number" && Number.isSafeInteger(c)) ||
        typeof c === "string" ||
        (typeof c === "object" && c !== null && Object.keys(c).length === 1 && (typeof (c as { d?: unknown }).d === "string" || Number.isSafeInteger((c as { d?: unknown }).d)));
      if (!ok) throw new Error(`${JSON.stringify(c)} is not a component (a skip count, an insert string or { d: count or string })`);
    }
    // The library's own rules: positive skips, no empty inserts or deletes, no trailing skip.
    text.checkOp(op as TextOp);
    return text.normalize(op as TextOp);
  },
  apply: (snapshot, op) => text.apply(snapshot as string, op as TextOp),
  transform: (op, other, side) => text.transform(op as TextOp, other as TextOp, side),
  compose: (a, b) => text.compose(a as TextOp, b as TextOp),
  isSelection: (s): s is DocSelection => isPosition(s) || (Array.isArray(s) && s.length === 2 && s.every(isPosition)),
  transformSelection: (selection, op) => text.transformSelection(selection as number | [number, number], op as TextOp),
  size: (snapshot) => utf8Bytes(snapshot as string),
};

type JsonOp = Parameters<typeof json1.apply>[1];
type JsonPath = Parameters<typeof json1.transformPosition>[0];

const jsonOt: DocOt = {
  create: () => ({}),
  normalize(op) {
    if (op !== null && !Array.isArray(op)) throw new Error("a JSON op is an array of components or null");
    json1.checkValidOp(op as JsonOp);
    return json1.normalize(op as JsonOp);
  },
  apply: (snapshot, op) => json1.apply(snapshot as Parameters<typeof json1.apply>[0], op as JsonOp),
  transform: (op, other, side) => json1.transformNoConflict(op as JsonOp, other as JsonOp, side),
  compose: (a, b) => json1.compose(a as JsonOp, b as JsonOp),
  isSelection: (s): s is DocSelection => Array.isArray(s) && s.every((k) => isPosition(k) || typeof k === "string"),
  transformSelection: (selection, op) => json1.transformPosition(selection as JsonPath, op as JsonOp),
  size: (snapshot) => utf8Bytes(JSON.stringify(snapshot) ?? ""),
};

export const DOC_OT: Readonly<Record<DocType, DocOt>> = { text: textOt, json: jsonOt };

/**
 * An op made against an older version, transformed against the log's ops since that version (in
 * order), so it applies to the latest. The incoming op goes `left`: ops already in the log
 * keep priority, as a client transforming a received op against its own unacknowledged one
 * (that one `left`, the received one `right`) expects.
 */
export function rebaseOp(type: DocType, op: unknown, since: readonly Pick<DocOpEntry, "op">[]): unknown {
  const ot = DOC_OT[type];
  return since.reduce((moved, entry) => ot.transform(moved, entry.op, "left"), op);
}

/** A snapshot brought forward through log entries, in order. */
export function applyEntries(type: DocType, snapshot: unknown, entries: readonly Pick<DocOpEntry, "op">[]): unknown {
  const ot = DOC_OT[type];
  return entries.reduce((doc, entry) => ot.apply(doc, entry.op), snapshot);
}
