/**
 * Joi schemas for every payload that crosses the wire: the one source of truth for nodes,
 * the emitter and the REST API. Unknown keys are rejected everywhere (joi's default for
 * objects), and socket payloads are validated without type conversion.
 */
import Joi from "joi";
import { ROOM_ID_PATTERN } from "./rooms";


export const USER_ID_PATTERN = /^[A-Za-z0-9_.@:+-]{1,128}$/;
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const userId = Joi.string().pattern(USER_ID_PATTERN, "user id");
export const deviceId = Joi.string().pattern(DEVICE_ID_PATTERN, "device id");
export const tenantId = Joi.string().pattern(TENANT_PATTERN, "tenant id");
export const roomId = Joi.string().pattern(ROOM_ID_PATTERN, "room id");

/** Options for socket payloads: JSON is already typed, so nothing is converted. */
export const PAYLOAD_OPTIONS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: false,
  allowUnknown: false,
};

/** Options for REST query strings and path parameters, which arrive as strings. */
export const QUERY_OPTIONS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: true,
  allowUnknown: false,
};

/** `socket.handshake.auth` as a client may send it. */
export const handshakeAuth = Joi.object({
  token: Joi.string().max(8192),
  deviceId: deviceId,
});

/** The JWT claims a node relies on, after the signature and `exp` were checked by jose. */
export const tokenClaims = Joi.object({
  sub: userId.required(),
  exp: Joi.number().integer().required(),
  name: Joi.string().max(128),
  tenant: tenantId,
  roles: Joi.array().items(Joi.string().max(64)).max(32),
}).unknown(true);

/** A room history offset: `<ms>-<seq>`, as Redis Streams number entries. */
export const MESSAGE_ID_PATTERN = /^\d{1,15}-\d{1,15}$/;
export const messageId = Joi.string().pattern(MESSAGE_ID_PATTERN, "message id");

export const ROOM_VISIBILITIES = ["public", "private"] as const;
export const MESSAGE_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
/** The most messages one history page (or one recovery) returns. */
export const HISTORY_PAGE_MAX = 500;
/** The largest cursor position, serialized. */
export const CURSOR_MAX_BYTES = 1024;

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

export const commandSchemas = {
  "system:ping": Joi.object({
    clientTime: Joi.number().integer().min(0),
  }),
  "session:refresh": Joi.object({ token: Joi.string().max(8192).required() }),
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

export type CommandName = keyof typeof commandSchemas;
