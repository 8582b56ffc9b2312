/**
 * Collaborative documents from a backend service (an agent editing a file): `doc(id).get()` reads
 * the latest snapshot and `doc(id).submit(op, { version })` submits an op made against a version,
 * exactly as a node accepts it — checked against the limits, transformed against the ops since and
 * applied (normalize and commitOp, shared with the nodes), and appended with the nodes' DOC_APPEND script, then
 * delivered as `doc:op` to the document's subscribers on every node.
 */
import {
  AppError,
  applyEntries,
  commitOp,
  DOC_APPEND,
  EMITTER_UID,
  DOC_APPEND_ATTEMPTS,
  DOC_LOG_KEEP,
  DOC_ONCE_TTL_S,
  DOC_OT,
  DOC_READ,
  DOC_SNAPSHOT_EVERY,
  docKeys,
  docRoom,
  docSubmitRequest,
  parseDocId,
  tenantRoom,
  type DocOpEntry,
  type DocOpEvent,
  type DocOpResult,
  type DocSnapshot,
  type DocSubmitRequest,
  type DocType,
  type KeyLayout,
  type MessageSender,
} from "@switchboard/shared";
import type { Cluster, Redis } from "ioredis";
import { checkPayload, EmitterError, validate } from "./errors";
import { classicFrame, RedisScript } from "@switchboard/store";
import type { Transport } from "./transport";

const readDoc = new RedisScript(DOC_READ);
const appendOp = new RedisScript(DOC_APPEND);

/** Options of `doc(id).submit`: the version the op was made against, and optionally a clientOpId and the type of a new document. */
export type DocSubmitOptions = Omit<DocSubmitRequest, "op">;

/** What a document target needs of its emitter. */
export interface DocContext {
  redis: Redis | Cluster;
  keys: KeyLayout;
  tenant: string;
  sharded: boolean;
  transport: Transport;
  maxMessageBytes: number;
  roomIdleTtlS: number;
  sender: MessageSender;
  assertOpen(): void;
}

/** The document as far as this writer knows it: `entries` are the log's ops after `from`. */
interface Known {
  type: DocType;
  version: number;
  head: unknown;
  from: number;
  entries: DocOpEntry[];
}

export class DocTarget {
  constructor(
    private readonly ctx: DocContext,
    readonly id: string,
  ) {}

  /** The latest snapshot and its version (NOT_FOUND for a document nobody wrote). */
  async get(): Promise<DocSnapshot> {
    this.ctx.assertOpen();
    const known = await this.load();
    if (!known) throw new EmitterError("NOT_FOUND", `document ${this.id} does not exist`);
    return { docId: this.id, type: known.type, version: known.version, snapshot: known.head };
  }

