/**
 * Rooms and messages: the rules (who may create, join, publish, read; size limits; reserved
 * names) over the engine's room registry and history. Socket commands and REST routes both
 * call this service, so the two behave the same.
 */
import { randomUUID } from "node:crypto";
import {
  AppError,
  HISTORY_PAGE_MAX,
  assertNotReserved,
  tenantRoom,
  userRoom,
  type HistoryPage,
  type HistoryQuery,
  type Member,
  type MemberEvent,
  type PublishPayload,
  type PublishResult,
  type RoomCreatePayload,
  type RoomInfo,
  type RoomJoinResult,
} from "@switchboard/shared";
import { DEFAULT_MESSAGE_KIND, publishMessage } from "@switchboard/store";
import { isPrivileged, type Actor } from "../../auth/actor";
import type { Config } from "../../config";
import { reserve } from "../../connections/subscriptions";
import type { AddMemberResult, Engine, RoomMemberRecord, RoomRecord, RoomRef } from "../../engine";
import type { AppServer, AppSocket } from "../../io";
import type { Metrics } from "../../observability/metrics";

export const DEFAULT_HISTORY_LIMIT = 50;
export const DEFAULT_ROOM_TYPE = "chat";
/** Rooms whose positions are read from the store at once when telling sockets where their rooms stand. */
export const POSITION_BATCH = 200;

export interface RoomServiceDeps {
  config: Config;
  engine: Engine;
  io: AppServer;
  metrics: Metrics;
}

type StoredRoom = RoomRecord & { memberCount: number };

export class RoomService {
  constructor(private readonly deps: RoomServiceDeps) {}

  /** The Socket.IO room that carries a room's events. */
  socketRoom(actor: Actor, roomId: string): string {
    return this.deps.engine.socketRooms.room(actor.tenant, roomId);
  }

  async create(actor: Actor, input: RoomCreatePayload): Promise<RoomInfo> {
    const { config, engine } = this.deps;
    if (input.id !== undefined) assertNotReserved(input.id);
    const maxSize = input.maxSize ?? config.roomMaxSize;
    if (maxSize > config.roomMaxSizeLimit) {
      throw new AppError("VALIDATION_FAILED", `maxSize may be at most ${config.roomMaxSizeLimit}`, [{ path: "maxSize", type: "number.max", message: `"maxSize" must be less than or equal to ${config.roomMaxSizeLimit}` }]);
    }
    const privileged = isPrivileged(actor);
    // Membership is by consent: a user joins a room themselves; only a service puts others in one.
    const others = (input.members ?? []).filter((userId) => userId !== actor.userId);
    if (!privileged && others.length > 0) {
      throw new AppError("FORBIDDEN", "only a service may add other users to a room: list only yourself in members; others join a public room themselves");
    }
    const now = Date.now();
    // A user creating a room is its first member; a service creates rooms for others.
    const members = new Map<string, RoomMemberRecord>();
    if (!privileged) members.set(actor.userId, withName({ userId: actor.userId, joinedAt: now }, actor.name));
    for (const userId of input.members ?? []) if (!members.has(userId)) members.set(userId, { userId, joinedAt: now });
    if (members.size > maxSize) throw new AppError("ROOM_FULL", `${members.size} members do not fit a room of ${maxSize}`, { maxSize, members: members.size });

    const record: RoomRecord = {
      tenant: actor.tenant,
      id: input.id ?? `room-${randomUUID()}`,
      name: input.name,
      type: input.type ?? DEFAULT_ROOM_TYPE,
      visibility: input.visibility ?? "public",
      createdBy: actor.userId,
      createdAt: now,
      maxSize,
    };
    // Services are not counted: they create rooms for others, as many as their backend needs.
    const limit = privileged ? undefined : config.maxRoomsPerUser;
    const outcome = await engine.rooms.create(record, [...members.values()], config.roomIdleTtlS, limit);
    if (outcome === "exists") throw new AppError("CONFLICT", `room ${record.id} already exists`);
    if (outcome === "quota") {
      throw new AppError("QUOTA_EXCEEDED", `a user may have at most ${limit} rooms they created at once; rooms count until they expire`, { limit });
    }
    return toInfo({ ...record, memberCount: members.size });
  }

  /** A room the actor may see: its members (or anyone, for a public room) and services. */
  async info(actor: Actor, roomId: string): Promise<RoomInfo> {
    return toInfo(await this.readable(actor, roomId));
  }

