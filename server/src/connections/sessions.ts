/**
 * Socket sessions on this node: the handshake (capacity, token, device limit across the
 * cluster), the `session` event and the user's private room, and the release of the device
 * when the socket goes. The local counts feed /v1/status, the node registry and metrics.
 */
import { randomUUID } from "node:crypto";
import {
  AppError,
  handshakeAuth,
  PAYLOAD_OPTIONS,
  tenantRoom,
  tenantWideRoom,
  userRoom,
  type Session,
  type SocketData,
} from "@switchboard/shared";
import type { ExtendedError } from "socket.io";
import { bearerToken, type TokenVerifier } from "../auth/tokens";
import type { DeviceSession, Engine, PresenceRecord } from "../engine";
import { toAppError } from "../errors";
import { socketListener, type AppSocket } from "../io";
import { holdClientPackets } from "./turn-writes";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { NodeEvents } from "../node-events";

export interface SessionDeps {
  nodeId: string;
  engine: Engine;
  verifier: TokenVerifier;
  metrics: Metrics;
  logger: Logger;
  maxConnections: number;
  maxDevicesPerUser: number;
  /** Sockets one device may hold at once, cluster-wide (MAX_CONNECTIONS_PER_DEVICE). */
  maxConnectionsPerDevice: number;
  /** How long an offline user's presence is remembered (SESSION_TTL_S). */
  sessionTtlS: number;
  events: NodeEvents;
}

/** `handshake.auth` as it is checked: options baked in (joi merges options given to validate() on every call). */
const HANDSHAKE_AUTH = handshakeAuth.prefs({ ...PAYLOAD_OPTIONS, allowUnknown: true });

/** setTimeout's longest delay; a token living longer is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The sockets of this node by the second their token expires (a JWT's `exp` is in seconds), with
 * one timer per second that has sockets: a node keeps a set entry per socket, not a timer each.
 */
class ExpiryTimers {
  private readonly buckets = new Map<number, { timer: NodeJS.Timeout; sockets: Set<AppSocket> }>();

  constructor(private readonly onExpired: (socket: AppSocket) => void) {}

  add(socket: AppSocket, exp: number): void {
    let bucket = this.buckets.get(exp);
    if (!bucket) this.buckets.set(exp, (bucket = { timer: this.arm(exp), sockets: new Set() }));
    bucket.sockets.add(socket);
  }

  remove(socket: AppSocket, exp: number): void {
    const bucket = this.buckets.get(exp);
    if (!bucket?.sockets.delete(socket) || bucket.sockets.size > 0) return;
    clearTimeout(bucket.timer);
    this.buckets.delete(exp);
  }

  private arm(exp: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.fire(exp), Math.min(Math.max(exp * 1000 - Date.now(), 0), MAX_TIMER_MS));
    timer.unref();
    return timer;
  }

  private fire(exp: number): void {
    const bucket = this.buckets.get(exp);
    if (!bucket) return;
    if (exp * 1000 > Date.now()) {
      bucket.timer = this.arm(exp);
      return;
    }
    this.buckets.delete(exp);
    for (const socket of bucket.sockets) this.onExpired(socket);
  }
}

/** A user of this node's online count: tenant and user id. */
const onlineKey = (data: SocketData): string => `${data.tenant}|${data.userId}`;

export class SessionManager {
  private readonly sockets = new Map<string, AppSocket>();
  /** The presence change of a handshake, announced once the socket has its `session`. */
  private readonly connectChanges = new WeakMap<AppSocket, PresenceRecord>();
  /** Lets go of a handshake's answer, held to leave with `session` in one write. */
  private readonly heldAnswers = new WeakMap<AppSocket, () => void>();
  /** Ends each socket when its token expires. */
  private readonly expiries = new ExpiryTimers((socket) => this.expire(socket));
  private readonly usersOnline = new Map<string, number>();
  private readonly releases = new Set<Promise<unknown>>();
  private reserved = 0;
  private accepting = true;

  constructor(private readonly deps: SessionDeps) {}

  get connections(): number {
    return this.sockets.size;
  }

  /** Sessions held by sockets connected here right now. */
  localSessions(): DeviceSession[] {
    return [...this.sockets.values()].map((s) => this.deviceSession(s.data));
  }

