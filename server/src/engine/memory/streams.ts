/**
 * Live streams for the memory engine: a capped log per (tenant, stream) with the consumer-group
 * semantics of a Redis Stream (last delivered entry, pending entries, idle time, claims), buckets
 * kept as the Redis engine keeps them, and the same coalescing of updates. One node, same rules.
 */
import {
  parseScopedMember,
  scopedMember,
  STREAM_BUCKET_SAMPLE,
  STREAM_UPDATE_POINTS_MAX,
  STREAM_WINDOW_NAMES,
  STREAM_WINDOWS,
  streamBucketStart,
  type StreamAggregates,
  type StreamPoint,
} from "@switchboard/shared";
import { aggregateWindows, windowBuckets, type BucketData } from "@switchboard/store";
import { LIVE_LEASE_GRACE_MS, type FlushOutcome, type LiveRef, type LiveStreamStore, type StreamFlush, type StreamInfo } from "../types";

interface Bucket extends BucketData {
  expireAt: number;
}

interface Pending {
  point: StreamPoint;
  consumer: string;
  since: number;
}

interface LiveStream {
  entries: StreamPoint[];
  lastMs: number;
  lastSeq: number;
  /** The id of the last entry handed to a consumer (the group's last delivered id). */
  delivered: string;
  pending: Map<string, Pending>;
  buckets: Map<string, Bucket>;
  dirty: boolean;
  leaseUntil: number;
  seq: number;
  lastId: string;
  live: boolean;
  flushedAt: number;
}

