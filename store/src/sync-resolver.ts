/**
 * The rules of multi-device sync (PROTOCOL §3 "Multi-device state sync"), as pure functions over
 * the stored document. The memory engine runs them directly; the Redis engine's Lua script
 * (store/lua/sync/resolve.lua) is a line-by-line port and the tests hold the two to the same results.
 *
 * Stored document (JSON, identical in both engines):
 *   { h: [wall, counter], vc: { deviceId: n }, f: { field: [sibling, ...] } }
 *   sibling = { v: "<JSON text>" | false, d: deviceId, w: wall, c: counter, vc?: { deviceId: n } }
 * Values stay JSON text so Lua never decodes user values (cjson mangles [] vs {} and big numbers).
 * `v: false` is a tombstone: deletes must be remembered, or an older write could resurrect a field.
 * Strings compare byte-wise (UTF-8), as Lua does with the helper of the script, never by locale.
 */
import type { ConflictStrategy, HybridClock, SyncDocument, VectorClock } from "@switchboard/shared";
import type { SyncPushOutcome } from "./types";

/** JSON text of a value, or false for a deleted field. */
export type SiblingValue = string | false;

export interface StoredSibling {
  v: SiblingValue;
  /** The writing device. */
  d: string;
  /** lww: the hybrid clock stamp (wall ms, counter); vector_clock: when the node resolved it. */
  w: number;
  c: number;
  /** vector_clock: the clock of the write. */
  vc?: VectorClock;
}

export interface StoredSyncDoc {
  /** The greatest lww stamp written so far: [wall, counter]. */
  h: [number, number];
  /** vector_clock: the pointwise max of every write's clock. */
  vc: VectorClock;
  f: Record<string, StoredSibling[]>;
}

/** A push reduced to what the rules use: values as JSON text, the clock without zero entries. */
export interface PreparedWrite {
  deviceId: string;
  fields: [field: string, value: SiblingValue][];
  clock?: VectorClock;
  ts?: number;
}

/** A write with its stamp fixed: the unit that merges commutatively into a document. */
export interface StampedUpdate {
  fields: [field: string, value: SiblingValue][];
  d: string;
  w: number;
  c: number;
  /** vector_clock only. */
  vc?: VectorClock;
}

export type ResolveResult = { status: "ok"; doc: StoredSyncDoc } | { status: "too_large"; bytes: number };

/**
 * A dictionary without a prototype: field names and device ids come from clients, and
 * `__proto__` or `constructor` must be plain keys.
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function emptyDoc(): StoredSyncDoc {
  return { h: [0, 0], vc: dict(), f: dict() };
}

/** -1, 0 or 1 by the UTF-8 bytes of two strings. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const cmpNum = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);
/** A tombstone sorts below every value (JSON text is never empty). */
const valueKey = (v: SiblingValue): string => (v === false ? "" : v);

/** The lww order of two siblings: (w, c, d, v). */
export function compareLww(a: StoredSibling, b: StoredSibling): number {
  return cmpNum(a.w, b.w) || cmpNum(a.c, b.c) || compareBytes(a.d, b.d) || compareBytes(valueKey(a.v), valueKey(b.v));
}

/** A canonical text of a clock (`dev:n,...`, devices byte-sorted), the last tie-breaker of siblings. */
export function clockKey(clock: VectorClock | undefined): string {
  if (!clock) return "";
  return Object.keys(clock)
    .sort(compareBytes)
    .map((k) => `${k}:${clock[k]}`)
    .join(",");
}

/** The vector_clock order of siblings: (d, v), then (w, c) and the clock so the order is total. */
export function compareVector(a: StoredSibling, b: StoredSibling): number {
  return (
    compareBytes(a.d, b.d) ||
    compareBytes(valueKey(a.v), valueKey(b.v)) ||
    cmpNum(a.w, b.w) ||
    cmpNum(a.c, b.c) ||
    compareBytes(clockKey(a.vc), clockKey(b.vc))
  );
}

/** The entry of a device (0 when absent); own properties only, so `constructor` is just a name. */
const entry = (clock: Readonly<Record<string, number>>, k: string): number => (Object.hasOwn(clock, k) ? (clock[k] ?? 0) : 0);

/** a ≤ b: b has seen everything a has (missing entries are 0). */
export function clockLeq(a: VectorClock, b: VectorClock): boolean {
  for (const k of Object.keys(a)) if (entry(a, k) > entry(b, k)) return false;
  return true;
}

/** a > b strictly: a has seen all of b and more. */
export function clockDominates(a: VectorClock, b: VectorClock): boolean {
  return clockLeq(b, a) && !clockLeq(a, b);
}

