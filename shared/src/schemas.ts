/**
 * The Joi schemas every capability builds on (user, device and tenant ids, the validation
 * options, the handshake and the token claims) and those of the connection's own commands
 * (`system:ping`, `session:refresh`). Each capability's payload schemas live in its own file
 * (rooms.ts, presence.ts, …): together they are the one source of truth for nodes, the emitter
 * and the REST API. Unknown keys are rejected everywhere (joi's default for objects), and socket
 * payloads are validated without type conversion.
 */
import Joi from "joi";

export const USER_ID_PATTERN = /^[A-Za-z0-9_.@:+-]{1,128}$/;
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const userId = Joi.string().pattern(USER_ID_PATTERN, "user id");
export const deviceId = Joi.string().pattern(DEVICE_ID_PATTERN, "device id");
export const tenantId = Joi.string().pattern(TENANT_PATTERN, "tenant id");
/** A time as ms since the epoch (in answers). */
export const epochMs = Joi.number().integer().min(0);

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

/** The connection's own commands; each capability has its own map (roomSchemas, presenceSchemas, …). */
export const commandSchemas = {
  "system:ping": Joi.object({
    clientTime: Joi.number().integer().min(0),
  }),
  "session:refresh": Joi.object({ token: Joi.string().max(8192).required() }),
} as const;

export type CommandName = keyof typeof commandSchemas;
