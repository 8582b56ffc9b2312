/**
 * The commit loop of collaborative documents, one for every writer (a node's docs service, the
 * emitter) and every DocStore (Redis, the memory engine). Each op made against a version is
 * normalized and checked against the limits, transformed past the ops since and past the ops
 * before it in the batch, and applied (commitOp of @switchboard/shared, which bounds every count
 * an op carries); the batch is appended in one step with the store's version check. When another
 * writer appended first, the ops are moved past its ops too and appended again.
 */
import {
  AppError,
  commitOp,
  DOC_APPEND_ATTEMPTS,
  DOC_LOG_KEEP,
  DOC_ONCE_TTL_S,
  DOC_OT,
  DOC_SNAPSHOT_EVERY,
  parseDocId,
  type DocOpEntry,
  type DocOpResult,
  type DocType,
  type MessageSender,
} from "@switchboard/shared";
import { DocState } from "./doc-state";
import type { DocAppendOp, DocAppendRequest, DocStore } from "./types";

/** An op as its writer submits it. */
export interface DocSubmission {
  op: unknown;
  /** The version the op was made against. */
  version: number;
  /** With the author's user id, makes a resent op apply once. */
  clientOpId?: string;
  /** The type a document that does not exist yet is created with (default `text`); a document of another type refuses the op. */
  type?: DocType;
  from: MessageSender;
  /** Refuse unless this user is a member of the document's room or workspace (undefined: a service). */
  memberRequired?: string;
  /** The submitting socket: it gets no `doc:op` of its own op. */
  exceptSocket?: string;
}

/** What hears how a submitted op ended. */
export interface DocOpSettlement {
  resolve(result: DocOpResult): void;
  reject(err: unknown): void;
}

/** An op waiting for its commit; settled once (later calls do nothing). */
export class PendingDocOp {
  /** The document's type, once known. */
  type: DocType;
  /** The op in its type's normal form. */
  normalized?: unknown;
  /** The log's entries after the op's version, up to the writer's copy. */
  since?: DocOpEntry[];
  done = false;

  constructor(
    readonly submission: DocSubmission,
    private readonly settlement: DocOpSettlement,
  ) {
    this.type = submission.type ?? "text";
  }

  resolve(result: DocOpResult): void {
    if (this.done) return;
    this.done = true;
    this.settlement.resolve(result);
  }

  reject(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.settlement.reject(err);
  }
}

/** The document a commit writes, and the writer's working copy of it. */
export interface DocCommitTarget {
  docs: DocStore;
  tenant: string;
  docId: string;
  /** Room documents expire with their room this long after the last write (ROOM_IDLE_TTL_S). */
  roomIdleTtlS: number;
  /** The writer's copy of the document (undefined: no document yet); `fresh`: the copy was out of step, read it anew. */
  load(fresh: boolean): Promise<DocState | undefined>;
  /** The copy moved on (a node keeps it for the ops that follow). */
  remember?(state: DocState): void;
  /** Before a retry: ops that arrived meanwhile join the batch (a node batches them). */
  refill?(batch: PendingDocOp[]): void;
  /** An append is retried: another writer went first, or the copy was out of step. */
  retried?(type: DocType): void;
}

/** The entries after a version, or why there are none: `stale` (trimmed from the log), `ahead` (beyond the document). */
export type DocEntriesSince = DocOpEntry[] | "stale" | "ahead";

/** Commits one op: resolves the version it made, or for a clientOpId applied before, that version with `duplicate`. */
export function commitDocOp(target: DocCommitTarget, submission: DocSubmission): Promise<DocOpResult> {
  return new Promise((resolve, reject) => void commitDocOps(target, [new PendingDocOp(submission, { resolve, reject })]));
}

/**
 * Commits a batch of ops of one document (in order, each transformed to follow the one before)
 * and settles every op of it, those `refill` adds too: an op still waiting after
 * DOC_APPEND_ATTEMPTS appends is refused as UNAVAILABLE.
 */