  /** Socket.IO middleware: refuses a handshake with a protocol code, or fills socket.data. */
  readonly middleware = (socket: AppSocket, next: (err?: ExtendedError) => void): void => {
    void this.handshake(socket).then(
      () => {
        this.heldAnswers.set(socket, holdClientPackets(socket.conn));
        next();
      },
      (err: unknown) => {
        const { error, internal } = toAppError(err);
        if (internal) this.deps.logger.error("handshake failed", { event: "handshake", error: err instanceof Error ? err.stack : String(err) });
        this.deps.metrics.rejectedHandshakes.inc({ code: error.code });
        this.deps.logger.info("handshake refused", { event: "handshake", code: error.code, reason: error.message });
        const refusal: ExtendedError = new Error(error.code);
        refusal.data = { code: error.code, message: error.message };
        next(refusal);
      },
    );
  };

  private async handshake(socket: AppSocket): Promise<void> {
    if (!this.accepting) throw new AppError("UNAVAILABLE", "this node is shutting down");
    // Reserve a slot before any await so parallel handshakes cannot overshoot the limit.
    if (this.sockets.size + this.reserved >= this.deps.maxConnections) {
      throw new AppError("SERVER_FULL", "this node has reached its connection limit");
    }
    this.reserved++;
    try {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      const { error } = HANDSHAKE_AUTH.validate(auth);
      if (error) throw new AppError("VALIDATION_FAILED", `invalid handshake: ${error.message}`);
      const { headers } = socket.handshake;
      const token = (auth.token as string | undefined) ?? bearerToken(headers.authorization);
      // The credential lives no longer than the handshake: not held for the socket's life, nor
      // shown where handshakes are listed (the Admin UI lists their headers). The auth object is
      // rebuilt rather than `delete`d from: deleting turns an object into a slow dictionary
      // that costs every socket a few hundred bytes.
      if ("token" in auth) {
        const { token: _token, ...rest } = auth;
        socket.handshake.auth = rest;
      }
      if (headers.authorization !== undefined) delete headers.authorization;
      const principal = await this.deps.verifier.verify(token);
      if (!this.deps.engine.isAvailable()) throw new AppError("UNAVAILABLE", "the cluster store is unreachable; retry shortly");
      const data: SocketData = {
        userId: principal.userId,
        tenant: principal.tenant,
        deviceId: (auth.deviceId as string | undefined) ?? `d-${randomUUID().slice(0, 18)}`,
        sessionId: randomUUID(),
        roles: principal.roles,
        tokenExp: principal.exp,
      };
      if (principal.name !== undefined) data.name = principal.name;
      // The user's room, and the tenant-wide room that the emitter's broadcast reaches, subscribed
      // while the device is acquired (on Redis both are round trips). Until the socket connects,
      // broadcasts pass it by; a refused handshake leaves the rooms again (Socket.IO's cleanup).
      const joining = socket.join([tenantRoom(data.tenant, userRoom(data.userId)), tenantWideRoom(data.tenant)]);
      const acquired = await this.deps.engine.presence.acquire(this.deviceSession(data), this.deps.maxDevicesPerUser, this.deps.maxConnectionsPerDevice);
      if (!acquired.ok && acquired.connections !== undefined) {
        throw new AppError("DEVICE_LIMIT", `device ${data.deviceId} already has ${acquired.connections} connections (limit ${this.deps.maxConnectionsPerDevice})`, {
          limit: this.deps.maxConnectionsPerDevice,
          per: "device",
        });
      }
      if (!acquired.ok) {
        throw new AppError("DEVICE_LIMIT", `the user already has ${acquired.devices} devices connected (limit ${this.deps.maxDevicesPerUser})`, {
          limit: this.deps.maxDevicesPerUser,
        });
      }
      socket.data = data;
      // `session` is sent once the rooms are subscribed (asynchronous on Redis), so whatever another
      // node sends to `user:<id>` after the client has its session reaches it. A subscription that
      // failed is reported by the engine and retried when the connection comes back.
      await Promise.resolve(joining).catch(() => undefined);
      if (socket.conn.readyState !== "open") {
        // The client left during the handshake: Socket.IO drops such a socket without a
        // `connection` (and so without a `disconnect`), so the device is given back here.
        await this.deps.engine.presence.release([this.deviceSession(data)], this.deps.sessionTtlS).catch(() => undefined);
        throw new AppError("UNAVAILABLE", "the client left during the handshake");
      }
      if (acquired.changed) this.connectChanges.set(socket, acquired.changed);
    } finally {
      this.reserved--;
    }
  }

