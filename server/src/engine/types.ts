/**
 * The engine seam: the only interfaces features use to reach shared state. The memory engine
 * serves one node with no Redis; the Redis engine serves a cluster through @switchboard/store's
 * Redis stores, which the emitter writes through as well.
 */
import type { LeaderboardStore, LiveStreamStore } from "@switchboard/store";
import type {
  AgentRegistry,
  DocStore,
  NodeRegistry,
  NotificationInbox,
  NotificationQueue,
  PresenceRegistry,
  PushDeviceRegistry,
  RoomHistory,
  RoomRegistry,
  SyncStore,
  WorkspaceRegistry,
} from "@switchboard/store";
import type { SocketRooms } from "@switchboard/shared";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { ServerOptions } from "socket.io";
import type { AppServer } from "../io";

export * from "@switchboard/store";

export type EngineKind = "memory" | "redis" | "redis-cluster";

export interface RateLimiterOptions {
  name: string;
  points: number;
  durationS: number;
}

export interface Engine {
  readonly kind: EngineKind;
  /** The Socket.IO adapter for this engine (undefined: Socket.IO's in-memory adapter). */
  readonly adapter: ServerOptions["adapter"] | undefined;
  readonly nodes: NodeRegistry;
  readonly presence: PresenceRegistry;
  readonly sync: SyncStore;
  readonly notifications: NotificationQueue;
  readonly inbox: NotificationInbox;
  readonly pushDevices: PushDeviceRegistry;
  readonly rooms: RoomRegistry;
  readonly history: RoomHistory;
  readonly workspaces: WorkspaceRegistry;
  readonly agents: AgentRegistry;
  readonly docs: DocStore;
  /** The Socket.IO rooms of rooms and documents, as this engine's stores publish to them. */
  readonly socketRooms: SocketRooms;
  readonly leaderboards: LeaderboardStore;
  readonly streams: LiveStreamStore;
  /** Gives the engine the node's Socket.IO server, through which it delivers what it stores. */
  attach(io: AppServer): void;
  createRateLimiter(options: RateLimiterOptions): RateLimiterAbstract;
  /** True while every backing connection is usable. */
  isAvailable(): boolean;
  /** Called with the new state each time availability changes. Returns an unsubscribe. */
  onAvailabilityChange(listener: (available: boolean) => void): () => void;
  /** Resolves when available, or false after `timeoutMs`. */
  waitUntilAvailable(timeoutMs: number): Promise<boolean>;
  /**
   * Called each time the node's subscription to the other nodes (the adapter's pub/sub) is back
   * after its connection was lost, once the channels are subscribed again and the store answers
   * (or 30 s later if it does not): what the other nodes sent meanwhile did not reach this node's
   * sockets. Never on the memory engine, which has no such connection. Returns an unsubscribe.
   */
  onResubscribed(listener: () => void): () => void;
  close(): Promise<void>;
}

