/**
 * Rooms and their history in Redis. A room's keys share one hash tag, so each script runs on
 * one slot of a Redis Cluster. History is a Stream whose entry ids are the message ids.
 */
import { randomBytes } from "node:crypto";
import { socketRooms, type HistoryQuery, type KeyLayout, type Message, type RoomPosition, type SocketRooms } from "@switchboard/shared";
import { compareMessageIds, newEpoch, toMessage, type MessagePosition } from "../messages";
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
import type { RedisClient } from "../script";
import type { Delivery } from "../delivery";
import { messageArguments, messageFrame, type MessageFrame } from "../frames";
import { BoundedMemo } from "../memo";
import { TurnBatches } from "../turn-batches";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

const createRoom = new RedisScript(LUA["rooms/create"]);
const addMember = new RedisScript(LUA["rooms/add-member"]);
const publishMessages = new RedisScript(LUA["rooms/publish-messages"]);
const reserveCreatedRoom = new RedisScript(LUA["rooms/reserve-created"]);
const hdelIfEqual = new RedisScript(LUA["rooms/release-created"]);

/**
 * How long a reservation for a room being created is safe from pruning: far longer than a create
 * takes, so only the reservation of a node that died mid-create is ever pruned unconfirmed.
 */
const RESERVATION_GRACE_MS = 60_000;
/** Room metadata reads in flight at once while pruning a user's created rooms. */
const PRUNE_BATCH = 100;

/** A room id reserved on its creator's slot: the hash, the field and the value written there. */
interface CreatedReservation {
  key: string;
  id: string;
  token: string;
  value: string;
}

/**
 * Hash room id -> reservation: the rooms a user created under the quota (see RESERVE_CREATED_ROOM).
 * Built on the user's room index key, so it carries the user's hash tag and lives on their slot.
 */
function createdRoomsKey(keys: KeyLayout, tenant: string, userId: string): string {
  return `${keys.userRooms(tenant, userId)}:created`;
}

