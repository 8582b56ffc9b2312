import { compositeKey, type PresenceStatus } from "@switchboard/shared";
import type { AcquireResult, DeviceSession, PresenceRecord, PresenceRegistry, ReleaseResult } from "../types";

interface UserPresence {
  /** sessionId -> session */
  sessions: Map<string, DeviceSession>;
  status: PresenceStatus;
  message?: string;
  lastSeen: number | null;
  rev: number;
  /** While offline: when the presence is forgotten (ms). */
  expiresAt?: number;
}

const userKey = (tenant: string, userId: string) => compositeKey(tenant, userId);
const distinctDevices = (p: UserPresence) => [...new Set([...p.sessions.values()].map((s) => s.deviceId))].sort();

/** How often presences of users offline past their ttl are dropped. */
const SWEEP_INTERVAL_MS = 60_000;

export class MemoryPresenceRegistry implements PresenceRegistry {
  private readonly users = new Map<string, UserPresence>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, user] of this.users) if (user.expiresAt !== undefined && user.expiresAt <= now) this.users.delete(key);
  }

  async acquire(session: DeviceSession, limit: number, perDevice = Number.MAX_SAFE_INTEGER): Promise<AcquireResult> {
    const user = this.user(session.tenant, session.userId, true);
    const devices = distinctDevices(user);
    if (!devices.includes(session.deviceId) && devices.length >= limit) return { ok: false, devices: devices.length };
    const connections = [...user.sessions.values()].filter((s) => s.deviceId === session.deviceId).length;
    if (connections > 0 && connections >= perDevice) return { ok: false, devices: devices.length, connections };
    user.sessions.set(session.sessionId, { ...session });
    return devices.includes(session.deviceId) ? { ok: true } : { ok: true, changed: this.changed(user, session.userId, 0) };
  }

  async release(sessions: readonly DeviceSession[], ttlS: number): Promise<ReleaseResult> {
    const first = sessions[0];
    if (!first) return { released: 0 };
    if (sessions.some((s) => s.tenant !== first.tenant || s.userId !== first.userId)) throw new Error("release takes the sessions of one user");
    const user = this.user(first.tenant, first.userId, false);
    if (!user) return { released: 0 };
    const before = distinctDevices(user);
    let released = 0;
    for (const s of sessions) {
      if (user.sessions.get(s.sessionId)?.deviceId === s.deviceId && user.sessions.delete(s.sessionId)) released++;
    }
    if (released === 0) return { released };
    const after = distinctDevices(user);
    return before.some((d) => !after.includes(d)) ? { released, changed: this.changed(user, first.userId, ttlS) } : { released };
  }

  async setStatus(tenant: string, userId: string, status: PresenceStatus, message: string | undefined, ttlS: number): Promise<PresenceRecord | undefined> {
    const user = this.user(tenant, userId, true);
    if (user.status === status && user.message === message) return undefined;
    user.status = status;
    if (message === undefined) delete user.message;
    else user.message = message;
    return this.changed(user, userId, ttlS);
  }

  async get(tenant: string, userIds: readonly string[]): Promise<PresenceRecord[]> {
    return userIds.map((userId) => {
      const user = this.user(tenant, userId, false);
      return user ? record(userId, user) : { userId, status: "online", devices: [], lastSeen: null, rev: 0 };
    });
  }

  async devices(tenant: string, userId: string): Promise<string[]> {
    const user = this.user(tenant, userId, false);
    return user ? distinctDevices(user) : [];
  }

  async sessionsOf(nodeId: string): Promise<DeviceSession[]> {
    const out: DeviceSession[] = [];
    for (const user of this.users.values()) {
      for (const s of user.sessions.values()) if (s.nodeId === nodeId) out.push({ ...s });
    }
    return out;
  }

  /** The user's presence; an offline one past its ttl is forgotten first. */
  private user(tenant: string, userId: string, create: true): UserPresence;
  private user(tenant: string, userId: string, create: false): UserPresence | undefined;
  private user(tenant: string, userId: string, create: boolean): UserPresence | undefined {
    const key = userKey(tenant, userId);
    let user = this.users.get(key);
    if (user?.expiresAt !== undefined && user.expiresAt <= Date.now()) {
      this.users.delete(key);
      user = undefined;
    }
    if (!user && create) {
      user = { sessions: new Map(), status: "online", lastSeen: null, rev: 0 };
      this.users.set(key, user);
    }
    return user;
  }

  /** Same rules as the Redis scripts: lastSeen now, rev follows the clock, ttl only while offline. */
  private changed(user: UserPresence, userId: string, ttlS: number): PresenceRecord {
    const now = Date.now();
    user.lastSeen = now;
    user.rev = Math.max(user.rev + 1, now);
    if (user.sessions.size > 0) delete user.expiresAt;
    else user.expiresAt = now + ttlS * 1000;
    return record(userId, user);
  }
}

function record(userId: string, user: UserPresence): PresenceRecord {
  const out: PresenceRecord = { userId, status: user.status, devices: distinctDevices(user), lastSeen: user.lastSeen, rev: user.rev };
  if (user.message !== undefined) out.message = user.message;
  return out;
}
