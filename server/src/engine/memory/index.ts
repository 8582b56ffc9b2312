/**
 * The memory engine: one node, no Redis. Small and faithful to the Redis engine's semantics.
 */
import { socketRooms } from "@switchboard/shared";
import { RateLimiterMemory } from "rate-limiter-flexible";
import type { AppServer } from "../../io";
import type { Engine, RateLimiterOptions } from "../types";
import { Availability } from "../availability";
import { MemoryDocStore } from "./docs";
import { MemoryLeaderboards } from "./leaderboards";
import { MemoryPresenceRegistry } from "./presence";
import { MemoryNodeRegistry } from "./node-registry";
import { MemoryNotificationInbox, MemoryNotificationQueue, MemoryPushDevices } from "./notifications";
import { MemoryRooms } from "./rooms";
import { MemoryLiveStreams } from "./streams";
import { MemorySyncStore } from "./sync";
import { MemoryAgents, MemoryWorkspaces } from "./workspaces";

export class MemoryEngine implements Engine {
  readonly kind = "memory" as const;
  readonly adapter = undefined;
  readonly socketRooms = socketRooms(false);
  readonly nodes = new MemoryNodeRegistry();
  readonly presence = new MemoryPresenceRegistry();
  readonly sync = new MemorySyncStore();
  readonly notifications = new MemoryNotificationQueue();
  readonly inbox = new MemoryNotificationInbox();
  readonly pushDevices = new MemoryPushDevices();
  private readonly roomStore = new MemoryRooms();
  readonly rooms = this.roomStore;
  readonly history = this.roomStore;
  readonly workspaces = new MemoryWorkspaces();
  readonly agents = new MemoryAgents();
  readonly leaderboards = new MemoryLeaderboards();
  readonly streams = new MemoryLiveStreams();
  readonly docs = new MemoryDocStore({
    check: async (tenant, scope, userId) => {
      if (scope.kind === "room") {
        if (!(await this.roomStore.get(tenant, scope.id))) return "missing";
        return userId === undefined || (await this.roomStore.member(tenant, scope.id, userId)) ? "ok" : "forbidden";
      }
      if (!(await this.workspaces.get(tenant, scope.id))) return "missing";
      return userId === undefined || (await this.workspaces.isMember(tenant, scope.id, userId)) ? "ok" : "forbidden";
    },
    touch: (tenant, scope, idleTtlS) => {
      if (scope.kind === "room") this.roomStore.touch(tenant, scope.id, idleTtlS);
    },
  });
  private readonly availability = new Availability(true);

  attach(io: AppServer): void {
    this.roomStore.attach(io, this.socketRooms);
    this.docs.attach(io, this.socketRooms);
  }

  createRateLimiter(options: RateLimiterOptions): RateLimiterMemory {
    return new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.durationS });
  }

  isAvailable(): boolean {
    return this.availability.available;
  }

  onAvailabilityChange(listener: (available: boolean) => void): () => void {
    return this.availability.onChange(listener);
  }

  waitUntilAvailable(timeoutMs: number): Promise<boolean> {
    return this.availability.waitUntilAvailable(timeoutMs);
  }

  /** One node, no pub/sub: nothing to lose. */
  onResubscribed(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.roomStore.close();
    this.docs.close();
    this.presence.close();
    this.notifications.close();
    this.availability.set(false);
  }
}
