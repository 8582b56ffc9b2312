/**
 * A synced document (`client.sync(key)`): a local copy of one of the user's documents. Local
 * changes show at once and are pushed (queued while offline, stamped with the time they were
 * made); remote `sync:state` is applied when its clock is newer; `conflicts` lists the fields with
 * concurrent values (vector_clock). Pulled again after every reconnect.
 */
import type { ConflictStrategy, HybridClock, SyncClock, SyncDocument, SyncStateEvent, VectorClock } from "@switchboard/shared";
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";

export interface SyncEvents {
  /** The document changed (a local change, a push's answer, or another device's write). */
  change: (state: Record<string, unknown>, source: "local" | "remote") => void;
}

interface Pending {
  value: unknown;
  ts: number;
}

export class SyncDoc extends Emitter<SyncEvents> {
  /** The document as the server resolved it last. */
  private remote: Record<string, unknown> = {};
  /** Local changes not yet answered by a push (a `null` value deletes the field). */
  private readonly pending = new Map<string, Pending>();
  private pushing = false;
  /** vector_clock: what the device had seen when it made the pending changes (their causal past). */
  private base?: VectorClock;
  clock?: SyncClock;
  conflicts: string[] = [];
  strategy?: ConflictStrategy;
  /** Resolves after the first pull. */
  readonly ready: Promise<void>;

  constructor(
    private readonly client: Client,
    readonly key: string,
  ) {
    super();
    // Pulled once connected; from then on after every reconnect.
    this.ready = client.whenLive(() => this.restore()).then(
      () => void client.subs.add(this),
      (err: unknown) => client.report(err),
    );
  }

  /** The document: the server's, with local changes not yet pushed on top. */
  get state(): Record<string, unknown> {
    const state = { ...this.remote };
    for (const [field, { value }] of this.pending) {
      if (value === null) delete state[field];
      else state[field] = value;
    }
    return state;
  }

  get(field: string): unknown {
    return this.state[field];
  }

  /** Changes fields (`null` deletes one): shown at once, pushed now or after the reconnect. */
  set(fields: Record<string, unknown>): void {
    const ts = Date.now();
    if (this.pending.size === 0) this.base = { ...(this.clock as VectorClock | undefined) };
    for (const [field, value] of Object.entries(fields)) this.pending.set(field, { value, ts });
    this.emit("change", this.state, "local");
    this.push();
  }

  /** @internal Pulls the document (after each reconnect). */
  async restore(): Promise<void> {
    this.apply(await this.client.call("sync:pull", { key: this.key }), "remote");
  }

  /** @internal Another device's write, when newer than what is known. */
  receive(event: SyncStateEvent): void {
    this.apply(event, "remote");
  }

  /** Pushes every pending change in one `sync:push`; one push at a time. */
  private push(): void {
    if (this.pushing || this.pending.size === 0) return;
    this.pushing = true;
    let sent = new Map<string, Pending>();
    // The payload is made when the command leaves the queue, with everything pending then.
    const payload = (delayed: boolean) => {
      sent = new Map(this.pending);
      const state: Record<string, unknown> = {};
      let ts = 0;
      for (const [field, change] of sent) {
        state[field] = change.value;
        ts = Math.max(ts, change.ts);
      }
      // Online, the server stamps the change (it wins); one made or retried while offline keeps
      // its time, so a newer write of another device is not overwritten.
      const push: { key: string; state: Record<string, unknown>; ts?: number; clock?: VectorClock } = { key: this.key, state };
      if (delayed) push.ts = ts;
      if (this.strategy === "vector_clock") {
        // The clock of when the change was made (not of now: what arrived since, it has not seen),
        // with one more write of this device.
        const deviceId = this.client.deviceId ?? "";
        const own = Math.max(this.base?.[deviceId] ?? 0, (this.clock as VectorClock | undefined)?.[deviceId] ?? 0);
        push.clock = { ...this.base, [deviceId]: own + 1 };
      }
      return push;
    };
    this.client.request("sync:push", payload, { lane: `sync:${this.key}` }).then(
      (doc) => {
        for (const [field, change] of sent) if (this.pending.get(field) === change) this.pending.delete(field);
        this.apply(doc, "local");
      },
      (err: unknown) => {
        // Refused (too large, invalid): the change is dropped and the server's document shown.
        for (const [field, change] of sent) if (this.pending.get(field) === change) this.pending.delete(field);
        this.client.report(err);
        this.emit("change", this.state, "remote");
      },
    ).finally(() => {
      this.pushing = false;
      if (this.pending.size === 0) this.base = undefined;
      this.push();
    });
  }

  /** Takes a resolved document unless a newer one is known (answers and events may cross). */
  private apply(doc: SyncDocument, source: "local" | "remote"): void {
    if (this.clock && newer(this.clock, doc.clock)) return this.emit("change", this.state, source);
    this.remote = doc.state;
    this.conflicts = doc.conflicts ?? [];
    this.strategy = doc.strategy;
    this.clock = doc.strategy === "vector_clock" ? merge(this.clock as VectorClock | undefined, doc.clock as VectorClock) : doc.clock;
    this.emit("change", this.state, source);
  }
}

/** Whether clock `a` is strictly newer than `b` (lww: greater (wall, counter); vectors: dominates). */
function newer(a: SyncClock, b: SyncClock): boolean {
  if ("wall" in a && typeof (a as HybridClock).wall === "number") {
    const x = a as HybridClock;
    const y = b as HybridClock;
    return x.wall > y.wall || (x.wall === y.wall && x.counter > y.counter);
  }
  const x = a as VectorClock;
  const y = b as VectorClock;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  let greater = false;
  for (const k of keys) {
    if ((x[k] ?? 0) < (y[k] ?? 0)) return false;
    if ((x[k] ?? 0) > (y[k] ?? 0)) greater = true;
  }
  return greater;
}

function merge(a: VectorClock | undefined, b: VectorClock): VectorClock {
  const out = { ...a };
  for (const [k, n] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, n);
  return out;
}