  /**
   * Joins the actor's socket (when given) to a room. Public rooms take new members up to
   * maxSize; private rooms admit only their members. With `since`, returns what was missed.
   */
  async join(actor: Actor, roomId: string, since: string | undefined, socket?: AppSocket): Promise<RoomJoinResult> {
    const room = await this.existing(actor, roomId);
    if (room.visibility === "private" && !(await this.deps.engine.rooms.member(actor.tenant, roomId, actor.userId))) {
      throw new AppError("FORBIDDEN", `room ${roomId} is private`);
    }
    // The socket's place is held before the membership is written, so a refusal changes nothing.
    const subscription = socket && reserve(socket, this.socketRoom(actor, roomId), this.deps.config.maxSubscriptionsPerSocket);
    let outcome: AddMemberResult;
    try {
      outcome = await this.deps.engine.rooms.addMember(actor.tenant, roomId, withName({ userId: actor.userId, joinedAt: Date.now() }, actor.name), this.deps.config.roomIdleTtlS);
      if (outcome === "missing") throw new AppError("NOT_FOUND", `room ${roomId} does not exist`);
      if (outcome === "full") throw new AppError("ROOM_FULL", `room ${roomId} is full (${room.maxSize} members)`, { maxSize: room.maxSize });
      if (outcome === "added") this.emitMemberEvent(actor, roomId, "room:member_joined", actor.userId, actor.name);
      await subscription?.join();
    } finally {
      subscription?.release();
    }

    const result: RoomJoinResult = {
      room: toInfo({ ...room, memberCount: room.memberCount + (outcome === "added" ? 1 : 0) }),
      members: await this.memberList(actor, roomId),
      recovered: false,
      seq: 0,
    };
    // Read after the socket joined: every later message reaches it live.
    if (since !== undefined) {
      const recovery = await this.deps.engine.history.since(actor.tenant, roomId, since, HISTORY_PAGE_MAX);
      result.missed = recovery.messages;
      result.recovered = recovery.recovered;
      if (recovery.hasMore) result.hasMore = true;
      Object.assign(result, recovery.position);
    } else {
      Object.assign(result, await this.deps.engine.history.position(actor.tenant, roomId));
    }
    return result;
  }

  /**
   * The user leaves the room: no longer a member, and every device of theirs unsubscribed.
   * Whether they were on the roster (false: nothing was removed).
   */
  async leave(actor: Actor, roomId: string, userId = actor.userId): Promise<boolean> {
    const room = await this.existing(actor, roomId);
    if (userId !== actor.userId && !isPrivileged(actor) && room.createdBy !== actor.userId) {
      throw new AppError("FORBIDDEN", "only the room's creator or a service may remove another member");
    }
    const removed = await this.deps.engine.rooms.removeMember(actor.tenant, roomId, userId);
    // Told first, so the leaving user's devices hear it too; then unsubscribed on every node.
    if (removed) this.emitMemberEvent(actor, roomId, "room:member_left", userId);
    // …and from the room's documents, which they may open again only if they may still read them.
    const { engine } = this.deps;
    const docs = (await engine.docs.list(actor.tenant, { kind: "room", id: roomId })).map((id) => engine.socketRooms.doc(actor.tenant, id));
    this.deps.io.in(tenantRoom(actor.tenant, userRoom(userId))).socketsLeave([this.socketRoom(actor, roomId), ...docs]);
    return removed;
  }

  /**
   * Adds a member without a socket (REST). A service adds anyone; a user only themselves, on the
   * terms of a join (a private room admits only its members).
   */
  async addMember(actor: Actor, roomId: string, userId: string, name?: string): Promise<{ room: RoomInfo; added: boolean }> {
    const room = await this.existing(actor, roomId);
    if (!isPrivileged(actor)) {
      if (userId !== actor.userId) throw new AppError("FORBIDDEN", "only a service may add another user to a room; users join rooms themselves");
      if (room.visibility === "private" && !(await this.deps.engine.rooms.member(actor.tenant, roomId, userId))) {
        throw new AppError("FORBIDDEN", `room ${roomId} is private`);
      }
    }
    const outcome = await this.deps.engine.rooms.addMember(actor.tenant, roomId, withName({ userId, joinedAt: Date.now() }, name), this.deps.config.roomIdleTtlS);
    if (outcome === "missing") throw new AppError("NOT_FOUND", `room ${roomId} does not exist`);
    if (outcome === "full") throw new AppError("ROOM_FULL", `room ${roomId} is full (${room.maxSize} members)`, { maxSize: room.maxSize });
    if (outcome === "added") this.emitMemberEvent(actor, roomId, "room:member_joined", userId, name);
    return { room: toInfo({ ...room, memberCount: room.memberCount + (outcome === "added" ? 1 : 0) }), added: outcome === "added" };
  }

