/**
 * Live streams in Redis: per (tenant, stream) a Redis Stream capped with MAXLEN, read by every
 * node through one consumer group (created at the stream's beginning, again after a Redis that
 * restarted empty), aggregated by STREAM_AGGREGATE (ack and aggregate in one step: exactly once),
 * and a registry of the streams with their append counters, so nodes read only streams that
 * changed. Streams live on different slots, so nodes poll them (a blocking XREADGROUP cannot span
 * slots of a Redis Cluster); the counters keep the polls cheap.
 */
import { randomInt } from "node:crypto";
import {
  parseScopedMember,
  parseStreamEntry,
  scopedMember,
  STREAM_BUCKET_SAMPLE,
  STREAM_UPDATE_POINTS_MAX,
  STREAM_WINDOW_NAMES,
  STREAM_WINDOWS,
  streamBucketStart,
  type KeyLayout,
  type StreamAggregates,
  type StreamPoint,
  type StreamWindow,
} from "@switchboard/shared";
import { aggregateWindows, windowBuckets, type BucketData } from "../stream-windows";
import { LIVE_LEASE_GRACE_MS, type FlushOutcome, type LiveRef, type LiveStreamStore, type StreamFlush, type StreamInfo } from "../types";
import type { RedisClient } from "../script";
import { DueIndex } from "./due-index";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

/** The consumer group every node reads each stream through. */
export const STREAM_GROUP = "switchboard";

const aggregateScript = new RedisScript(LUA["streams/aggregate"]);
const bucketsScript = new RedisScript(LUA["streams/buckets"]);
const flushScript = new RedisScript(LUA["streams/flush"]);

type Entry = [id: string, fields: string[]];

export class RedisLiveStreams implements LiveStreamStore {
  private readonly dueIndex: DueIndex;
  /** Streams whose group this node created or found. */
  private readonly groups = new Set<string>();
  private readonly claimCursors = new Map<string, string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {
    this.dueIndex = new DueIndex(redis, keys.streamsDue());
  }

  async append(tenant: string, name: string, points: readonly { data: Record<string, unknown>; value: number | null }[], maxLen: number): Promise<string[]> {
    const key = this.keys.stream(tenant, name, "points");
    const pipeline = this.redis.pipeline();
    for (const p of points) pipeline.xadd(key, "MAXLEN", "~", maxLen, "*", "p", JSON.stringify(p.data), "v", p.value === null ? "" : String(p.value));
    const replies = (await pipeline.exec()) ?? [];
    const ids = replies.map(([err, id]) => {
      if (err) throw err;
      return String(id);
    });
    await this.redis.zincrby(this.keys.streamsRegistry(), points.length, scopedMember(tenant, name));
    return ids;
  }

  async tail(tenant: string, name: string, sinceMs: number, limit: number): Promise<StreamPoint[]> {
    const entries = (await this.redis.xrevrange(this.keys.stream(tenant, name, "points"), "+", String(Math.max(0, Math.floor(sinceMs))), "COUNT", limit)) as Entry[];
    return entries.reverse().map(([id, fields]) => parseStreamEntry(id, fields));
  }

