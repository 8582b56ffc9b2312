/**
 * Multi-device state sync (PROTOCOL §3 "Multi-device state sync"): the types and schemas of
 * per-user documents, shared by nodes, the emitter and clients.
 *
 * A document is a flat object of fields; each field resolves on its own. A `null` value deletes
 * the field. Two strategies, chosen per cluster by CONFLICT_STRATEGY:
 * - `lww`: every write gets a hybrid logical clock stamp from the server (its clock, or the
 *   device's `ts` when earlier); per field the greatest (stamp, deviceId) wins.
 * - `vector_clock`: a write carries what the device has seen (the clock it received last); the
 *   store adds the write as the device's next event, so it replaces what it has seen and is kept
 *   beside the rest: concurrent writes are all kept and the field is reported in `conflicts`
 *   until a write that has seen them all resolves it.
 */
import Joi from "joi";

export type ConflictStrategy = "lww" | "vector_clock";
export const CONFLICT_STRATEGIES: readonly ConflictStrategy[] = ["lww", "vector_clock"];

/** deviceId -> number of writes of that device the clock has seen. */
export type VectorClock = Record<string, number>;
/** The hybrid logical clock of an lww document: wall time (ms) and a counter within it. */
export interface HybridClock {
  wall: number;
  counter: number;
}
export type SyncClock = VectorClock | HybridClock;

/** A resolved document as clients see it. */
export interface SyncDocument {
  state: Record<string, unknown>;
  clock: SyncClock;
  /** Fields with concurrent values kept side by side (vector_clock only; always empty with lww). */
  conflicts: string[];
  strategy: ConflictStrategy;
}

/** What a device sends: fields to set (null deletes), the clock it has seen, when it made the change. */
export interface SyncWrite {
  key: string;
  state: Record<string, unknown>;
  clock?: VectorClock;
  ts?: number;
}

export interface SyncPullPayload {
  key: string;
}

/** `sync:state`, to the user's other devices. */
export interface SyncStateEvent extends SyncDocument {
  key: string;
  sourceDevice: string;
  /** ms since the epoch when the node resolved the write. */
  ts: number;
}

export const SYNC_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const SYNC_FIELD_PATTERN = /^[A-Za-z0-9_.:$@-]{1,128}$/;
/** The most fields one push may write. */
export const SYNC_FIELDS_MAX = 256;
/** The most devices a vector clock may name. */
export const VECTOR_CLOCK_ENTRIES_MAX = 64;
/** Clock counters stay far below 2^53 so every engine stores them exactly. */
export const VECTOR_CLOCK_COUNTER_MAX = 2 ** 31 - 1;

export const syncKey = Joi.string().pattern(SYNC_KEY_PATTERN, "sync key");
export const vectorClock = Joi.object()
  .pattern(/^[A-Za-z0-9_-]{1,64}$/, Joi.number().integer().min(0).max(VECTOR_CLOCK_COUNTER_MAX))
  .max(VECTOR_CLOCK_ENTRIES_MAX);

/** Fields of a push, shared by `sync:push` and `POST /v1/sync/:userId/:key`. */
export const syncWriteFields = {
  state: Joi.object()
    .pattern(SYNC_FIELD_PATTERN, Joi.any())
    .min(1)
    .max(SYNC_FIELDS_MAX)
    .required(),
  clock: vectorClock,
  ts: Joi.number().integer().min(0).max(8.64e15),
};

export const syncSchemas = {
  "sync:push": Joi.object({ key: syncKey.required(), ...syncWriteFields }),
  "sync:pull": Joi.object({ key: syncKey.required() }),
} as const;

/** A synced document as REST answers it (the OpenAPI document's schema; not used to validate). */
export const syncDocumentSchema = Joi.object<SyncDocument>({
  state: Joi.object().unknown(true).required(),
  clock: Joi.object()
    .pattern(/^[A-Za-z0-9_-]{1,64}$/, Joi.number().integer().min(0))
    .required()
    .description("a vector clock (device id → counter) with vector_clock, a hybrid clock { wall, counter } with lww"),
  conflicts: Joi.array().items(Joi.string()).required(),
  strategy: Joi.string().valid(...CONFLICT_STRATEGIES).required(),
}).id("SyncDocument");
