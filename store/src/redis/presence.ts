import type { KeyLayout, PresenceStatus } from "@switchboard/shared";
import { parseSessionMember, sessionMember, type AcquireResult, type DeviceSession, type PresenceRecord, type PresenceRegistry, type ReleaseResult } from "../types";
import type { RedisClient } from "../script";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";
import { afterThisTick, TurnBatches } from "../turn-batches";

const acquireDevices = new RedisScript(LUA["presence/acquire-devices"]);
const releaseDevices = new RedisScript(LUA["presence/release-devices"]);
const setStatus = new RedisScript(LUA["presence/set-status"]);
const readPresence = new RedisScript(LUA["presence/read"]);

type Reply = (string | number)[];
/** A batched script's answer for one call: its reply, or the error of a command on its keys. */
type BatchReply = Reply | Error;

/** The most handshakes (or releases) one run of a script takes: a run stays short, so Redis stays responsive. */
const MAX_RUN = 64;

interface Acquire {
  session: DeviceSession;
  limit: number;
  perDevice: number;
}

interface Release {
  /** One user's sessions. */
  sessions: readonly DeviceSession[];
  ttlS: number;
  /** Their node, when they leave its session set in the same run (one Redis, one node). */
  node: string | undefined;
}

/**
 * A user's devices live in one hash (`deviceId|sessionId` -> nodeId) beside their presence hash,
 * so the device limit and every presence change are one atomic script. Each node also lists its
 * sessions in a set, so a node that dies can always be swept: on one Redis the same script writes
 * the set and the hash; on a Redis Cluster (another slot) the set is written BEFORE the hash, so
 * at worst the set names a session the hash never got.
 *
 * The handshakes a node takes in one turn share one run of the acquire script, and the sockets
 * that leave in one turn one run of the release script (`endOfTurn`, see TurnBatches), each
 * answered as if it had run alone; on a Redis Cluster only those of the same user (one slot) do.
 * A turn's releases run before its acquires, as they would one by one (a release leaves at once,
 * a handshake waits for its token first): a device that left frees its place for one that comes.
 */