  /**
   * Submits an op made against `version`: resolves the version it made, or, for a `clientOpId`
   * applied before, that version with `duplicate: true`. A document that does not exist yet is
   * created with `type` (default `text`).
   */
  async submit(op: unknown, options: DocSubmitOptions): Promise<DocOpResult> {
    const { ctx, id } = this;
    ctx.assertOpen();
    checkPayload(op, ctx.maxMessageBytes, "doc().submit");
    const input = validate(docSubmitRequest, { ...options, op }, "doc().submit");

    let known = (await this.load()) ?? empty(input.type ?? "text");
    if (input.type !== undefined && input.type !== known.type) throw typeConflict(id, known.type);
    const ot = DOC_OT[known.type];
    let next: unknown;
    try {
      next = ot.normalize(input.op);
    } catch (err) {
      throw refusal(err, `doc().submit: invalid ${known.type} op`);
    }
    const { scope } = parseDocId(id)!;
    const k = docKeys(ctx.keys, ctx.tenant, id);
    const once = input.clientOpId === undefined ? undefined : ctx.keys.docOnce(ctx.tenant, id, ctx.sender.userId, input.clientOpId);
    const socketRoom = tenantRoom(ctx.tenant, docRoom(id));
    let base = input.version;
    for (let attempt = 0; attempt < DOC_APPEND_ATTEMPTS; attempt++) {
      const since = await this.entriesSince(known, base);
      if (!since) {
        const prior = once === undefined ? null : await ctx.redis.get(once);
        if (prior !== null) return { version: Number(prior), duplicate: true };
        throw new EmitterError("CONFLICT", `doc().submit: version ${base} is ${base > known.version ? "ahead of the document" : "no longer in the op log"} (version ${known.version})`, {
          version: known.version,
          reason: base > known.version ? "ahead" : "stale",
        });
      }
      let moved: unknown;
      let head: unknown;
      try {
        ({ op: moved, doc: head } = commitOp(known.type, known.head, next, since));
      } catch (err) {
        throw refusal(err, `doc().submit: the op does not apply to version ${base}`);
      }
      const version = known.version + 1;
      const entry: Omit<DocOpEntry, "version"> = { op: moved, from: ctx.sender, ...(input.clientOpId === undefined ? {} : { clientOpId: input.clientOpId }), ts: Date.now() };
      const event: DocOpEvent = { docId: id, version, ...entry };
      const frame = ctx.sharded ? undefined : classicFrame(EMITTER_UID, socketRoom, "doc:op", [event]);
      const snapshot = version % DOC_SNAPSHOT_EVERY === 0;
      const reply = (await appendOp.run(
        ctx.redis,
        [k.scopeMeta, k.scopeMembers, k.meta, k.log, k.snapshot, k.scopeDocs, ...(once ? [once] : [])],
        [
          known.version,
          known.type,
          1,
          snapshot ? version : 0,
          snapshot ? JSON.stringify(head) : "",
          DOC_LOG_KEEP,
          DOC_ONCE_TTL_S,
          scope.kind === "room" ? ctx.roomIdleTtlS : 0,
          id,
          // The one op: a service needs no membership.
          "",
          JSON.stringify(entry),
          once ? 7 : 0,
          frame?.channel ?? "",
          frame?.data ?? "",
        ],
      )) as (string | number)[];
      switch (String(reply[0])) {
        case "appended":
          // On a Redis Cluster the adapter's channel lives on another slot: stored first, then sent.
          if (ctx.sharded) await ctx.transport.send(socketRoom, "doc:op", [event]);
          return { version };
        case "duplicate":
          return { version: Number(reply[2]), duplicate: true };
        case "conflict": {
          const entries = parseEntries(reply.slice(2), known.version);
          base = known.version;
          next = moved;
          known = { ...known, version: known.version + entries.length, head: applyEntries(known.type, known.head, entries), entries: [...known.entries, ...entries] };
          break;
        }
        case "stale":
          known = (await this.load()) ?? empty(known.type);
          break;
        case "type":
          throw typeConflict(id, String(reply[1]) as DocType);
        case "missing":
          throw new EmitterError("NOT_FOUND", `${scope.kind} ${scope.id} does not exist`);
        default:
          throw new Error(`unexpected append outcome ${String(reply[0])}`);
      }
    }
    throw new EmitterError("UNAVAILABLE", `doc().submit: document ${id} is too busy right now; retry`);
  }

  /** The latest snapshot and the ops since it (DOC_READ), or undefined for no document. */
  private async load(): Promise<Known | undefined> {
    const k = docKeys(this.ctx.keys, this.ctx.tenant, this.id);
    const reply = (await readDoc.run(this.ctx.redis, [k.meta, k.log, k.snapshot], [-1])) as (string | number)[];
    if (reply.length === 0) return undefined;
    const type = String(reply[1]) as DocType;
    const snapshotVersion = Number(reply[3]);
    const json = String(reply[4]);
    const entries = parseEntries(reply.slice(5), snapshotVersion);
    const snapshot = json === "" ? DOC_OT[type].create() : (JSON.parse(json) as unknown);
    return { type, version: Number(reply[2]), head: applyEntries(type, snapshot, entries), from: snapshotVersion, entries };
  }

  /** The log's ops after `base` (read from Redis when older than what is known); undefined when gone or ahead. */
  private async entriesSince(known: Known, base: number): Promise<DocOpEntry[] | undefined> {
    if (base > known.version) return undefined;
    if (base >= known.from) return known.entries.slice(base - known.from);
    const k = docKeys(this.ctx.keys, this.ctx.tenant, this.id);
    const reply = (await readDoc.run(this.ctx.redis, [k.meta, k.log, k.snapshot], [base])) as (string | number)[];
    if (reply[0] !== "ops" || String(reply[1]) !== known.type) return undefined;
    return parseEntries(reply.slice(3), base).filter((e) => e.version <= known.version);
  }
}

function empty(type: DocType): Known {
  return { type, version: 0, head: DOC_OT[type].create(), from: 0, entries: [] };
}

function parseEntries(raw: (string | number)[], after: number): DocOpEntry[] {
  return raw.map((json, i) => ({ version: after + i + 1, ...(JSON.parse(String(json)) as Omit<DocOpEntry, "version">) }));
}

/** An op refused by the shared OT layer, with its limit's code (VALIDATION_FAILED for a library's own error). */
function refusal(err: unknown, context: string): EmitterError {
  if (err instanceof AppError) return new EmitterError(err.code, `${context}: ${err.message}`, err.details);
  return new EmitterError("VALIDATION_FAILED", `${context}: ${(err as Error).message}`);
}

function typeConflict(docId: string, type: DocType): EmitterError {
  return new EmitterError("CONFLICT", `document ${docId} is a ${type} document`, { type });
}
