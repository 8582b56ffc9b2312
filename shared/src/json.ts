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
  return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
}

/** The deepest nesting a payload may have (objects and arrays inside each other). */
export const PAYLOAD_DEPTH_MAX = 64;

/**
 * True when objects or arrays nest deeper than `max` in `value`. Walks with its own stack, so a
 * hostile payload nested thousands deep is measured without recursion (and without a stack
 * overflow), before anything recursive (validation, serialisation) touches it.
 */
export function nestsDeeperThan(value: unknown, max: number = PAYLOAD_DEPTH_MAX): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
