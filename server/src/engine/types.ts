/**
 * The engine seam: the only interfaces features use to reach shared state. The memory engine
 * serves one node with no Redis; the Redis engine serves a cluster. One contract test suite
 * runs against both (tests/contract), so they cannot drift.
 */
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { ServerOptions } from "socket.io";

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
