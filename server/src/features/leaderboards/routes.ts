/**
 * The REST face of leaderboards: services write scores; any user of the tenant reads the live top.
 */
import { LEADERBOARD_TOP_MAX, leaderboardId, leaderboardScoreRequest, leaderboardScoreResultSchema, leaderboardStandingsSchema, userId, type LeaderboardScoreRequest } from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { LeaderboardQuery, LeaderboardService } from "./service";

interface IdParams {
  id: string;
}

const idParams = Joi.object<IdParams>({ id: leaderboardId.required() });
const viewQuery = Joi.object<LeaderboardQuery>({ top: Joi.number().integer().min(1).max(LEADERBOARD_TOP_MAX), around: Joi.boolean(), userId });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function leaderboardRoutes(leaderboards: LeaderboardService): Route[] {
  return [
    defineRoute<IdParams, Record<string, never>, LeaderboardScoreRequest>({
      method: "post",
      path: "/v1/leaderboards/:id/scores",
      auth: SERVICE_ROLES,
      params: idParams,
      body: leaderboardScoreRequest,
      summary: "Set (value) or add to (inc) a user's score, optionally unlocking an achievement",
      responses: { 200: { description: "The user's score and rank after the write", body: leaderboardScoreResultSchema } },
      handler: async ({ principal, params, body }) => ({ body: await leaderboards.score(actorOf(principal), params.id, body) }),
    }),
    defineRoute<IdParams, LeaderboardQuery>({
      method: "get",
      path: "/v1/leaderboards/:id",
      auth: "user",
      params: idParams,
      query: viewQuery,
      summary: "The live top and a user's standing (default the caller's), with neighbours when around=true",
      responses: { 200: { description: "The standings", body: leaderboardStandingsSchema } },
      handler: async ({ principal, params, query }) => ({ body: await leaderboards.view(actorOf(principal), params.id, query) }),
    }),
  ];
}
