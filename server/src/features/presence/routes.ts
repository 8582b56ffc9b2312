/**
 * The REST face of presence (PROTOCOL §4): any token of the tenant reads a user's presence.
 */
import { userId } from "@switchboard/shared";
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
      handler: async ({ principal, params }) => ({ body: (await presence.get(principal!, [params.userId])).presence[params.userId] }),
    }),
  ];
}
