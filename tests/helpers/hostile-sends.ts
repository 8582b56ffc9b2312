/**
 * What a hostile client sends, as plain data the fuzzer generates and prints: socket events
 * (registered commands, unknown and numeric event names, extra or missing arguments, with or
 * without an ack), raw Socket.IO packets, and REST requests to every registered route. The
 * registries of a node (`node.commands`, `node.routes`) decide what is sent, so a command or
 * route added later is fuzzed without anyone listing it here.
 */
import { PAYLOAD_OPTIONS, QUERY_OPTIONS } from "@switchboard/shared";
import fc from "fast-check";
import type Joi from "joi";
import { depthOf, hasBinary, junk, payloadFor, PROTO_KEYS, show, sizeOf, SPEC_SIZE_MAX, validishObject, type NearOptions, type Spec } from "./hostile-payloads";

/** The parts of a node's registries the fuzzer reads. */
export interface Registry {
  commands: readonly { name: string; schema: Joi.ObjectSchema<unknown> }[];
  routes: readonly { method: string; path: string; auth: unknown; params?: Joi.ObjectSchema<unknown>; query?: Joi.ObjectSchema<unknown>; body?: Joi.ObjectSchema<unknown> }[];
}

/** The hostile user, a second hostile user (a stranger to what the first one made), or a service. */
export type Identity = "user" | "other" | "service";

export type EventName = { t: "command"; name: string } | { t: "unknown"; name: string } | { t: "number"; n: number };

export interface SocketSend {
  via: "socket";
  who: Identity;
  event: EventName;
  args: Spec[];
  ack: boolean;
}

/** A Socket.IO packet written to the engine as is (protocol violations included). */
export interface RawSend {
  via: "raw";
  who: Identity;
  packet: string;
}

export type RestAuth = "none" | "user" | "service" | "garbage" | "expired";

export interface RestSend {
  via: "rest";
  method: string;
  /** The declared route this request aims at (its path with `:params`), if any. */
  route?: string;
  /** The path as sent, already percent-encoded where it should be. */
  path: string;
  /** The query string without `?` (raw). */
  query: string;
  body?: { kind: "json"; spec: Spec } | { kind: "text"; text: string };
  contentType?: string;
  auth: RestAuth;
}

export type Send = SocketSend | RawSend | RestSend;

export function describeSend(send: Send): string {
  switch (send.via) {
    case "socket": {
      const name = send.event.t === "number" ? String(send.event.n) : JSON.stringify(send.event.name.length > 80 ? `${send.event.name.slice(0, 80)}…(${send.event.name.length})` : send.event.name);
      return `socket(${send.who}).emit(${[name, ...send.args.map((a) => show(a))].join(", ")}${send.ack ? ", ack" : ""})`;
    }
    case "raw":
      return `raw(${send.who}) ${JSON.stringify(send.packet.slice(0, 160))}`;
    case "rest": {
      const body = send.body === undefined ? "" : send.body.kind === "json" ? ` json ${show(send.body.spec)}` : ` text ${JSON.stringify(send.body.text.slice(0, 80))}`;
      const url = `${send.path}${send.query ? `?${send.query}` : ""}`;
      return `${send.method.toUpperCase()} ${url.length > 200 ? `${url.slice(0, 200)}…(${url.length})` : url} auth=${send.auth}${send.contentType ? ` type=${send.contentType}` : ""}${body}`;
    }
  }
}

