/**
 * Collaborative documents for the memory engine: the Redis engine's semantics (version check,
 * clientOpId, snapshots with log trimming, room documents expiring with their room) in-process.
 * The version check and the append run without an await in between, so they are one step.
 */
import { compositeKey, parseDocId, type DocOpEntry, type DocOpEvent, type DocScope, type DocType, type SocketRooms } from "@switchboard/shared";
import type { AppServer } from "../../io";
import type { DocAppendOutcome, DocAppendRequest, DocCreateOutcome, DocRead, DocStore } from "../types";

/** What the store needs of the memory rooms and workspaces. */
export interface MemoryDocScopes {
  /** Whether the room or workspace exists and, with `userId`, has them as a member. */
  check(tenant: string, scope: DocScope, userId: string | undefined): Promise<"ok" | "missing" | "forbidden">;
  /** A write to a room document keeps the room alive, as a publish does. */
  touch(tenant: string, scope: DocScope, idleTtlS: number): void;
}

interface StoredDoc {
  type: DocType;
  version: number;
  logStart: number;
  snapshotVersion: number;
  /** JSON text; undefined: the type's empty document. */
  snapshot?: string;
  /** JSON of the entries logStart+1 … version (without their version). */
  log: string[];
  /** ms since the epoch; Infinity: never. */
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

export class MemoryDocStore implements DocStore {
  private readonly docs = new Map<string, StoredDoc>();
  private readonly once = new Map<string, { version: number; expiresAt: number }>();
  private readonly scopeDocs = new Map<string, Set<string>>();
  private sockets?: { io: AppServer; rooms: SocketRooms };
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  constructor(private readonly scopes: MemoryDocScopes) {}

