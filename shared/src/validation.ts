/**
 * Input validation for the command pipeline, the REST wrapper and the emitter alike: the payload's
 * shape first (depth, entries, binary: one cheap walk without recursion), then its joi schema. A valid payload
 * costs one schema pass. An invalid one lists every problem when it is small, only its first when
 * it is large, never more than VALIDATION_PROBLEMS_MAX, each message cut short: a hostile payload
 * can neither stall the node with error building nor draw an answer larger than itself.
 */
import { AppError } from "./errors";
import { inspectPayload, utf8Bytes } from "./json";
import type Joi from "joi";

/** Problems one refusal lists at most. */
export const VALIDATION_PROBLEMS_MAX = 20;
/** Payloads up to this many entries get every problem listed; larger ones their first. */
const DETAILED_ENTRIES_MAX = 256;
/** A problem's message is cut to this many characters (a key name may be kilobytes long). */
const MESSAGE_MAX = 200;

const cut = (text: string) => (text.length > MESSAGE_MAX ? `${text.slice(0, MESSAGE_MAX - 1)}…` : text);

export interface InputOptions {
  /** What the value is, for messages ("payload", "body", "query", …). */
  what?: string;
  /** Its largest JSON size in bytes (PAYLOAD_TOO_LARGE beyond), checked after its shape. */
  maxBytes?: number;
}

/**
 * Validates `value` against `schema`: answers the validated value, or throws VALIDATION_FAILED
 * (PAYLOAD_TOO_LARGE for a value over `maxBytes`).
 */
export function validateInput<T>(schema: Joi.Schema<T>, value: unknown, options: Joi.ValidationOptions, { what = "payload", maxBytes }: InputOptions = {}): T {
  const { entries, bytesAtMost, problem } = inspectPayload(value);
  if (problem?.kind === "depth") throw new AppError("VALIDATION_FAILED", `the ${what} nests deeper than ${problem.limit} levels`, { limit: problem.limit });
  if (problem?.kind === "entries") throw new AppError("VALIDATION_FAILED", `the ${what} holds more than ${problem.limit} entries`, { limit: problem.limit });
  if (problem?.kind === "binary") throw new AppError("VALIDATION_FAILED", `the ${what} holds binary data; payloads are JSON`);
  // Serialised only when its shape does not already prove it small enough.
  if (maxBytes !== undefined && !(bytesAtMost <= maxBytes)) {
    const size = utf8Bytes(JSON.stringify(value) ?? "");
    if (size > maxBytes) throw new AppError("PAYLOAD_TOO_LARGE", `${what} is ${size} bytes; the limit is ${maxBytes}`, { size, limit: maxBytes });
  }
  const first = firstPassOf(schema, options).validate(value);
  if (!first.error) return first.value;
  const { error } = entries <= DETAILED_ENTRIES_MAX ? schema.validate(value, { ...options, abortEarly: false }) : first;
  throw validationError(error ?? first.error, what);
}

/**
 * `schema` with the first pass's options baked in, once per schema and options object: joi merges
 * options given to validate() into its preferences on every call, but caches a schema's own. (A
 * schema made per call, as the streams' points are, is baked per call.)
 */
const firstPasses = new WeakMap<Joi.ValidationOptions, WeakMap<Joi.Schema, Joi.Schema>>();
function firstPassOf<T>(schema: Joi.Schema<T>, options: Joi.ValidationOptions): Joi.Schema<T> {
  let schemas = firstPasses.get(options);
  if (!schemas) firstPasses.set(options, (schemas = new WeakMap()));
  let baked = schemas.get(schema);
  if (!baked) schemas.set(schema, (baked = schema.prefs({ ...options, abortEarly: true })));
  return baked as Joi.Schema<T>;
}

/** A joi failure as VALIDATION_FAILED, listing its problems (at most VALIDATION_PROBLEMS_MAX). */
export function validationError(error: Joi.ValidationError, what = "payload"): AppError {
  const listed = error.details.slice(0, VALIDATION_PROBLEMS_MAX);
  const more = error.details.length - listed.length;
  const summary = listed.map((d) => cut(d.message)).join("; ") + (more > 0 ? `; and ${more} more` : "");
  return new AppError(
    "VALIDATION_FAILED",
    `invalid ${what}: ${summary}`,
    listed.map((d) => ({ path: cut(d.path.join(".")), message: cut(d.message), type: d.type })),
  );
}