/** Percent-encodes every UTF-8 byte outside the unreserved set (lone surrogates included, as U+FFFD). */
export function pct(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// socket events

/** Names the protocol uses for server events, Socket.IO's own names, and near misses of commands. */
const ODD_EVENT_NAMES = ["", " ", "session", "command:error", "room:message", "error", "ping", "pong", "message", "__proto__", "constructor", "hasOwnProperty", "toString", "\u0000", "\ud800", "😀", ":", "room:", "x".repeat(10000)];

function eventNames(registry: Registry): fc.Arbitrary<EventName> {
  const names = registry.commands.map((c) => c.name);
  const mangled = fc.tuple(fc.constantFrom(...names), fc.constantFrom((s: string) => s.toUpperCase(), (s: string) => `${s} `, (s: string) => `${s}\u0000`, (s: string) => `${s}:x`, (s: string) => s.replace(":", "/"))).map(([name, mangle]) => mangle(name));
  return fc.oneof(
    { arbitrary: fc.constantFrom(...names).map((name): EventName => ({ t: "command", name })), weight: 12 },
    { arbitrary: fc.oneof(fc.constantFrom(...ODD_EVENT_NAMES), mangled, fc.string({ unit: "binary", maxLength: 16 })).filter((n) => !names.includes(n)).map((name): EventName => ({ t: "unknown", name })), weight: 2 },
    // Socket.IO takes a number as an event name (its parser allows it); NaN and Infinity are not JSON.
    { arbitrary: fc.constantFrom(42, 0, -1, 1.5, 1e15, 2 ** 53 + 1, Number.NaN, Number.POSITIVE_INFINITY).map((n): EventName => ({ t: "number", n })), weight: 1 },
  );
}

function socketSends(registry: Registry, near: NearOptions, who: fc.Arbitrary<Identity>): fc.Arbitrary<SocketSend> {
  // Built once per command: the valid-value pools behind them take a moment to sample.
  const payloads = new Map(registry.commands.map((c) => [c.name, payloadFor(c.schema, near, PAYLOAD_OPTIONS)]));
  return fc.tuple(eventNames(registry), who, fc.boolean(), fc.nat(19)).chain(([event, identity, ackCoin, shape]) => {
    const payload = payloads.get(event.t === "command" ? event.name : "") ?? payloadFor(undefined, near, PAYLOAD_OPTIONS);
    // Mostly one payload; sometimes none, or extra arguments after it.
    const args: fc.Arbitrary<Spec[]> =
      shape < 15 ? payload.map((p) => [p]) : shape < 17 ? fc.constant([]) : fc.tuple(payload, fc.array(junk.filter((spec) => sizeOf(spec) <= SPEC_SIZE_MAX), { minLength: 1, maxLength: 2 })).map(([p, rest]) => [p, ...rest]);
    // Most sends take an ack; the rest exercise `command:error`. (The client library cannot
    // encode a binary attachment next to a nesting too deep for its JSON.stringify.)
    return args.filter((list) => !(list.some(hasBinary) && list.some((spec) => depthOf(spec) > 1000))).map((list): SocketSend => ({ via: "socket", who: identity, event, args: list, ack: ackCoin || shape % 2 === 0 }));
  });
}

/** Packets a Socket.IO client library would never write. */
function rawPackets(registry: Registry): fc.Arbitrary<string> {
  const name = fc.constantFrom(...registry.commands.map((c) => c.name));
  return fc.oneof(
    fc.constantFrom(
      "2",
      "2[]",
      "2{}",
      '2"x"',
      "2[null]",
      "2[",
      '2["connect",{}]',
      '2["disconnect"]',
      '2["newListener","x"]',
      '2["removeListener","x"]',
      '2["disconnecting"]',
      '2[42,{}]',
      "2[true]",
      '2/admin,["system:ping",{}]',
      '0/admin,{"token":"x"}',
      "0{}",
      "1",
      "3[]",
      '31234567["x"]',
      "4",
      "9",
      "",
      '451-["room:publish",{"room":"x","data":{"_placeholder":true,"num":0}}]',
      '451-["room:publish",{"_placeholder":true,"num":99}]',
      '451-["room:publish",{"room":"x","data":{"_placeholder":true,"num":"__proto__"}}]',
      '499999999999-["x"]',
      "2" + "[".repeat(5000) + "]".repeat(5000),
    ),
    // A well-formed event carrying an ack id of our own choosing (huge, or out of order).
    fc.tuple(fc.constantFrom("1000000", "99999999999999999999", "-1", "0"), name, junk).map(([id, command, payload]) => `2${id}${safeJson([command, payload])}`),
  );
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, x: unknown) => (Buffer.isBuffer(x) ? "buffer" : x)) ?? "null";
  } catch {
    return "null";
  }
}

