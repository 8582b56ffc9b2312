/**
 * The node's share of coalesced live updates (leaderboards, streams). Every node looks at what
 * is due a few times per interval; the engine's flush lets one node per interval compute the
 * update (a lease in the store), and that node sends it once to the subscribers' Socket.IO room,
 * which the adapter carries to every node. However many writes arrive, a leaderboard (stream)
 * gets at most one update per interval, cluster-wide. The lease lasts until the update was sent,
 * so a slow node cannot publish its update after the next one.
 */
import type { Engine, FlushOutcome, LiveRef } from "../engine";
import type { Logger } from "../observability/logger";

export interface CoalescedUpdatesOptions<T> {
  /** For log lines: `leaderboard`, `stream`. */
  what: string;
  engine: Engine;
  logger: Logger;
  /** How often this node looks at what is due. */
  tickMs: number;
  due(limit: number): Promise<LiveRef[]>;
  flush(ref: LiveRef): Promise<FlushOutcome<T>>;
  send(ref: LiveRef, update: T): void;
  /** After `send`: the next update may be computed an interval after this one. */
  sent(ref: LiveRef, update: T): Promise<void>;
}

/** Due entries one look takes, and flushes run at once. */
const DUE_BATCH = 200;
const PARALLEL = 20;

export class CoalescedUpdates<T> {
  private timer?: NodeJS.Timeout;
  private running = false;
  private tick?: Promise<void>;

  constructor(private readonly options: CoalescedUpdatesOptions<T>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.tick;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.tick = this.look().finally(() => this.schedule());
    }, this.options.tickMs);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    const { engine, logger, what } = this.options;
    if (!engine.isAvailable()) return;
    try {
      const refs = await this.options.due(DUE_BATCH);
      for (let i = 0; i < refs.length && this.running; i += PARALLEL) {
        await Promise.all(refs.slice(i, i + PARALLEL).map((ref) => this.flushOne(ref)));
      }
    } catch (err) {
      logger.warn(`${what} updates: looking for due updates failed`, { event: what, error: String(err) });
    }
  }

  private async flushOne(ref: LiveRef): Promise<void> {
    try {
      const outcome = await this.options.flush(ref);
      if (outcome.status !== "ok") return;
      // Handed to the adapter (its PUBLISH is on the wire) before the lease ends: updates go out in order.
      this.options.send(ref, outcome.update);
      await this.options.sent(ref, outcome.update);
    } catch (err) {
      this.options.logger.warn(`${this.options.what} update failed`, { event: this.options.what, tenant: ref.tenant, id: ref.id, error: String(err) });
    }
  }
}