export async function commitDocOps(target: DocCommitTarget, batch: PendingDocOp[]): Promise<void> {
  try {
    await commit(target, batch);
  } catch (err) {
    for (const item of batch) item.reject(err);
  }
  for (const item of batch) item.reject(new AppError("UNAVAILABLE", `document ${target.docId} is too busy right now; retry`));
}

/** The entries after `version`, from the copy or else the store (catching the copy up). */
export async function entriesSince(docs: DocStore, tenant: string, docId: string, state: DocState, version: number): Promise<DocEntriesSince> {
  if (version > state.version) {
    const read = await docs.read(tenant, docId, state.version);
    if (read) state.catchUp(read);
    if (version > state.version) return "ahead";
  }
  const held = state.entriesAfter(version);
  if (held) return held;
  const read = await docs.read(tenant, docId, version);
  if (!read || read.kind === "snapshot" || read.type !== state.type) return "stale";
  state.absorb(read.entries);
  return read.entries.filter((e) => e.version <= state.version);
}

export function docTypeConflict(docId: string, type: DocType): AppError {
  return new AppError("CONFLICT", `document ${docId} is a ${type} document`, { type });
}

/** An op (or cursor) made against a version the log cannot transform from. */
export function docVersionError(asked: number, current: number, why: "stale" | "ahead"): AppError {
  return why === "ahead"
    ? new AppError("CONFLICT", `version ${asked} is ahead of the document (version ${current}); read it again`, { version: current, reason: "ahead" })
    : new AppError("CONFLICT", `version ${asked} is no longer in the op log (version ${current}); read the document again`, { version: current, reason: "stale" });
}

/** The ops of one append: each transformed past the log and the ops before it, with the document after each. */
interface Chain {
  ops: DocAppendOp[];
  entries: DocOpEntry[];
  heads: unknown[];
  items: PendingDocOp[];
  snapshot?: DocAppendRequest["snapshot"];
}

