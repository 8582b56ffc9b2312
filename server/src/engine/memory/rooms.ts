/**
 * Rooms and their history for the memory engine: the same semantics as the Redis engine
 * (idle expiry, trimmed history, idempotent publish), delivered through the local server.
 */
import { compositeKey, type HistoryQuery, type Message, type RoomPosition, type SocketRooms } from "@switchboard/shared";
import { compareMessageIds, MessageIdClock, newEpoch, toMessage } from "@switchboard/store";
import type { AppServer } from "../../io";
import type {
  AddMemberResult,
  CreateRoomResult,
  PublishOutcome,
  PublishRequest,
  Recovery,
  RoomHistory,
  RoomMemberRecord,
  RoomRecord,
  RoomRef,
  RoomRegistry,
  StoredMessage,
} from "../types";

interface Entry {
  id: string;
  message: StoredMessage;
  seq: number;
  epoch: string;
}

interface RoomState {
  record: RoomRecord;
  members: Map<string, RoomMemberRecord>;
  /** When the room expires for idleness (ms since the epoch). */
  expiresAt: number;
  history: Entry[];
  /** When the history expires (ms since the epoch). */
  historyExpiresAt: number;
  /** `userId|clientMsgId` -> id, position and expiry. */
  once: Map<string, { id: string; seq: number; epoch: string; expiresAt: number }>;
}

const SWEEP_INTERVAL_MS = 60_000;

