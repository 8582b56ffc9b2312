/**
 * Collaborative documents: who may open and edit (the document's room or workspace decides), and
 * the server's authority over the history. The right to edit is checked before an op is looked at;
 * then the store's commit loop (commitDocOps, shared with the emitter) checks the op against the
 * limits, transforms it against the ops since and applies it, and appends it with the store's
 * atomic version check (which checks membership again), transforming again and retrying when
 * another writer appended first. The ops a node receives for one document while it is busy with
 * it are committed together (one store round trip), from the node's cached copy of the document.
 * Socket commands, REST routes and cursors all go through here.
 */
import {
  AppError,
  CURSOR_MAX_BYTES,
  DOC_OPEN_MAX,
  DOC_OT,
  jsonBytes,
  moveSelection,
  parseDocId,
  type DocCursorPayload,
  type DocOpenPayload,
  type DocOpenResult,
  type DocOpResult,
  type DocScope,
  type DocSelection,
  type DocSnapshot,
  type DocSubmit,
  type DocType,
  type ParsedDocId,
} from "@switchboard/shared";
import { isPrivileged, type Actor } from "../../auth/actor";
import type { Config } from "../../config";
import { subscribe } from "../../connections/subscriptions";
import { commitDocOps, DocState, docTypeConflict, docVersionError, entriesSince, PendingDocOp, senderOf, type DocCommitTarget, type Engine } from "../../engine";
import type { AppServer, AppSocket } from "../../io";
import type { Metrics } from "../../observability/metrics";

/** Documents a node keeps a working copy of (least recently used ones are dropped). */
export const DOC_CACHE_MAX = 256;

export interface DocServiceDeps {
  config: Config;
  engine: Engine;
  io: AppServer;
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

export class DocService {
  private readonly cache = new Map<string, DocState>();
  /** Per document, the tail of the work queued on it: a node does one thing with a document at a time (a commit, a read). */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per document, the ops waiting for the node's next commit of it. */
  private readonly waiting = new Map<string, PendingDocOp[]>();
  /** The documents each socket opened, with their type (a document nobody wrote yet has none stored). */
  private readonly opened = new WeakMap<AppSocket, Map<string, DocType>>();

  constructor(private readonly deps: DocServiceDeps) {}

  socketRoom(tenant: string, docId: string): string {
    return this.deps.engine.socketRooms.doc(tenant, docId);
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
        if (payload.type !== undefined && payload.type !== state.type) throw docTypeConflict(docId, state.type);
        opened.set(docId, state.type);
        if (payload.version !== undefined) {
          const since = await entriesSince(this.deps.engine.docs, actor.tenant, docId, state, payload.version);
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
    const submission = {
      op: input.op,
      version: input.version,
      clientOpId: input.clientOpId,
      type: options.type,
      from: senderOf(actor),
      memberRequired: isPrivileged(actor) ? undefined : actor.userId,
      exceptSocket: options.exceptSocket,
    };
    return new Promise<DocOpResult>((resolve, reject) => {
      const item: PendingDocOp = new PendingDocOp(submission, {
        resolve: (result) => {
          metrics.docOps.inc({ type: item.type, outcome: result.duplicate ? "duplicate" : "applied" });
          resolve(result);
        },
        reject: (err) => {
          metrics.docOps.inc({ type: item.type, outcome: err instanceof AppError ? err.code : "INTERNAL" });
          reject(err);
        },
      });
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
      const since = await entriesSince(this.deps.engine.docs, actor.tenant, payload.docId, state, payload.version);
      if (!Array.isArray(since)) throw docVersionError(payload.version, state.version, since);
      return { selection: moveSelection(state.type, payload.selection, state.head, since), version: state.version };
    });
  }

  /** Commits the ops waiting on a document (at most DOC_BATCH_MAX; the rest get a turn of their own). */
  private async commitWaiting(tenant: string, docId: string): Promise<void> {
    const batch: PendingDocOp[] = [];
    // Whatever is left beyond one batch gets a turn of its own (unless a retry takes it first).
    if (this.takeWaiting(tenant, docId, batch)) void this.exclusive(tenant, docId, () => this.commitWaiting(tenant, docId));
    if (batch.length === 0) return;
    const { config, engine, metrics } = this.deps;
    const target: DocCommitTarget = {
      docs: engine.docs,
      tenant,
      docId,
      roomIdleTtlS: config.roomIdleTtlS,
      load: (fresh) => {
        if (fresh) this.cache.delete(cacheKey(tenant, docId));
        return this.load(tenant, docId, false);
      },
      remember: (state) => this.remember(tenant, docId, state),
      refill: (open) => this.takeWaiting(tenant, docId, open),
      retried: (type) => metrics.docAppendRetries.inc({ type }),
    };
    await commitDocOps(target, batch);
  }

  /** Moves waiting ops of the document into `batch` (up to DOC_BATCH_MAX open ones); true when some are left waiting. */
  private takeWaiting(tenant: string, docId: string, batch: PendingDocOp[]): boolean {
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


  /** The node's copy of a document, caught up with the store when `refresh`; undefined: no document. */
  private async load(tenant: string, docId: string, refresh: boolean): Promise<DocState | undefined> {
    const key = cacheKey(tenant, docId);
    const cached = this.cache.get(key);
    if (cached && !refresh) return this.remember(tenant, docId, cached);
    const state = await DocState.read(this.deps.engine.docs, tenant, docId, cached);
    if (!state) {
      this.cache.delete(key);
      return undefined;
    }
    return this.remember(tenant, docId, state);
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

function parse(docId: string): ParsedDocId {
  const parsed = parseDocId(docId);
  if (!parsed) throw new AppError("VALIDATION_FAILED", `${JSON.stringify(docId)} is not a document id`);
  return parsed;
}

const cacheKey = (tenant: string, docId: string) => `${tenant}|${docId}`;
