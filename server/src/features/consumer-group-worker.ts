/**
 * This node's consumer in a Redis consumer group (notification delivery, stream aggregation): the
 * feature says how to read, claim and touch; the worker says when.
 *   - A read loop, which waits while the engine is unavailable (or while the node owns all it may)
 *     and backs off after a failed read.
 *   - A touch every claimIdleMs/3: what this node owns never looks idle to another node.
 *   - A claim every claimIdleMs/2: entries idle for claimIdleMs lost their owner (it died), so this
 *     node takes them over.
 * stop() ends all three and waits for the read in progress. What the node still owns is the
 * feature's: it finishes it, or leaves it pending for another node to claim.
 */
import type { Engine } from "../engine";
import type { Logger } from "../observability/logger";

export interface ConsumerGroupWorkerOptions {
  engine: Engine;
  logger: Logger;
  /** The `event` field of the worker's log lines, and the warning for each failure. */
  log: { event: string; readFailed: string; claimFailed: string; touchFailed: string };
  /** How long an entry stays idle before another consumer may claim it. */
  claimIdleMs: number;
  /** The wait before looking again while the engine is unavailable or the node owns maxOwned. */
  pauseMs: number;
  /** The wait after every read; none by default (a blocking read waits by itself). */
  afterRead?(): Promise<void>;
  /** Reading pauses while the node owns this many; unbounded by default (the read bounds itself). */
  maxOwned?: number;
  /** How much this node owns now (in flight, held): at 0 there is nothing to touch. */
  owned(): number;
  /** Takes what is new for this node's consumer. */
  read(): Promise<void>;
  /** Takes over entries idle for claimIdleMs. */
  claim(): Promise<void>;
  /** Resets the idle time of everything this node owns. */
  touch(): Promise<void>;
  /** Called by stop() before it waits for the read in progress: work that waits can give up now. */
  stopping?(): void;
}

/** The back-off after a failed read. */
const READ_RETRY_MS = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class ConsumerGroupWorker {
  private active = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private loop?: Promise<void>;

  constructor(private readonly options: ConsumerGroupWorkerOptions) {}

  /** False once stop() was called: work in progress checks it to give up early. */
  get running(): boolean {
    return this.active;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    const { claimIdleMs } = this.options;
    this.timers.push(
      setInterval(() => void this.touch(), Math.max(50, Math.floor(claimIdleMs / 3))).unref(),
      setInterval(() => void this.claim(), Math.max(50, Math.floor(claimIdleMs / 2))).unref(),
    );
    this.loop = this.readForever();
  }

  async stop(): Promise<void> {
    this.active = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.options.stopping?.();
    await this.loop;
  }

  private async readForever(): Promise<void> {
    const { engine, logger, log, pauseMs, maxOwned = Infinity } = this.options;
    while (this.active) {
      if (!engine.isAvailable() || this.options.owned() >= maxOwned) {
        await sleep(pauseMs);
        continue;
      }
      try {
        await this.options.read();
      } catch (err) {
        if (!this.active) break;
        logger.warn(log.readFailed, { event: log.event, error: String(err) });
        await sleep(READ_RETRY_MS);
      }
      await this.options.afterRead?.();
    }
  }

  private async claim(): Promise<void> {
    const { engine, logger, log } = this.options;
    if (!this.active || !engine.isAvailable()) return;
    try {
      await this.options.claim();
    } catch (err) {
      logger.warn(log.claimFailed, { event: log.event, error: String(err) });
    }
  }

  private async touch(): Promise<void> {
    const { engine, logger, log } = this.options;
    if (!this.active || this.options.owned() === 0 || !engine.isAvailable()) return;
    try {
      await this.options.touch();
    } catch (err) {
      logger.warn(log.touchFailed, { event: log.event, error: String(err) });
    }
  }
}
