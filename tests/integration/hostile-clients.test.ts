/**
 * Hostile clients: a property-based fuzzer (fast-check) that sends every registered socket command
 * and every REST route random and adversarial input — nearly valid payloads derived from the joi
 * schemas, junk, deep nesting, prototype keys, lone surrogates, huge numbers and arrays, wrong
 * argument counts, numeric event names, binary attachments, raw protocol violations, odd paths,
 * queries, bodies, content types and tokens — against child-process nodes on a real Redis.
 * After every batch: the node lives, /health answers within 1 s, the event loop lag stayed below
 * 100 ms, every answer kept the contract (never INTERNAL or 500), nothing was logged at error
 * level, and well-behaved clients still create, join and talk in a room.
 *
 * The commands and routes come from a node's registries (`node.commands`, `node.routes`), so
 * whatever is added later is fuzzed too. Reproduce a failure with the seed it prints:
 *   FUZZ_SEED=<seed> FUZZ_RUNS=<runs> npx jest tests/integration/hostile-clients.test.ts
 * FUZZ_RUNS raises the number of batches; FUZZ_SHRINK=1 lets fast-check shrink a failing batch
 * (slow: every shrink step runs against the node); FUZZ_KEEP_GOING=1 runs every batch and reports
 * all violations at the end instead of stopping at the first failing batch; FUZZ_STATS=1 prints
 * how often each command and route answered each outcome (how deep the fuzz got).
 *
 * Below the fuzzer, the security review's reproductions and what the fuzzer found run as plain
 * examples.
 */
import { HTTP_STATUS, PAYLOAD_OPTIONS, QUERY_OPTIONS } from "@switchboard/shared";
import fc from "fast-check";
import type Joi from "joi";
import { closeClients, command, connect, type AckResult } from "../helpers/clients";
import { build, deep, describeSchema, jsonText, obj, v, validishObject, type Spec } from "../helpers/hostile-payloads";
import { batchArbitrary, describeSend, pct, type Registry, type Send } from "../helpers/hostile-sends";
import { ackProblem, emitSpecs, FIXTURE, HostileTarget, knownStrings, rawRequest, report, restProblem, type Violation } from "../helpers/hostile-target";
import { startNode } from "../helpers/nodes";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** fast-check's path of a failing batch (printed with it): replays that batch alone. */
const PATH = process.env.FUZZ_PATH;
const SHRINK = process.env.FUZZ_SHRINK === "1";
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === "1";
const BATCH = 40;
const REPRODUCE = `FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx jest tests/integration/hostile-clients.test.ts`;

let redis: RedisServer;
let registry: Registry;
/** A node whose rate limit is out of the way (RATE_LIMITED would answer most of the fuzz). */
let open: HostileTarget;
/** A node at the default rate limit (100 commands per second per device). */
let limited: HostileTarget;

beforeAll(async () => {
  redis = await RedisServer.start();
  // The registries are the same in every node of this build: read them from an in-process one.
  const probe = await startNode({});
  registry = { commands: probe.commands, routes: probe.routes };
  await probe.shutdown();
  [open, limited] = await Promise.all([
    HostileTarget.start({ redisUrl: redis.url, hostileUser: "hostile", tenant: "t-open", env: { RATE_LIMIT_POINTS: "1000000" } }),
    HostileTarget.start({ redisUrl: redis.url, hostileUser: "hostile-limited", tenant: "t-limited" }),
  ]);
}, 30000);

afterEach(() => closeClients());

afterAll(async () => {
  await Promise.all([open?.stop(), limited?.stop()]);
  await redis?.destroy();
});

