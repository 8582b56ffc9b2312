/**
 * Synced documents of one node, resolved by the same rules the Redis script follows. Pushes run
 * synchronously between awaits, so each is atomic like the script.
 */
import type { ConflictStrategy, SyncDocument } from "@switchboard/shared";
import { applyWrite, emptyDoc, prepareWrite, toOutcome, viewOf, type AppliedSyncPush, type StoredSyncDoc } from "@switchboard/store";
import type { SyncPush, SyncPushOutcome, SyncStore } from "../types";

/** How often expired documents are dropped (reads also skip them at once). */
const SWEEP_INTERVAL_MS = 60_000;

interface Entry {
  doc: StoredSyncDoc;
  expiresAt: number;
}

export class MemorySyncStore implements SyncStore {
  private readonly docs = new Map<string, Entry>();
  private sweeper?: NodeJS.Timeout;

  async push(push: SyncPush): Promise<SyncPushOutcome> {
    return this.apply(push).outcome;
  }

  /** Runs a push and tells what was stored and by which clock. */
  apply(push: SyncPush): AppliedSyncPush {
    const now = Date.now();
    const id = docId(push.tenant, push.userId, push.key);
    const result = applyWrite(this.live(id, now) ?? emptyDoc(), prepareWrite(push), push.strategy, now, push.maxBytes);
    if (result.status === "ok") {
      this.docs.set(id, { doc: result.doc, expiresAt: now + push.ttlS * 1000 });
      this.sweepLater();
      return { outcome: toOutcome(result, push.strategy, push.maxBytes), doc: result.doc, now };
    }
    return { outcome: toOutcome(result, push.strategy, push.maxBytes), now };
  }

  async get(tenant: string, userId: string, key: string, strategy: ConflictStrategy): Promise<SyncDocument> {
    return viewOf(this.live(docId(tenant, userId, key), Date.now()) ?? emptyDoc(), strategy);
  }

  private live(id: string, now: number): StoredSyncDoc | undefined {
    const entry = this.docs.get(id);
    if (entry && entry.expiresAt <= now) {
      this.docs.delete(id);
      return undefined;
    }
    return entry?.doc;
  }

  /** An unref'd timer while documents exist, so an idle store holds no timer and no process open. */
  private sweepLater(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, entry] of this.docs) if (entry.expiresAt <= now) this.docs.delete(id);
      if (this.docs.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, SWEEP_INTERVAL_MS).unref();
  }
}

const docId = (tenant: string, userId: string, key: string): string => JSON.stringify([tenant, userId, key]);
