/**
 * Arbitraries of hostile input for the fuzzer in tests/integration/hostile-clients.test.ts.
 *
 * A generated payload is a Spec, a small description that `build` turns into the real value at
 * send time: a 5000-level nesting or a 100 kB string stays a one-line counterexample, and object
 * keys such as `__proto__` become own properties (as JSON.parse would make them), not prototype
 * assignments as an object literal would.
 *
 * Payloads come in two kinds: NEARLY valid ones, derived from a joi schema's describe() (the
 * right keys, with boundary, extreme or wrong-typed values), and pure junk.
 */
import fc from "fast-check";
import type Joi from "joi";

export type Spec =
  | { t: "v"; v: null | boolean | number | string }
  | { t: "undef" }
  /** `unit` repeated `times`. */
  | { t: "str"; unit: string; times: number }
  | { t: "arr"; items: Spec[] }
  /** An array of `times` copies of one value. */
  | { t: "rep"; item: Spec; times: number }
  | { t: "obj"; entries: [string, Spec][] }
  /** An object with `keys` keys k0, k1, … all holding `value`. */
  | { t: "wide"; keys: number; value: Spec }
  /** `leaf` wrapped `depth` times in arrays or in objects `{ a: … }`. */
  | { t: "deep"; depth: number; shape: "array" | "object"; leaf: Spec }
  /** A binary attachment. */
  | { t: "bin"; bytes: number };

const own = (target: Record<string, unknown>, key: string, value: unknown) =>
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });

export function build(spec: Spec): unknown {
  switch (spec.t) {
    case "v":
      return spec.v;
    case "undef":
      return undefined;
    case "str":
      return spec.unit.repeat(spec.times);
    case "arr":
      return spec.items.map(build);
    case "rep":
      return new Array<unknown>(spec.times).fill(build(spec.item));
    case "obj": {
      const out: Record<string, unknown> = {};
      for (const [key, value] of spec.entries) own(out, key, build(value));
      return out;
    }
    case "wide": {
      const out: Record<string, unknown> = {};
      const value = build(spec.value);
      for (let i = 0; i < spec.keys; i++) out[`k${i}`] = value;
      return out;
    }
    case "deep": {
      // Iterative: the nesting is deeper than a recursive builder should go.
      let value = build(spec.leaf);
      for (let i = 0; i < spec.depth; i++) value = spec.shape === "array" ? [value] : { a: value };
      return value;
    }
    case "bin":
      return Buffer.alloc(spec.bytes, 0x61);
  }
}

/**
 * The JSON text of a spec, built without recursing into a nesting: JSON.stringify gives up at
 * about 4500 levels (call stack), so deep payloads are written out here.
 */
export function jsonText(spec: Spec): string {
  switch (spec.t) {
    case "undef":
      return "null";
    case "arr":
      return `[${spec.items.map(jsonText).join(",")}]`;
    case "rep":
      return `[${new Array<string>(spec.times).fill(jsonText(spec.item)).join(",")}]`;
    case "obj":
      return `{${spec.entries.filter(([, value]) => value.t !== "undef").map(([key, value]) => `${JSON.stringify(key)}:${jsonText(value)}`).join(",")}}`;
    case "wide": {
      const value = jsonText(spec.value);
      return `{${Array.from({ length: spec.keys }, (_, i) => `"k${i}":${value}`).join(",")}}`;
    }
    case "deep":
      return spec.shape === "array" ? `${"[".repeat(spec.depth)}${jsonText(spec.leaf)}${"]".repeat(spec.depth)}` : `${'{"a":'.repeat(spec.depth)}${jsonText(spec.leaf)}${"}".repeat(spec.depth)}`;
    default:
      return JSON.stringify(build(spec)) ?? "null";
  }
}

