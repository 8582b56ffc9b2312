/**
 * The node's share of stream aggregation. Every node reads every stream through its one consumer
 * group: it polls the streams whose append counter moved, holds what it read for up to
 * STREAM_BATCH_MS (one aggregation per stream per batch instead of one per point), and aggregates
 * it — the ack and the aggregation are one atomic step in the store, so each point counts once.
 * A node that dies leaves what it held pending; another claims it once idle for
 * STREAM_CLAIM_IDLE_MS (a live node keeps touching what it holds). Everything is bounded: streams
 * followed, points per read, points held.
 */
import { STREAMS_MAX, type StreamPoint } from "@switchboard/shared";
import type { Engine, LiveRef } from "../../engine";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";

export interface StreamConsumerOptions {
  claimIdleMs: number;
  batchMs: number;
  /** How often the registry is looked at. */
  pollMs?: number;
  /** Points per read. */
  readCount?: number;
  /** Points held before an early aggregation. */
  maxHeld?: number;
}

export interface StreamConsumerDeps {
  nodeId: string;
  engine: Engine;
  logger: Logger;
  metrics: Metrics;
  options: StreamConsumerOptions;
}

interface Held {
  ref: LiveRef;
  points: Map<string, StreamPoint>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
const keyOf = (ref: LiveRef) => `${ref.tenant}/${ref.id}`;

export class StreamConsumer {
  private running = false;
  private loop?: Promise<void>;
  private readonly timers: NodeJS.Timeout[] = [];
  /** stream -> the append counter this node last read it empty at. */
  private readonly drained = new Map<string, number>();
  private readonly held = new Map<string, Held>();
  private heldCount = 0;
  private lastAggregation = 0;
  /** Serializes aggregations (the poll loop, claims and stop all aggregate). */
  private aggregating: Promise<void> = Promise.resolve();

  constructor(private readonly deps: StreamConsumerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { claimIdleMs } = this.deps.options;
    this.timers.push(
      setInterval(() => void this.touch(), Math.max(50, Math.floor(claimIdleMs / 3))).unref(),
      setInterval(() => void this.claim(), Math.max(50, Math.floor(claimIdleMs / 2))).unref(),
    );
    this.loop = this.pollForever();
  }

  /** Stops reading; what it holds is aggregated now (or left pending for another node if that fails). */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.loop;
    await this.aggregateHeld();
  }

  private async pollForever(): Promise<void> {
    const { pollMs = 50, batchMs } = this.deps.options;
    while (this.running) {
      if (this.deps.engine.isAvailable()) {
        try {
          await this.poll();
          if (Date.now() - this.lastAggregation >= batchMs || this.heldCount >= this.maxHeld()) await this.aggregateHeld();
        } catch (err) {
          if (!this.running) break;
          this.deps.logger.warn("stream read failed", { event: "stream", error: String(err) });
          await sleep(500);
        }
      }
      await sleep(pollMs);
    }
  }

  private maxHeld(): number {
    return this.deps.options.maxHeld ?? 20_000;
  }

  /** Reads every stream whose append counter moved since this node last read it empty. */
  private async poll(): Promise<void> {
    const { engine, nodeId } = this.deps;
    const count = this.deps.options.readCount ?? 500;
    for (const info of await engine.streams.streams(STREAMS_MAX)) {
      const key = keyOf(info);
      if (this.drained.get(key) === info.appended) continue;
      for (;;) {
        if (!this.running || this.heldCount >= this.maxHeld()) return;
        const points = await engine.streams.read(info, nodeId, count);
        this.hold(info, points);
        if (points.length < count) {
          this.drained.set(key, info.appended);
          break;
        }
      }
    }
  }

  private hold(ref: LiveRef, points: readonly StreamPoint[]): void {
    if (points.length === 0) return;
    const key = keyOf(ref);
    let held = this.held.get(key);
    if (!held) this.held.set(key, (held = { ref: { tenant: ref.tenant, id: ref.id }, points: new Map() }));
    for (const p of points) {
      if (held.points.has(p.id)) continue;
      held.points.set(p.id, p);
      this.heldCount++;
    }
  }

  private aggregateHeld(): Promise<void> {
    this.aggregating = this.aggregating.then(async () => {
      this.lastAggregation = Date.now();
      const batches = [...this.held.values()];
      this.held.clear();
      this.heldCount = 0;
      for (const { ref, points } of batches) {
        const list = [...points.values()];
        try {
          const acked = await this.deps.engine.streams.aggregate(ref, list);
          this.deps.metrics.streamPointsAggregated.inc(acked);
        } catch (err) {
          // Left pending: claimed again after STREAM_CLAIM_IDLE_MS, by this node or another.
          this.deps.logger.warn("stream aggregation failed", { event: "stream", tenant: ref.tenant, stream: ref.id, points: list.length, error: String(err) });
        }
      }
    });
    return this.aggregating;
  }

  /** Takes over points other consumers held for too long (they died), from every stream followed. */
  private async claim(): Promise<void> {
    if (!this.running || !this.deps.engine.isAvailable()) return;
    const { engine, nodeId, logger } = this.deps;
    try {
      for (const info of await engine.streams.streams(STREAMS_MAX)) {
        const claimed = await engine.streams.claim(info, nodeId, this.deps.options.claimIdleMs, 1000);
        if (claimed.length === 0) continue;
        logger.info("claimed stream points", { event: "stream", tenant: info.tenant, stream: info.id, points: claimed.length });
        this.hold(info, claimed);
      }
    } catch (err) {
      logger.warn("stream claim failed", { event: "stream", error: String(err) });
    }
  }

  private async touch(): Promise<void> {
    if (!this.running || this.heldCount === 0 || !this.deps.engine.isAvailable()) return;
    try {
      for (const { ref, points } of [...this.held.values()]) {
        const ids = [...points.keys()];
        for (let i = 0; i < ids.length; i += 1000) await this.deps.engine.streams.touch(ref, this.deps.nodeId, ids.slice(i, i + 1000));
      }
    } catch (err) {
      this.deps.logger.warn("stream touch failed", { event: "stream", error: String(err) });
    }
  }
}