  /** Stores and delivers a message. Members publish; services publish anywhere in their tenant. */
  async publish(actor: Actor, roomId: string, input: PublishPayload): Promise<PublishResult> {
    const { config, engine } = this.deps;
    const from = actor.deviceId === undefined ? { userId: actor.userId } : { userId: actor.userId, deviceId: actor.deviceId };
    const { historySize, historyTtlS, roomIdleTtlS: idleTtlS } = config;
    const memberRequired = isPrivileged(actor) ? undefined : actor.userId;
    const result = await publishMessage(engine.history, { tenant: actor.tenant, room: roomId, from: withName(from, actor.name), input, memberRequired, historySize, historyTtlS, idleTtlS });
    if (!result.duplicate) this.deps.metrics.messagesPublished.inc({ kind: input.kind ?? DEFAULT_MESSAGE_KIND });
    return result;
  }

  /**
   * Tells this node's sockets where each of their rooms stands (`room:position`, to the local
   * sockets only): after the node's subscription to the other nodes came back, a client that is
   * behind (even by the room's last message) reads the rest from history. Returns how many rooms.
   */
  async tellPositions(): Promise<number> {
    const { io, engine } = this.deps;
    const { rooms, sids } = io.of("/").adapter;
    // Every socket is in a room named by its id: not a client room.
    const local: (RoomRef & { socketRoom: string })[] = [];
    for (const socketRoom of rooms.keys()) {
      const ref = sids.has(socketRoom) ? undefined : engine.socketRooms.roomOf(socketRoom);
      if (ref) local.push({ ...ref, socketRoom });
    }
    for (let i = 0; i < local.length; i += POSITION_BATCH) {
      const batch = local.slice(i, i + POSITION_BATCH);
      const positions = await engine.history.positions(batch);
      batch.forEach(({ room, socketRoom }, j) => io.local.to(socketRoom).emit("room:position", { room, ...positions[j]! }));
    }
    return local.length;
  }

  async history(actor: Actor, roomId: string, query: HistoryQuery): Promise<HistoryPage> {
    await this.readable(actor, roomId);
    return this.deps.engine.history.page(actor.tenant, roomId, { ...query, limit: query.limit ?? DEFAULT_HISTORY_LIMIT });
  }

  async members(actor: Actor, roomId: string, onlineOnly = false): Promise<Member[]> {
    await this.readable(actor, roomId);
    const members = await this.memberList(actor, roomId);
    return onlineOnly ? members.filter((m) => m.online) : members;
  }

  /** Tells the sender's devices that the actor read a message. */
  async read(actor: Actor, roomId: string, id: string): Promise<void> {
    const room = await this.existing(actor, roomId);
    if (!isPrivileged(actor) && !(await this.deps.engine.rooms.member(actor.tenant, roomId, actor.userId))) {
      throw new AppError("FORBIDDEN", `only members read room ${room.id}`);
    }
    const message = await this.deps.engine.history.message(actor.tenant, roomId, id);
    if (!message) throw new AppError("NOT_FOUND", `message ${id} is not in room ${roomId}'s history`);
    this.deps.io.to(tenantRoom(actor.tenant, userRoom(message.from.userId))).emit("message:receipt", { room: roomId, id, userId: actor.userId, ts: Date.now() });
  }

  private async memberList(actor: Actor, roomId: string): Promise<Member[]> {
    const records = await this.deps.engine.rooms.members(actor.tenant, roomId);
    const devices = await Promise.all(records.map((m) => this.deps.engine.presence.devices(actor.tenant, m.userId)));
    return records
      .map((m, i) => withName({ userId: m.userId, online: devices[i]!.length > 0, devices: devices[i]! }, m.name))
      .sort((a, b) => a.userId.localeCompare(b.userId));
  }

  private emitMemberEvent(actor: Actor, roomId: string, event: "room:member_joined" | "room:member_left", userId: string, name?: string): void {
    const body: MemberEvent = withName({ room: roomId, userId, ts: Date.now() }, name);
    this.deps.io.to(this.socketRoom(actor, roomId)).emit(event, body);
  }

  private async existing(actor: Actor, roomId: string): Promise<StoredRoom> {
    assertNotReserved(roomId);
    const room = await this.deps.engine.rooms.get(actor.tenant, roomId);
    if (!room) throw new AppError("NOT_FOUND", `room ${roomId} does not exist`);
    return room;
  }

  /** Exists, and is public, or the actor is a member or privileged. */
  private async readable(actor: Actor, roomId: string): Promise<StoredRoom> {
    const room = await this.existing(actor, roomId);
    if (room.visibility === "private" && !isPrivileged(actor) && !(await this.deps.engine.rooms.member(actor.tenant, roomId, actor.userId))) {
      throw new AppError("FORBIDDEN", `room ${roomId} is private`);
    }
    return room;
  }
}

function toInfo(room: StoredRoom): RoomInfo {
  const { id, name, type, visibility, createdBy, createdAt, maxSize, memberCount } = room;
  return { id, name, type, visibility, createdBy, createdAt, maxSize, memberCount };
}

function withName<T extends object>(value: T, name: string | undefined): T & { name?: string } {
  return name === undefined ? value : { ...value, name };
}