/** How deep a spec nests. */
export function depthOf(spec: Spec): number {
  switch (spec.t) {
    case "arr":
      return 1 + Math.max(0, ...spec.items.map(depthOf));
    case "rep":
      return 1 + depthOf(spec.item);
    case "obj":
      return 1 + Math.max(0, ...spec.entries.map(([, value]) => depthOf(value)));
    case "wide":
      return 1 + depthOf(spec.value);
    case "deep":
      return spec.depth + depthOf(spec.leaf);
    default:
      return 0;
  }
}

/** About how many bytes a spec takes on a Socket.IO connection (UTF-8; attachments count as their bytes). */
export function wireBytes(spec: Spec): number {
  if (!hasBinary(spec)) return Buffer.byteLength(jsonText(spec));
  switch (spec.t) {
    case "bin":
      return spec.bytes;
    case "arr":
      return spec.items.reduce((n, item) => n + wireBytes(item) + 1, 2);
    case "rep":
      return spec.times * (wireBytes(spec.item) + 1);
    case "obj":
      return spec.entries.reduce((n, [key, value]) => n + key.length + wireBytes(value) + 4, 2);
    case "wide":
      return spec.keys * (wireBytes(spec.value) + 8);
    case "deep":
      return spec.depth * 2 + wireBytes(spec.leaf);
    default:
      return Buffer.byteLength(jsonText(spec));
  }
}

/** About how large a spec's JSON gets, without building it (UTF-16 units; good enough to bound generation). */
export function sizeOf(spec: Spec): number {
  switch (spec.t) {
    case "v":
      return typeof spec.v === "string" ? spec.v.length + 2 : 8;
    case "undef":
      return 4;
    case "str":
      return spec.unit.length * spec.times * 6 + 2;
    case "arr":
      return spec.items.reduce((n, item) => n + sizeOf(item) + 1, 2);
    case "rep":
      return spec.times * (sizeOf(spec.item) + 1);
    case "obj":
      return spec.entries.reduce((n, [key, value]) => n + key.length + sizeOf(value) + 4, 2);
    case "wide":
      return spec.keys * (sizeOf(spec.value) + 8);
    case "deep":
      return spec.depth * 6 + sizeOf(spec.leaf);
    case "bin":
      return spec.bytes;
  }
}

/** Payloads up to this size are generated: past the transport's limit, short of blocking the test's own event loop. */
export const SPEC_SIZE_MAX = 400_000;

/** True when a spec holds a binary attachment (which only the client library can send). */
export function hasBinary(spec: Spec): boolean {
  switch (spec.t) {
    case "bin":
      return true;
    case "arr":
      return spec.items.some(hasBinary);
    case "rep":
      return hasBinary(spec.item);
    case "obj":
      return spec.entries.some(([, value]) => hasBinary(value));
    case "wide":
      return hasBinary(spec.value);
    case "deep":
      return hasBinary(spec.leaf);
    default:
      return false;
  }
}

/** A short human-readable rendering of a spec, for failure reports. */
export function show(spec: Spec, budget = 160): string {
  const text = render(spec);
  return text.length > budget ? `${text.slice(0, budget)}…` : text;
}

