/**
 * Live data streams (PROTOCOL §8 "Leaderboards and live streams") on the memory engine (one node)
 * and on Redis (three nodes consuming one stream through one consumer group): every appended
 * point is aggregated exactly once, the rolling windows match a model, subscribers get the tail
 * and then at most one `stream:update` per interval; kinds are validated; tenants are apart. Then
 * with child processes: a consumer killed with SIGKILL while it holds points, whose pending points
 * another node claims — the total counted is the number of points appended.
 */
import { EmitterError, SwitchboardEmitter } from "@switchboard/emitter";
import {
  emptyStreamAggregates,
  keyLayout,
  percentileOf,
  STREAM_WINDOW_NAMES,
  streamBucketStart,
  streamWindowBuckets,
  type StreamAggregates,
  type StreamPoint,
  type StreamUpdateEvent,
  type StreamView,
} from "@switchboard/shared";
import { Redis } from "ioredis";
import { command, connect, type Client } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { NodeProcess } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

const INTERVAL_MS = 200;
const arrival = (id: string) => Number(id.split("-")[0]);

/** The aggregates every window must show at `now`, from the points' arrival times and values. */
function model(points: readonly { id: string; value: number | null }[], now: number): StreamAggregates {
  const out = emptyStreamAggregates();
  for (const w of STREAM_WINDOW_NAMES) {
    const buckets = new Set(streamWindowBuckets(w, now));
    const values = points.filter((p) => p.value !== null && buckets.has(streamBucketStart(w, arrival(p.id)))).map((p) => p.value!);
    if (values.length === 0) continue;
    const sorted = [...values].sort((a, b) => a - b);
    out[w] = { count: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, min: sorted[0]!, max: sorted.at(-1)!, p50: percentileOf(sorted, 50), p95: percentileOf(sorted, 95) };
  }
  return out;
}

/**
 * Count, mean, min and max are exact; so are percentiles while no bucket holds more than
 * STREAM_BUCKET_SAMPLE values — beyond, they come from a sample and must be within `tolerance`.
 */
function expectAggregates(actual: StreamAggregates, expected: StreamAggregates, tolerance = 0): void {
  for (const w of STREAM_WINDOW_NAMES) {
    const { mean, p50, p95, ...rest } = actual[w];
    const { mean: expectedMean, p50: e50, p95: e95, ...expectedRest } = expected[w];
    expect({ window: w, ...rest }).toEqual({ window: w, ...expectedRest });
    if (tolerance === 0) expect({ p50, p95 }).toEqual({ p50: e50, p95: e95 });
    else {
      expect(Math.abs(p50! - e50!)).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(p95! - e95!)).toBeLessThanOrEqual(tolerance);
    }
    if (expectedMean === null) expect(mean).toBeNull();
    else expect(mean).toBeCloseTo(expectedMean, 6);
  }
}

