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

export const commandSchemas = {
  "system:ping": Joi.object({
    clientTime: Joi.number().integer().min(0),
  }),
} as const;

export type CommandName = keyof typeof commandSchemas;