function render(spec: Spec): string {
  switch (spec.t) {
    case "v":
      return typeof spec.v === "number" && Object.is(spec.v, -0) ? "-0" : JSON.stringify(spec.v);
    case "undef":
      return "undefined";
    case "str":
      return spec.times <= 8 ? JSON.stringify(spec.unit.repeat(spec.times)) : `${JSON.stringify(spec.unit)}×${spec.times}`;
    case "arr":
      return `[${spec.items.map(render).join(",")}]`;
    case "rep":
      return `[${render(spec.item)} ×${spec.times}]`;
    case "obj":
      return `{${spec.entries.map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`).join(",")}}`;
    case "wide":
      return `{k0..k${spec.keys - 1}: ${render(spec.value)}}`;
    case "deep":
      return `${spec.shape === "array" ? "[" : "{a:"}×${spec.depth} ${render(spec.leaf)}`;
    case "bin":
      return `<Buffer ${spec.bytes} bytes>`;
  }
}

export const v = (value: null | boolean | number | string): Spec => ({ t: "v", v: value });
export const obj = (entries: Record<string, Spec>): Spec => ({ t: "obj", entries: Object.entries(entries) });
export const deep = (depth: number, shape: "array" | "object" = "array", leaf: Spec = v(1)): Spec => ({ t: "deep", depth, shape, leaf });

// ---------------------------------------------------------------------------------------------
// primitives

/** Numbers at and beyond every usual limit (JSON has no NaN or Infinity; 1e308 is as far as it goes). */
export const EXTREME_NUMBERS = [0, -0, -1, 1, 1.5, -1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 1, -(2 ** 53) - 1, 1e15, -1e15, 1e21, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, 8.64e15 + 1];

export const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"];

/** Strings that break naive code: control characters, lone surrogates, paths, globs, ids out of range. */
export const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\u0001\u0002\u001b[31m",
  "line\nbreak\r\n",
  "\ud800",
  "\udfff",
  "a\ud800b",
  "\udc00\ud800",
  "\u202eevil",
  "\u200b",
  "\ufeff",
  "😀",
  "..",
  "../../etc/passwd",
  "a/../b",
  "%2F",
  "%00",
  "*",
  "?",
  "[a-z]*",
  "{tag}",
  "\\",
  "'\"`",
  "$where",
  "0-0",
  "0",
  "-1",
  "1e15",
  "NaN",
  "Infinity",
  "999999999999999-999999999999999",
  "18446744073709551616-0",
  "room:",
  "room:x/",
  "workspace:/x",
  "room:x//y",
  ...PROTO_KEYS,
];

const extremeNumber = fc.constantFrom(...EXTREME_NUMBERS).map(v);
const nastyString = fc.constantFrom(...NASTY_STRINGS).map(v);
/** Long strings: at the joi limits, well past them, and past the transport's limits. */
const longString = fc.record({ unit: fc.constantFrom("a", "é", "😀", "\u0000", "\ud800"), times: fc.constantFrom(129, 257, 1000, 4097, 20000, 70000, 200000) }).map(({ unit, times }): Spec => ({ t: "str", unit, times }));

const primitiveJunk: fc.Arbitrary<Spec> = fc.oneof(
  fc.constantFrom<Spec>(v(null), v(true), v(false), { t: "undef" }),
  extremeNumber,
  nastyString,
  fc.string({ unit: "binary", maxLength: 12 }).map(v),
  longString,
);

/** Nested arrays or objects, a few levels to a few thousand. */
const deepJunk = fc.record({ depth: fc.constantFrom(32, 65, 100, 1000, 5000), shape: fc.constantFrom<"array" | "object">("array", "object"), leaf: fc.oneof(extremeNumber, nastyString) }).map(({ depth, shape, leaf }) => deep(depth, shape, leaf));

/** Arrays and objects as wide as a message allows (and wider). */
const wideJunk: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ item: fc.oneof(extremeNumber, nastyString, fc.constant(v(null))), times: fc.constantFrom(101, 501, 1001, 10000, 30000) }).map(({ item, times }): Spec => ({ t: "rep", item, times })),
  fc.record({ value: fc.oneof(extremeNumber, fc.constant(v("x"))), keys: fc.constantFrom(65, 257, 1001, 5000) }).map(({ value, keys }): Spec => ({ t: "wide", keys, value })),
);

const binaryJunk = fc.constantFrom(0, 1, 1024, 15000, 70000, 160000).map((bytes): Spec => ({ t: "bin", bytes }));

/** Objects whose keys are prototype names, given as own keys. */
const protoObject = fc
  .array(fc.tuple(fc.constantFrom(...PROTO_KEYS), fc.oneof(primitiveJunk, fc.constant(obj({ polluted: v(true) })))), { minLength: 1, maxLength: 3 })
  .map((entries): Spec => ({ t: "obj", entries }));

