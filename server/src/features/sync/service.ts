/**
 * Multi-device state sync: who may read and write which documents, the limits, and telling the
 * user's other devices. Resolution itself happens in the engine, atomically per document.
 */
import { AppError, tenantRoom, userRoom, type SyncDocument, type SyncStateEvent, type VectorClock } from "@switchboard/shared";
import { isPrivileged, type Actor } from "../../auth/actor";
import type { Config } from "../../config";
import type { Engine } from "../../engine";
import type { AppServer } from "../../io";
import type { Metrics } from "../../observability/metrics";

export interface SyncServiceDeps {
  config: Config;
  engine: Engine;
  io: AppServer;
  metrics: Metrics;
}

/** The fields of a push, whichever way it came. */
export interface SyncWriteInput {
  state: Record<string, unknown>;
  clock?: VectorClock;
  ts?: number;
}

export interface SyncSource {
  deviceId: string;
  /** The pushing socket, which already has the result in its ack (REST pushes have none). */
  socketId?: string;
}

export class SyncService {
  constructor(private readonly deps: SyncServiceDeps) {}

  /** Resolves a push into the user's document and sends the result to the user's other devices. */
  async push(actor: Actor, userId: string, key: string, input: SyncWriteInput, source: SyncSource): Promise<SyncDocument> {
    assertOwner(actor, userId);
    const { config, engine, metrics } = this.deps;
    const strategy = config.conflictStrategy;
    if (input.clock !== undefined && strategy !== "vector_clock") {
      throw new AppError("VALIDATION_FAILED", "clock is only used with CONFLICT_STRATEGY=vector_clock", [
        { path: "clock", type: "any.unknown", message: "clock is only used with CONFLICT_STRATEGY=vector_clock" },
      ]);
    }
    const outcome = await engine.sync.push({
      tenant: actor.tenant,
      userId,
      key,
      state: input.state,
      ...(input.clock === undefined ? {} : { clock: input.clock }),
      ...(input.ts === undefined ? {} : { ts: input.ts }),
      deviceId: source.deviceId,
      strategy,
      ttlS: config.sessionTtlS,
      maxBytes: config.maxMessageBytes,
    });
    if (outcome.status === "too_large") {
      metrics.syncWrites.inc({ strategy, outcome: "too_large" });
      throw new AppError("PAYLOAD_TOO_LARGE", `the document would hold ${outcome.bytes} bytes of values; the limit is ${outcome.limit}`, {
        bytes: outcome.bytes,
        limit: outcome.limit,
      });
    }
    const document = outcome.document;
    const contested = document.conflicts.some((field) => Object.prototype.hasOwnProperty.call(input.state, field));
    metrics.syncWrites.inc({ strategy, outcome: contested ? "conflict" : "applied" });

    const event: SyncStateEvent = { key, ...document, sourceDevice: source.deviceId, ts: Date.now() };
    const room = this.deps.io.to(tenantRoom(actor.tenant, userRoom(userId)));
    (source.socketId === undefined ? room : room.except(source.socketId)).emit("sync:state", event);
    return document;
  }

  async pull(actor: Actor, userId: string, key: string): Promise<SyncDocument> {
    assertOwner(actor, userId);
    return this.deps.engine.sync.get(actor.tenant, userId, key, this.deps.config.conflictStrategy);
  }
}

/** Users reach their own documents; services and admins any user's of their tenant. */
function assertOwner(actor: Actor, userId: string): void {
  if (actor.userId !== userId && !isPrivileged(actor)) throw new AppError("FORBIDDEN", "only the user (or a service) may read or write their synced state");
}