async function commit(target: DocCommitTarget, batch: PendingDocOp[]): Promise<void> {
  const { docs, tenant, docId } = target;
  const scope = parseDocId(docId)?.scope;
  if (!scope) throw new Error(`${JSON.stringify(docId)} is not a document id`);
  let state = (await target.load(false)) ?? DocState.empty(batch[0]!.type);
  for (let attempt = 0; attempt < DOC_APPEND_ATTEMPTS; attempt++) {
    // A retry takes along the ops that arrived meanwhile: one append for all of them.
    if (attempt > 0) target.refill?.(batch);
    const live = normalize(docId, state.type, batch);
    if (live.length === 0) return;
    if (!(await cover(target, state, live))) continue;
    const chain = transform(state, live);
    if (chain.ops.length === 0) continue;

    const outcome = await docs.append({
      tenant,
      docId,
      type: state.type,
      version: state.version,
      ops: chain.ops,
      snapshot: chain.snapshot,
      logKeep: DOC_LOG_KEEP,
      onceTtlS: DOC_ONCE_TTL_S,
      idleTtlS: scope.kind === "room" ? target.roomIdleTtlS : 0,
    });
    switch (outcome.status) {
      case "appended":
        chain.entries.forEach((entry, i) => state.advance(entry, chain.heads[i]));
        target.remember?.(state);
        chain.items.forEach((item, i) => item.resolve({ version: chain.entries[i]!.version }));
        break;
      case "duplicate":
        chain.items[outcome.index]!.resolve({ version: outcome.version, duplicate: true });
        break;
      case "forbidden":
        chain.items[outcome.index]!.reject(new AppError("FORBIDDEN", `only members of ${scope.kind} ${scope.id} edit its documents`));
        break;
      case "conflict":
        // Another writer went first: catch up, and move the ops past its ops too.
        target.retried?.(state.type);
        state.absorb(outcome.entries);
        target.remember?.(state);
        break;
      case "stale":
        // The copy is out of step with the store (the document expired, or was trimmed past it).
        target.retried?.(state.type);
        state = (await target.load(true)) ?? DocState.empty(state.type);
        break;
      case "type":
        for (const item of live) item.reject(docTypeConflict(docId, outcome.type));
        return;
      case "missing":
        for (const item of live) item.reject(new AppError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`));
        return;
    }
  }
}

/** Refuses the open ops of another type or that are no op of the type; answers the others, normalized. */
function normalize(docId: string, type: DocType, batch: PendingDocOp[]): PendingDocOp[] {
  const ot = DOC_OT[type];
  for (const item of batch) {
    if (item.done) continue;
    item.type = type;
    if (item.submission.type !== undefined && item.submission.type !== type) {
      item.reject(docTypeConflict(docId, type));
      continue;
    }
    try {
      item.normalized = ot.normalize(item.submission.op);
    } catch (err) {
      item.reject(refusal(err, `invalid ${type} op`));
    }
  }
  return batch.filter((item) => !item.done);
}

/**
 * Gives each op the log's entries after its version, up to the copy's version (catching the copy
 * up from the store when an op is older than the copy holds, or newer than it knows); settles the
 * ops that cannot be transformed (a resend answers its first version). False when the copy kept
 * moving (try again).
 */
async function cover(target: DocCommitTarget, state: DocState, items: PendingDocOp[]): Promise<boolean> {
  const { docs, tenant, docId } = target;
  for (let round = 0; round < 4; round++) {
    const before = state.version;
    for (const item of items) {
      if (item.done) continue;
      const { version, clientOpId, from } = item.submission;
      const since = await entriesSince(docs, tenant, docId, state, version);
      if (Array.isArray(since)) {
        item.since = since;
        continue;
      }
      const prior = clientOpId === undefined ? undefined : await docs.opVersion(tenant, docId, from.userId, clientOpId);
      if (prior !== undefined) item.resolve({ version: prior, duplicate: true });
      else item.reject(docVersionError(version, state.version, since));
    }
    if (state.version === before) return true;
  }
  return false;
}

/** Transforms and applies the ops in order, from the copy's head; refuses those that do not apply. */
function transform(state: DocState, items: PendingDocOp[]): Chain {
  const chain: Chain = { ops: [], entries: [], heads: [], items: [] };
  const onceIds = new Set<string>();
  let head = state.head;
  for (const item of items) {
    if (item.done) continue;
    const { clientOpId, from, memberRequired, exceptSocket } = item.submission;
    if (clientOpId !== undefined) {
      // A resend of an op of this batch waits for the next round, where it is a duplicate.
      const once = `${from.userId}|${clientOpId}`;
      if (onceIds.has(once)) continue;
      onceIds.add(once);
    }
    let moved: unknown;
    let next: unknown;
    try {
      ({ op: moved, doc: next } = commitOp(state.type, head, item.normalized, [...item.since!, ...chain.entries]));
    } catch (err) {
      item.reject(refusal(err, `the op does not apply to version ${item.submission.version}`));
      continue;
    }
    const version = state.version + chain.entries.length + 1;
    const entry: Omit<DocOpEntry, "version"> = { op: moved, from, ...(clientOpId === undefined ? {} : { clientOpId }), ts: Date.now() };
    chain.entries.push({ version, ...entry });
    chain.heads.push(next);
    chain.items.push(item);
    chain.ops.push({ entry, memberRequired, exceptSocket });
    head = next;
    if (chain.snapshot === undefined && version % DOC_SNAPSHOT_EVERY === 0) chain.snapshot = { version, content: next };
  }
  return chain;
}

/** An op refused by the OT layer: its limit's code (VALIDATION_FAILED, PAYLOAD_TOO_LARGE), or VALIDATION_FAILED for a library's own error. */
function refusal(err: unknown, context: string): AppError {
  if (err instanceof AppError) return new AppError(err.code, `${context}: ${err.message}`, err.details);
  return new AppError("VALIDATION_FAILED", `${context}: ${(err as Error).message}`);
}