async function post(url: string, path: string, body: unknown, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(url: string, path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const aggregated = async (urls: readonly string[]) => Promise.all(urls.map(async (url) => metricValue(await scrape(url), "switchboard_stream_points_aggregated_total") || 0));
const sum = (list: readonly number[]) => list.reduce((a, b) => a + b, 0);

describe.each(["memory", "redis"] as const)("live streams (%s)", (engineName) => {
  const nodeCount = engineName === "redis" ? 3 : 1;
  const cluster = clusterFixture({
    backing: engineName,
    nodes: nodeCount,
    sequential: true,
    env: { STREAM_UPDATE_INTERVAL_MS: String(INTERVAL_MS), STREAM_BATCH_MS: "50", STREAM_CLAIM_IDLE_MS: "2000", RATE_LIMIT_POINTS: "100000" },
  });
  const { nodes, node: nodeAt, unique } = cluster;
  let service: string;
  const append = (i: number, name: string, points: unknown[], token = service) => post(nodeAt(i).url, `/v1/streams/${name}/points`, { points }, token);
  const view = async (i: number, name: string, window = "1h", token = service) => (await get(nodeAt(i).url, `/v1/streams/${name}?window=${window}`, token)).body as unknown as StreamView;

  beforeAll(async () => {
    service = await serviceToken();
  });

  it("aggregates every point exactly once with every node consuming, into windows that match a model", async () => {
    const name = unique("metrics:latency");
    const before = await aggregated(nodes.map((n) => n.url));
    const appended: { id: string; value: number }[] = [];
    // Three producers, one per node, 20 batches of 50 each.
    await Promise.all(
      [0, 1, 2].map(async (p) => {
        for (let b = 0; b < 20; b++) {
          const values = Array.from({ length: 50 }, (_, i) => ((p * 1000 + b * 50 + i) * 37) % 997);
          const res = await append(p, name, values.map((value) => ({ value, tags: { producer: String(p) } })));
          expect(res.status).toBe(202);
          (res.body.ids as string[]).forEach((id, i) => appended.push({ id, value: values[i]! }));
        }
      }),
    );
    expect(new Set(appended.map((p) => p.id)).size).toBe(3000);
    await waitFor(async () => (await view(0, name)).windows["1h"].count === 3000, 15_000, "3000 points aggregated");
    await sleep(500);
    const final = await view(1, name);
    // 3000 points fall in one or two buckets of each window: percentiles come from samples of 1000 (values 0–996).
    expectAggregates(final.windows, model(appended, final.ts), 60);
    const after = await aggregated(nodes.map((n) => n.url));
    expect(sum(after) - sum(before)).toBe(3000);

    if (engineName === "redis") {
      const redis = new Redis(cluster.redis.url);
      try {
        const key = keyLayout().stream("", name, "points");
        expect(((await redis.xpending(key, "switchboard")) as [number])[0]).toBe(0);
        // One consumer per node in the one group.
        const consumers = (await redis.xinfo("CONSUMERS", key, "switchboard")) as unknown[][];
        expect(consumers.map((c) => c[1]).sort()).toEqual(nodes.map((n) => n.nodeId).sort());
      } finally {
        redis.disconnect();
      }
    }
  });

  it("gives subscribers the tail, then at most one update per interval with the new points and rolling aggregates", async () => {
    const name = `feedback:${unique("course")}`;
    const early = await append(0, name, [{ rating: 4, userId: "u1", comment: "nice" }, { rating: 2 }]);
    const earlyIds = early.body.ids as string[];
    await waitFor(async () => (await view(0, name)).windows["10s"].count === 2, 5000, "early points aggregated");
    // Their update went out before anyone subscribed.
    await sleep(3 * INTERVAL_MS);
    const started = Date.now();

    const clients: Client[] = await Promise.all(nodes.map((n, i) => connect(n.url, { tokenOptions: { sub: `dash-${i}` } })));
    const updates = clients.map(() => [] as StreamUpdateEvent[]);
    clients.forEach((c, i) => c.on("stream:update", (u: StreamUpdateEvent) => u.name === name && updates[i]!.push(u)));
    const acks = await Promise.all(clients.map((c) => command(c, "stream:subscribe", { name, window: "10s" })));
    for (const ack of acks) {
      expect(ack).toMatchObject({ ok: true, name, kind: "feedback", window: "10s", ts: expect.any(Number) });
      const points = ack.points as StreamPoint[];
      expect(points.map((p) => p.id)).toEqual(earlyIds);
      expect(points[0]).toEqual({ id: earlyIds[0], ts: arrival(earlyIds[0]!), value: 4, data: { rating: 4, userId: "u1", comment: "nice" } });
      expect((ack.windows as StreamAggregates)["10s"]).toEqual({ count: 2, mean: 3, min: 2, max: 4, p50: 2, p95: 4 });
    }

    const all = earlyIds.map((id, i) => ({ id, value: [4, 2][i]! }));
    const later: string[] = [];
    for (let b = 0; b < 20; b++) {
      const ratings = Array.from({ length: 10 }, (_, i) => 1 + ((b + i) % 5));
      const res = await append(b, name, ratings.map((rating) => ({ rating })));
      (res.body.ids as string[]).forEach((id, i) => {
        all.push({ id, value: ratings[i]! });
        later.push(id);
      });
      await sleep(40);
    }
    await waitFor(() => updates.every((list) => list.flatMap((u) => u.points).length >= 200), 10_000, "updates with every new point");
    await waitFor(() => updates.every((list) => list.at(-1)!.windows["1h"].count === 202), 5000, "an update with every point aggregated");
    const elapsed = Date.now() - started;

    const seqs = updates[0]!.map((u) => u.seq);
    for (const list of updates) expect(list.map((u) => u.seq)).toEqual(seqs);
    expect(seqs.length).toBeGreaterThan(1);
    expect(seqs.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / INTERVAL_MS) + 1);
    for (let i = 1; i < seqs.length; i++) {
      expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      expect(updates[0]![i]!.ts - updates[0]![i - 1]!.ts).toBeGreaterThanOrEqual(INTERVAL_MS);
    }
    // The new points, each once, in order (no update was truncated at these rates).
    expect(updates[0]!.flatMap((u) => u.points.map((p) => p.id))).toEqual(later);
    expect(updates[0]!.every((u) => !u.truncated)).toBe(true);
    // Each update's windows are the model's at its time, for the points aggregated by then.
    const last = updates[0]!.at(-1)!;
    expectAggregates(last.windows, model(all, last.ts));
    expect(elapsed).toBeGreaterThan(0);

    expect((await command(clients[0]!, "stream:unsubscribe", { name })).ok).toBe(true);
    const count = updates[0]!.length;
    await append(0, name, [{ rating: 5 }]);
    await waitFor(() => updates[nodeCount - 1]!.length > count || nodeCount === 1, 3000, "an update for the others");
    await sleep(2 * INTERVAL_MS);
    expect(updates[0]!.length).toBe(count);
  });

  it("validates points by the stream's kind, all or nothing, and keeps free-form points without a value out of the aggregates", async () => {
    const user = await signToken({ sub: "mallory" });
    const bad: [string, unknown[]][] = [
      ["metrics:cpu", [{ ts: 1 }]],
      ["metrics:cpu", [{ value: "1" }]],
      ["metrics:cpu", [{ value: 1, extra: true }]],
      ["metrics:cpu", [{ value: 1 }, { value: 2, tags: { "bad tag": "x" } }]],
      ["feedback", [{ rating: 6 }]],
      ["feedback:course-1", [{ rating: 3.5 }]],
      ["model_performance", [{ metric: "accuracy", value: 0.9 }]],
      ["model_performance:gpt", [{ model: "m1", value: 0.9 }]],
      ["clicks", [{ value: "x" }]],
      ["clicks", [[1, 2]]],
      ["clicks", []],
      ["clicks", Array.from({ length: 501 }, () => ({ value: 1 }))],
      ["clicks", [{ blob: "x".repeat(9000) }]],
    ];
    for (const [name, points] of bad) {
      const res = await append(0, name, points);
      expect({ name, status: res.status, code: (res.body.error as { code: string }).code }).toEqual({ name, status: 400, code: "VALIDATION_FAILED" });
      expect((await view(0, name)).points).toEqual([]);
    }
    expect(await post(nodeAt(0).url, "/v1/streams/clicks/points", { value: 1 }, service)).toMatchObject({ status: 400 });
    expect(await post(nodeAt(0).url, "/v1/streams/bad%20name/points", { points: [{ value: 1 }] }, service)).toMatchObject({ status: 400 });
    expect(await append(0, "clicks", [{ value: 1 }], user)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });

    const name = unique("model_performance:tutor");
    expect((await append(1, name, [{ model: "tutor-v2", metric: "accuracy", value: 0.91, version: "2.1", tags: { course: "math" } }])).status).toBe(202);
    const free = unique("clicks");
    const res = await append(2, free, [{ button: "start", value: 3 }, { button: "stop" }, { nested: { a: [1, 2] }, ts: 1700000000000 }]);
    expect(res.status).toBe(202);
    await waitFor(async () => (await view(0, free)).windows["1m"].count === 1, 5000, "free-form aggregated");
    await sleep(300);
    const freeView = await view(0, free, "10s");
    expect(freeView.kind).toBe(free);
    expect(freeView.points.map((p) => [p.value, p.data])).toEqual([
      [3, { button: "start", value: 3 }],
      [null, { button: "stop" }],
      [null, { nested: { a: [1, 2] }, ts: 1700000000000 }],
    ]);
    expect(freeView.points[2]!.ts).toBe(1700000000000);
    expect(freeView.windows["1m"]).toEqual({ count: 1, mean: 3, min: 3, max: 3, p50: 3, p95: 3 });
    await waitFor(async () => (await view(0, name)).windows["1h"].count === 1, 5000, "model performance aggregated");

    const client = await connect(nodeAt(0).url, { tokenOptions: { sub: "mallory" } });
    for (const payload of [{ name, window: "2m" }, {}, { name: "bad name" }, { name, extra: 1 }]) {
      expect(await command(client, "stream:subscribe", payload)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    }
    // Any user of the tenant may follow a stream; the default window is 1m.
    expect(await command(client, "stream:subscribe", { name })).toMatchObject({ ok: true, window: "1m", points: [expect.objectContaining({ value: 0.91 })] });
  });

  it("keeps tenants apart", async () => {
    const name = unique("metrics:cpu");
    const acme = await serviceToken({ tenant: "acme" });
    expect((await append(0, name, [{ value: 42 }], acme)).status).toBe(202);
    await waitFor(async () => (await view(1, name, "1h", acme)).windows["1h"].count === 1, 5000, "acme point aggregated");
    const plain = await view(1, name);
    expect(plain.points).toEqual([]);
    expect(plain.windows["1h"].count).toBe(0);
    const acmeUser = await connect(nodeAt(2).url, { tokenOptions: { sub: "ann", tenant: "acme" } });
    expect(await command(acmeUser, "stream:subscribe", { name })).toMatchObject({ ok: true, points: [expect.objectContaining({ value: 42 })] });
  });

  if (engineName === "redis") {
    it("takes points from the emitter exactly as from REST, validated before anything is sent", async () => {
      const emitter = new SwitchboardEmitter({ redis: cluster.redis.url });
      try {
        const name = unique("metrics:emitted");
        const one = await emitter.stream(name).append({ value: 10 });
        const many = await emitter.stream(name).append([{ value: 20 }, { value: 30, unit: "ms" }]);
        expect(one.ids).toHaveLength(1);
        expect(many.ids).toHaveLength(2);
        expect((await append(1, name, [{ value: 40 }])).status).toBe(202);
        await waitFor(async () => (await view(2, name)).windows["1h"].count === 4, 5000, "emitted points aggregated");
        expect((await view(2, name)).windows["1h"]).toEqual({ count: 4, mean: 25, min: 10, max: 40, p50: 20, p95: 40 });
        expect((await view(0, name)).points.map((p) => p.id)).toEqual([...one.ids, ...many.ids, expect.any(String)]);

        for (const call of [
          () => emitter.stream(name).append({ value: "x" }),
          () => emitter.stream(name).append([]),
          () => emitter.stream("feedback").append({ rating: 0 }),
          () => emitter.stream(name).append({ value: Number.POSITIVE_INFINITY }),
          async () => emitter.stream("bad name").append({ value: 1 }),
        ]) {
          const err = await call().then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(EmitterError);
          expect((err as EmitterError).code).toBe("VALIDATION_FAILED");
        }
        expect((await view(0, name)).points).toHaveLength(4);
      } finally {
        await emitter.close();
      }
    });

    it("looks at the streams registry a few times a second while idle, and at once after its own appends", async () => {
      const redis = new Redis(cluster.redis.url);
      const registryReads = async () => Number(/cmdstat_zrevrange:calls=(\d+)/.exec(String(await redis.info("commandstats")))?.[1] ?? 0);
      try {
        await sleep(1500); // every node's wait has grown to its longest
        const before = await registryReads();
        await sleep(3000);
        // Three nodes at one look per 500 ms: about 18 (every 50 ms, as while streams move: 180).
        expect((await registryReads()) - before).toBeLessThan(40);

        const name = unique("metrics:after-idle");
        for (const i of [0, 1, 2]) {
          await sleep(1200);
          const appendedAt = Date.now();
          expect((await append(i, name, [{ value: i }])).status).toBe(202);
          await waitFor(async () => (await view(i, name)).windows["1h"].count === i + 1, 5000, `point ${i} aggregated`);
          // The appending node looked at once (STREAM_BATCH_MS is 50 here), not after its idle wait.
          expect(Date.now() - appendedAt).toBeLessThan(450);
        }
      } finally {
        redis.disconnect();
      }
    });
  }
});

describe("live stream consumer killed with SIGKILL", () => {
  let redis: RedisServer;
  let store: Redis;
  const processes: NodeProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    store = redis.client();
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    store?.disconnect();
    await redis?.destroy();
  });

  it("lets another node claim the points it held, so every point is counted exactly once", async () => {
    const name = "metrics:takeover";
    const key = keyLayout().stream("", name, "points");
    // Claims after 3 s idle; a live node touches what it holds every second.
    const env = { REDIS_URL: redis.url, STREAM_CLAIM_IDLE_MS: "3000", STREAM_UPDATE_INTERVAL_MS: "200" };
    // The victim holds what it reads for ten minutes (it aggregates in big batches), then dies.
    const victim = await NodeProcess.spawn({ ...env, STREAM_BATCH_MS: "600000" });
    processes.push(victim);
    const token = await serviceToken();
    const values: number[] = [];
    const appendTo = async (url: string, count: number) => {
      const batch = Array.from({ length: count }, (_, i) => (values.length + i) % 100);
      values.push(...batch);
      const res = await post(url, `/v1/streams/${name}/points`, { points: batch.map((value) => ({ value })) }, token);
      expect(res.status).toBe(202);
    };
    for (let i = 0; i < 6; i++) await appendTo(victim.url, 100);
    await waitFor(async () => {
      const pending = (await store.xpending(key, "switchboard")) as [number, string, string, [string, string][]];
      return pending[0] === 600 && pending[3]?.[0]?.[0] === victim.nodeId;
    }, 10_000, "the victim holding all 600 points");

    const survivors = await Promise.all([NodeProcess.spawn(env), NodeProcess.spawn(env)]);
    processes.push(...survivors);
    // The victim keeps its points fresh while it lives: nobody claims them.
    await sleep(4000);
    expect(((await store.xpending(key, "switchboard")) as [number])[0]).toBe(600);

    expect((await victim.kill("SIGKILL")).signal).toBe("SIGKILL");
    // The survivors take new points while the dead node's wait to be claimed.
    for (const node of survivors) await appendTo(node.url, 150);
    const countOf = async () => ((await get(survivors[0]!.url, `/v1/streams/${name}?window=1h`, token)).body as unknown as StreamView).windows["1h"].count;
    await waitFor(async () => (await countOf()) === 900, 20_000, "all 900 points counted");
    await sleep(2000);
    expect(await countOf()).toBe(900);
    expect(((await store.xpending(key, "switchboard")) as [number])[0]).toBe(0);
    expect(sum(await aggregated(survivors.map((s) => s.url)))).toBe(900);
    const claimed = survivors.flatMap((s) => s.logs()).filter((l) => l.message === "claimed stream points");
    expect(sum(claimed.map((l) => Number(l.points)))).toBe(600);
    const sorted = [...values].sort((a, b) => a - b);
    const final = ((await get(survivors[1]!.url, `/v1/streams/${name}?window=1h`, token)).body as unknown as StreamView).windows["1h"];
    expect(final).toEqual({ count: 900, mean: expect.any(Number), min: 0, max: 99, p50: percentileOf(sorted, 50), p95: percentileOf(sorted, 95) });
    expect(final.mean).toBeCloseTo(sum(values) / 900, 9);
  });
});
