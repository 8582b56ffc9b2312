/**
 * The engine seam: the only interfaces features use to reach shared state. The memory engine
 * serves one node with no Redis; the Redis engine serves a cluster. One contract test suite
 * runs against both (tests/contract), so they cannot drift.
 */
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { HistoryQuery, Message, MessagePriority, MessageSender, RoomVisibility } from "@switchboard/shared";
import type { Server, ServerOptions } from "socket.io";

export type EngineKind = "memory" | "redis" | "redis-cluster";

export interface NodeInfo {
  nodeId: string;
  version: string;
  startedAt: number;
  connections: number;
  /** ms since the epoch, by the registry's clock. */
  lastHeartbeat: number;
}

/** Which nodes are alive. Liveness is a heartbeat no older than the timeout. */
export interface NodeRegistry {
  /** Records a heartbeat with this node's current info; returns the registry's clock (ms). */
  heartbeat(info: Omit<NodeInfo, "lastHeartbeat">): Promise<number>;
  /** Nodes whose last heartbeat is within `timeoutMs`. */
  live(timeoutMs: number): Promise<NodeInfo[]>;
  /** Node ids that are registered but whose heartbeat is older than `timeoutMs`. */
  expired(timeoutMs: number): Promise<string[]>;
  /**
   * Takes the right to sweep a dead node for `leaseMs`; false when another node holds it or
   * the node is alive again.
   */
  claimSweep(nodeId: string, timeoutMs: number, leaseMs: number): Promise<boolean>;
  /** Removes a node from the registry (after a clean shutdown or a finished sweep). */
  remove(nodeId: string): Promise<void>;
}

export interface DeviceSession {
  tenant: string;
  userId: string;
  deviceId: string;
  sessionId: string;
  nodeId: string;
}

export type AcquireResult = { ok: true } | { ok: false; devices: number };

/** Connected devices per user across the cluster, and which node holds each session. */
export interface DeviceRegistry {
  /**
   * Registers a session atomically unless it would bring the user's distinct devices above
   * `limit`. A device that already has a session is never refused (reconnects, several tabs).
   */
  acquire(session: DeviceSession, limit: number): Promise<AcquireResult>;
  /** Removes a session; true when it was there. */
  release(session: DeviceSession): Promise<boolean>;
  /** Distinct device ids of a user with at least one session. */
  devices(tenant: string, userId: string): Promise<string[]>;
  /** Every session a node holds. */
  sessionsOf(nodeId: string): Promise<DeviceSession[]>;
}

export interface RoomRecord {
  tenant: string;
  id: string;
  name: string;
  type: string;
  visibility: RoomVisibility;
  createdBy: string;
  /** ms since the epoch. */
  createdAt: number;
  maxSize: number;
}

export interface RoomMemberRecord {
  userId: string;
  name?: string;
  joinedAt: number;
}

export type AddMemberResult = "added" | "present" | "full" | "missing";

/**
 * Rooms of every tenant: metadata and members. A room not written to (created, joined,
 * published in) for `idleTtlS` seconds disappears with its members.
 */
export interface RoomRegistry {
  /** Creates a room with its first members; false when the id is taken in the tenant. */
  create(room: RoomRecord, members: RoomMemberRecord[], idleTtlS: number): Promise<boolean>;
  get(tenant: string, id: string): Promise<(RoomRecord & { memberCount: number }) | undefined>;
  /** Adds a member unless the room is at `maxSize` (atomic across nodes); refreshes the idle timer. */
  addMember(tenant: string, id: string, member: RoomMemberRecord, idleTtlS: number): Promise<AddMemberResult>;
  /** Removes a member; true when it was one. */
  removeMember(tenant: string, id: string, userId: string): Promise<boolean>;
  member(tenant: string, id: string, userId: string): Promise<RoomMemberRecord | undefined>;
  members(tenant: string, id: string): Promise<RoomMemberRecord[]>;
}

/** A message as stored: the id is the history offset and the room is the key. */
export interface StoredMessage {
  from: MessageSender;
  kind: string;
  data: unknown;
  ts: number;
  priority: MessagePriority;
  replyTo?: string;
}

export interface PublishRequest {
  tenant: string;
  room: string;
  message: StoredMessage;
  /** Refuse unless this user is a member (undefined: a service publishing anywhere in its tenant). */
  memberRequired?: string;
  /** With the sender's user id, makes a retried publish return the first id. */
  clientMsgId?: string;
  historySize: number;
  historyTtlS: number;
  idleTtlS: number;
}

export type PublishOutcome =
  | { status: "published"; id: string }
  | { status: "duplicate"; id: string }
  | { status: "missing" }
  | { status: "forbidden" };

export interface Recovery {
  messages: Message[];
  /** False when history no longer reaches back to the requested id. */
  recovered: boolean;
  hasMore: boolean;
}

/**
 * Per-room history. `publish` stores a message and delivers `room:message` to the room's
 * sockets on every node in one step, so the delivered id is the stored id and nothing is
 * delivered that was not stored.
 */
export interface RoomHistory {
  publish(request: PublishRequest): Promise<PublishOutcome>;
  /** Oldest first. `before`: the newest older than it; `after`: the oldest newer; neither: the newest. */
  page(tenant: string, room: string, query: HistoryQuery & { limit: number }): Promise<{ messages: Message[]; hasMore: boolean }>;
  /** Every message after `since` (up to `limit`), and whether history still reaches back to it. */
  since(tenant: string, room: string, since: string, limit: number): Promise<Recovery>;
  message(tenant: string, room: string, id: string): Promise<Message | undefined>;
}

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
  readonly devices: DeviceRegistry;
  readonly rooms: RoomRegistry;
  readonly history: RoomHistory;
  /** Gives the engine the node's Socket.IO server, through which it delivers what it stores. */
  attach(io: Server): void;
  createRateLimiter(options: RateLimiterOptions): RateLimiterAbstract;
  /** True while every backing connection is usable. */
  isAvailable(): boolean;
  /** Called with the new state each time availability changes. Returns an unsubscribe. */
  onAvailabilityChange(listener: (available: boolean) => void): () => void;
  /** Resolves when available, or false after `timeoutMs`. */
  waitUntilAvailable(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Thrown by engine calls while the backing store is unreachable. */
export class EngineUnavailableError extends Error {
  constructor(message = "the shared store is unreachable") {
    super(message);
    this.name = "EngineUnavailableError";
  }
}

export function sessionMember(s: DeviceSession): string {
  return [s.tenant, s.userId, s.deviceId, s.sessionId].join("|");
}

export function parseSessionMember(member: string, nodeId: string): DeviceSession | undefined {
  const [tenant, userId, deviceId, sessionId] = member.split("|");
  if (tenant === undefined || !userId || !deviceId || !sessionId) return undefined;
  return { tenant, userId, deviceId, sessionId, nodeId };
}
