/**
 * The REST face of presence (PROTOCOL §4): any token of the tenant reads a user's presence.
 */
import { presenceSchema, userId } from "@switchboard/shared";
import Joi from "joi";
import { defineRoute, type Route } from "../../http/routes";
import type { PresenceService } from "./service";

interface UserParams {
  userId: string;
}

export function presenceRoutes(presence: PresenceService): Route[] {
  return [
    defineRoute<UserParams>({
      method: "get",
      path: "/v1/presence/:userId",
      auth: "user",
      params: Joi.object<UserParams>({ userId: userId.required() }),
      summary: "A user's presence (same tenant)",
      responses: { 200: { description: "The Presence", body: presenceSchema } },
      handler: async ({ principal, params }) => ({ body: (await presence.get(principal!, [params.userId])).presence[params.userId] }),
    }),
  ];
}
