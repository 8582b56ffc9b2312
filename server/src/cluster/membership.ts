/**
 * This node's place in the cluster: a heartbeat in the node registry, a sweeper that releases
 * the sessions of nodes whose heartbeat expired (exactly one live node wins each sweep), and
 * re-announcement plus reconciliation of this node's sessions when the store comes back.
 */
import type { DeviceSession, Engine } from "../engine";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { NodeEvents, PresenceChangeReason } from "../node-events";

/** The users whose releases a sweep asks for at once: 16 runs of the release script of 64 users each. */
const RELEASES_AT_ONCE = 1024;

export interface MembershipDeps {
  nodeId: string;
  /** When this process started: its registry entry's startedAt, which tells it from another process of the same NODE_ID. */
  startedAt: number;
  version: string;
  engine: Engine;
  logger: Logger;
  metrics: Metrics;
  /** A node is dead when its last heartbeat is older than this. */
  heartbeatTimeoutMs: number;
  connections: () => number;
  localSessions: () => DeviceSession[];
  /** How long an offline user's presence is remembered (SESSION_TTL_S). */
  sessionTtlS: number;
  /** Told of the presence changes a sweep or a reconciliation makes. */
  events: NodeEvents;
}

export class ClusterMembership {
  private heartbeatTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private offAvailability?: () => void;
  private stopped = false;

  constructor(private readonly deps: MembershipDeps) {}

  /** Heartbeats every timeout/3 and sweeps every timeout/2: a dead node is swept within 2 x timeout. */
  start(): void {
    const timeout = this.deps.heartbeatTimeoutMs;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(timeout / 3)));
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(50, Math.floor(timeout / 2)));
    this.heartbeatTimer.unref();
    this.sweepTimer.unref();
    this.offAvailability = this.deps.engine.onAvailabilityChange((available) => {
      this.deps.logger.warn(available ? "shared store reachable again" : "shared store unreachable", { event: "engine", available });
      if (available) void this.reconcile();
    });
    if (this.deps.engine.isAvailable()) void this.heartbeat();
  }

  async heartbeat(): Promise<boolean> {
    if (this.stopped || !this.deps.engine.isAvailable()) return false;
    try {
      await this.deps.engine.nodes.heartbeat({
        nodeId: this.deps.nodeId,
        version: this.deps.version,
        startedAt: this.deps.startedAt,
        connections: this.deps.connections(),
      });
      return true;
    } catch (err) {
      this.deps.logger.warn("heartbeat failed", { event: "heartbeat", error: String(err) });
      return false;
    }
  }

  /** Releases the sessions of every node whose heartbeat expired. Returns the nodes swept. */
  async sweep(): Promise<string[]> {
    if (this.stopped || !this.deps.engine.isAvailable()) return [];
    const { nodes } = this.deps.engine;
    const swept: string[] = [];
    try {
      const live = await nodes.live(this.deps.heartbeatTimeoutMs);
      this.deps.metrics.clusterNodes.set(live.length);
      for (const nodeId of await nodes.expired(this.deps.heartbeatTimeoutMs)) {
        if (nodeId === this.deps.nodeId) continue;
        if (!(await nodes.claimSweep(nodeId, this.deps.heartbeatTimeoutMs, this.deps.heartbeatTimeoutMs))) continue;
        const sessions = await this.deps.engine.presence.sessionsOf(nodeId);
        await this.releaseByUser(sessions, "sweep");
        await nodes.remove(nodeId);
        swept.push(nodeId);
        this.deps.logger.warn("swept a dead node", { event: "sweep", deadNodeId: nodeId, sessions: sessions.length });
      }
    } catch (err) {
      this.deps.logger.warn("sweep failed", { event: "sweep", error: String(err) });
    }
    return swept;
  }

  /**
   * Before a new process serves: the sessions the registry holds under this NODE_ID belong to an
   * earlier process that died without a goodbye (a process that has not listened yet holds no
   * socket). A supervisor that restarts it at once, with its NODE_ID, brings its heartbeat back
   * before any sweep sees it expired, so they are released here, as a sweep would.
   */
  async releaseLeftovers(): Promise<void> {
    if (!this.deps.engine.isAvailable()) return;
    try {
      const sessions = await this.deps.engine.presence.sessionsOf(this.deps.nodeId);
      if (sessions.length === 0) return;
      await this.releaseByUser(sessions, "sweep");
      this.deps.logger.warn("released the sessions of this node's previous process", { event: "sweep", sessions: sessions.length });
    } catch (err) {
      this.deps.logger.warn("releasing the previous process's sessions failed", { event: "sweep", error: String(err) });
    }
  }

  /**
   * After an outage: announce again, drop registry sessions this node no longer holds (their
   * release failed while the store was away) and restore the ones the store lost.
   */
  async reconcile(): Promise<void> {
    if (!(await this.heartbeat())) return;
    const { presence } = this.deps.engine;
    try {
      const local = new Map(this.deps.localSessions().map((s) => [s.sessionId, s]));
      const gone = (await presence.sessionsOf(this.deps.nodeId)).filter((stored) => !local.delete(stored.sessionId));
      await this.releaseByUser(gone, "reconcile");
      for (const missing of local.values()) {
        const acquired = await presence.acquire(missing, Number.MAX_SAFE_INTEGER);
        if (acquired.ok && acquired.changed) this.deps.events.emit("presence", missing.tenant, acquired.changed, "reconcile");
      }
      this.deps.logger.info("re-announced to the cluster", { event: "reconcile", restored: local.size });
    } catch (err) {
      this.deps.logger.warn("reconcile failed", { event: "reconcile", error: String(err) });
    }
  }

  /** Leaves the registry (clean shutdown): other nodes stop listing this one at once. */
  async leave(): Promise<void> {
    this.stop();
    if (!this.deps.engine.isAvailable()) return;
    try {
      await this.releaseByUser(await this.deps.engine.presence.sessionsOf(this.deps.nodeId), "disconnect");
      await this.deps.engine.nodes.remove(this.deps.nodeId);
    } catch (err) {
      this.deps.logger.warn("deregistration failed", { event: "shutdown", error: String(err) });
    }
  }

  /**
   * Releases sessions a user at a time, so each user's presence changes (and is announced) once.
   * The releases of up to RELEASES_AT_ONCE users are asked for together: the store runs them in
   * batches (one script run for up to 64 users on one Redis), not a round trip each, and a node
   * with many sessions does not queue more at once than Redis answers well within a command's
   * timeout.
   */
  private async releaseByUser(sessions: readonly DeviceSession[], reason: PresenceChangeReason): Promise<void> {
    const byUser = new Map<string, DeviceSession[]>();
    for (const s of sessions) {
      const key = `${s.tenant}|${s.userId}`;
      const list = byUser.get(key);
      if (list) list.push(s);
      else byUser.set(key, [s]);
    }
    const users = [...byUser.values()];
    for (let i = 0; i < users.length; i += RELEASES_AT_ONCE) {
      await Promise.all(
        users.slice(i, i + RELEASES_AT_ONCE).map(async (userSessions) => {
          const { changed } = await this.deps.engine.presence.release(userSessions, this.deps.sessionTtlS);
          if (changed) this.deps.events.emit("presence", userSessions[0]!.tenant, changed, reason);
        }),
      );
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
    this.offAvailability?.();
  }
}
