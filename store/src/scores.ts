/**
 * Writing a leaderboard score, as `POST /v1/leaderboards/:id/scores` and the emitter both do it:
 * set or added to by the store (which marks the leaderboard due for the nodes' next coalesced
 * `leaderboard:update`); a write that unlocks the request's achievement (once per user and
 * leaderboard) queues its `achievement_unlocked` notification as `POST /v1/notify` queues one.
 */
import { achievementNotification, type LeaderboardScoreRequest, type LeaderboardScoreResult } from "@switchboard/shared";
import type { LeaderboardStore } from "./live-types";
import { queueNotification, type NotificationStores } from "./notify";

/** `set` replaces the score (`value`), `inc` adds to it. */
export function scoreMode(request: LeaderboardScoreRequest): "set" | "inc" {
  return request.inc === undefined ? "set" : "inc";
}

export async function recordScore(
  stores: NotificationStores & { leaderboards: Pick<LeaderboardStore, "score"> },
  tenant: string,
  leaderboardId: string,
  request: LeaderboardScoreRequest,
): Promise<LeaderboardScoreResult> {
  const mode = scoreMode(request);
  const { userId, achievement } = request;
  const outcome = await stores.leaderboards.score({
    tenant,
    leaderboardId,
    userId,
    mode,
    value: mode === "inc" ? request.inc! : request.value!,
    achievement: achievement && { id: achievement.id, threshold: achievement.threshold },
  });
  const result: LeaderboardScoreResult = { userId, score: outcome.score, rank: outcome.rank, previous: outcome.previous };
  if (outcome.unlocked && achievement) {
    const notification = await queueNotification(stores, tenant, achievementNotification(leaderboardId, userId, achievement, outcome.score, outcome.rank));
    result.achievement = { id: achievement.id, notificationId: notification.id };
  }
  return result;
}
