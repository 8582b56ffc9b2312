/**
 * Collaborative documents: who may open and edit (the document's room or workspace decides), and
 * the server's authority over the history. The right to edit is checked before an op is looked at;
 * then an op made against an older version is checked against the limits, transformed against the
 * ops since (ot-text-unicode, ot-json1) and applied (normalize and commitOp of @switchboard/shared,
 * which bound every count an op carries), and appended by the store's atomic version check (which
 * checks membership again); when another node appended first, the op is transformed again and
 * retried. The ops a node receives for one document while it is busy with it are committed
 * together (one store round trip). Socket commands, REST routes and cursors all go through here.
 */
import {
  AppError,
  CURSOR_MAX_BYTES,
  commitOp,
  DOC_APPEND_ATTEMPTS,
  DOC_LOG_KEEP,
  DOC_ONCE_TTL_S,
  DOC_OPEN_MAX,
  DOC_OT,
  DOC_SNAPSHOT_EVERY,
  docRoom,
  jsonBytes,
  moveSelection,
  parseDocId,
  tenantRoom,
  type DocCursorPayload,
  type DocOpEntry,
  type DocOpenPayload,
  type DocOpenResult,
  type DocOpResult,
  type DocScope,
  type DocSelection,
  type DocSnapshot,
  type DocSubmit,
  type DocType,
  type MessageSender,
  type ParsedDocId,
} from "@switchboard/shared";
import type { Server } from "socket.io";
import { isPrivileged, type Actor } from "../../auth/actor";
import type { AppSocket } from "../../commands";
import type { Config } from "../../config";
import { subscribe } from "../../connections/subscriptions";
import type { DocAppendOp, DocAppendRequest, Engine } from "../../engine";
import type { Metrics } from "../../observability/metrics";
import { DocState } from "./state";

/** Documents a node keeps a working copy of (least recently used ones are dropped). */
export const DOC_CACHE_MAX = 256;

export interface DocServiceDeps {
  config: Config;
  engine: Engine;
  io: Server;
  metrics: Metrics;
}

export interface SubmitOptions {
  /** The type a document that does not exist yet is created with (default `text`). */
  type?: DocType;
  /** The submitting socket: it gets the ack, not a `doc:op`. */
  exceptSocket?: string;
}

/** Ops of one document a node appends in one step at most. */
export const DOC_BATCH_MAX = 64;

/** An op waiting for its document's next commit on this node. */
interface PendingOp {
  actor: Actor;
  input: DocSubmit;
  options: SubmitOptions;
  /** The document's type, once known (for the metric). */
  type: DocType;
  /** The op in its type's normal form. */
  op?: unknown;
  /** The log's entries after `input.version`, up to the node's copy. */
  since?: DocOpEntry[];
  done: boolean;
  /** Settle once (later calls do nothing). */
  resolve(result: DocOpResult): void;
  reject(err: unknown): void;
}

/** The entries after a version, or why there are none: `stale` (trimmed from the log), `ahead` (beyond the document). */
type Since = DocOpEntry[] | "stale" | "ahead";

export class DocService {
  private readonly cache = new Map<string, DocState>();
  /** Per document, the tail of the work queued on it: a node does one thing with a document at a time (a commit, a read). */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per document, the ops waiting for the node's next commit of it. */
  private readonly waiting = new Map<string, PendingOp[]>();
  /** The documents each socket opened, with their type (a document nobody wrote yet has none stored). */
  private readonly opened = new WeakMap<AppSocket, Map<string, DocType>>();

  constructor(private readonly deps: DocServiceDeps) {}

  socketRoom(tenant: string, docId: string): string {
    return tenantRoom(tenant, docRoom(docId));
  }

