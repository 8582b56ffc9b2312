import type { AcquireResult, DeviceRegistry, DeviceSession } from "../types";

const userKey = (tenant: string, userId: string) => `${tenant}|${userId}`;

export class MemoryDeviceRegistry implements DeviceRegistry {
  /** user -> sessionId -> session */
  private readonly users = new Map<string, Map<string, DeviceSession>>();

  async acquire(session: DeviceSession, limit: number): Promise<AcquireResult> {
    const key = userKey(session.tenant, session.userId);
    const sessions = this.users.get(key) ?? new Map<string, DeviceSession>();
    const devices = new Set([...sessions.values()].map((s) => s.deviceId));
    if (!devices.has(session.deviceId) && devices.size >= limit) return { ok: false, devices: devices.size };
    sessions.set(session.sessionId, { ...session });
    this.users.set(key, sessions);
    return { ok: true };
  }

  async release(session: DeviceSession): Promise<boolean> {
    const key = userKey(session.tenant, session.userId);
    const sessions = this.users.get(key);
    const existing = sessions?.get(session.sessionId);
    if (!sessions || !existing || existing.deviceId !== session.deviceId) return false;
    sessions.delete(session.sessionId);
    if (sessions.size === 0) this.users.delete(key);
    return true;
  }

  async devices(tenant: string, userId: string): Promise<string[]> {
    const sessions = this.users.get(userKey(tenant, userId));
    return sessions ? [...new Set([...sessions.values()].map((s) => s.deviceId))].sort() : [];
  }

  async sessionsOf(nodeId: string): Promise<DeviceSession[]> {
    const out: DeviceSession[] = [];
    for (const sessions of this.users.values()) {
      for (const s of sessions.values()) if (s.nodeId === nodeId) out.push({ ...s });
    }
    return out;
  }
}