  attach(io: AppServer, rooms: SocketRooms): void {
    this.sockets = { io, rooms };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  async create(request: { tenant: string; docId: string; type: DocType; memberRequired?: string; idleTtlS: number }): Promise<DocCreateOutcome> {
    const { tenant, docId } = request;
    const { scope } = parseDocId(docId)!;
    const exists = (await this.scopes.check(tenant, scope, undefined)) === "ok";
    if (!exists) return { status: "missing" };
    const existing = this.doc(tenant, docId);
    if (existing) return { status: "exists", type: existing.type };
    if ((await this.scopes.check(tenant, scope, request.memberRequired)) !== "ok") return { status: "forbidden" };
    // No await from here: another create or append may have come first.
    if (this.doc(tenant, docId)) return { status: "exists", type: this.doc(tenant, docId)!.type };
    this.insert(tenant, docId, request.type, request.idleTtlS);
    return { status: "created" };
  }

  async read(tenant: string, docId: string, from?: number): Promise<DocRead | undefined> {
    const doc = this.doc(tenant, docId);
    if (!doc) return undefined;
    const at = from ?? -1;
    if (at >= doc.logStart && at <= doc.version) {
      return { kind: "ops", type: doc.type, version: doc.version, entries: entriesAfter(doc, at) };
    }
    const snapshot = doc.snapshot === undefined ? undefined : (JSON.parse(doc.snapshot) as unknown);
    return { kind: "snapshot", type: doc.type, version: doc.version, snapshotVersion: doc.snapshotVersion, snapshot, entries: entriesAfter(doc, doc.snapshotVersion) };
  }

  async append(request: DocAppendRequest): Promise<DocAppendOutcome> {
    const { tenant, docId } = request;
    const { scope } = parseDocId(docId)!;
    if ((await this.scopes.check(tenant, scope, undefined)) !== "ok") return { status: "missing" };
    for (const [index, op] of request.ops.entries()) {
      if (op.memberRequired !== undefined && (await this.scopes.check(tenant, scope, op.memberRequired)) !== "ok") return { status: "forbidden", index };
    }

    // From here on, no await: the checks and the append are one step.
    const now = Date.now();
    const onceKeys = request.ops.map(({ entry }) => (entry.clientOpId === undefined ? undefined : compositeKey(tenant, docId, entry.from.userId, entry.clientOpId)));
    for (const [index, onceKey] of onceKeys.entries()) {
      const prior = onceKey === undefined ? undefined : this.once.get(onceKey);
      if (prior && prior.expiresAt > now) return { status: "duplicate", index, version: prior.version };
    }
    let doc = this.doc(tenant, docId);
    if (doc && doc.type !== request.type) return { status: "type", type: doc.type };
    const version = doc?.version ?? 0;
    if (request.version !== version) {
      if (!doc || request.version < doc.logStart || request.version > version) return { status: "stale", version };
      return { status: "conflict", version, entries: entriesAfter(doc, request.version) };
    }
    doc ??= this.insert(tenant, docId, request.type, 0);
    const events: DocOpEvent[] = [];
    for (const [i, { entry }] of request.ops.entries()) {
      doc.version += 1;
      doc.log.push(JSON.stringify(entry));
      const onceKey = onceKeys[i];
      if (onceKey !== undefined) this.once.set(onceKey, { version: doc.version, expiresAt: now + request.onceTtlS * 1000 });
      events.push({ docId, version: doc.version, ...(JSON.parse(JSON.stringify(entry)) as Omit<DocOpEntry, "version">) });
    }
    if (request.snapshot !== undefined) {
      doc.snapshot = JSON.stringify(request.snapshot.content);
      doc.snapshotVersion = request.snapshot.version;
      const keepFrom = Math.max(doc.logStart, Math.min(doc.snapshotVersion, doc.version - request.logKeep));
      doc.log.splice(0, keepFrom - doc.logStart);
      doc.logStart = keepFrom;
    }
    if (request.idleTtlS > 0) {
      doc.expiresAt = now + request.idleTtlS * 1000;
      this.scopes.touch(tenant, scope, request.idleTtlS);
    }

    const { sockets } = this;
    if (sockets) {
      const room = sockets.rooms.doc(tenant, docId);
      events.forEach((event, i) => {
        const except = request.ops[i]!.exceptSocket;
        const target = sockets.io.to(room);
        (except ? target.except(except) : target).emit("doc:op", event);
      });
    }
    return { status: "appended", version: doc.version };
  }

  async opVersion(tenant: string, docId: string, userId: string, clientOpId: string): Promise<number | undefined> {
    const found = this.once.get(compositeKey(tenant, docId, userId, clientOpId));
    return found && found.expiresAt > Date.now() ? found.version : undefined;
  }

  async list(tenant: string, scope: DocScope): Promise<string[]> {
    const ids = [...(this.scopeDocs.get(key(tenant, `${scope.kind}:${scope.id}`)) ?? [])];
    return ids.filter((id) => this.doc(tenant, id) !== undefined).sort();
  }

  /** A new empty document, listed in its scope's index. */
  private insert(tenant: string, docId: string, type: DocType, idleTtlS: number): StoredDoc {
    const { scope } = parseDocId(docId)!;
    const doc: StoredDoc = { type, version: 0, logStart: 0, snapshotVersion: 0, log: [], expiresAt: idleTtlS > 0 ? Date.now() + idleTtlS * 1000 : Infinity };
    this.docs.set(key(tenant, docId), doc);
    const scopeKey = key(tenant, `${scope.kind}:${scope.id}`);
    this.scopeDocs.set(scopeKey, (this.scopeDocs.get(scopeKey) ?? new Set()).add(docId));
    return doc;
  }

  private doc(tenant: string, docId: string): StoredDoc | undefined {
    const k = key(tenant, docId);
    const doc = this.docs.get(k);
    if (doc && doc.expiresAt <= Date.now()) {
      this.docs.delete(k);
      return undefined;
    }
    return doc;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, doc] of this.docs) if (doc.expiresAt <= now) this.docs.delete(k);
    for (const [k, entry] of this.once) if (entry.expiresAt <= now) this.once.delete(k);
    for (const [k, ids] of this.scopeDocs) {
      const tenant = k.slice(0, k.indexOf("|"));
      for (const id of ids) if (!this.docs.has(key(tenant, id))) ids.delete(id);
      if (ids.size === 0) this.scopeDocs.delete(k);
    }
  }
}

function entriesAfter(doc: StoredDoc, after: number): DocOpEntry[] {
  return doc.log.slice(after - doc.logStart).map((json, i) => ({ version: after + i + 1, ...(JSON.parse(json) as Omit<DocOpEntry, "version">) }));
}

const key = (tenant: string, id: string) => compositeKey(tenant, id);
