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
import { ConsumerGroupWorker } from "../consumer-group-worker";
import { IdleBackoff } from "../idle-backoff";

export interface StreamConsumerOptions {
  claimIdleMs: number;
  batchMs: number;
  /** How often the registry is looked at while streams move (wake() after this node's appends). */
  pollMs?: number;
  /** How often at most while none moves (points a service appends through the emitter wait up to this). */
  idlePollMs?: number;
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

const keyOf = (ref: LiveRef) => `${ref.tenant}/${ref.id}`;

export class StreamConsumer {
  private readonly worker: ConsumerGroupWorker;
  /** stream -> the append counter this node last read it empty at. */
  private readonly drained = new Map<string, number>();
  private readonly held = new Map<string, Held>();
  private heldCount = 0;
  private lastAggregation = 0;
  /** Serializes aggregations (the poll loop, claims and stop all aggregate). */
  private aggregating: Promise<void> = Promise.resolve();
  private readonly backoff: IdleBackoff;

  constructor(private readonly deps: StreamConsumerDeps) {
    const { engine, logger, options } = deps;
    const { pollMs = 50, idlePollMs = 500 } = options;
    this.backoff = new IdleBackoff(pollMs, Math.max(pollMs, idlePollMs));
    this.worker = new ConsumerGroupWorker({
      engine,
      logger,
      log: { event: "stream", readFailed: "stream read failed", claimFailed: "stream claim failed", touchFailed: "stream touch failed" },
      claimIdleMs: options.claimIdleMs,
      // The registry is polled: every pollMs while streams move, less often while none does, and
      // every pollMs while the engine is unavailable.
      pauseMs: pollMs,
      afterRead: () => this.backoff.wait(),
      // No pause when full: the poll stops reading at maxHeld, and what is held is aggregated early.
      owned: () => this.heldCount,
      read: () => this.pollAndAggregate(),
      claim: () => this.claim(),
      touch: () => this.touch(),
      stopping: () => this.backoff.wake(),
    });
  }

  /** This node appended points: the registry is looked at within pollMs. */
  wake(): void {
    this.backoff.wake();
  }

  start(): void {
    // What the first look reads is held a whole batch too.
    this.lastAggregation = Date.now();
    this.worker.start();
  }

  /** Stops reading; what it holds is aggregated now (or left pending for another node if that fails). */
  async stop(): Promise<void> {
    await this.worker.stop();
    await this.aggregateHeld();
  }

  private async pollAndAggregate(): Promise<void> {
    const read = await this.poll();
    if (Date.now() - this.lastAggregation >= this.deps.options.batchMs || this.heldCount >= this.maxHeld()) await this.aggregateHeld();
    this.backoff.found(read > 0 || this.heldCount > 0);
  }

  private maxHeld(): number {
    return this.deps.options.maxHeld ?? 20_000;
  }

  /** Reads every stream whose append counter moved since this node last read it empty; answers the points read. */
  private async poll(): Promise<number> {
    const { engine, nodeId } = this.deps;
    const count = this.deps.options.readCount ?? 500;
    let read = 0;
    for (const info of await engine.streams.streams(STREAMS_MAX)) {
      const key = keyOf(info);
      if (this.drained.get(key) === info.appended) continue;
      for (;;) {
        if (!this.worker.running || this.heldCount >= this.maxHeld()) return read;
        const points = await engine.streams.read(info, nodeId, count);
        read += points.length;
        this.hold(info, points);
        if (points.length < count) {
          this.drained.set(key, info.appended);
          break;
        }
      }
    }
    return read;
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
    const { engine, nodeId, logger } = this.deps;
    for (const info of await engine.streams.streams(STREAMS_MAX)) {
      const claimed = await engine.streams.claim(info, nodeId, this.deps.options.claimIdleMs, 1000);
      if (claimed.length === 0) continue;
      logger.info("claimed stream points", { event: "stream", tenant: info.tenant, stream: info.id, points: claimed.length });
      this.hold(info, claimed);
    }
  }

  /** Touches every point held, 1000 ids per call. */
  private async touch(): Promise<void> {
    for (const { ref, points } of [...this.held.values()]) {
      const ids = [...points.keys()];
      for (let i = 0; i < ids.length; i += 1000) await this.deps.engine.streams.touch(ref, this.deps.nodeId, ids.slice(i, i + 1000));
    }
  }
}
