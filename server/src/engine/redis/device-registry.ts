import type { KeyLayout } from "@switchboard/shared";
import { parseSessionMember, sessionMember, type AcquireResult, type DeviceRegistry, type DeviceSession } from "../types";
import type { RedisClient } from "./clients";
import { ACQUIRE_DEVICE, LuaScript } from "./scripts";

const acquireDevice = new LuaScript(ACQUIRE_DEVICE);

/**
 * A user's devices live in one hash (`deviceId|sessionId` -> nodeId) so the limit check is one
 * atomic script. Each node also lists its sessions in a set, written BEFORE the hash, so a node
 * that dies can always be swept: at worst the set names a session the hash never got.
 */
export class RedisDeviceRegistry implements DeviceRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async acquire(session: DeviceSession, limit: number): Promise<AcquireResult> {
    const member = sessionMember(session);
    await this.redis.sadd(this.keys.nodeSessions(session.nodeId), member);
    const result = Number(
      await acquireDevice.run(
        this.redis,
        [this.keys.userDevices(session.tenant, session.userId)],
        [session.deviceId, session.sessionId, session.nodeId, limit],
      ),
    );
    if (result === -1) return { ok: true };
    await this.redis.srem(this.keys.nodeSessions(session.nodeId), member);
    return { ok: false, devices: result };
  }

  async release(session: DeviceSession): Promise<boolean> {
    const removed = await this.redis.hdel(this.keys.userDevices(session.tenant, session.userId), `${session.deviceId}|${session.sessionId}`);
    await this.redis.srem(this.keys.nodeSessions(session.nodeId), sessionMember(session));
    return removed === 1;
  }

  async devices(tenant: string, userId: string): Promise<string[]> {
    const fields = await this.redis.hkeys(this.keys.userDevices(tenant, userId));
    return [...new Set(fields.map((f) => f.split("|")[0]!))].sort();
  }

  async sessionsOf(nodeId: string): Promise<DeviceSession[]> {
    const members = await this.redis.smembers(this.keys.nodeSessions(nodeId));
    return members.map((m) => parseSessionMember(m, nodeId)).filter((s): s is DeviceSession => s !== undefined);
  }
}