/** Stream ids compare by ms, then sequence. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am - bm || as - bs;
}

const arrival = (id: string) => Number(id.slice(0, id.indexOf("-")));

export class MemoryLiveStreams implements LiveStreamStore {
  private readonly all = new Map<string, LiveStream>();
  private readonly registry = new Map<string, number>();
  private readonly dueAt = new Map<string, number>();

  async append(tenant: string, name: string, points: readonly { data: Record<string, unknown>; value: number | null }[], maxLen: number): Promise<string[]> {
    const s = this.stream({ tenant, id: name }, true)!;
    const ids: string[] = [];
    for (const p of points) {
      const now = Date.now();
      if (now > s.lastMs) {
        s.lastMs = now;
        s.lastSeq = 0;
      } else s.lastSeq += 1;
      const id = `${s.lastMs}-${s.lastSeq}`;
      const data = structuredClone(p.data);
      s.entries.push({ id, ts: typeof data.ts === "number" ? data.ts : s.lastMs, value: p.value, data });
      ids.push(id);
    }
    if (s.entries.length > maxLen) s.entries.splice(0, s.entries.length - maxLen);
    const member = scopedMember(tenant, name);
    this.registry.set(member, (this.registry.get(member) ?? 0) + points.length);
    return ids;
  }

  async tail(tenant: string, name: string, sinceMs: number, limit: number): Promise<StreamPoint[]> {
    const s = this.stream({ tenant, id: name }, false);
    if (!s) return [];
    return s.entries
      .filter((e) => arrival(e.id) >= sinceMs)
      .slice(-limit)
      .map((e) => structuredClone(e));
  }

  async streams(limit: number): Promise<StreamInfo[]> {
    return [...this.registry]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([member, appended]) => ({ ...parseScopedMember(member), appended }));
  }

  async read(ref: LiveRef, consumer: string, count: number): Promise<StreamPoint[]> {
    const s = this.stream(ref, true)!;
    const fresh = s.entries.filter((e) => compareIds(e.id, s.delivered) > 0).slice(0, count);
    const now = Date.now();
    for (const point of fresh) s.pending.set(point.id, { point, consumer, since: now });
    if (fresh.length > 0) s.delivered = fresh[fresh.length - 1]!.id;
    return fresh.map((p) => structuredClone(p));
  }

  async claim(ref: LiveRef, consumer: string, minIdleMs: number, count: number): Promise<StreamPoint[]> {
    const s = this.stream(ref, false);
    if (!s) return [];
    const now = Date.now();
    const kept = new Set(s.entries.map((e) => e.id));
    const claimed: StreamPoint[] = [];
    for (const [id, p] of s.pending) {
      if (claimed.length >= count) break;
      if (now - p.since < minIdleMs) continue;
      // As XAUTOCLAIM: an entry trimmed away meanwhile leaves the pending list.
      if (!kept.has(id)) {
        s.pending.delete(id);
        continue;
      }
      p.consumer = consumer;
      p.since = now;
      claimed.push(structuredClone(p.point));
    }
    return claimed;
  }

  async touch(ref: LiveRef, consumer: string, ids: readonly string[]): Promise<void> {
    const s = this.stream(ref, false);
    const now = Date.now();
    for (const id of ids) {
      const p = s?.pending.get(id);
      // As XCLAIM: the entry moves to the toucher.
      if (p) {
        p.consumer = consumer;
        p.since = now;
      }
    }
  }

  async aggregate(ref: LiveRef, points: readonly StreamPoint[]): Promise<number> {
    const s = this.stream(ref, false);
    if (!s) return 0;
    let acked = 0;
    for (const point of points) {
      if (!s.pending.delete(point.id)) continue;
      acked++;
      if (point.value === null) continue;
      const at = arrival(point.id);
      for (const window of STREAM_WINDOW_NAMES) {
        const start = streamBucketStart(window, at);
        const key = `${window}:${start}`;
        let b = s.buckets.get(key);
        if (!b) {
          b = { window, count: 0, sum: 0, min: Infinity, max: -Infinity, values: [], expireAt: start + STREAM_WINDOWS[window].spanMs + STREAM_WINDOWS[window].bucketMs };
          s.buckets.set(key, b);
        }
        b.count++;
        b.sum += point.value;
        if (point.value < b.min) b.min = point.value;
        if (point.value > b.max) b.max = point.value;
        if (b.count <= STREAM_BUCKET_SAMPLE) b.values.push(point.value);
        else {
          const r = Math.floor(Math.random() * b.count);
          if (r < STREAM_BUCKET_SAMPLE) b.values[r] = point.value;
        }
      }
    }
    if (acked > 0) {
      s.dirty = true;
      this.mark(ref);
    }
    return acked;
  }

  async aggregates(ref: LiveRef): Promise<{ ts: number; windows: StreamAggregates }> {
    const now = Date.now();
    return { ts: now, windows: this.windows(this.stream(ref, false), now) };
  }

  async due(limit: number): Promise<LiveRef[]> {
    const now = Date.now();
    return [...this.dueAt]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([member]) => parseScopedMember(member));
  }

  async flush(ref: LiveRef, intervalMs: number, decayMs: number): Promise<FlushOutcome<StreamFlush>> {
    const s = this.stream(ref, false);
    const now = Date.now();
    const member = scopedMember(ref.tenant, ref.id);
    if (s && s.leaseUntil > now) return { status: "busy" };
    if (!s || (!s.dirty && (!s.live || now < s.flushedAt + decayMs))) {
      if (s?.live) this.dueAt.set(member, s.flushedAt + decayMs);
      else this.dueAt.delete(member);
      return { status: "clean" };
    }
    s.leaseUntil = now + intervalMs + LIVE_LEASE_GRACE_MS;
    s.dirty = false;
    s.seq += 1;
    const last = s.lastId;
    const newer = last === "" ? s.entries : s.entries.filter((e) => compareIds(e.id, last) > 0);
    s.lastId = s.entries.length > 0 ? s.entries[s.entries.length - 1]!.id : last;
    s.flushedAt = now;
    const windows = this.windows(s, now);
    s.live = windows["1h"].count > 0;
    if (s.live) this.dueAt.set(member, now + decayMs);
    else this.dueAt.delete(member);
    const points = newer.slice(-STREAM_UPDATE_POINTS_MAX).map((p) => structuredClone(p));
    return { status: "ok", update: { seq: s.seq, ts: now, windows, points, truncated: newer.length > STREAM_UPDATE_POINTS_MAX } };
  }

  async sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void> {
    const s = this.stream(ref, false);
    if (s) s.leaseUntil = ts + intervalMs;
  }

  private windows(s: LiveStream | undefined, now: number): StreamAggregates {
    const data: BucketData[] = [];
    if (s) {
      for (const [key, b] of s.buckets) if (b.expireAt <= now) s.buckets.delete(key);
      for (const { window, start } of windowBuckets(now)) {
        const b = s.buckets.get(`${window}:${start}`);
        if (b) data.push(b);
      }
    }
    return aggregateWindows(data);
  }

  private stream(ref: LiveRef, create: boolean): LiveStream | undefined {
    const key = scopedMember(ref.tenant, ref.id);
    let s = this.all.get(key);
    if (!s && create) {
      s = { entries: [], lastMs: 0, lastSeq: 0, delivered: "0-0", pending: new Map(), buckets: new Map(), dirty: false, leaseUntil: 0, seq: 0, lastId: "", live: false, flushedAt: 0 };
      this.all.set(key, s);
    }
    return s;
  }

  private mark(ref: LiveRef): void {
    const key = scopedMember(ref.tenant, ref.id);
    const now = Date.now();
    const at = this.dueAt.get(key);
    if (at === undefined || at > now) this.dueAt.set(key, now);
  }
}