  /**
   * Subscribes a socket, then reads, so no op falls between the answer and the first `doc:op`.
   * With `version`, answers the ops since when the log still holds them, else the snapshot.
   */
  async open(actor: Actor, socket: AppSocket, payload: DocOpenPayload): Promise<DocOpenResult> {
    const { docId } = payload;
    await this.assertReadable(actor, parse(docId).scope);
    const opened = this.openedBy(socket);
    const reopening = opened.has(docId);
    if (!reopening && opened.size >= DOC_OPEN_MAX) {
      throw new AppError("VALIDATION_FAILED", `a connection has at most ${DOC_OPEN_MAX} documents open`, { limit: DOC_OPEN_MAX });
    }
    const room = this.socketRoom(actor.tenant, docId);
    await subscribe(socket, room, this.deps.config.maxSubscriptionsPerSocket);
    try {
      return await this.exclusive(actor.tenant, docId, async () => {
        const state = (await this.load(actor.tenant, docId, true)) ?? (await this.create(actor, docId, payload.type ?? "text"));
        if (!state) {
          // A reader (not a member of the public room) opening a document nobody created yet.
          const type = payload.type ?? "text";
          opened.set(docId, type);
          if (payload.version === 0) return { docId, type, version: 0, ops: [] };
          return { docId, type, version: 0, snapshot: DOC_OT[type].create() };
        }
        if (payload.type !== undefined && payload.type !== state.type) throw typeConflict(docId, state.type);
        opened.set(docId, state.type);
        if (payload.version !== undefined) {
          const since = await this.entriesSince(actor.tenant, docId, state, payload.version);
          if (Array.isArray(since)) return { docId, type: state.type, version: state.version, ops: since };
        }
        return { docId, type: state.type, version: state.version, snapshot: state.head };
      });
    } catch (err) {
      if (!reopening) {
        opened.delete(docId);
        await socket.leave(room);
      }
      throw err;
    }
  }

  async close(actor: Actor, socket: AppSocket, docId: string): Promise<void> {
    this.openedBy(socket).delete(docId);
    await socket.leave(this.socketRoom(actor.tenant, docId));
  }

  /** The type of a document this socket opened, or undefined. */
  openedType(socket: AppSocket, docId: string): DocType | undefined {
    return socket.rooms.has(this.socketRoom(socket.data.tenant, docId)) ? this.opened.get(socket)?.get(docId) : undefined;
  }

  /** The latest snapshot (REST). */
  async snapshot(actor: Actor, docId: string): Promise<DocSnapshot> {
    await this.assertReadable(actor, parse(docId).scope);
    const state = await this.exclusive(actor.tenant, docId, () => this.load(actor.tenant, docId, true));
    if (!state) throw new AppError("NOT_FOUND", `document ${docId} does not exist`);
    return { docId, type: state.type, version: state.version, snapshot: state.head };
  }

  /**
   * Accepts an op made against `input.version` from a member of the room or workspace, or a
   * service: transformed against the ops since, applied, appended atomically, delivered as
   * `doc:op`. The ops a node receives for one document while it commits are committed together next.
   */
  async submit(actor: Actor, docId: string, input: DocSubmit, options: SubmitOptions = {}): Promise<DocOpResult> {
    const { metrics } = this.deps;
    // Nobody who may not edit the document gets any work done on their op.
    try {
      await this.assertWritable(actor, parse(docId).scope);
    } catch (err) {
      metrics.docOps.inc({ type: options.type ?? "text", outcome: err instanceof AppError ? err.code : "INTERNAL" });
      throw err;
    }
    return new Promise<DocOpResult>((resolve, reject) => {
      const item: PendingOp = {
        actor,
        input,
        options,
        type: options.type ?? "text",
        done: false,
        resolve: (result) => {
          if (item.done) return;
          item.done = true;
          metrics.docOps.inc({ type: item.type, outcome: result.duplicate ? "duplicate" : "applied" });
          resolve(result);
        },
        reject: (err) => {
          if (item.done) return;
          item.done = true;
          metrics.docOps.inc({ type: item.type, outcome: err instanceof AppError ? err.code : "INTERNAL" });
          reject(err);
        },
      };
      const key = cacheKey(actor.tenant, docId);
      const queue = this.waiting.get(key);
      if (queue) return void queue.push(item);
      this.waiting.set(key, [item]);
      void this.exclusive(actor.tenant, docId, () => this.commitWaiting(actor.tenant, docId));
    });
  }