/** Runs `runs` fuzz batches against a target; fails with every violation of the failing batch (or of all, with FUZZ_KEEP_GOING). */
async function fuzz(target: HostileTarget, options: { seed: number; runs: number; size: number }): Promise<void> {
  const near = { knownStrings: knownStrings(target.hostileUser) };
  const kept: string[] = [];
  let batch = 0;
  await fc.assert(
    fc.asyncProperty(batchArbitrary(registry, { near, size: options.size }), async (sends) => {
      batch++;
      const violations = await target.runBatch(sends);
      if (violations.length === 0) return;
      // The next batch (or test) gets a node that answers again.
      await target.ensureHealthy();
      const text = `batch ${batch}:\n${report(violations)}`;
      if (!KEEP_GOING) throw new Error(text);
      kept.push(text);
    }),
    {
      seed: options.seed,
      numRuns: options.runs,
      path: PATH,
      endOnFailure: !SHRINK,
      // The batch as one line per send, instead of fast-check's dump of the generated values.
      asyncReporter: async (details) => {
        if (!details.failed) return;
        const reproduce = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} npx jest tests/integration/hostile-clients.test.ts -t '${expect.getState().currentTestName?.replace(/^.*› /, "") ?? ""}'`;
        const sends = (details.counterexample?.[0] ?? []) as Send[];
        throw new Error(
          [
            `the hostile-client fuzzer found a broken contract (seed ${details.seed}, ${options.runs} runs); reproduce the run with ${REPRODUCE}, the failing batch alone with ${reproduce}`,
            (details.errorInstance as Error)?.message ?? String(details.errorInstance),
            "the failing batch:",
            ...sends.map((send, i) => `  ${i + 1}. ${describeSend(send).slice(0, 300)}`),
          ].join("\n"),
        );
      },
    },
  );
  if (process.env.FUZZ_STATS === "1") {
    const rows = [...target.outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([what, counts]) => `${what}: ${[...counts].map(([k, n]) => `${k}=${n}`).join(" ")}`);
    console.log(`outcomes on ${target.hostileUser}'s node:\n${rows.join("\n")}`);
  }
  if (kept.length > 0) throw new Error(`the hostile-client fuzzer found broken contracts; reproduce with ${REPRODUCE}\n${kept.join("\n")}`);
}

describe("hostile clients (fuzzer)", () => {
  it("enumerates the registries it fuzzes", () => {
    expect(registry.commands.length).toBeGreaterThan(20);
    expect(registry.routes.length).toBeGreaterThan(20);
    for (const c of registry.commands) expect(describeSchema(c.schema).type).toBe("object");
  });

  it(
    "keeps the contract under random hostile traffic to every command and route",
    async () => {
      await open.ensureHealthy();
      await fuzz(open, { seed: SEED, runs: RUNS, size: BATCH });
    },
    RUNS * 4000 + 30000,
  );

  it(
    "keeps the contract at the default rate limit",
    async () => {
      await limited.ensureHealthy();
      // One long batch, enough to run into the limit of 100 commands per second.
      await fuzz(limited, { seed: SEED + 1, runs: 1, size: 150 });
    },
    60000,
  );
});

// ---------------------------------------------------------------------------------------------
// the security review's reproductions

/** A socket ack that must be a contract answer (not INTERNAL), within `ms`. */
async function answered(promise: Promise<AckResult>, ms = 1000): Promise<AckResult> {
  const started = performance.now();
  const ack = await promise.catch((err: Error) => ({ ok: false, error: { code: "NO_ANSWER", message: err.message } }) as AckResult);
  const took = performance.now() - started;
  expect({ problem: ackProblem([ack]), within: took <= ms }).toEqual({ problem: undefined, within: true });
  return ack;
}

describe("hostile clients (the security review's reproductions)", () => {
  it("answers socket.emit(42, {}) with a contract error, with and without an ack, and lives", async () => {
    await open.ensureHealthy();
    const socket = await open.socket("user");
    const error = new Promise<unknown>((resolve) => socket.once("command:error", resolve));
    (socket.emit as unknown as (...args: unknown[]) => void)(42, {});
    const event = (await Promise.race([error, new Promise((resolve) => setTimeout(() => resolve("no command:error within 1 s"), 1000))])) as { error?: unknown } | string;
    expect(typeof event === "string" ? event : ackProblem([{ ok: false, error: event?.error }])).toBeUndefined();
    const ack = await answered((socket.timeout(1000).emitWithAck as unknown as (...args: unknown[]) => Promise<AckResult>)(42, {}));
    expect(ack.ok).toBe(false);
    expect(await open.healthy()).toBe(true);
  });

  it("counts 1000 unknown junk commands against the rate limit and logs them sparingly", async () => {
    await limited.ensureHealthy();
    const socket = await limited.socket("user");
    const firstLine = limited.node.lines.length;
    const acks = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => command(socket, `junk:${i}:${"x".repeat(i % 50)}`, { i }, 5000).catch((err: Error) => ({ ok: false, error: { code: "NO_ANSWER", message: err.message } }) as AckResult)),
    );
    expect(acks.map((a) => ackProblem([a])).filter(Boolean)).toEqual([]);
    const codes = acks.map((a) => a.error?.code);
    // 100 points a second: the burst may straddle two windows.
    expect(codes.filter((c) => c === "RATE_LIMITED").length).toBeGreaterThanOrEqual(800);
    expect(codes.filter((c) => c !== "RATE_LIMITED").every((c) => c === "NOT_FOUND")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Far fewer lines than refusals: at most the limit's budget twice over, not one (or two) per command.
    expect(limited.linesSince(firstLine).length).toBeLessThanOrEqual(250);
    expect(await limited.healthy()).toBe(true);
  });

  /** Payloads that nest 5000 levels deep: the whole payload, and each key where the schema itself would let the nesting through. */
  function deepPayloads(schema: Joi.ObjectSchema<unknown>, base: [string, Spec][]): Spec[] {
    const candidates: Spec[] = [deep(5000, "array"), deep(5000, "object"), obj({ a: deep(5000, "array") }), { t: "arr", items: [deep(5000, "object")] }];
    const payloads: Spec[] = [deep(5000, "object")];
    for (const key of Object.keys(describeSchema(schema).keys ?? {})) {
      const rest = base.filter(([k]) => k !== key);
      const accepted = candidates.map((value): Spec => ({ t: "obj", entries: [...rest, [key, value]] })).find((spec) => !schema.validate(build(spec), PAYLOAD_OPTIONS).error);
      if (accepted) payloads.push(accepted);
    }
    return payloads;
  }

  /** A payload the schema accepts, found by sampling its nearly-valid generator (no entries when none turns up). */
  function validSample(schema: Joi.ObjectSchema<unknown>, options: Joi.ValidationOptions, known: string[]): [string, Spec][] {
    const samples = fc.sample(validishObject(schema, { knownStrings: known }, options), { numRuns: 500, seed: SEED });
    const valid = samples.find((spec) => spec.t === "obj" && !schema.validate(build(spec), options).error);
    return valid?.t === "obj" ? valid.entries : [];
  }

  it("answers VALIDATION_FAILED to payloads nested 5000 levels deep, on every command and body route", async () => {
    await open.ensureHealthy();
    const known = knownStrings(open.hostileUser);
    const socket = await open.socket("service");
    const failures: Violation[] = [];
    let cases = 0;
    for (const def of registry.commands) {
      for (const payload of deepPayloads(def.schema, validSample(def.schema, PAYLOAD_OPTIONS, known))) {
        cases++;
        const outcome = await emitSpecs(socket, def.name, [payload], true, 1000).outcome!;
        const ack = ("responses" in outcome ? outcome.responses[0] : outcome.failure) as AckResult | string;
        if (typeof ack !== "object" || ack?.error?.code !== "VALIDATION_FAILED") failures.push({ send: `${def.name} ${payload.t === "obj" ? `{${payload.entries.map(([k, x]) => (x.t === "v" ? k : `${k}: deep`)).join(", ")}}` : "deep"}`, problem: JSON.stringify(ack).slice(0, 200) });
        if (!socket.connected) break;
      }
    }
    const service = await serviceToken({ tenant: "t-open" });
    for (const route of registry.routes.filter((r) => r.body)) {
      const params = Object.fromEntries(route.params ? validSample(route.params, QUERY_OPTIONS, known) : []);
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => pct(String(params[name] ? build(params[name]) : "x")));
      for (const body of deepPayloads(route.body!, validSample(route.body!, PAYLOAD_OPTIONS, known))) {
        cases++;
        const reply = await rawRequest(open.node.port, { method: route.method, path, headers: { authorization: `Bearer ${service}`, "content-type": "application/json" }, body: jsonText(body), timeoutMs: 1000 }).catch((err: Error) => err);
        const problem = reply instanceof Error ? reply.message : restProblem(route.method, reply);
        if (problem || (reply as { status: number }).status !== HTTP_STATUS.VALIDATION_FAILED) {
          failures.push({ send: `${route.method.toUpperCase()} ${path}`, problem: problem ?? `${(reply as { status: number; text: string }).status} ${(reply as { text: string }).text.slice(0, 200)}` });
        }
      }
    }
    expect(cases).toBeGreaterThan(registry.commands.length);
    expect(report(failures)).toBe("");
    expect(await open.healthy()).toBe(true);
  }, 60000);

  describe("doc ops with huge counts answer within 1 s", () => {
    const ops: [string, "text" | "json", unknown][] = [
      ["[1e15, 'x']", "text", [1e15, "x"]],
      ["[3, { d: 1e15 }]", "text", [3, { d: 1e15 }]],
      ["['k', { es: [1e15, 'x'] }]", "json", JSON.parse('["k", { "es": [1e15, "x"] }]')],
    ];

    it.each(ops)("doc:op %s", async (_name, type, op) => {
      await open.ensureHealthy();
      const socket = await open.socket("user");
      const docId = type === "text" ? FIXTURE.textDoc : FIXTURE.jsonDoc;
      await answered(command(socket, "doc:open", { docId, type }, 1000));
      await answered(command(socket, "doc:op", { docId, version: 0, op, clientOpId: `huge-${type}-${Date.now()}` }, 1000));
      expect(await open.healthy()).toBe(true);
    });

    it.each(ops)("POST /v1/docs/:id/ops %s, in an existing room and in one that does not exist", async (_name, type, op) => {
      const token = await signToken({ sub: open.hostileUser, tenant: "t-open" });
      for (const docId of [type === "text" ? FIXTURE.textDoc : FIXTURE.jsonDoc, `room:nowhere-${Date.now()}/${type}`]) {
        await open.ensureHealthy();
        const reply = await rawRequest(open.node.port, {
          method: "post",
          path: `/v1/docs/${pct(docId)}/ops`,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ version: 0, op, type }),
          timeoutMs: 1000,
        }).catch((err: Error) => err);
        expect({ docId, answer: reply instanceof Error ? reply.message : restProblem("post", reply) ?? "ok" }).toEqual({ docId, answer: "ok" });
        expect(await open.healthy()).toBe(true);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// what the fuzzer found, pinned

describe("hostile clients (found by the fuzzer)", () => {
  // joi walks every key and item of a container before its max rule, and
  // with abortEarly off it renders an error for each, so one message of many small entries
  // stalls the node, and its refusal lists every entry back (megabytes for a 60 kB message).
  // Each payload here fits MAX_MESSAGE_BYTES; the sync state ones pass and guard the limit.
  const rep = (item: Spec, times: number): Spec => ({ t: "rep", item, times });
  const wide = (keys: number): Spec => ({ t: "wide", keys, value: v(1) });
  it.each<[string, string, Spec]>([
    ["a 20 kB binary attachment as the payload", "agent:unsubscribe", { t: "bin", bytes: 20000 }],
    ["5000 unknown keys", "system:ping", wide(5000)],
    ["20000 invalid user ids in a list of at most 100", "presence:get", obj({ userIds: rep(v(""), 20000) })],
    ["20000 invalid items in a selection of at most 64", "doc:cursor", obj({ docId: v(FIXTURE.textDoc), version: v(0), selection: rep(v(-1), 20000) })],
    ["5000 keys in a sync state of at most 256", "sync:push", obj({ key: v("wide"), state: wide(5000) })],
  ])("answers %s briefly and without stalling the event loop", async (_label, name, payload) => {
    await open.ensureHealthy();
    const socket = await open.socket("user");
    await open.beginBatch();
    // A few times: a client sends what hurts as often as its rate limit lets it. (ackProblem
    // includes the size of a refusal, at most REFUSAL_BYTES_MAX.)
    for (let i = 0; i < 5; i++) {
      const outcome = await emitSpecs(socket, name, [payload], true, 3000).outcome!;
      expect("responses" in outcome ? ackProblem(outcome.responses) : outcome.failure).toBeUndefined();
    }
    expect(await open.lagMs()).toBeLessThan(100);
  });

  it.each<[string, string, Spec]>([
    ["5000 unknown keys", "/v1/rooms", wide(5000)],
    ["5000 keys in a sync state of at most 256", "/v1/sync/:user/wide", obj({ state: wide(5000) })],
  ])("answers a REST body of %s briefly and without stalling the event loop", async (_label, path, body) => {
    await open.ensureHealthy();
    const token = await signToken({ sub: open.hostileUser, tenant: "t-open" });
    await open.beginBatch();
    for (let i = 0; i < 5; i++) {
      const reply = await rawRequest(open.node.port, { method: "post", path: path.replace(":user", open.hostileUser), headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: jsonText(body) });
      expect(restProblem("post", reply)).toBeUndefined();
    }
    expect(await open.lagMs()).toBeLessThan(100);
  });

  // A token with a lone surrogate was stored as is; the Redis script that registers a device reads
  // the user's stored devices back with cjson, which cannot decode it: INTERNAL for every later
  // registration of that user.
  it("refuses a push token that is not printable ASCII, and the user's next registrations work", async () => {
    await open.ensureHealthy();
    const socket = await connect(open.url, { tokenOptions: { sub: `push-${Date.now()}`, tenant: "t-open" } });
    for (const token of ["\ud800", "a\u0000b", "with space", "é"]) {
      expect([token, (await command(socket, "push:register", { platform: "fcm", token })).error?.code]).toEqual([token, "VALIDATION_FAILED"]);
    }
    expect(await command(socket, "push:register", { platform: "fcm", token: "dXk3:APA91b_x-Y.z" })).toMatchObject({ ok: true });
    expect(await command(socket, "push:register", { platform: "apns", token: "b".repeat(64) })).toMatchObject({ ok: true });
  });

  // The same flaw for a room's name: the script that adds a member reads the room's record with
  // cjson, so a room named with a lone surrogate answered INTERNAL to everyone who joined it.
  it("refuses a room name with a lone surrogate, and a room named in any other text can be joined", async () => {
    await open.ensureHealthy();
    const [creator, joiner] = await Promise.all(["a", "b"].map((who) => connect(open.url, { tokenOptions: { sub: `namer-${who}-${Date.now()}`, tenant: "t-open" } })));
    for (const name of ["\ud800", "a\udfffb"]) {
      expect([name, (await command(creator!, "room:create", { name })).error?.code]).toEqual([name, "VALIDATION_FAILED"]);
    }
    const created = await command(creator!, "room:create", { name: "😀 Café ✓" });
    expect(created.ok).toBe(true);
    expect(await command(joiner!, "room:join", { room: (created.room as { id: string }).id })).toMatchObject({ ok: true });
  });

  // `before` is exclusive: the Redis engine asks XREVRANGE for "(0-0", which Redis refuses.
  // Nothing is older than 0-0, so the page is empty; the same on both faces.
  it("answers a history page before 0-0, over a socket and REST", async () => {
    await open.ensureHealthy();
    const socket = await open.socket("user");
    await answered(command(socket, "room:history", { room: FIXTURE.room, before: "0-0" }));
    const token = await signToken({ sub: open.hostileUser, tenant: "t-open" });
    const reply = await rawRequest(open.node.port, { method: "get", path: `/v1/rooms/${FIXTURE.room}/messages?before=0-0`, headers: { authorization: `Bearer ${token}` } });
    expect(restProblem("get", reply)).toBeUndefined();
  });
});
