/**
 * Rooms and messages (PROTOCOL §3 "Rooms and messages", §4 room endpoints): room names, the
 * payload types and the schemas shared by nodes, the emitter and clients.
 *
 * Clients speak of rooms by id; the server keeps reserved prefixes for rooms it manages, and
 * scopes every Socket.IO room by tenant so tenants never share a room.
 */
import Joi from "joi";
import { AppError } from "./errors";
import { docRoom, parseDocId } from "./docs";
import { scopeHashTag } from "./keys";
import { epochMs, TENANT_PATTERN, userId } from "./schemas";

export const RESERVED_ROOM_PREFIXES = ["user:", "workspace:", "agent:", "presence:", "leaderboard:", "stream:", "doc:"] as const;

export const ROOM_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isReservedRoomId(id: string): boolean {
  return RESERVED_ROOM_PREFIXES.some((prefix) => id.startsWith(prefix));
}

/** FORBIDDEN for a room id only the server names (a user's, a workspace's, …): no one creates, joins or publishes to it as a room. */
export function assertNotReserved(id: string): void {
  if (isReservedRoomId(id)) throw new AppError("FORBIDDEN", `room ids starting with ${id.slice(0, id.indexOf(":") + 1)} are reserved for the server`);
}

export const userRoom = (userId: string): string => `user:${userId}`;
export const workspaceRoom = (workspaceId: string): string => `workspace:${workspaceId}`;
export const agentRoom = (agentId: string): string => `agent:${agentId}`;
export const presenceRoom = (userId: string): string => `presence:${userId}`;
export const leaderboardRoom = (leaderboardId: string): string => `leaderboard:${leaderboardId}`;
export const streamRoom = (streamName: string): string => `stream:${streamName}`;

/**
 * Every socket of a tenant is in this room, so a broadcast reaches the tenant and no other.
 * `*` never appears in a room id, so no client room can take the name.
 */
export const TENANT_WIDE_ROOM = "*";

/** The tenant of tokens without a `tenant` claim. */
export const DEFAULT_TENANT = "";

/**
 * The Socket.IO room that carries `room` for `tenant`. The default tenant keeps plain names,
 * so an emitter with no tenant configured reaches the same rooms as a node.
 * `/` never appears in ids or tenants, so scoped names cannot collide.
 */
export function tenantRoom(tenant: string, room: string): string {
  return tenant === DEFAULT_TENANT ? room : `${tenant}/${room}`;
}

/**
 * The tenant and room a Socket.IO room carries (the inverse of tenantRoom), when it carries a
 * client room: undefined for rooms the server manages (reserved prefixes, the tenant-wide room)
 * and for names that are no room id.
 */
export function clientRoomOf(socketRoom: string): { tenant: string; room: string } | undefined {
  const slash = socketRoom.indexOf("/");
  const tenant = slash < 0 ? DEFAULT_TENANT : socketRoom.slice(0, slash);
  const room = socketRoom.slice(slash + 1);
  if (slash >= 0 && !TENANT_PATTERN.test(tenant)) return undefined;
  return ROOM_ID_PATTERN.test(room) && !isReservedRoomId(room) ? { tenant, room } : undefined;
}

/** The Socket.IO room holding every socket of `tenant` (the emitter's `broadcast`). */
export function tenantWideRoom(tenant: string): string {
  return tenantRoom(tenant, TENANT_WIDE_ROOM);
}

/**
 * The Socket.IO rooms whose events a store's script publishes in the same step as it writes them:
 * a room's (its messages, and everything else its sockets hear: members, typing, cursors, the
 * presence of its members) and a document's. Every place that names them asks the engine's.
 */
export interface SocketRooms {
  room(tenant: string, roomId: string): string;
  doc(tenant: string, docId: string): string;
  /** The tenant and client room a Socket.IO room carries (the inverse of `room`); undefined for any other name. */
  roomOf(socketRoom: string): { tenant: string; room: string } | undefined;
}

const plainRooms: SocketRooms = {
  room: (tenant, roomId) => tenantRoom(tenant, roomId),
  doc: (tenant, docId) => tenantRoom(tenant, docRoom(docId)),
  roomOf: clientRoomOf,
};

/**
 * On a Redis Cluster each name begins with the hash tag of its room's (or workspace's) keys —
 * `{r::math-101}math-101`, `{r:acme:math-101}acme/math-101`, `{r::math-101}doc:room:math-101/notes`,
 * `{w::w1}doc:workspace:w1/src/main.ts` — so the sharded
 * adapter's channel of that Socket.IO room hashes to the keys' slot, where the script can SPUBLISH.
 * With one Redis or none they are the plain tenant-scoped names (`math-101`, `acme/math-101`),
 * the ones `@socket.io/redis-emitter` reaches. No other Socket.IO room begins with `{`.
 */
