/**
 * Presence: what a user shows (status, message), which of their devices are connected anywhere
 * in the cluster, and the announcement of every change to the user's watchers and to the
 * members of the rooms they belong to, on every node, once per change.
 */
import { AppError, PRESENCE_WATCH_MAX, presenceRoom, tenantRoom, type Presence, type PresenceMap, type PresenceStatus } from "@switchboard/shared";
import type { Actor } from "../../auth/actor";
import { subscribe } from "../../connections/subscriptions";
import type { Engine, PresenceRecord } from "../../engine";
import type { AppServer, AppSocket } from "../../io";
import type { PresenceChangeReason } from "../../node-events";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";

export interface PresenceServiceDeps {
  engine: Engine;
  io: AppServer;
  logger: Logger;
  metrics: Metrics;
  /** How long an offline user's presence is remembered (SESSION_TTL_S). */
  sessionTtlS: number;
  /** Subscriptions one socket may hold (MAX_SUBSCRIPTIONS_PER_SOCKET). */
  maxSubscriptionsPerSocket: number;
}

export class PresenceService {
  constructor(private readonly deps: PresenceServiceDeps) {}

  /** Sets the chosen status and message; whether they changed (false: already so, nothing announced). */
  async set(actor: Actor, status: PresenceStatus, message: string | undefined): Promise<boolean> {
    const changed = await this.deps.engine.presence.setStatus(actor.tenant, actor.userId, status, message, this.deps.sessionTtlS);
    if (changed) await this.announce(actor.tenant, changed, "status");
    return changed !== undefined;
  }

  async get(actor: Actor, userIds: readonly string[]): Promise<PresenceMap> {
    const records = await this.deps.engine.presence.get(actor.tenant, userIds);
    return { presence: Object.fromEntries(records.map((r) => [r.userId, toPresence(r)])) };
  }

  /**
   * Subscribes the socket to the users' changes, then answers their presence: subscribed first,
   * so no change falls between the answer and the first update (`rev` orders the two).
   */
  async watch(actor: Actor, socket: AppSocket, userIds: readonly string[]): Promise<PresenceMap> {
    const rooms = userIds.map((id) => tenantRoom(actor.tenant, presenceRoom(id)));
    const prefix = tenantRoom(actor.tenant, presenceRoom(""));
    const watching = new Set([...socket.rooms].filter((r) => r.startsWith(prefix)));
    const total = new Set([...watching, ...rooms]).size;
    if (total > PRESENCE_WATCH_MAX) {
      throw new AppError("VALIDATION_FAILED", `a connection watches at most ${PRESENCE_WATCH_MAX} users`, { limit: PRESENCE_WATCH_MAX, watching: watching.size });
    }
    await subscribe(socket, rooms, this.deps.maxSubscriptionsPerSocket);
    return this.get(actor, userIds);
  }

  async unwatch(actor: Actor, socket: AppSocket, userIds: readonly string[]): Promise<void> {
    await Promise.all(userIds.map((id) => socket.leave(tenantRoom(actor.tenant, presenceRoom(id)))));
  }

  /**
   * Tells the user's watchers and the members of their rooms, in one broadcast: a socket that is
   * both (or in several of the rooms) gets the update once.
   */
  async announce(tenant: string, record: PresenceRecord, reason: PresenceChangeReason): Promise<void> {
    try {
      const rooms = record.rooms ?? (await this.deps.engine.rooms.roomsOf(tenant, record.userId));
      const { socketRooms } = this.deps.engine;
      const targets = [tenantRoom(tenant, presenceRoom(record.userId)), ...rooms.map((room) => socketRooms.room(tenant, room))];
      this.deps.io.to(targets).emit("presence:update", toPresence(record));
      this.deps.metrics.presenceUpdates.inc({ reason });
    } catch (err) {
      this.deps.logger.warn("presence announcement failed", { event: "presence", userId: record.userId, reason, error: String(err) });
    }
  }
}

export function toPresence(record: PresenceRecord): Presence {
  const online = record.devices.length > 0;
  const presence: Presence = {
    userId: record.userId,
    status: online ? record.status : "offline",
    online,
    devices: record.devices,
    lastSeen: record.lastSeen,
    rev: record.rev,
  };
  if (record.message !== undefined) presence.message = record.message;
  return presence;
}