export class RedisPresenceRegistry implements PresenceRegistry {
  private readonly acquires: TurnBatches<Acquire, BatchReply>;
  private readonly releases: TurnBatches<Release, BatchReply>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly cluster: boolean,
    endOfTurn: (flush: () => void) => void = afterThisTick,
  ) {
    this.releases = new TurnBatches((_key, items) => this.releaseTogether(items), MAX_RUN, endOfTurn);
    this.acquires = new TurnBatches((_key, items) => this.acquireTogether(items), MAX_RUN, (flush) =>
      endOfTurn(() => {
        this.releases.handOver();
        flush();
      }),
    );
  }

  async acquire(session: DeviceSession, limit: number, perDevice = Number.MAX_SAFE_INTEGER): Promise<AcquireResult> {
    const settings = `${session.nodeId}|${limit}|${perDevice}`;
    const reply = await this.acquires.add(this.cluster ? `${settings}|${session.tenant}|${session.userId}` : settings, { session, limit, perDevice });
    if (reply instanceof Error) throw reply;
    if (reply[0] === 1) return reply.length > 1 ? { ok: true, changed: toRecord(session.userId, reply.slice(1)) } : { ok: true };
    return reply.length > 2 ? { ok: false, devices: Number(reply[1]), connections: Number(reply[2]) } : { ok: false, devices: Number(reply[1]) };
  }

  /** One run of the acquire script for handshakes of the same node and limits (and, on a Redis Cluster, user). */
  private async acquireTogether(items: readonly Acquire[]): Promise<BatchReply[]> {
    const { session: first, limit, perDevice } = items[0]!;
    const nodeSessions = this.keys.nodeSessions(first.nodeId);
    const members = items.map(({ session }) => sessionMember(session));
    const keys = items.flatMap(({ session }) => this.changeKeys(session.tenant, session.userId));
    const args = [first.nodeId, limit, perDevice, ...items.flatMap(({ session }, i) => [session.deviceId, session.sessionId, members[i]!])];
    if (!this.cluster) return (await acquireDevices.run(this.redis, [...keys, nodeSessions], args)) as BatchReply[];
    await this.redis.sadd(nodeSessions, ...members);
    const replies = (await acquireDevices.run(this.redis, keys, args)) as BatchReply[];
    // A session whose commands failed keeps its member: the hash may have it already.
    const refused = members.filter((_, i) => {
      const reply = replies[i];
      return !(reply instanceof Error) && reply?.[0] !== 1;
    });
    if (refused.length > 0) await this.redis.srem(nodeSessions, ...refused);
    return replies;
  }

  async release(sessions: readonly DeviceSession[], ttlS: number): Promise<ReleaseResult> {
    const first = sessions[0];
    if (!first) return { released: 0 };
    if (sessions.some((s) => s.tenant !== first.tenant || s.userId !== first.userId)) throw new Error("release takes the sessions of one user");
    const node = !this.cluster && sessions.every((s) => s.nodeId === first.nodeId) ? first.nodeId : undefined;
    const key = this.cluster ? `${ttlS}|${first.tenant}|${first.userId}` : `${ttlS}|${node ?? ""}`;
    const reply = await this.releases.add(key, { sessions, ttlS, node });
    if (reply instanceof Error) throw reply;
    if (node === undefined) await Promise.all(sessions.map((s) => this.redis.srem(this.keys.nodeSessions(s.nodeId), sessionMember(s))));
    const released = Number(reply[0]);
    return reply.length > 1 ? { released, changed: toRecord(first.userId, reply.slice(1)) } : { released };
  }

  /** One run of the release script for releases of the same TTL and node (on a Redis Cluster, of the same user). */
  private async releaseTogether(items: readonly Release[]): Promise<BatchReply[]> {
    const { ttlS, node } = items[0]!;
    const keys = items.flatMap(({ sessions: [first] }) => this.changeKeys(first!.tenant, first!.userId));
    const args = [
      ttlS,
      ...items.flatMap(({ sessions }) => [
        sessionMember({ ...sessions[0]!, deviceId: "", sessionId: "" }).slice(0, -1),
        sessions.length,
        ...sessions.map((s) => `${s.deviceId}|${s.sessionId}`),
      ]),
    ];
    return (await releaseDevices.run(this.redis, node === undefined ? keys : [...keys, this.keys.nodeSessions(node)], args)) as BatchReply[];
  }

  async setStatus(tenant: string, userId: string, status: PresenceStatus, message: string | undefined, ttlS: number): Promise<PresenceRecord | undefined> {
    const reply = (await setStatus.run(this.redis, this.changeKeys(tenant, userId), [status, message ?? "", ttlS])) as Reply;
    return reply.length > 0 ? toRecord(userId, reply) : undefined;
  }

  async get(tenant: string, userIds: readonly string[]): Promise<PresenceRecord[]> {
    // One script per user: each user's keys live on their own slot of a Redis Cluster.
    return Promise.all(userIds.map(async (userId) => toRecord(userId, (await readPresence.run(this.redis, this.userKeys(tenant, userId), [])) as Reply)));
  }

  async devices(tenant: string, userId: string): Promise<string[]> {
    const fields = await this.redis.hkeys(this.keys.userDevices(tenant, userId));
    return [...new Set(fields.map((f) => f.split("|")[0]!))].sort();
  }

  async sessionsOf(nodeId: string): Promise<DeviceSession[]> {
    const members = await this.redis.smembers(this.keys.nodeSessions(nodeId));
    return members.map((m) => parseSessionMember(m, nodeId)).filter((s): s is DeviceSession => s !== undefined);
  }

  private userKeys(tenant: string, userId: string): string[] {
    return [this.keys.userDevices(tenant, userId), this.keys.userPresence(tenant, userId)];
  }

  /** The keys of a script that may change the presence: it answers the user's rooms with the change. */
  private changeKeys(tenant: string, userId: string): string[] {
    return [...this.userKeys(tenant, userId), this.keys.userRooms(tenant, userId)];
  }
}

/** {rev, status, message, lastSeen, device...} as the scripts answer it. */
function toRecord(userId: string, reply: Reply): PresenceRecord {
  // A change answers the user's rooms last, as a nested list (lib/presence.lua).
  const rooms = Array.isArray(reply[reply.length - 1]) ? (reply[reply.length - 1] as unknown as string[]) : undefined;
  const [rev, status, message, lastSeen, ...devices] = rooms ? reply.slice(0, -1) : reply;
  const record: PresenceRecord = {
    userId,
    status: String(status) as PresenceStatus,
    // Sorted here: Lua compares strings by the server's locale.
    devices: devices.map(String).sort(),
    lastSeen: lastSeen === "" ? null : Number(lastSeen),
    rev: Number(rev),
  };
  if (message !== "") record.message = String(message);
  if (rooms) record.rooms = rooms.map(String).sort();
  return record;
}