  /** Counts an op refused before it reached the service (rate limit). */
  refused(type: DocType, code: string): void {
    this.deps.metrics.docOps.inc({ type, outcome: code });
  }

  /**
   * A subscriber's selection at `version`, moved through the ops since to the latest version,
   * for the document's other sockets.
   */
  async cursor(actor: Actor, payload: DocCursorPayload, type: DocType): Promise<{ selection: DocSelection | null; version: number }> {
    checkSelection(payload.selection, type);
    return this.exclusive(actor.tenant, payload.docId, async () => {
      const state = (await this.load(actor.tenant, payload.docId, true)) ?? DocState.empty(type);
      const since = await this.entriesSince(actor.tenant, payload.docId, state, payload.version);
      if (!Array.isArray(since)) throw versionError(payload.version, state.version, since);
      return { selection: moveSelection(state.type, payload.selection, state.head, since), version: state.version };
    });
  }

  /** Commits the ops waiting on a document (at most DOC_BATCH_MAX; the rest get a turn of their own). */
  private async commitWaiting(tenant: string, docId: string): Promise<void> {
    const batch: PendingOp[] = [];
    // Whatever is left beyond one batch gets a turn of its own (unless a retry takes it first).
    if (this.takeWaiting(tenant, docId, batch)) void this.exclusive(tenant, docId, () => this.commitWaiting(tenant, docId));
    if (batch.length === 0) return;
    try {
      await this.commit(tenant, docId, batch);
    } catch (err) {
      for (const item of batch) item.reject(err);
    }
    for (const item of batch) item.reject(new AppError("UNAVAILABLE", `document ${docId} is too busy right now; retry`));
  }

