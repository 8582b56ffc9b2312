/**
 * Collaborative documents from a backend service (an agent editing a file): `doc(id).get()` reads
 * the latest snapshot and `doc(id).submit(op, { version })` submits an op made against a version,
 * committed by the nodes' own commit loop (commitDocOps of @switchboard/store: checked against the
 * limits, transformed against the ops since, applied and appended with the version check), then
 * delivered as `doc:op` to the document's subscribers on every node.
 */
import { AppError, docSubmitRequest, type DocOpResult, type DocSnapshot, type DocSubmitRequest } from "@switchboard/shared";
import { commitDocOp, DocState } from "@switchboard/store";
import type { EmitterContext } from "./emitter";
import { EmitterError } from "./errors";

/** Options of `doc(id).submit`: the version the op was made against, and optionally a clientOpId and the type of a new document. */
export type DocSubmitOptions = Omit<DocSubmitRequest, "op">;

export class DocTarget {
  constructor(
    private readonly ctx: EmitterContext,
    readonly id: string,
  ) {}

  /** The latest snapshot and its version (NOT_FOUND for a document nobody wrote). */
  async get(): Promise<DocSnapshot> {
    this.ctx.assertOpen();
    const state = await DocState.read(this.ctx.stores.docs, this.ctx.tenant, this.id);
    if (!state) throw new EmitterError("NOT_FOUND", `document ${this.id} does not exist`);
    return { docId: this.id, type: state.type, version: state.version, snapshot: state.head };
  }

  /**
   * Submits an op made against `version`: resolves the version it made, or, for a `clientOpId`
   * applied before, that version with `duplicate: true`. A document that does not exist yet is
   * created with `type` (default `text`).
   */
  async submit(op: unknown, options: DocSubmitOptions): Promise<DocOpResult> {
    const { ctx, id } = this;
    const input = ctx.accept("doc().submit", docSubmitRequest, { ...options, op }, op);
    const { docs } = ctx.stores;
    // Each submit starts from the store's copy of the document: a service keeps none between calls.
    const target = { docs, tenant: ctx.tenant, docId: id, roomIdleTtlS: ctx.settings.roomIdleTtlS, load: () => DocState.read(docs, ctx.tenant, id) };
    try {
      return await commitDocOp(target, { ...input, from: ctx.settings.sender });
    } catch (err) {
      throw err instanceof AppError ? submitError(err, input.version) : err;
    }
  }
}

/** A refusal of the commit loop in the emitter's words: prefixed with the call, but for a missing scope and a type conflict. */
function submitError(err: AppError, asked: number): EmitterError {
  const details = err.details as { reason?: string; version?: number; type?: string } | undefined;
  if (err.code === "NOT_FOUND" || (err.code === "CONFLICT" && details?.type !== undefined)) return new EmitterError(err.code, err.message, err.details);
  // A service has no document open to open again: it reads it with get().
  if (details?.reason === "ahead") return new EmitterError(err.code, `doc().submit: version ${asked} is ahead of the document (version ${details.version})`, details);
  if (details?.reason === "stale") return new EmitterError(err.code, `doc().submit: version ${asked} is no longer in the op log (version ${details.version})`, details);
  return new EmitterError(err.code, `doc().submit: ${err.message}`, err.details);
}