// ---------------------------------------------------------------------------------------------
// REST

/** `arbitrary` one time in `outOf`, else undefined. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>, outOf = 6): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: outOf - 1 }, { arbitrary, weight: 1 });

/** Path segments that confuse routers, decoders and stores; all sendable as they are. */
const RAW_SEGMENTS = ["..", ".", "%2e%2e", "%2E%2E%2F", "%2F", "a%2Fb", "room%3Ax%2F..%2F..%2Fy", "%00", "%", "%zz", "%E0%A4%A", "%ED%A0%80", "%C0%AE", "%uD800", "~", "*", "%2A", "a".repeat(4000), "%F0%9F%98%80"];

/** Path parameters: values the route's schema accepts (to get past it), near misses, and raw oddities. */
function segmentsFor(route: Registry["routes"][number], near: NearOptions): fc.Arbitrary<Record<string, string>> {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const valid = route.params ? validishObject(route.params, near, QUERY_OPTIONS) : fc.constant<Spec>({ t: "obj", entries: [] });
  const odd = fc.tuple(...names.map((name) => rarely(fc.constantFrom(...RAW_SEGMENTS)).map((raw) => [name, raw] as const)));
  return fc.tuple(valid, odd).map(([spec, raws]) => {
    const values: Record<string, string> = {};
    const entries = spec.t === "obj" ? new Map(spec.entries) : new Map<string, Spec>();
    for (const [name, raw] of raws) {
      const value = entries.get(name);
      values[name] = raw ?? pct(value ? stringOf(value) : "x");
    }
    return values;
  });
}

/** A spec as it would appear in a URL: strings as they are, anything else as JSON text (capped). */
function stringOf(spec: Spec): string {
  if (spec.t === "v") return typeof spec.v === "string" ? spec.v : String(spec.v);
  if (spec.t === "str") return spec.unit.repeat(Math.min(spec.times, 3000));
  return show(spec, 300);
}

function queryFor(schema: Joi.ObjectSchema<unknown> | undefined, near: NearOptions): fc.Arbitrary<string> {
  const fields = schema ? validishObject(schema, near, QUERY_OPTIONS) : fc.constant<Spec>({ t: "obj", entries: [] });
  const declared = [fields.map((spec) => (spec.t === "obj" ? spec.entries.map(([key, value]) => `${pct(key)}=${pct(stringOf(value))}`).join("&") || undefined : undefined))];
  const odd = fc.constantFrom(
    "",
    "&&&",
    "=x",
    "a[b]=c",
    "a[__proto__][x]=1",
    "__proto__=x",
    "constructor=x",
    "limit=1&limit=2",
    "%zz=1",
    "x=%",
    "x=%00",
    "top=1e15",
    "limit=-1",
    "limit=9007199254740993",
    `x=${"a".repeat(3000)}`,
    Array.from({ length: 300 }, (_, i) => `k${i}=1`).join("&"),
  );
  return fc.tuple(fc.tuple(...declared), rarely(odd)).map(([parts, extra]) => [...parts, extra].filter((p): p is string => p !== undefined).join("&"));
}

const INVALID_JSON = ["{", "[1,]", '{"a":1}}', "NaN", "'x'", "\ufeff{}", "{\"a\":\"\\ud800\"}", "\u0000", "[".repeat(5000), '{"__proto__":{"polluted":true}}', "1e999", "-", "null", "true", '"x"'];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "application/json; charset=nope",
  "application/vnd.api+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "",
];

