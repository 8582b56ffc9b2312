/**
 * Calls that arrive together, made as one. What a process asks for in one turn — the packets of
 * one read from a socket, each handled up to its store call by promise callbacks — is grouped by
 * key, and each group is handed to `run` once that turn's promise callbacks are done
 * (process.nextTick), in the order the calls came. A group that reaches `maxSize` is handed over
 * at once and a new one begins, so `run` sees the groups of one key in order.
 *
 * `schedule` may wait longer than process.nextTick: a node groups the handshakes of every socket
 * it read in one turn of its event loop (each read is a callback of its own) by handing over just
 * before the turn's writes leave (connections/turn-writes.ts).
 *
 * Each call gets its own answer, `run`'s answer at its index; when `run` fails, every call of the
 * group fails with that error.
 */
interface Waiter<R> {
  resolve(value: R): void;
  reject(err: unknown): void;
}

interface Batch<T, R> {
  items: T[];
  waiters: Waiter<R>[];
}

/** When a batch's calls of this turn are handed over by default: once its promise callbacks are done. */
export const afterThisTick = (flush: () => void): void => process.nextTick(flush);

export class TurnBatches<T, R> {
  private pending = new Map<string, Batch<T, R>>();
  private scheduled = false;
  /** Callers of settled() waiting for the groups of this turn to be handed over. */
  private flushWaiters: (() => void)[] = [];
  /** The groups handed to `run` and not answered yet. */
  private readonly running = new Set<Promise<void>>();

  constructor(
    /** Does the group's work: one answer per item, in the items' order. */
    private readonly run: (key: string, items: readonly T[]) => Promise<readonly R[]>,
    private readonly maxSize: number,
    /** Calls `flush` once the calls of this turn are made; it may not call it synchronously. */
    private readonly schedule: (flush: () => void) => void = afterThisTick,
  ) {}

  add(key: string, item: T): Promise<R> {
    const batch = this.pending.get(key) ?? this.begin(key);
    const answer = new Promise<R>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    batch.items.push(item);
    if (batch.items.length >= this.maxSize) {
      this.pending.delete(key);
      this.dispatch(key, batch);
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flush);
    }
    return answer;
  }

  /** Resolves once every call made so far has its answer (or its error). */
  async settled(): Promise<void> {
    // The groups still waiting for the turn leave at its end.
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
    await Promise.all([...this.running]);
  }

  /** Hands the groups waiting for the end of the turn to `run` now (what must go before another batch's). */
  handOver(): void {
    this.flush();
  }

  private begin(key: string): Batch<T, R> {
    const batch: Batch<T, R> = { items: [], waiters: [] };
    this.pending.set(key, batch);
    return batch;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    for (const [key, batch] of groups) this.dispatch(key, batch);
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  };

  private dispatch(key: string, { items, waiters }: Batch<T, R>): void {
    let running: Promise<readonly R[]>;
    try {
      running = this.run(key, items);
    } catch (err) {
      running = Promise.reject(err);
    }
    const answered = running.then(
      (answers) => {
        for (let i = 0; i < waiters.length; i++) {
          if (i < answers.length) waiters[i]!.resolve(answers[i]!);
          else waiters[i]!.reject(new Error(`a batch of ${items.length} got ${answers.length} answers`));
        }
      },
      (err: unknown) => {
        for (const waiter of waiters) waiter.reject(err);
      },
    );
    this.running.add(answered);
    void answered.finally(() => this.running.delete(answered));
  }
}