export function socketRooms(onCluster: boolean): SocketRooms {
  return onCluster ? slottedRooms : plainRooms;
}

const slottedRooms: SocketRooms = {
  room: (tenant, roomId) => `${scopeHashTag(tenant, { kind: "room", id: roomId })}${plainRooms.room(tenant, roomId)}`,
  doc: (tenant, docId) => {
    const parsed = parseDocId(docId);
    if (!parsed) throw new Error(`not a document id: ${docId}`);
    return `${scopeHashTag(tenant, parsed.scope)}${plainRooms.doc(tenant, docId)}`;
  },
  roomOf: (socketRoom) => {
    // The plain name after the hash tag, when the tag is the one that name's room gets.
    const ref = socketRoom.startsWith("{") ? clientRoomOf(socketRoom.slice(socketRoom.indexOf("}") + 1)) : undefined;
    return ref && slottedRooms.room(ref.tenant, ref.room) === socketRoom ? ref : undefined;
  },
};

export const ROOM_VISIBILITIES = ["public", "private"] as const;
export type RoomVisibility = (typeof ROOM_VISIBILITIES)[number];
export const MESSAGE_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type MessagePriority = (typeof MESSAGE_PRIORITIES)[number];
/** The most messages one history page (or one recovery) returns. */
export const HISTORY_PAGE_MAX = 500;
/** The largest cursor position, serialized. */
export const CURSOR_MAX_BYTES = 1024;

export interface RoomInfo {
  id: string;
  name: string;
  type: string;
  visibility: RoomVisibility;
  createdBy: string;
  /** ms since the epoch. */
  createdAt: number;
  maxSize: number;
  memberCount: number;
}

export interface Member {
  userId: string;
  name?: string;
  online: boolean;
  devices: string[];
}

export interface MessageSender {
  userId: string;
  deviceId?: string;
  name?: string;
}

export interface Message {
  room: string;
  /** The room's history offset (`<ms>-<seq>`): ordered and unique per room. */
  id: string;
  /**
   * The message's position in the room's history epoch: 1, 2, 3, … with no hole, so a receiver
   * sees a lost delivery at the next message. Absent only on messages stored before positions existed.
   */
  seq?: number;
  /** The room's history epoch `seq` counts in; a new epoch starts (at 1) when history was lost. */
  epoch?: string;
  from: MessageSender;
  kind: string;
  data: unknown;
  ts: number;
  priority: MessagePriority;
  replyTo?: string;
}

export interface RoomCreatePayload {
  id?: string;
  name: string;
  type?: string;
  maxSize?: number;
  visibility?: RoomVisibility;
  members?: string[];
}
export interface RoomRefPayload {
  room: string;
}
export interface RoomJoinPayload extends RoomRefPayload {
  since?: string;
}
/**
 * Where a room's history stands: the newest message's `seq` and `epoch`. An empty history is
 * `{ seq: 0 }` with no epoch (its next message starts a new one).
 */
export interface RoomPosition {
  seq: number;
  epoch?: string;
}
/**
 * `room:position`: where a room stands, sent by a node to its own sockets in the room when its
 * subscription to the other nodes came back after a loss, so a client that is behind reads what
 * it missed from history (PROTOCOL §3 "Rooms and messages").
 */
export interface RoomPositionEvent extends RoomPosition {
  room: string;
}
export interface RoomJoinResult extends RoomPosition {
  room: RoomInfo;
  members: Member[];
  missed?: Message[];
  recovered: boolean;
  /** True when more messages were missed than one answer carries: page on with room:history. */
  hasMore?: boolean;
}
export interface PublishPayload {
  data: unknown;
  kind?: string;
  priority?: MessagePriority;
  replyTo?: string;
  clientMsgId?: string;
}
export interface RoomPublishPayload extends RoomRefPayload, PublishPayload {}
export interface PublishResult {
  id: string;
  ts: number;
  /** The message's position (for a duplicate: the first publish's). */
  seq: number;
  epoch: string;
  /** True when `clientMsgId` matched an earlier publish: nothing was stored or delivered again. */
  duplicate?: boolean;
}
export interface HistoryQuery {
  before?: string;
  after?: string;
  limit?: number;
}
export interface RoomHistoryPayload extends RoomRefPayload, HistoryQuery {}
export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}
export interface RoomTypingPayload extends RoomRefPayload {
  typing: boolean;
}
export interface RoomCursorPayload extends RoomRefPayload {
  position: unknown;
}
export interface MessageReadPayload extends RoomRefPayload {
  id: string;
}