/** A copy without zero entries, so equal clocks have equal keys. */
export function normalizeClock(clock: Readonly<Record<string, number>>): VectorClock {
  const out = dict<number>();
  for (const k of Object.keys(clock)) if (entry(clock, k) > 0) out[k] = entry(clock, k);
  return out;
}

export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const out = normalizeClock(a);
  for (const k of Object.keys(b)) if (entry(b, k) > entry(out, k)) out[k] = entry(b, k);
  return out;
}

/** Values to JSON text (null deletes), the clock without zero entries. */
export function prepareWrite(write: { deviceId: string; state: Record<string, unknown>; clock?: VectorClock; ts?: number }): PreparedWrite {
  const fields = Object.keys(write.state).map((field): [string, SiblingValue] => {
    const value = write.state[field];
    return [field, value === null || value === undefined ? false : JSON.stringify(value)];
  });
  const prepared: PreparedWrite = { deviceId: write.deviceId, fields };
  if (write.clock !== undefined) prepared.clock = normalizeClock(write.clock);
  if (write.ts !== undefined) prepared.ts = write.ts;
  return prepared;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A clock as stored; cjson writes an empty table as `{}` or `[]`, both mean empty. */
function parseClock(value: unknown): VectorClock {
  const out = dict<number>();
  if (!isObject(value)) return out;
  for (const k of Object.keys(value)) {
    const n = value[k];
    if (typeof n === "number" && n > 0) out[k] = n;
  }
  return out;
}

/** A stored document from its JSON text (either engine's); tolerant of cjson's empty tables. */
export function parseDoc(text: string | null | undefined): StoredSyncDoc {
  if (!text) return emptyDoc();
  const raw = JSON.parse(text) as Record<string, unknown>;
  const doc = emptyDoc();
  if (Array.isArray(raw.h) && raw.h.length === 2) doc.h = [Number(raw.h[0]), Number(raw.h[1])];
  doc.vc = parseClock(raw.vc);
  if (isObject(raw.f)) {
    for (const field of Object.keys(raw.f)) {
      const siblings = raw.f[field];
      if (!Array.isArray(siblings)) continue;
      doc.f[field] = siblings.filter(isObject).map((s) => {
        const sibling: StoredSibling = { v: typeof s.v === "string" ? s.v : false, d: String(s.d), w: Number(s.w), c: Number(s.c) };
        if (s.vc !== undefined) sibling.vc = parseClock(s.vc);
        return sibling;
      });
    }
  }
  return doc;
}

function cloneDoc(doc: StoredSyncDoc): StoredSyncDoc {
  const f = dict<StoredSibling[]>();
  for (const field of Object.keys(doc.f)) f[field] = doc.f[field]!.slice();
  return { h: [doc.h[0], doc.h[1]], vc: normalizeClock(doc.vc), f };
}

/**
 * The stamp a push gets. lww without `ts`: strictly after everything stored (a hybrid logical
 * clock); with `ts`: when the device made the change (never in the future). vector_clock: the
 * sent clock is what the device has seen (without one: everything stored), and the store adds
 * the write itself as the device's next event: its entry becomes one past the document's entry of
 * that device, or the sent entry when greater (a device that counts its own writes). No stored
 * value then has seen the write, so it always lands: it replaces what it has seen and stays
 * beside the rest.
 */
export function stampWrite(doc: StoredSyncDoc, write: PreparedWrite, strategy: ConflictStrategy, now: number): StampedUpdate {
  const base = { fields: write.fields, d: write.deviceId };
  if (strategy === "lww") {
    if (write.ts !== undefined) return { ...base, w: Math.min(write.ts, now), c: 0 };
    const [hw, hc] = doc.h;
    const w = Math.max(now, hw);
    return { ...base, w, c: w === hw ? hc + 1 : 0 };
  }
  const vc = normalizeClock(write.clock ?? doc.vc);
  vc[write.deviceId] = Math.max(entry(vc, write.deviceId), entry(doc.vc, write.deviceId) + 1);
  return { ...base, w: now, c: 0, vc };
}

/** The clock of a sibling written under lww: it has seen nothing. */
const NO_CLOCK: VectorClock = Object.freeze(dict<number>());

/** Greatest lww sibling: one value per field. */
function mergeLwwField(siblings: readonly StoredSibling[], incoming: StoredSibling): StoredSibling[] {
  let winner = incoming;
  for (const s of siblings) if (compareLww(s, winner) > 0) winner = s;
  return [winner];
}

/**
 * Multi-value register: an update some sibling causally follows is stale; otherwise it replaces
 * every sibling it has seen (of two with the same clock, the greater by compareVector stays)
 * and sits beside the concurrent ones. A push never comes here stale: stampWrite gives it an
 * entry no stored sibling has reached.
 */
function mergeVectorField(siblings: readonly StoredSibling[], incoming: StoredSibling): StoredSibling[] {
  const clock = incoming.vc!;
  if (siblings.some((s) => clockDominates(s.vc ?? NO_CLOCK, clock))) return siblings.slice();
  let winner = incoming;
  const kept: StoredSibling[] = [];
  for (const s of siblings) {
    const sc = s.vc ?? NO_CLOCK;
    if (clockLeq(sc, clock)) {
      if (clockLeq(clock, sc) && compareVector(s, winner) > 0) winner = s;
    } else {
      kept.push(s);
    }
  }
  kept.push(winner);
  return kept.sort(compareVector);
}

/** Merges a stamped update; commutative, associative and idempotent per strategy. */
export function applyStamped(doc: StoredSyncDoc, update: StampedUpdate, strategy: ConflictStrategy): StoredSyncDoc {
  const out = cloneDoc(doc);
  for (const [field, v] of update.fields) {
    const sibling: StoredSibling = { v, d: update.d, w: update.w, c: update.c };
    if (strategy === "lww") {
      out.f[field] = mergeLwwField(out.f[field] ?? [], sibling);
    } else {
      sibling.vc = normalizeClock(update.vc ?? NO_CLOCK);
      out.f[field] = mergeVectorField(out.f[field] ?? [], sibling);
    }
  }
  if (strategy === "lww") {
    if (update.w > out.h[0] || (update.w === out.h[0] && update.c > out.h[1])) out.h = [update.w, update.c];
  } else {
    out.vc = mergeClocks(out.vc, update.vc ?? NO_CLOCK);
  }
  return out;
}

/** Bytes of every stored value (tombstones weigh nothing). */
export function docBytes(doc: StoredSyncDoc): number {
  let bytes = 0;
  for (const field of Object.keys(doc.f)) for (const s of doc.f[field]!) if (s.v !== false) bytes += Buffer.byteLength(s.v, "utf8");
  return bytes;
}

/** Stamps and merges a push; refused whole when the values would exceed `maxBytes`. */
export function applyWrite(doc: StoredSyncDoc, write: PreparedWrite, strategy: ConflictStrategy, now: number, maxBytes: number): ResolveResult {
  const next = applyStamped(doc, stampWrite(doc, write, strategy, now), strategy);
  const bytes = docBytes(next);
  return bytes > maxBytes ? { status: "too_large", bytes } : { status: "ok", doc: next };
}

/** What clients see: the winning value of each field, the clock, and contested fields. */
export function viewOf(doc: StoredSyncDoc, strategy: ConflictStrategy): SyncDocument {
  const state = dict<unknown>();
  const conflicts: string[] = [];
  // Fields in byte order: both engines answer the same JSON (cjson does not keep key order).
  for (const field of Object.keys(doc.f).sort(compareBytes)) {
    const siblings = doc.f[field]!;
    if (siblings.length === 0) continue;
    const compare = strategy === "lww" ? compareLww : compareVector;
    const winner = siblings.reduce((best, s) => (compare(s, best) > 0 ? s : best));
    if (winner.v !== false) state[field] = JSON.parse(winner.v);
    if (strategy === "vector_clock" && siblings.length > 1) conflicts.push(field);
  }
  const clock: HybridClock | VectorClock = strategy === "lww" ? { wall: doc.h[0], counter: doc.h[1] } : sortedClock(doc.vc);
  return { state, clock, conflicts, strategy };
}

/** A push as a store ran it: the outcome, the stored document, and the store's clock (for tests). */
export interface AppliedSyncPush {
  outcome: SyncPushOutcome;
  /** The document as stored after an accepted push. */
  doc?: StoredSyncDoc;
  /** ms since the epoch by the store's clock, which stamped the write. */
  now: number;
}

export function toOutcome(result: ResolveResult, strategy: ConflictStrategy, maxBytes: number): SyncPushOutcome {
  return result.status === "ok" ? { status: "ok", document: viewOf(result.doc, strategy) } : { status: "too_large", bytes: result.bytes, limit: maxBytes };
}

function sortedClock(clock: VectorClock): VectorClock {
  const out = dict<number>();
  for (const k of Object.keys(clock).sort(compareBytes)) if (entry(clock, k) > 0) out[k] = entry(clock, k);
  return out;
}
