/**
 * JSON values: what may travel as a payload of an event. A backend service hands the emitter
 * plain JavaScript values, which are checked here before anything is sent (a function, a
 * `Date`, `NaN` or a cycle would arrive changed or not at all).
 */
import Joi from "joi";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** True when `value` survives a JSON round trip unchanged (plain objects, arrays, finite numbers…). */
export function isJsonValue(value: unknown, depth = 0, seen: Set<object> = new Set()): boolean {
  if (value === null || typeof value === "boolean" || typeof value === "string") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || depth > 64 || seen.has(value)) return false;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1, seen));
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value).every((v) => isJsonValue(v, depth + 1, seen));
  } finally {
    seen.delete(value);
  }
}

/** A joi schema accepting JSON values only. */
export const jsonValue = Joi.any().custom((value: unknown, helpers) => (isJsonValue(value) ? value : helpers.error("any.json")), "JSON value").messages({
  "any.json": "{{#label}} must be a JSON value (plain objects, arrays, strings, finite numbers, booleans, null)",
});

/** Bytes of a value's JSON text. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? "");
}

/** The UTF-8 size of a string (Buffer's count on Node, which encodes nothing; TextEncoder's in a browser). */
export function utf8Bytes(text: string): number {
  return typeof Buffer === "undefined" ? new TextEncoder().encode(text).length : Buffer.byteLength(text, "utf8");
}

/** The deepest nesting a payload may have (objects and arrays inside each other). */
export const PAYLOAD_DEPTH_MAX = 64;

/**
 * The most entries (object keys and array items, at every depth) a payload may hold: far more
 * than any command needs (a stream batch of 500 points, a synced state of 256 fields), few enough
 * that validating and answering it stays cheap whatever it holds.
 */
export const PAYLOAD_ENTRIES_MAX = 10_000;

/** Why a payload is refused before anything reads it. */
export type PayloadShapeProblem = { kind: "depth"; limit: number } | { kind: "entries"; limit: number } | { kind: "binary" };

/** The most bytes a JSON scalar's text takes: a string escaped at worst as `\uXXXX` per UTF-16 unit (6 bytes), a number's longest form (`-1.7976931348623157e+308`). */
function scalarBytesAtMost(value: unknown): number {
  if (typeof value === "string") return 6 * value.length + 2;
  if (typeof value === "number") return 24;
  return 5; // true, false, null (and what JSON writes as null or leaves out)
}

/**
 * Measures a payload's shape before anything recursive (validation, serialisation) touches it:
 * its entries (object keys and array items at every depth), an upper bound of its JSON size in
 * bytes (so most payloads need no serialising to be measured; Infinity for an object with its
 * own `toJSON`), and the first problem — nesting deeper than PAYLOAD_DEPTH_MAX, more than
 * PAYLOAD_ENTRIES_MAX entries, or binary data (no command takes any; a Buffer would otherwise be
 * read as an object with a key per byte). Walks with its own stack and stops at the first
 * problem, so a hostile payload costs at most PAYLOAD_ENTRIES_MAX steps.
 */
export function inspectPayload(value: unknown): { entries: number; bytesAtMost: number; problem?: PayloadShapeProblem } {
  if (typeof value !== "object" || value === null) return { entries: 0, bytesAtMost: scalarBytesAtMost(value) };
  const stack: [object, number][] = [[value, 1]];
  let entries = 0;
  let bytesAtMost = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (ArrayBuffer.isView(node) || node instanceof ArrayBuffer) return { entries, bytesAtMost, problem: { kind: "binary" } };
    if (depth > PAYLOAD_DEPTH_MAX) return { entries, bytesAtMost, problem: { kind: "depth", limit: PAYLOAD_DEPTH_MAX } };
    if (typeof (node as { toJSON?: unknown }).toJSON === "function") bytesAtMost = Infinity;
    const array = Array.isArray(node);
    const keys = array ? undefined : Object.keys(node);
    const children: unknown[] = array ? node : Object.values(node);
    entries += children.length;
    if (entries > PAYLOAD_ENTRIES_MAX) return { entries, bytesAtMost, problem: { kind: "entries", limit: PAYLOAD_ENTRIES_MAX } };
    // Brackets, a comma per entry, and each key as a string with its colon.
    bytesAtMost += 2 + children.length;
    if (keys) for (const key of keys) bytesAtMost += 6 * key.length + 3;
    for (const child of children) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
      else bytesAtMost += scalarBytesAtMost(child);
    }
  }
  return { entries, bytesAtMost };
}