  /** Runs for every accepted socket. */
  onConnection(socket: AppSocket): void {
    const data = socket.data;
    this.sockets.set(socket.id, socket);
    const userKey = onlineKey(data);
    this.usersOnline.set(userKey, (this.usersOnline.get(userKey) ?? 0) + 1);
    this.updateGauges();
    const session: Session = {
      sessionId: data.sessionId,
      userId: data.userId,
      deviceId: data.deviceId,
      nodeId: this.deps.nodeId,
      serverTime: Date.now(),
      expiresAt: data.tokenExp * 1000,
    };
    if (data.tenant) session.tenant = data.tenant;
    try {
      socket.emit("session", session);
    } finally {
      this.heldAnswers.get(socket)?.();
      this.heldAnswers.delete(socket);
    }
    const changed = this.connectChanges.get(socket);
    if (changed) {
      this.connectChanges.delete(socket);
      this.deps.events.emit("presence", data.tenant, changed, "connect");
    }
    this.deps.logger.info("connected", { event: "connect", userId: data.userId, deviceId: data.deviceId, sessionId: data.sessionId, tenant: data.tenant });
    this.expiries.add(socket, data.tokenExp);

    socket.on("disconnect", this.onDisconnect);
  }

  /** The `disconnect` listener of every socket, one function for them all. */
  private readonly onDisconnect = socketListener((socket, reason: string) => this.disconnected(socket, reason));

  private disconnected(socket: AppSocket, reason: string): void {
    const data = socket.data;
    const userKey = onlineKey(data);
    this.sockets.delete(socket.id);
    this.expiries.remove(socket, data.tokenExp);
    const left = (this.usersOnline.get(userKey) ?? 1) - 1;
    if (left > 0) this.usersOnline.set(userKey, left);
    else this.usersOnline.delete(userKey);
    this.updateGauges();
    this.deps.logger.info("disconnected", { event: "disconnect", userId: data.userId, deviceId: data.deviceId, sessionId: data.sessionId, reason });
    const release = this.deps.engine.presence.release([this.deviceSession(data)], this.deps.sessionTtlS).then(
      ({ changed }) => changed && this.deps.events.emit("presence", data.tenant, changed, "disconnect"),
      (err: unknown) => {
        // Left for reconciliation when the store is back (see ClusterMembership).
        this.deps.logger.warn("device release failed", { event: "disconnect", sessionId: data.sessionId, error: String(err) });
      },
    );
    this.releases.add(release);
    void release.finally(() => this.releases.delete(release));
  }

  /**
   * Gives a connected socket a newer token of the same user and tenant (`session:refresh`):
   * its roles and name follow the new token, and the socket lives until the new `exp`.
   */
  async refresh(socket: AppSocket, token: string): Promise<{ expiresAt: number }> {
    const principal = await this.deps.verifier.verify(token);
    const data = socket.data;
    if (principal.userId !== data.userId || principal.tenant !== data.tenant) {
      throw new AppError("FORBIDDEN", "the token belongs to another user; connect again to change user");
    }
    this.expiries.remove(socket, data.tokenExp);
    data.tokenExp = principal.exp;
    data.roles = principal.roles;
    if (principal.name !== undefined) data.name = principal.name;
    else delete data.name;
    if (this.sockets.has(socket.id)) this.expiries.add(socket, data.tokenExp);
    return { expiresAt: principal.exp * 1000 };
  }

  /** Ends a socket whose token expired: `session:expired`, then the server closes it. */
  private expire(socket: AppSocket): void {
    if (!this.sockets.has(socket.id)) return;
    socket.emit("session:expired", { code: "TOKEN_EXPIRED", message: "the session's token has expired; reconnect with a new token", expiredAt: socket.data.tokenExp * 1000 });
    this.deps.logger.info("session expired", { event: "disconnect", userId: socket.data.userId, deviceId: socket.data.deviceId, sessionId: socket.data.sessionId });
    socket.disconnect(true);
  }

  /** Stops accepting handshakes (shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Closes every socket's transport, so clients see a transport close and reconnect (to another
   * node behind the balancer), then waits for their devices to be released.
   */
  async disconnectAll(): Promise<void> {
    for (const socket of this.sockets.values()) socket.conn.close();
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.allSettled([...this.releases]);
  }

  private deviceSession(data: SocketData): DeviceSession {
    return { tenant: data.tenant, userId: data.userId, deviceId: data.deviceId, sessionId: data.sessionId, nodeId: this.deps.nodeId };
  }

  private updateGauges(): void {
    this.deps.metrics.connectedSockets.set(this.sockets.size);
    this.deps.metrics.onlineUsers.set(this.usersOnline.size);
  }
}