  async streams(limit: number): Promise<StreamInfo[]> {
    const flat = await this.redis.zrevrange(this.keys.streamsRegistry(), 0, limit - 1, "WITHSCORES");
    const out: StreamInfo[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ ...parseScopedMember(flat[i]!), appended: Number(flat[i + 1]) });
    return out;
  }

  async read(ref: LiveRef, consumer: string, count: number): Promise<StreamPoint[]> {
    const key = this.pointsKey(ref);
    const reply = (await this.withGroup(key, () => this.redis.xreadgroup("GROUP", STREAM_GROUP, consumer, "COUNT", count, "STREAMS", key, ">"))) as [string, Entry[]][] | null;
    return reply ? parseEntries(reply[0]![1]) : [];
  }

  async claim(ref: LiveRef, consumer: string, minIdleMs: number, count: number): Promise<StreamPoint[]> {
    const key = this.pointsKey(ref);
    const reply = (await this.withGroup(key, () => this.redis.xautoclaim(key, STREAM_GROUP, consumer, minIdleMs, this.claimCursors.get(key) ?? "0-0", "COUNT", count))) as [
      string,
      Entry[],
      string[]?,
    ];
    this.claimCursors.set(key, reply[0]);
    return parseEntries(reply[1]);
  }

  async touch(ref: LiveRef, consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const key = this.pointsKey(ref);
    await this.withGroup(key, () => this.redis.xclaim(key, STREAM_GROUP, consumer, 0, ...ids, "JUSTID"));
  }

  async aggregate(ref: LiveRef, points: readonly StreamPoint[]): Promise<number> {
    if (points.length === 0) return 0;
    const keys = [this.pointsKey(ref), this.key(ref, "dirty")];
    const args: (string | number)[] = [STREAM_GROUP, STREAM_BUCKET_SAMPLE, randomInt(1, 2 ** 31 - 1), points.length];
    // bucket key -> its expiry and the indexes of its points
    const buckets = new Map<string, { expireAt: number; indexes: number[] }>();
    points.forEach((point, i) => {
      args.push(point.id, point.value === null ? "" : String(point.value));
      if (point.value === null) return;
      const arrived = arrival(point.id);
      for (const window of STREAM_WINDOW_NAMES) {
        const start = streamBucketStart(window, arrived);
        const key = this.bucketKey(ref, window, start);
        let bucket = buckets.get(key);
        if (!bucket) buckets.set(key, (bucket = { expireAt: start + STREAM_WINDOWS[window].spanMs + STREAM_WINDOWS[window].bucketMs, indexes: [] }));
        bucket.indexes.push(i + 1);
      }
    });
    for (const [key, bucket] of buckets) {
      keys.push(key, `${key}:v`);
      args.push(bucket.expireAt, bucket.indexes.length, ...bucket.indexes);
    }
    const acked = Number(await aggregateScript.run(this.redis, keys, args));
    if (acked > 0) await this.dueIndex.mark(ref);
    return acked;
  }

  async aggregates(ref: LiveRef): Promise<{ ts: number; windows: StreamAggregates }> {
    return this.readWindows(ref);
  }

  due(limit: number): Promise<LiveRef[]> {
    return this.dueIndex.due(limit);
  }

  async flush(ref: LiveRef, intervalMs: number, decayMs: number): Promise<FlushOutcome<StreamFlush>> {
    const dirty = this.key(ref, "dirty");
    const meta = this.key(ref, "meta");
    const reply = (await flushScript.run(this.redis, [dirty, this.key(ref, "lease"), meta, this.pointsKey(ref)], [intervalMs + LIVE_LEASE_GRACE_MS, decayMs])) as [string, ...unknown[]];
    if (reply[0] === "busy") return { status: "busy" };
    if (reply[0] === "clean") {
      const nextAt = Number(reply[1]);
      await this.dueIndex.settle(ref, dirty, nextAt > 0 ? nextAt : undefined);
      return { status: "clean" };
    }
    const [, seq, now, last, head] = reply as [string, number, number, string, string];
    const { windows } = await this.readWindows(ref, Number(now));
    const live = windows["1h"].count > 0;
    await this.redis.hset(meta, "live", live ? "1" : "0");
    await this.dueIndex.settle(ref, dirty, live ? Number(now) + decayMs : undefined);
    let points: StreamPoint[] = [];
    let truncated = false;
    if (head !== "" && head !== last) {
      const entries = (await this.redis.xrevrange(this.pointsKey(ref), head, last === "" ? "-" : `(${last}`, "COUNT", STREAM_UPDATE_POINTS_MAX + 1)) as Entry[];
      truncated = entries.length > STREAM_UPDATE_POINTS_MAX;
      points = entries.slice(0, STREAM_UPDATE_POINTS_MAX).reverse().map(([id, fields]) => parseStreamEntry(id, fields));
    }
    return { status: "ok", update: { seq: Number(seq), ts: Number(now), windows, points, truncated } };
  }

  async sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void> {
    await this.redis.pexpireat(this.key(ref, "lease"), ts + intervalMs);
  }

  /** The windows at `at` (the store's clock when undefined), from buckets read at one instant. */
  private async readWindows(ref: LiveRef, at?: number): Promise<{ ts: number; windows: StreamAggregates }> {
    // The buckets of `at`'s windows; read first, so without `at` the clock of the read decides.
    const now = at ?? (await this.redisNow());
    const plan = windowBuckets(now);
    const keys: string[] = [];
    for (const { window, start } of plan) {
      const key = this.bucketKey(ref, window, start);
      keys.push(key, `${key}:v`);
    }
    const [, replies] = (await bucketsScript.run(this.redis, keys, [])) as [number, ([string, string, string, string, string[]] | [])[]];
    const data: BucketData[] = plan.map(({ window }, i) => {
      const r = replies[i]!;
      if (r.length === 0) return { window, count: 0, sum: 0, min: Infinity, max: -Infinity, values: [] };
      return { window, count: Number(r[0]), sum: Number(r[1]), min: Number(r[2]), max: Number(r[3]), values: r[4]!.map(Number) };
    });
    return { ts: now, windows: aggregateWindows(data) };
  }

  private async redisNow(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  private pointsKey(ref: LiveRef): string {
    return this.key(ref, "points");
  }

  private key(ref: LiveRef, part: string): string {
    return this.keys.stream(ref.tenant, ref.id, part);
  }

  private bucketKey(ref: LiveRef, window: StreamWindow, start: number): string {
    return this.key(ref, `b:${window}:${start}`);
  }

  /** The group starts at the stream's beginning, so points appended before any node read are aggregated. */
  private async ensureGroup(key: string): Promise<void> {
    if (this.groups.has(key)) return;
    try {
      await this.redis.xgroup("CREATE", key, STREAM_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("BUSYGROUP")) throw err;
    }
    this.groups.add(key);
  }

  /** A stream that vanished (a Redis that restarted empty) has no group: create it again and retry once. */
  private async withGroup<T>(key: string, call: () => Promise<T>): Promise<T> {
    await this.ensureGroup(key);
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOGROUP")) throw err;
      this.groups.delete(key);
      this.claimCursors.delete(key);
      await this.ensureGroup(key);
      return call();
    }
  }
}

function arrival(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

function parseEntries(entries: Entry[]): StreamPoint[] {
  // XAUTOCLAIM answers entries trimmed away meanwhile as null fields.
  return entries.filter((e) => e?.[1]).map(([id, fields]) => parseStreamEntry(id, fields));
}
