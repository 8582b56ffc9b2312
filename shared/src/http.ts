/**
 * The REST API's own answers (PROTOCOL §4): the error envelope and the node's health, status and
 * connection counts. Like the response schemas beside each capability's payload schemas, they
 * describe what a node sends, for the OpenAPI document served at `GET /v1/openapi.json`; nodes
 * do not validate their answers with them.
 */
import Joi from "joi";
import { ERROR_CODES, type ErrorCode } from "./errors";

const nodeId = Joi.string().required();
const count = Joi.number().integer().min(0);
const ENGINE_KINDS = ["memory", "redis", "redis-cluster"] as const;

/** `{ error: { code, message, details? } }`, with `code` one of `codes`. */
export function errorEnvelopeSchema(codes: readonly ErrorCode[] = ERROR_CODES): Joi.ObjectSchema {
  return Joi.object({
    error: Joi.object({
      code: Joi.string().valid(...codes).required(),
      message: Joi.string().required(),
      details: Joi.any().description("what was wrong: the validation problems, the limit, …"),
    }).required(),
  });
}

export const healthSchema = Joi.object({ status: Joi.string().valid("ok").required(), nodeId, uptime: count.required().description("seconds") });

export const readySchema = Joi.object({ status: Joi.string().valid("ready").required(), nodeId, engine: Joi.string().valid(...ENGINE_KINDS).required() });

export const unreadySchema = Joi.object({
  status: Joi.string().valid("unavailable").required(),
  nodeId,
  reason: Joi.string().valid("redis unreachable", "shutting down").required(),
});

export const nodeStatusSchema = Joi.object({
  nodeId,
  version: Joi.string().required(),
  uptime: count.required().description("seconds"),
  connections: count.required(),
  rooms: count.required(),
  engine: Joi.string().valid(...ENGINE_KINDS).required(),
  nodes: Joi.array()
    .items(Joi.object({ nodeId, version: Joi.string().required(), connections: count.required(), lastHeartbeat: count.required().description("ms since the epoch") }))
    .description("with cluster=1: every live node of the registry"),
});

export const connectionsSchema = Joi.object({
  total: count.required(),
  nodes: Joi.array().items(Joi.object({ nodeId, connections: count.required() })).required(),
});

/** An answer without fields (`{}`). */
export const emptySchema = Joi.object({});
