/**
 * The REST face of live streams: services append points; any user of the tenant reads a window's
 * tail and the aggregates.
 */
import { STREAM_APPEND_MAX, STREAM_WINDOW_NAMES, streamAppendResultSchema, streamName, streamViewSchema, type StreamWindow } from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { StreamService } from "./service";

interface NameParams {
  name: string;
}

const nameParams = Joi.object<NameParams>({ name: streamName.required() });
/** The points are checked against the stream's kind by the service (the schema depends on the name). */
const appendBody = Joi.object<{ points: unknown[] }>({ points: Joi.array().min(1).max(STREAM_APPEND_MAX).required() });
const viewQuery = Joi.object<{ window?: StreamWindow }>({ window: Joi.string().valid(...STREAM_WINDOW_NAMES) });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function streamRoutes(streams: StreamService): Route[] {
  return [
    defineRoute<NameParams, Record<string, never>, { points: unknown[] }>({
      method: "post",
      path: "/v1/streams/:name/points",
      auth: SERVICE_ROLES,
      params: nameParams,
      body: appendBody,
      summary: "Append 1–500 points, all or none (each checked against the stream's kind)",
      responses: { 202: { description: "The points' ids", body: streamAppendResultSchema } },
      errors: ["QUOTA_EXCEEDED"],
      handler: async ({ principal, params, body }) => ({ status: 202, body: await streams.append(actorOf(principal), params.name, body) }),
    }),
    defineRoute<NameParams, { window?: StreamWindow }>({
      method: "get",
      path: "/v1/streams/:name",
      auth: "user",
      params: nameParams,
      query: viewQuery,
      summary: "A window's tail and the aggregates (as stream:subscribe answers)",
      responses: { 200: { description: "The stream", body: streamViewSchema } },
      handler: async ({ principal, params, query }) => ({ body: await streams.view(actorOf(principal), params.name, query.window) }),
    }),
  ];
}