/**
 * Edit-script shapes with extreme counts: arrays of skips, inserts, `{ d: n }`, `{ es: [...] }`,
 * path keys. Any command that interprets an array as a sequence of operations meets these.
 */
const scriptJunk: fc.Arbitrary<Spec> = fc
  .array(
    fc.oneof(
      extremeNumber,
      fc.constantFrom("x", "k", "", "\ud800").map(v),
      extremeNumber.map((n) => obj({ d: n })),
      fc.tuple(extremeNumber, fc.constantFrom("x", "")).map(([n, s]) => obj({ es: { t: "arr", items: [n, v(s)] } })),
      fc.constantFrom<Spec>(obj({ r: v(true) }), obj({ i: v("x") }), obj({ p: v(0) }), obj({ d: v(0) }), obj({ ena: v(1e15) })),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((items): Spec => ({ t: "arr", items }));

const plainJson: fc.Arbitrary<Spec> = fc.jsonValue({ maxDepth: 3 }).map(fromJson);

function fromJson(value: unknown): Spec {
  if (value === null || typeof value !== "object") return v(value as string);
  if (Array.isArray(value)) return { t: "arr", items: value.map(fromJson) };
  return { t: "obj", entries: Object.entries(value).map(([k, x]) => [k, fromJson(x)]) };
}

/** Any adversarial value, with no regard for a schema. */
export const junk: fc.Arbitrary<Spec> = fc.oneof(
  { arbitrary: primitiveJunk, weight: 4 },
  { arbitrary: plainJson, weight: 2 },
  { arbitrary: deepJunk, weight: 2 },
  { arbitrary: wideJunk, weight: 1 },
  { arbitrary: binaryJunk, weight: 1 },
  { arbitrary: protoObject, weight: 2 },
  { arbitrary: scriptJunk, weight: 2 },
);

// ---------------------------------------------------------------------------------------------
// nearly valid payloads, from joi's describe()

/** The subset of joi's describe() output the generator reads. */
export interface Desc {
  type: string;
  flags?: { presence?: string; only?: boolean };
  allow?: unknown[];
  rules?: { name: string; args?: { limit?: number; regex?: string } }[];
  keys?: Record<string, Desc>;
  items?: Desc[];
  matches?: { schema?: Desc; then?: Desc; otherwise?: Desc }[];
  patterns?: { regex?: string; rule?: Desc }[];
}

export const describeSchema = (schema: Joi.Schema): Desc => schema.describe() as Desc;

const rule = (desc: Desc, name: string) => desc.rules?.find((r) => r.name === name)?.args;

/** `/^…$/flags` as describe() prints it. */
function regexOf(text: string): RegExp {
  const at = text.lastIndexOf("/");
  return new RegExp(text.slice(1, at), text.slice(at + 1).replace(/[gy]/g, ""));
}

/** Values one wrong type away from what the schema wants. */
const wrongType: fc.Arbitrary<Spec> = fc.constantFrom<Spec>(v(null), v(true), v(0), v("1"), v(""), { t: "arr", items: [] }, obj({}), { t: "arr", items: [v("x")] }, obj({ a: v(1) }));

export interface NearOptions {
  /** Strings the server knows (live room, document, user ids…), used for string fields. */
  knownStrings: readonly string[];
}

/** A value for `desc`: often valid or at a boundary, sometimes extreme, wrong-typed or junk. */
export function nearValue(desc: Desc, options: NearOptions, depth = 0): fc.Arbitrary<Spec> {
  const choices: fc.WeightedArbitrary<Spec>[] = [];
  const add = (arbitrary: fc.Arbitrary<Spec>, weight: number) => choices.push({ arbitrary, weight });
  const allowed = (desc.allow ?? []).filter((a): a is string | number | boolean | null => a === null || ["string", "number", "boolean"].includes(typeof a));
  if (allowed.length > 0) add(fc.constantFrom(...allowed).map(v), desc.flags?.only ? 8 : 2);
  switch (desc.type) {
    case "string": {
      const pattern = rule(desc, "pattern")?.regex;
      if (pattern) add(fc.stringMatching(regexOf(pattern)).map(v), 4);
      if (options.knownStrings.length > 0) add(fc.constantFrom(...options.knownStrings).map(v), 4);
      const min = rule(desc, "min")?.limit ?? 0;
      const max = rule(desc, "max")?.limit;
      const lengths = [min, Math.max(0, min - 1), ...(max === undefined ? [] : [max, max + 1])];
      add(fc.constantFrom(...lengths).map((times): Spec => ({ t: "str", unit: "a", times })), 2);
      if (!desc.flags?.only) add(fc.string({ unit: "binary", maxLength: 24 }).map(v), 1);
      add(nastyString, 2);
      add(longString, 1);
      break;
    }
    case "number": {
      const min = rule(desc, "min")?.limit;
      const max = rule(desc, "max")?.limit;
      const edges = [min, max, min === undefined ? undefined : min - 1, max === undefined ? undefined : max + 1].filter((n): n is number => n !== undefined);
      if (edges.length > 0) add(fc.constantFrom(...edges).map(v), 2);
      add(fc.integer({ min: Math.max(min ?? -1000, -1e9), max: Math.min(max ?? 1000, 1e9) }).map(v), 3);
      add(extremeNumber, 4);
      add(fc.constantFrom("1", "1e15", "-1", "NaN", "Infinity", "0x10").map(v), 1);
      break;
    }
    case "boolean":
      add(fc.boolean().map(v), 4);
      add(fc.constantFrom<Spec>(v("true"), v(1), v(0), v("false")), 1);
      break;
    case "array": {
      const item = desc.items?.[0];
      const itemArb = item && depth < 6 ? nearValue(item, options, depth + 1) : junk;
      const min = rule(desc, "min")?.limit ?? 0;
      const max = rule(desc, "max")?.limit ?? 16;
      add(fc.array(itemArb, { maxLength: 4 }).map((items): Spec => ({ t: "arr", items })), 4);
      add(fc.tuple(itemArb, fc.constantFrom(min, max, max + 1, 10000)).map(([one, times]): Spec => ({ t: "rep", item: one, times })), 2);
      break;
    }
    case "object":
      if (depth < 6) add(nearObject(desc, options, depth + 1), 6);
      add(protoObject, 1);
      break;
    case "alternatives":
      for (const match of desc.matches ?? []) {
        const next = match.schema ?? match.then ?? match.otherwise;
        if (next && depth < 6) add(nearValue(next, options, depth + 1), 3);
      }
      break;
    default:
      // any, or a type added later: anything goes.
      add(junk, 4);
      add(scriptJunk, 2);
      add(plainJson, 2);
  }
  add(wrongType, 1);
  add(junk, 1);
  return fc.oneof(...choices);
}

/** The schema's keys, each present or not, with near values; sometimes extra or prototype keys. */
export function nearObject(desc: Desc, options: NearOptions, depth = 0): fc.Arbitrary<Spec> {
  const keys = Object.entries(desc.keys ?? {});
  const fields = keys.map(([key, sub]) => {
    const required = sub.flags?.presence === "required";
    // Required keys are mostly present (so the other fields get looked at), optional ones half the time.
    return fc.option(nearValue(sub, options, depth).map((value): [string, Spec] => [key, value]), { freq: required ? 8 : 2, nil: undefined });
  });
  const patternKeys = (desc.patterns ?? [])
    .filter((p) => p.regex)
    .map((p) => fc.tuple(fc.stringMatching(regexOf(p.regex!)), p.rule && depth < 6 ? nearValue(p.rule, options, depth + 1) : junk));
  const extra = fc.oneof(
    { arbitrary: fc.constant<[string, Spec][]>([]), weight: 6 },
    { arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 8 })), primitiveJunk), { minLength: 1, maxLength: 2 }), weight: 2 },
    { arbitrary: patternKeys.length > 0 ? fc.array(fc.oneof(...patternKeys), { minLength: 1, maxLength: 3 }) : fc.constant<[string, Spec][]>([]), weight: 2 },
  );
  return fc.tuple(fc.tuple(...fields), extra).map(([present, more]): Spec => ({ t: "obj", entries: [...present.filter((f): f is [string, Spec] => f !== undefined), ...more] }));
}