export class MemoryRooms implements RoomRegistry, RoomHistory {
  private readonly rooms = new Map<string, RoomState>();
  /** `tenant|userId` -> ids of rooms the user joined (checked against the rooms on read). */
  private readonly userRooms = new Map<string, Set<string>>();
  /** Per user: ids of the rooms they created under a quota (checked against the rooms on read). */
  private readonly created = new Map<string, { tenant: string; userId: string; ids: Set<string> }>();
  private readonly ids = new MessageIdClock();
  private sockets?: { io: AppServer; rooms: SocketRooms };
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  attach(io: AppServer, rooms: SocketRooms): void {
    this.sockets = { io, rooms };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  async create(room: RoomRecord, members: RoomMemberRecord[], idleTtlS: number, maxCreated?: number): Promise<CreateRoomResult> {
    // The same order of answers as the Redis engine: an id the creator holds is `exists` even at
    // the quota; any other id is counted first.
    const mine = maxCreated === undefined ? undefined : this.createdBy(room.tenant, room.createdBy);
    if (mine && !mine.has(room.id) && mine.size >= maxCreated!) return "quota";
    if (this.state(room.tenant, room.id)) return "exists";
    this.rooms.set(key(room.tenant, room.id), {
      record: { ...room },
      members: new Map(members.map((m) => [m.userId, { ...m }])),
      expiresAt: Date.now() + idleTtlS * 1000,
      history: [],
      historyExpiresAt: 0,
      once: new Map(),
    });
    for (const m of members) this.indexMember(room.tenant, room.id, m.userId);
    if (mine) {
      mine.add(room.id);
      this.created.set(key(room.tenant, room.createdBy), { tenant: room.tenant, userId: room.createdBy, ids: mine });
    }
    return "created";
  }

  /** Ids of the rooms a user created under a quota that still exist (and are still theirs). */
  private createdBy(tenant: string, userId: string): Set<string> {
    const ids = this.created.get(key(tenant, userId))?.ids ?? new Set<string>();
    for (const id of ids) if (this.state(tenant, id)?.record.createdBy !== userId) ids.delete(id);
    if (ids.size === 0) this.created.delete(key(tenant, userId));
    return ids;
  }

  async get(tenant: string, id: string): Promise<(RoomRecord & { memberCount: number }) | undefined> {
    const state = this.state(tenant, id);
    return state && { ...state.record, memberCount: state.members.size };
  }

  async addMember(tenant: string, id: string, member: RoomMemberRecord, idleTtlS: number): Promise<AddMemberResult> {
    const state = this.state(tenant, id);
    if (!state) return "missing";
    state.expiresAt = Date.now() + idleTtlS * 1000;
    if (state.members.has(member.userId)) return "present";
    if (state.members.size >= state.record.maxSize) return "full";
    state.members.set(member.userId, { ...member });
    this.indexMember(tenant, id, member.userId);
    return "added";
  }

  /** Restarts a room's idle timer (a write to one of its documents keeps it alive). */
  touch(tenant: string, id: string, idleTtlS: number): void {
    const state = this.state(tenant, id);
    if (state) state.expiresAt = Math.max(state.expiresAt, Date.now() + idleTtlS * 1000);
  }

  async removeMember(tenant: string, id: string, userId: string): Promise<boolean> {
    const rooms = this.userRooms.get(key(tenant, userId));
    rooms?.delete(id);
    if (rooms?.size === 0) this.userRooms.delete(key(tenant, userId));
    return this.state(tenant, id)?.members.delete(userId) ?? false;
  }

  async roomsOf(tenant: string, userId: string): Promise<string[]> {
    const rooms = this.userRooms.get(key(tenant, userId));
    if (!rooms) return [];
    for (const id of rooms) if (!this.state(tenant, id)?.members.has(userId)) rooms.delete(id);
    if (rooms.size === 0) this.userRooms.delete(key(tenant, userId));
    return [...rooms].sort();
  }

  private indexMember(tenant: string, roomId: string, userId: string): void {
    const userKey = key(tenant, userId);
    const rooms = this.userRooms.get(userKey) ?? new Set<string>();
    rooms.add(roomId);
    this.userRooms.set(userKey, rooms);
  }

  async member(tenant: string, id: string, userId: string): Promise<RoomMemberRecord | undefined> {
    const found = this.state(tenant, id)?.members.get(userId);
    return found && { ...found };
  }

  async members(tenant: string, id: string): Promise<RoomMemberRecord[]> {
    return [...(this.state(tenant, id)?.members.values() ?? [])].map((m) => ({ ...m }));
  }

  async publish(request: PublishRequest): Promise<PublishOutcome> {
    const state = this.state(request.tenant, request.room);
    if (!state) return { status: "missing" };
    if (request.memberRequired !== undefined && !state.members.has(request.memberRequired)) return { status: "forbidden" };
    const now = Date.now();
    const onceKey = request.clientMsgId === undefined ? undefined : compositeKey(request.message.from.userId, request.clientMsgId);
    const prior = onceKey === undefined ? undefined : state.once.get(onceKey);
    if (prior && prior.expiresAt > now) return { status: "duplicate", id: prior.id, seq: prior.seq, epoch: prior.epoch };

    this.expireHistory(state, now);
    const id = this.ids.next(now);
    // As in the Redis engine: the next position after the newest entry; a new epoch once history is gone.
    const newest = state.history.at(-1);
    const entry: Entry = { id, message: request.message, seq: newest ? newest.seq + 1 : 1, epoch: newest?.epoch ?? newEpoch() };
    state.history.push(entry);
    if (state.history.length > request.historySize) state.history.splice(0, state.history.length - request.historySize);
    state.historyExpiresAt = now + request.historyTtlS * 1000;
    state.expiresAt = now + request.idleTtlS * 1000;
    if (onceKey !== undefined) state.once.set(onceKey, { id, seq: entry.seq, epoch: entry.epoch, expiresAt: now + request.historyTtlS * 1000 });

    this.sockets?.io.to(this.sockets.rooms.room(request.tenant, request.room)).emit("room:message", asMessage(request.room, entry));
    return { status: "published", id, seq: entry.seq, epoch: entry.epoch };
  }

  async page(tenant: string, room: string, query: HistoryQuery & { limit: number }): Promise<{ messages: Message[]; hasMore: boolean }> {
    const entries = this.entries(tenant, room).filter(
      (e) => (query.before === undefined || compareMessageIds(e.id, query.before) < 0) && (query.after === undefined || compareMessageIds(e.id, query.after) > 0),
    );
    const hasMore = entries.length > query.limit;
    const picked = query.after !== undefined ? entries.slice(0, query.limit) : entries.slice(-query.limit);
    return { messages: picked.map((e) => asMessage(room, e)), hasMore };
  }

  async since(tenant: string, room: string, since: string, limit: number): Promise<Recovery> {
    const entries = this.entries(tenant, room);
    const first = entries[0];
    // History reaches back when `since` is still in it, or is not older than its oldest entry.
    const recovered = first !== undefined && compareMessageIds(since, first.id) >= 0;
    const after = entries.filter((e) => compareMessageIds(e.id, since) > 0);
    return { messages: after.slice(0, limit).map((e) => asMessage(room, e)), recovered, hasMore: after.length > limit, position: positionOf(entries) };
  }

  async position(tenant: string, room: string): Promise<RoomPosition> {
    return positionOf(this.entries(tenant, room));
  }

  async positions(rooms: readonly RoomRef[]): Promise<RoomPosition[]> {
    return rooms.map(({ tenant, room }) => positionOf(this.entries(tenant, room)));
  }

  async message(tenant: string, room: string, id: string): Promise<Message | undefined> {
    const entry = this.entries(tenant, room).find((e) => e.id === id);
    return entry && asMessage(room, entry);
  }

  private entries(tenant: string, room: string): Entry[] {
    const state = this.state(tenant, room);
    if (!state) return [];
    this.expireHistory(state, Date.now());
    return state.history;
  }

  private expireHistory(state: RoomState, now: number): void {
    if (state.history.length > 0 && state.historyExpiresAt <= now) state.history = [];
    for (const [k, v] of state.once) if (v.expiresAt <= now) state.once.delete(k);
  }

  private state(tenant: string, id: string): RoomState | undefined {
    const k = key(tenant, id);
    const state = this.rooms.get(k);
    if (state && state.expiresAt <= Date.now()) {
      this.rooms.delete(k);
      return undefined;
    }
    return state;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, state] of this.rooms) if (state.expiresAt <= now) this.rooms.delete(k);
    for (const { tenant, userId } of [...this.created.values()]) this.createdBy(tenant, userId);
  }
}

const key = (tenant: string, id: string) => compositeKey(tenant, id);

const asMessage = (room: string, entry: Entry): Message => toMessage(room, entry.id, entry.message, entry);

function positionOf(entries: Entry[]): RoomPosition {
  const newest = entries.at(-1);
  return newest ? { seq: newest.seq, epoch: newest.epoch } : { seq: 0 };
}