  /**
   * Transforms each op past the ops since its version and past the ops before it in the batch,
   * applies them in order and appends them in one atomic step; when another writer appended
   * first, catches up and does it again. Settles every op it can.
   */
  private async commit(tenant: string, docId: string, batch: PendingOp[]): Promise<void> {
    const { config, engine, metrics } = this.deps;
    const { scope } = parse(docId);
    let state = (await this.load(tenant, docId, false)) ?? DocState.empty(batch[0]!.options.type ?? "text");
    for (let attempt = 0; attempt < DOC_APPEND_ATTEMPTS; attempt++) {
      // A retry takes along the ops that arrived meanwhile: one append for all of them.
      if (attempt > 0) this.takeWaiting(tenant, docId, batch);
      const ot = DOC_OT[state.type];
      for (const item of batch) {
        if (item.done) continue;
        item.type = state.type;
        if (item.options.type !== undefined && item.options.type !== state.type) {
          item.reject(typeConflict(docId, state.type));
          continue;
        }
        try {
          item.op = ot.normalize(item.input.op);
        } catch (err) {
          item.reject(refusal(err, `invalid ${state.type} op`));
        }
      }
      const live = batch.filter((item) => !item.done);
      if (live.length === 0) return;
      if (!(await this.cover(tenant, docId, state, live))) continue;

      const ops: DocAppendOp[] = [];
      const chain: DocOpEntry[] = [];
      const heads: unknown[] = [];
      const included: PendingOp[] = [];
      const onceIds = new Set<string>();
      let head = state.head;
      let snapshot: DocAppendRequest["snapshot"];
      for (const item of live) {
        if (item.done) continue;
        const { clientOpId } = item.input;
        if (clientOpId !== undefined) {
          // A resend of an op of this batch waits for the next round, where it is a duplicate.
          const once = `${item.actor.userId}|${clientOpId}`;
          if (onceIds.has(once)) continue;
          onceIds.add(once);
        }
        let moved: unknown;
        let next: unknown;
        try {
          ({ op: moved, doc: next } = commitOp(state.type, head, item.op, [...item.since!, ...chain]));
        } catch (err) {
          item.reject(refusal(err, `the op does not apply to version ${item.input.version}`));
          continue;
        }
        const version = state.version + chain.length + 1;
        const entry: Omit<DocOpEntry, "version"> = { op: moved, from: sender(item.actor), ...(clientOpId === undefined ? {} : { clientOpId }), ts: Date.now() };
        chain.push({ version, ...entry });
        heads.push(next);
        included.push(item);
        ops.push({ entry, memberRequired: isPrivileged(item.actor) ? undefined : item.actor.userId, exceptSocket: item.options.exceptSocket });
        head = next;
        if (snapshot === undefined && version % DOC_SNAPSHOT_EVERY === 0) snapshot = { version, content: next };
      }
      if (ops.length === 0) continue;

      const outcome = await engine.docs.append({
        tenant,
        docId,
        type: state.type,
        version: state.version,
        ops,
        snapshot,
        logKeep: DOC_LOG_KEEP,
        onceTtlS: DOC_ONCE_TTL_S,
        idleTtlS: scope.kind === "room" ? config.roomIdleTtlS : 0,
      });
      switch (outcome.status) {
        case "appended":
          chain.forEach((entry, i) => state.advance(entry, heads[i]));
          this.remember(tenant, docId, state);
          included.forEach((item, i) => item.resolve({ version: chain[i]!.version }));
          break;
        case "duplicate":
          included[outcome.index]!.resolve({ version: outcome.version, duplicate: true });
          break;
        case "forbidden":
          included[outcome.index]!.reject(new AppError("FORBIDDEN", `only members of ${scope.kind} ${scope.id} edit its documents`));
          break;
        case "conflict":
          // Another writer went first: catch up, and move the ops past its ops too.
          metrics.docAppendRetries.inc({ type: state.type });
          state.absorb(outcome.entries);
          this.remember(tenant, docId, state);
          break;
        case "stale":
          // This copy is out of step with the store (the document expired, or was trimmed past it).
          metrics.docAppendRetries.inc({ type: state.type });
          this.cache.delete(cacheKey(tenant, docId));
          state = (await this.load(tenant, docId, false)) ?? DocState.empty(state.type);
          break;
        case "type":
          for (const item of live) item.reject(typeConflict(docId, outcome.type));
          return;
        case "missing":
          for (const item of live) item.reject(new AppError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`));
          return;
      }
    }
  }

  /** Moves waiting ops of the document into `batch` (up to DOC_BATCH_MAX open ones); true when some are left waiting. */
  private takeWaiting(tenant: string, docId: string, batch: PendingOp[]): boolean {
    const key = cacheKey(tenant, docId);
    const queue = this.waiting.get(key);
    if (!queue) return false;
    const room = DOC_BATCH_MAX - batch.filter((item) => !item.done).length;
    if (room > 0) batch.push(...queue.splice(0, room));
    if (queue.length > 0) return true;
    this.waiting.delete(key);
    return false;
  }

  /**
   * Gives each op the log's entries after its version, up to this copy's version (catching the
   * copy up from the store when an op is older than the copy holds, or newer than it knows);
   * settles the ops that cannot be transformed (a resend answers its first version). False when
   * the copy kept moving (try again).
   */
  private async cover(tenant: string, docId: string, state: DocState, items: PendingOp[]): Promise<boolean> {
    for (let round = 0; round < 4; round++) {
      const before = state.version;
      for (const item of items) {
        if (item.done) continue;
        const since = await this.entriesSince(tenant, docId, state, item.input.version);
        if (Array.isArray(since)) {
          item.since = since;
          continue;
        }
        const prior = await this.priorVersion(item.actor, docId, item.input.clientOpId);
        if (prior !== undefined) item.resolve({ version: prior, duplicate: true });
        else item.reject(versionError(item.input.version, state.version, since));
      }
      if (state.version === before) return true;
    }
    return false;
  }

  /**
   * Creates the document for someone who may edit it (so the scope's index names it, and a member
   * removed later is unsubscribed from it); undefined for a reader who may not.
   */
  private async create(actor: Actor, docId: string, type: DocType): Promise<DocState | undefined> {
    const { scope } = parse(docId);
    const outcome = await this.deps.engine.docs.create({
      tenant: actor.tenant,
      docId,
      type,
      memberRequired: isPrivileged(actor) ? undefined : actor.userId,
      idleTtlS: scope.kind === "room" ? this.deps.config.roomIdleTtlS : 0,
    });
    switch (outcome.status) {
      case "created":
        return this.remember(actor.tenant, docId, DocState.empty(type));
      case "exists":
        return this.load(actor.tenant, docId, true);
      case "forbidden":
        return undefined;
      case "missing":
        throw new AppError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`);
    }
  }

  private async priorVersion(actor: Actor, docId: string, clientOpId: string | undefined): Promise<number | undefined> {
    return clientOpId === undefined ? undefined : this.deps.engine.docs.opVersion(actor.tenant, docId, actor.userId, clientOpId);
  }

  /** The entries after `version`, from this copy or else the store (catching this copy up). */
  private async entriesSince(tenant: string, docId: string, state: DocState, version: number): Promise<Since> {
    if (version > state.version) {
      const read = await this.deps.engine.docs.read(tenant, docId, state.version);
      if (read) state.catchUp(read);
      if (version > state.version) return "ahead";
    }
    const held = state.entriesAfter(version);
    if (held) return held;
    const read = await this.deps.engine.docs.read(tenant, docId, version);
    if (!read || read.kind === "snapshot" || read.type !== state.type) return "stale";
    state.absorb(read.entries);
    return read.entries.filter((e) => e.version <= state.version);
  }

  /** The node's copy of a document, caught up with the store when `refresh`; undefined: no document. */
  private async load(tenant: string, docId: string, refresh: boolean): Promise<DocState | undefined> {
    const key = cacheKey(tenant, docId);
    const cached = this.cache.get(key);
    if (cached && !refresh) return this.remember(tenant, docId, cached);
    const read = await this.deps.engine.docs.read(tenant, docId, cached?.version);
    if (!read) {
      this.cache.delete(key);
      return undefined;
    }
    if (cached?.catchUp(read)) return this.remember(tenant, docId, cached);
    const full = read.kind === "snapshot" ? read : await this.deps.engine.docs.read(tenant, docId);
    if (full?.kind !== "snapshot") return undefined;
    return this.remember(tenant, docId, DocState.fromSnapshot(full));
  }

  private remember(tenant: string, docId: string, state: DocState): DocState {
    const key = cacheKey(tenant, docId);
    this.cache.delete(key);
    this.cache.set(key, state);
    while (this.cache.size > DOC_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    return state;
  }

  /** Runs `work` after the work already queued on the document (on this node). */
  private async exclusive<T>(tenant: string, docId: string, work: () => Promise<T>): Promise<T> {
    const key = cacheKey(tenant, docId);
    const run = (this.queues.get(key) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }

  /**
   * Room and workspace documents: members edit (the append checks it again, atomically), services
   * edit any that exist. One store read when the check passes; a refusal tells a missing scope
   * (NOT_FOUND) from a non-member (FORBIDDEN).
   */
  private async assertWritable(actor: Actor, scope: DocScope): Promise<void> {
    const { engine } = this.deps;
    const exists = () => (scope.kind === "room" ? engine.rooms.get(actor.tenant, scope.id) : engine.workspaces.get(actor.tenant, scope.id));
    if (isPrivileged(actor)) {
      if (!(await exists())) throw new AppError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`);
      return;
    }
    const member = scope.kind === "room" ? (await engine.rooms.member(actor.tenant, scope.id, actor.userId)) !== undefined : await engine.workspaces.isMember(actor.tenant, scope.id, actor.userId);
    if (member) return;
    if (!(await exists())) throw new AppError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`);
    throw new AppError("FORBIDDEN", `only members of ${scope.kind} ${scope.id} edit its documents`);
  }

  /** A room document: anyone who may read the room (public, or a member); a workspace document: members. Services always. */
  private async assertReadable(actor: Actor, scope: DocScope): Promise<void> {
    const { engine } = this.deps;
    if (scope.kind === "room") {
      const room = await engine.rooms.get(actor.tenant, scope.id);
      if (!room) throw new AppError("NOT_FOUND", `room ${scope.id} does not exist`);
      if (room.visibility === "private" && !isPrivileged(actor) && !(await engine.rooms.member(actor.tenant, scope.id, actor.userId))) {
        throw new AppError("FORBIDDEN", `room ${scope.id} is private`);
      }
      return;
    }
    if (!(await engine.workspaces.get(actor.tenant, scope.id))) throw new AppError("NOT_FOUND", `workspace ${scope.id} does not exist`);
    if (!isPrivileged(actor) && !(await engine.workspaces.isMember(actor.tenant, scope.id, actor.userId))) {
      throw new AppError("FORBIDDEN", `only members of workspace ${scope.id} open its documents`);
    }
  }

  private openedBy(socket: AppSocket): Map<string, DocType> {
    let opened = this.opened.get(socket);
    if (!opened) this.opened.set(socket, (opened = new Map()));
    return opened;
  }
}

/** A selection of the document's type, at most CURSOR_MAX_BYTES. */
export function checkSelection(selection: DocSelection, type: DocType): void {
  const size = jsonBytes(selection);
  if (size > CURSOR_MAX_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", `a selection is at most ${CURSOR_MAX_BYTES} bytes`, { size, limit: CURSOR_MAX_BYTES });
  if (!DOC_OT[type].isSelection(selection)) {
    const shape = type === "text" ? "a position or [anchor, head] (Unicode code points)" : "a path (array of keys and indexes)";
    throw new AppError("VALIDATION_FAILED", `the selection of a ${type} document is ${shape}`);
  }
}

/** An op refused by the OT layer: its limit's code (VALIDATION_FAILED, PAYLOAD_TOO_LARGE), or VALIDATION_FAILED for a library's own error. */
function refusal(err: unknown, context: string): AppError {
  if (err instanceof AppError) return new AppError(err.code, `${context}: ${err.message}`, err.details);
  return new AppError("VALIDATION_FAILED", `${context}: ${(err as Error).message}`);
}

function parse(docId: string): ParsedDocId {
  const parsed = parseDocId(docId);
  if (!parsed) throw new AppError("VALIDATION_FAILED", `${JSON.stringify(docId)} is not a document id`);
  return parsed;
}

function sender(actor: Actor): MessageSender {
  const from: MessageSender = { userId: actor.userId };
  if (actor.deviceId !== undefined) from.deviceId = actor.deviceId;
  if (actor.name !== undefined) from.name = actor.name;
  return from;
}

function typeConflict(docId: string, type: DocType): AppError {
  return new AppError("CONFLICT", `document ${docId} is a ${type} document`, { type });
}

function versionError(asked: number, current: number, why: "stale" | "ahead"): AppError {
  return why === "ahead"
    ? new AppError("CONFLICT", `version ${asked} is ahead of the document (version ${current}); open it again`, { version: current, reason: "ahead" })
    : new AppError("CONFLICT", `version ${asked} is no longer in the op log; open the document again`, { version: current, reason: "stale" });
}

const cacheKey = (tenant: string, docId: string) => `${tenant}|${docId}`;
