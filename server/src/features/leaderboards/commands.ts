/**
 * The leaderboard commands (`leaderboard:subscribe`, `leaderboard:unsubscribe`), each a thin
 * call into LeaderboardService through the pipeline.
 */
import { leaderboardSchemas, type LeaderboardRefPayload, type LeaderboardSubscribePayload, type LeaderboardView } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { LeaderboardService } from "./service";

export function leaderboardCommands(leaderboards: LeaderboardService): CommandDefinition[] {
  return [
    defineCommand<LeaderboardSubscribePayload, LeaderboardView>("leaderboard:subscribe", leaderboardSchemas["leaderboard:subscribe"], ({ session, socket }, { id, top, around }) =>
      leaderboards.subscribe(session, socket, id, { top, around }),
    ),
    defineCommand<LeaderboardRefPayload, object>("leaderboard:unsubscribe", leaderboardSchemas["leaderboard:unsubscribe"], async ({ session, socket }, { id }) => {
      await leaderboards.unsubscribe(session, socket, id);
      return {};
    }),
  ];
}