/**
 * Values the schema accepts for one key, found by sampling that key's generator and keeping what
 * joi finds no fault with at that key (so custom rules, such as document ids, and references to
 * sibling keys are honoured too).
 */
function validPool(schema: Joi.ObjectSchema<unknown>, key: string, desc: Desc, options: NearOptions, validation: Joi.ValidationOptions): Spec[] {
  const seen = new Set<string>();
  const pool: Spec[] = [];
  for (const spec of fc.sample(nearValue(desc, options), { numRuns: 150, seed: 7 })) {
    const text = show(spec, 400);
    if (seen.has(text) || sizeOf(spec) > 20_000) continue;
    seen.add(text);
    const { error } = schema.validate({ [key]: build(spec) }, { ...validation, abortEarly: false });
    if (!error?.details.some((d) => d.path[0] === key)) pool.push(spec);
    if (pool.length >= 24) break;
  }
  return pool;
}

/**
 * Payloads that pass the schema except for (usually) one key, which gets a boundary, extreme or
 * wrong-typed value: the way to reach a handler's own checks rather than stop at validation.
 */
export function validishObject(schema: Joi.ObjectSchema<unknown>, options: NearOptions, validation: Joi.ValidationOptions): fc.Arbitrary<Spec> {
  const desc = describeSchema(schema);
  const keys = Object.entries(desc.keys ?? {}).map(([key, sub]) => {
    const pool = validPool(schema, key, sub, options, validation);
    return { key, required: sub.flags?.presence === "required", valid: pool.length > 0 ? fc.constantFrom(...pool) : nearValue(sub, options), near: nearValue(sub, options) };
  });
  if (keys.length === 0) return nearObject(desc, options);
  const present = keys.map(({ key, required, valid }) => fc.option(valid.map((value): [string, Spec] => [key, value]), { freq: required ? 1000 : 2, nil: undefined }));
  // Which key is spoiled (keys.length: none; the payload stays valid).
  const spoil = fc.nat(keys.length + Math.ceil(keys.length / 2)).chain((i) => (i < keys.length ? keys[i]!.near.map((value) => ({ i, value })) : fc.constant(undefined)));
  return fc.tuple(fc.tuple(...present), spoil).map(([entries, spoiled]): Spec => {
    const out = entries.filter((e): e is [string, Spec] => e !== undefined);
    if (spoiled) {
      const key = keys[spoiled.i]!.key;
      const at = out.findIndex(([k]) => k === key);
      if (at >= 0) out[at] = [key, spoiled.value];
      else out.push([key, spoiled.value]);
    }
    return { t: "obj", entries: out };
  });
}

/** A payload for a schema: mostly nearly valid (one key off, or every key a little off), sometimes pure junk. */
export function payloadFor(schema: Joi.ObjectSchema<unknown> | undefined, options: NearOptions, validation: Joi.ValidationOptions): fc.Arbitrary<Spec> {
  const payload = schema
    ? fc.oneof({ arbitrary: validishObject(schema, options, validation), weight: 4 }, { arbitrary: nearObject(describeSchema(schema), options), weight: 2 }, { arbitrary: junk, weight: 1 })
    : junk;
  return payload.filter((spec) => sizeOf(spec) <= SPEC_SIZE_MAX);
}