export interface MemberEvent {
  room: string;
  userId: string;
  name?: string;
  ts: number;
}
export interface TypingEvent {
  room: string;
  userId: string;
  typing: boolean;
}
export interface CursorEvent {
  room: string;
  userId: string;
  deviceId: string;
  position: unknown;
}
export interface ReceiptEvent {
  room: string;
  id: string;
  userId: string;
  ts: number;
}

export const roomId = Joi.string().pattern(ROOM_ID_PATTERN, "room id");

/** A room history offset: `<ms>-<seq>`, as Redis Streams number entries. */
export const MESSAGE_ID_PATTERN = /^\d{1,15}-\d{1,15}$/;
export const messageId = Joi.string().pattern(MESSAGE_ID_PATTERN, "message id");

/**
 * A lone surrogate half is not text (UTF-8 cannot carry it). A room's record is read back by a
 * Redis script (cjson), which cannot decode one: nobody could join the room.
 */
const LONE_SURROGATE = /\p{Cs}/u;
const roomName = Joi.string()
  .min(1)
  .max(128)
  .custom((value: string, helpers) => (LONE_SURROGATE.test(value) ? helpers.error("string.wellFormed") : value), "well-formed text")
  .messages({ "string.wellFormed": "{{#label}} must be well-formed Unicode text (no lone surrogate)" });
const kind = Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,32}$/, "message kind");
const clientMsgId = Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "client message id");
const data = Joi.any().required().invalid(null);

/** Fields of a room creation, shared by `room:create` and `POST /v1/rooms`. */
export const roomCreateFields = {
  id: roomId,
  name: roomName.required(),
  type: Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,32}$/, "room type"),
  maxSize: Joi.number().integer().min(1),
  visibility: Joi.string().valid(...ROOM_VISIBILITIES),
  members: Joi.array().items(userId).max(1000).unique(),
};

/** Fields of a publish, shared by `room:publish` and `POST /v1/rooms/:id/messages`. */
export const publishFields = {
  data,
  kind,
  priority: Joi.string().valid(...MESSAGE_PRIORITIES),
  replyTo: messageId,
  clientMsgId,
};

/** Paging of history, shared by `room:history` and `GET /v1/rooms/:id/messages`. */
export const historyFields = {
  before: messageId,
  after: messageId,
  limit: Joi.number().integer().min(1).max(HISTORY_PAGE_MAX),
};

const roomRef = { room: roomId.required() };

export const roomSchemas = {
  "room:create": Joi.object(roomCreateFields),
  "room:join": Joi.object({ ...roomRef, since: messageId }),
  "room:leave": Joi.object(roomRef),
  "room:publish": Joi.object({ ...roomRef, ...publishFields }),
  "room:history": Joi.object({ ...roomRef, ...historyFields }),
  "room:members": Joi.object(roomRef),
  "room:typing": Joi.object({ ...roomRef, typing: Joi.boolean().required() }),
  "room:cursor": Joi.object({ ...roomRef, position: Joi.any().required().invalid(null) }),
  "message:read": Joi.object({ ...roomRef, id: messageId.required() }),
} as const;

/*
 * Response schemas (REST answers, PROTOCOL §4): they describe what a node sends, for the OpenAPI
 * document served at `GET /v1/openapi.json`; nodes do not validate their answers with them.
 */

export const roomInfoSchema = Joi.object<RoomInfo>({
  id: roomId.required(),
  name: Joi.string().required(),
  type: Joi.string().required(),
  visibility: Joi.string().valid(...ROOM_VISIBILITIES).required(),
  createdBy: Joi.string().required(),
  createdAt: epochMs.required(),
  maxSize: Joi.number().integer().min(1).required(),
  memberCount: Joi.number().integer().min(0).required(),
}).id("RoomInfo");

export const memberSchema = Joi.object<Member>({
  userId: userId.required(),
  name: Joi.string(),
  online: Joi.boolean().required(),
  devices: Joi.array().items(Joi.string()).required(),
}).id("Member");

export const messageSchema = Joi.object<Message>({
  room: roomId.required(),
  id: messageId.required(),
  seq: Joi.number().integer().min(1),
  epoch: Joi.string(),
  from: Joi.object({ userId: Joi.string().required(), deviceId: Joi.string(), name: Joi.string() }).required(),
  kind: Joi.string().required(),
  data: Joi.any().required().description("the JSON value that was published"),
  ts: epochMs.required(),
  priority: Joi.string().valid(...MESSAGE_PRIORITIES).required(),
  replyTo: messageId,
}).id("Message");

export const publishResultSchema = Joi.object<PublishResult>({
  id: messageId.required(),
  ts: epochMs.required(),
  seq: Joi.number().integer().min(1).required(),
  epoch: Joi.string().required(),
  duplicate: Joi.boolean(),
});

export const historyPageSchema = Joi.object<HistoryPage>({ messages: Joi.array().items(messageSchema).required(), hasMore: Joi.boolean().required() });