function restBody(schema: Joi.ObjectSchema<unknown> | undefined, near: NearOptions): fc.Arbitrary<Pick<RestSend, "body" | "contentType">> {
  return fc.oneof(
    // A route without a body schema mostly gets none.
    { arbitrary: fc.constant({}), weight: schema ? 0 : 24 },
    { arbitrary: payloadFor(schema, near, PAYLOAD_OPTIONS).map((spec) => ({ body: { kind: "json" as const, spec }, contentType: "application/json" })), weight: 6 },
    { arbitrary: fc.tuple(fc.constantFrom(...INVALID_JSON), fc.constantFrom("application/json", "text/plain")).map(([text, contentType]) => ({ body: { kind: "text" as const, text }, contentType })), weight: 1 },
    { arbitrary: fc.tuple(payloadFor(schema, near, PAYLOAD_OPTIONS), fc.constantFrom(...CONTENT_TYPES)).map(([spec, contentType]) => ({ body: { kind: "json" as const, spec }, contentType })), weight: 1 },
    { arbitrary: fc.constant({}), weight: 1 },
  );
}

const METHODS = ["get", "post", "put", "delete", "patch", "options", "head"];

/** The token a route asks for, mostly; any other one sometimes. */
function authFor(route: Registry["routes"][number] | undefined): fc.Arbitrary<RestAuth> {
  const fits: RestAuth = route?.auth === "public" ? "none" : route?.auth === "user" ? "user" : "service";
  return fc.oneof({ arbitrary: fc.constant(fits), weight: 3 }, { arbitrary: fc.constantFrom<RestAuth>("none", "user", "service", "garbage", "expired"), weight: 2 });
}

function restSends(registry: Registry, near: NearOptions): fc.Arbitrary<RestSend> {
  const auth = authFor(undefined);
  // Built once per route (see socketSends).
  const parts = registry.routes.map((route) => ({ segments: segmentsFor(route, near), query: queryFor(route.query, near), body: restBody(route.body, near) }));
  const routed = fc.nat(registry.routes.length - 1).chain((index) => {
    const route = registry.routes[index]!;
    const method = fc.oneof({ arbitrary: fc.constant(route.method), weight: 8 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 });
    const suffix = rarely(fc.constantFrom("/", "//", "/x", "/..", "%2F.."), 10);
    return fc.tuple(parts[index]!.segments, method, parts[index]!.query, parts[index]!.body, authFor(route), suffix).map(([values, m, query, body, who, tail]): RestSend => {
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => values[name]!) + (tail ?? "");
      return { via: "rest", method: m, route: route.path, path, query, ...body, auth: who };
    });
  });
  // Paths no route declares.
  const stray = fc
    .tuple(fc.constantFrom("/v1", "/v1/rooms", "/socket.io", "/v2", "", "/health", "/dev", "//v1//rooms"), fc.array(fc.constantFrom(...RAW_SEGMENTS, ...PROTO_KEYS), { maxLength: 3 }), fc.constantFrom(...METHODS), auth, restBody(undefined, near))
    .map(([base, segments, method, who, body]): RestSend => ({ via: "rest", method, path: [base, ...segments].join("/") || "/", query: "", ...body, auth: who }));
  return fc.oneof({ arbitrary: routed, weight: 9 }, { arbitrary: stray, weight: 1 });
}

export interface BatchOptions {
  near: NearOptions;
  size: number;
}

/** One batch of sends: about 60 % socket events, 5 % raw packets, 35 % REST requests. */
export function batchArbitrary(registry: Registry, options: BatchOptions): fc.Arbitrary<Send[]> {
  const who = fc.constantFrom<Identity>("user", "user", "other", "service");
  const send: fc.Arbitrary<Send> = fc.oneof(
    { arbitrary: socketSends(registry, options.near, who), weight: 12 },
    { arbitrary: fc.tuple(who, rawPackets(registry)).map(([identity, packet]): RawSend => ({ via: "raw", who: identity, packet })), weight: 1 },
    { arbitrary: restSends(registry, options.near), weight: 7 },
  );
  return fc.array(send, { minLength: options.size, maxLength: options.size });
}