export class RedisRoomRegistry implements RoomRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  /**
   * With a quota, the creator's slot is reserved first (atomically counted there), then the room
   * is created on its own slot; the reservation is confirmed when the room exists, released when
   * it does not. Two scripts, as the user's and the room's keys hash to different slots.
   */
  async create(room: RoomRecord, members: RoomMemberRecord[], idleTtlS: number, maxCreated?: number): Promise<CreateRoomResult> {
    const { tenant, id } = room;
    const reservation = maxCreated === undefined ? undefined : await this.reserveCreated(room, maxCreated);
    if (reservation === "exists" || reservation === "quota") return reservation;
    const pairs = members.flatMap((m) => [m.userId, memberJson(m)]);
    let created: boolean;
    try {
      const reply = await createRoom.run(
        this.redis,
        [this.keys.roomMeta(tenant, id), this.keys.roomMembers(tenant, id), this.keys.roomHistory(tenant, id)],
        [idleTtlS, JSON.stringify(room), ...pairs],
      );
      created = Number(reply) === 1;
    } catch (err) {
      // Whether the room exists is unknown: a reservation left behind is pruned once it is stale.
      if (reservation) await this.releaseCreated(reservation).catch(() => undefined);
      throw err;
    }
    if (reservation) {
      if (!created) await this.releaseCreated(reservation);
      // Unconfirmed, the entry still counts, and is kept by pruning as long as the room is the user's.
      else await this.redis.hset(reservation.key, id, `c:${reservation.token}`).catch(() => undefined);
    }
    if (!created) return "exists";
    await Promise.all(members.map((m) => this.indexMember(tenant, id, m.userId, idleTtlS)));
    return "created";
  }

  /**
   * Reserves a room id on the creator's slot. Refused, it prunes the entries whose rooms are gone
   * (expired, or now someone else's) and tries once more.
   */
  private async reserveCreated(room: RoomRecord, limit: number): Promise<CreatedReservation | "exists" | "quota"> {
    const key = createdRoomsKey(this.keys, room.tenant, room.createdBy);
    const token = randomBytes(8).toString("hex");
    let stale: string[] = [];
    for (let attempt = 0; ; attempt++) {
      const [outcome, value] = (await reserveCreatedRoom.run(this.redis, [key], [limit, room.id, token, RESERVATION_GRACE_MS, ...stale])) as [string, string | number | undefined];
      if (outcome === "ok") return { key, id: room.id, token, value: String(value) };
      const refusal = outcome === "exists" ? "exists" : "quota";
      if (attempt > 0) return refusal;
      stale = await this.staleCreated(room.tenant, room.createdBy, key, refusal === "exists" ? room.id : undefined);
      if (stale.length === 0) return refusal;
    }
  }

  /** Entries (id, value pairs) of the user's created rooms whose room is gone or no longer theirs; all, or only `onlyId`. */
  private async staleCreated(tenant: string, userId: string, key: string, onlyId?: string): Promise<string[]> {
    let entries: [string, string][];
    if (onlyId === undefined) entries = Object.entries(await this.redis.hgetall(key));
    else {
      const value = await this.redis.hget(key, onlyId);
      entries = value === null ? [] : [[onlyId, value]];
    }
    const stale: string[] = [];
    for (let i = 0; i < entries.length; i += PRUNE_BATCH) {
      const batch = entries.slice(i, i + PRUNE_BATCH);
      // One GET per room: on a Redis Cluster each room's meta is on a slot of its own.
      const metas = await Promise.all(batch.map(([id]) => this.redis.get(this.keys.roomMeta(tenant, id))));
      batch.forEach(([id, value], j) => {
        const meta = metas[j];
        if (!meta || (JSON.parse(meta) as RoomRecord).createdBy !== userId) stale.push(id, value);
      });
    }
    return stale;
  }

  /** Gives a reservation back, unless it was pruned and the id reserved again meanwhile. */
  private async releaseCreated(reservation: CreatedReservation): Promise<void> {
    await hdelIfEqual.run(this.redis, [reservation.key], [reservation.id, reservation.value]);
  }

  async get(tenant: string, id: string): Promise<(RoomRecord & { memberCount: number }) | undefined> {
    const results = await this.redis.multi().get(this.keys.roomMeta(tenant, id)).hlen(this.keys.roomMembers(tenant, id)).exec();
    const [[metaErr, meta], [countErr, count]] = results as [[Error | null, string | null], [Error | null, number]];
    if (metaErr ?? countErr) throw metaErr ?? countErr;
    if (!meta) return undefined;
    return { ...(JSON.parse(meta) as RoomRecord), memberCount: count };
  }

  async addMember(tenant: string, id: string, member: RoomMemberRecord, idleTtlS: number): Promise<AddMemberResult> {
    const outcome = String(await addMember.run(this.redis, [this.keys.roomMeta(tenant, id), this.keys.roomMembers(tenant, id)], [member.userId, memberJson(member), idleTtlS])) as AddMemberResult;
    if (outcome === "added" || outcome === "present") await this.indexMember(tenant, id, member.userId, idleTtlS);
    return outcome;
  }

  async removeMember(tenant: string, id: string, userId: string): Promise<boolean> {
    const removed = (await this.redis.hdel(this.keys.roomMembers(tenant, id), userId)) === 1;
    await this.redis.srem(this.keys.userRooms(tenant, userId), id);
    return removed;
  }

  async roomsOf(tenant: string, userId: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.userRooms(tenant, userId))).sort();
  }

  /**
   * The user's side of a membership, on the user's slot (the room's keys live on another), so it
   * is written after the room's script; it lives as long as the rooms it names stay in use.
   */
  private async indexMember(tenant: string, roomId: string, userId: string, idleTtlS: number): Promise<void> {
    const key = this.keys.userRooms(tenant, userId);
    await this.redis.multi().sadd(key, roomId).expire(key, idleTtlS).exec();
  }

  async member(tenant: string, id: string, userId: string): Promise<RoomMemberRecord | undefined> {
    const json = await this.redis.hget(this.keys.roomMembers(tenant, id), userId);
    return json ? parseMember(userId, json) : undefined;
  }

  async members(tenant: string, id: string): Promise<RoomMemberRecord[]> {
    const all = await this.redis.hgetall(this.keys.roomMembers(tenant, id));
    return Object.entries(all).map(([userId, json]) => parseMember(userId, json));
  }
}

type StreamEntry = [id: string, fields: string[]];

/** A message waiting for its room's script call: see RedisRoomHistory.publish. */
interface PendingPublish {
  target: PublishTarget;
  once?: string;
  stored: string;
  memberRequired?: string;
  historySize: number;
  historyTtlS: number;
  idleTtlS: number;
}

/** The publish script's answer for one message (store/lua/rooms/publish-messages.lua). */
type PublishAnswer = [outcome: PublishOutcome["status"], id?: string, seq?: number, epoch?: string];

/** The most messages one publish script call stores: bounds how long the script holds Redis. */
const MAX_PUBLISH_BATCH = 64;

/** What every publish into one room names: its keys, its Socket.IO room and its frame. */
interface PublishTarget {
  /** The room's memo key: tenant and room. */
  key: string;
  meta: string;
  members: string;
  history: string;
  socketRoom: string;
  frame?: Readonly<MessageFrame>;
}

/**
 * How a stored message reaches the room's sockets: the publish script stores it and SPUBLISHes the
 * sharded adapter's own packet on the room's channel in one step (on a Redis Cluster the room's
 * Socket.IO name carries the hash tag of its keys, so the channel is on their slot), so a message
 * stored reaches every node with sockets in the room even when this process dies right after;
 * then this process delivers to its own sockets.
 */
export class RedisRoomHistory implements RoomHistory {
  private delivery?: Delivery;
  private readonly rooms: SocketRooms;
  /** The publish targets of the rooms published into last, by tenant and room. */
  private readonly targets = new BoundedMemo<PublishTarget>(10_000);
  private readonly publishes = new TurnBatches<PendingPublish, PublishOutcome>((_batch, items) => this.publishTogether(items), MAX_PUBLISH_BATCH);

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    /** True on a Redis Cluster: Socket.IO room names carry their keys' hash tag. */
    cluster: boolean,
  ) {
    this.rooms = socketRooms(cluster);
  }

  /** Where published messages go; without one they are stored and reach nobody. */
  deliverThrough(delivery: Delivery): void {
    this.delivery = delivery;
    this.targets.clear();
  }

  private publishTarget(tenant: string, room: string): PublishTarget {
    // Length first: no two (tenant, room) pairs make the same memo key.
    const key = `${tenant.length}:${tenant}${room}`;
    const known = this.targets.get(key);
    if (known) return known;
    const socketRoom = this.rooms.room(tenant, room);
    const frame = this.delivery && messageFrame(this.delivery.uid, socketRoom, room);
    const { keys } = this;
    return this.targets.set(key, { key, meta: keys.roomMeta(tenant, room), members: keys.roomMembers(tenant, room), history: keys.roomHistory(tenant, room), socketRoom, frame });
  }

  /**
   * Stores and delivers a message. The messages published into one room in the same turn are
   * stored by one script call, in the order they came (see TurnBatches), each answered as if alone.
   */
  publish(request: PublishRequest): Promise<PublishOutcome> {
    const { tenant, room, message, historySize, historyTtlS, idleTtlS } = request;
    const target = this.publishTarget(tenant, room);
    const once = request.clientMsgId === undefined ? undefined : this.keys.roomPublishOnce(tenant, room, message.from.userId, request.clientMsgId);
    // The room, and the history settings, which every message of one script call shares.
    const batch = `${target.key}|${historySize}|${historyTtlS}|${idleTtlS}`;
    return this.publishes.add(batch, { target, once, stored: JSON.stringify(message), memberRequired: request.memberRequired, historySize, historyTtlS, idleTtlS });
  }

  /** Resolves once every publish made so far is answered: see SwitchboardEmitter.close(). */
  settled(): Promise<void> {
    return this.publishes.settled();
  }

  private async publishTogether(items: readonly PendingPublish[]): Promise<PublishOutcome[]> {
    const { target, historySize, historyTtlS, idleTtlS } = items[0]!;
    const { meta, members, history, socketRoom, frame } = target;
    const keys = [meta, members, history];
    const args: (string | number)[] = [historySize, historyTtlS, idleTtlS, newEpoch(), frame?.channel ?? "", frame?.head ?? "", frame?.room ?? "", frame?.tail ?? ""];
    for (const item of items) {
      keys.push(item.once ?? history);
      args.push(item.memberRequired ?? "", item.stored, item.once ? "1" : "0");
    }
    const answers = (await publishMessages.run(this.redis, keys, args)) as PublishAnswer[];
    return answers.map(([outcome, id, seq, epoch], i) => {
      if (outcome === "missing" || outcome === "forbidden") return { status: outcome };
      if (outcome === "duplicate") return seq === undefined ? { status: "duplicate", id: id! } : { status: "duplicate", id: id!, seq: Number(seq), epoch: epoch! };
      const position = { seq: Number(seq), epoch: epoch! };
      if (frame) this.delivery!.localText(socketRoom, "room:message", messageArguments(frame, id!, position.seq, position.epoch, items[i]!.stored));
      return { status: "published", id: id!, ...position };
    });
  }

  async page(tenant: string, room: string, query: HistoryQuery & { limit: number }): Promise<{ messages: Message[]; hasMore: boolean }> {
    // Nothing precedes 0-0, and Redis refuses the exclusive bound "(0-0".
    if (query.before !== undefined && compareMessageIds(query.before, "0-0") <= 0) return { messages: [], hasMore: false };
    const key = this.keys.roomHistory(tenant, room);
    const upper = query.before === undefined ? "+" : `(${query.before}`;
    let entries: StreamEntry[];
    if (query.after !== undefined) {
      entries = (await this.redis.xrange(key, `(${query.after}`, upper, "COUNT", query.limit + 1)) as StreamEntry[];
      const hasMore = entries.length > query.limit;
      return { messages: entries.slice(0, query.limit).map((e) => parseEntry(room, e)), hasMore };
    }
    entries = (await this.redis.xrevrange(key, upper, "-", "COUNT", query.limit + 1)) as StreamEntry[];
    const hasMore = entries.length > query.limit;
    return { messages: entries.slice(0, query.limit).reverse().map((e) => parseEntry(room, e)), hasMore };
  }

  async since(tenant: string, room: string, since: string, limit: number): Promise<Recovery> {
    const key = this.keys.roomHistory(tenant, room);
    const results = await this.redis
      .multi()
      .xrange(key, "-", "+", "COUNT", 1)
      .xrange(key, `(${since}`, "+", "COUNT", limit + 1)
      .xrevrange(key, "+", "-", "COUNT", 1)
      .exec();
    const [[firstErr, first], [afterErr, after], [newestErr, newest]] = results as [[Error | null, StreamEntry[]], [Error | null, StreamEntry[]], [Error | null, StreamEntry[]]];
    if (firstErr ?? afterErr ?? newestErr) throw firstErr ?? afterErr ?? newestErr;
    // Trimming removes the oldest entries first: history reaches back to `since` when its oldest
    // entry is not newer than `since`.
    const oldest = first[0];
    const recovered = oldest !== undefined && compareMessageIds(since, oldest[0]) >= 0;
    return { messages: after.slice(0, limit).map((e) => parseEntry(room, e)), recovered, hasMore: after.length > limit, position: positionOf(newest[0]) };
  }

  async position(tenant: string, room: string): Promise<RoomPosition> {
    const [newest] = (await this.redis.xrevrange(this.keys.roomHistory(tenant, room), "+", "-", "COUNT", 1)) as StreamEntry[];
    return positionOf(newest);
  }

  /**
   * One read per room, sent together (a node's connection auto-pipelines them; on a Redis Cluster
   * each room's history is on a slot of its own).
   */
  async positions(rooms: readonly RoomRef[]): Promise<RoomPosition[]> {
    const newest = (await Promise.all(rooms.map(({ tenant, room }) => this.redis.xrevrange(this.keys.roomHistory(tenant, room), "+", "-", "COUNT", 1)))) as StreamEntry[][];
    return newest.map((entries) => positionOf(entries[0]));
  }

  async message(tenant: string, room: string, id: string): Promise<Message | undefined> {
    const [entry] = (await this.redis.xrange(this.keys.roomHistory(tenant, room), id, id)) as StreamEntry[];
    return entry && parseEntry(room, entry);
  }
}

/** An entry's fields: `m` the stored message JSON, `s` its seq and `e` its epoch (absent on entries stored before positions existed). */
function entryPosition(fields: string[]): MessagePosition | undefined {
  let seq: string | undefined;
  let epoch: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === "s") seq = fields[i + 1];
    else if (fields[i] === "e") epoch = fields[i + 1];
  }
  return seq === undefined || epoch === undefined ? undefined : { seq: Number(seq), epoch };
}

function positionOf(newest: StreamEntry | undefined): RoomPosition {
  const position = newest && entryPosition(newest[1]);
  return position ?? { seq: 0 };
}

function parseEntry(room: string, [id, fields]: StreamEntry): Message {
  return toMessage(room, id, JSON.parse(fields[1]!) as StoredMessage, entryPosition(fields));
}

function memberJson(member: RoomMemberRecord): string {
  return JSON.stringify(member.name === undefined ? { joinedAt: member.joinedAt } : { name: member.name, joinedAt: member.joinedAt });
}

function parseMember(userId: string, json: string): RoomMemberRecord {
  const { name, joinedAt } = JSON.parse(json) as { name?: string; joinedAt: number };
  return name === undefined ? { userId, joinedAt } : { userId, name, joinedAt };
}
