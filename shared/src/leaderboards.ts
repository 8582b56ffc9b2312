/**
 * Live leaderboards (PROTOCOL §8 "Leaderboards and live streams"): the types, schemas and limits
 * shared by nodes, the emitter and clients. A leaderboard is a sorted set of users by score
 * (highest first, ties by user id in byte order), tenant-scoped, created by its first score.
 */
import Joi from "joi";
import { ROOM_ID_PATTERN } from "./rooms";
import { userId } from "./schemas";

export const LEADERBOARD_ID_PATTERN = ROOM_ID_PATTERN;
export const ACHIEVEMENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `top` of a subscription: default, and the most one answer carries (also the broadcast snapshot's size). */
export const LEADERBOARD_TOP_DEFAULT = 10;
export const LEADERBOARD_TOP_MAX = 100;
/** `around: true` answers this many neighbours above and below the caller. */
export const LEADERBOARD_AROUND_SPAN = 5;
/** Scores and increments stay within ±1e15 (exact integers in a double, as Redis stores scores). */
export const LEADERBOARD_SCORE_LIMIT = 1e15;

/** One row of a leaderboard: rank 1 is the highest score. */
export interface LeaderboardEntry {
  rank: number;
  userId: string;
  score: number;
}

/** An entry of the top whose rank or score changed since the previous update. */
export interface LeaderboardChange extends LeaderboardEntry {
  /** Its rank in the previous update (null: it was not in the top). */
  previousRank: number | null;
}

/**
 * `leaderboard:update`: what changed in the top LEADERBOARD_TOP_MAX since the previous update.
 * Sent at most once per interval per leaderboard, cluster-wide, to every subscriber.
 */
export interface LeaderboardUpdateEvent {
  id: string;
  /** Grows by one per update of this leaderboard; a gap means an update was missed: subscribe again. */
  seq: number;
  /** Users on the leaderboard. */
  total: number;
  /** Entries of the top whose rank or score changed (or that entered it), by rank. */
  changes: LeaderboardChange[];
  /** Users that left the top, sorted. */
  removed: string[];
  /** ms since the epoch, when the update was computed (the store's clock). */
  ts: number;
}

/** An achievement a score may unlock (once per user and leaderboard). */
export interface AchievementInput {
  id: string;
  title: string;
  body?: string;
  /** Unlocks when this score update takes the user's score from below `threshold` to at least it; without one, with this update. */
  threshold?: number;
  data?: Record<string, unknown>;
}

/** `POST /v1/leaderboards/:id/scores`: set (`value`) or add to (`inc`) a user's score. */
export interface LeaderboardScoreRequest {
  userId: string;
  value?: number;
  inc?: number;
  achievement?: AchievementInput;
}

/** The emitter's `leaderboard(id).score(userId, value | { inc, achievement? } | { value, achievement? })`. */
export type LeaderboardScoreInput = number | Omit<LeaderboardScoreRequest, "userId">;

export interface LeaderboardScoreResult {
  userId: string;
  score: number;
  /** The user's rank right after this write. */
  rank: number;
  /** The score before (null: the user was not on the leaderboard). */
  previous: number | null;
  /** Set when this write unlocked the achievement: the `achievement_unlocked` notification's id. */
  achievement?: { id: string; notificationId: string };
}

export interface LeaderboardSubscribePayload {
  id: string;
  top?: number;
  around?: boolean;
}

export interface LeaderboardRefPayload {
  id: string;
}

/**
 * `leaderboard:subscribe` ack: `top` is the top as of update `seq` (apply later updates on it),
 * `me` and `around` are the caller's live standing and neighbours.
 */
export interface LeaderboardView {
  id: string;
  seq: number;
  total: number;
  top: LeaderboardEntry[];
  me: LeaderboardEntry | null;
  around?: LeaderboardEntry[];
}

/** A score as Redis stores it (negated, so ascending order is highest first). */
export const toStoredScore = (score: number): string => String(0 - score);
/** A stored score back as the score (never -0). */
export const fromStoredScore = (stored: string | number): number => 0 - Number(stored);

export const leaderboardId = Joi.string().pattern(LEADERBOARD_ID_PATTERN, "leaderboard id");
const score = Joi.number().min(-LEADERBOARD_SCORE_LIMIT).max(LEADERBOARD_SCORE_LIMIT);

export const achievementFields = {
  id: Joi.string().pattern(ACHIEVEMENT_ID_PATTERN, "achievement id").required(),
  title: Joi.string().min(1).max(256).required(),
  body: Joi.string().max(4096).allow(""),
  threshold: score,
  data: Joi.object().unknown(true),
};

/** Fields of a score write other than the user: exactly one of `value` and `inc`. */
export const leaderboardScoreFields = {
  value: score,
  inc: score,
  achievement: Joi.object(achievementFields),
};

export const leaderboardScoreRequest = Joi.object<LeaderboardScoreRequest>({ userId: userId.required(), ...leaderboardScoreFields })
  .xor("value", "inc")
  .messages({ "object.missing": "{{#label}} needs one of value (set) or inc (add)", "object.xor": "{{#label}} takes value (set) or inc (add), not both" });

export const leaderboardSchemas = {
  "leaderboard:subscribe": Joi.object<LeaderboardSubscribePayload>({
    id: leaderboardId.required(),
    top: Joi.number().integer().min(1).max(LEADERBOARD_TOP_MAX),
    around: Joi.boolean(),
  }),
  "leaderboard:unsubscribe": Joi.object<LeaderboardRefPayload>({ id: leaderboardId.required() }),
} as const;

/** The `achievement_unlocked` notification a score write queues for the user. */
export function achievementNotification(leaderboard: string, userIdValue: string, achievement: AchievementInput, scoreValue: number, rank: number) {
  return {
    userId: userIdValue,
    type: "achievement_unlocked",
    title: achievement.title,
    body: achievement.body ?? "",
    data: { ...achievement.data, leaderboardId: leaderboard, achievementId: achievement.id, score: scoreValue, rank },
  };
}

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
export const leaderboardEntrySchema = Joi.object<LeaderboardEntry>({
  rank: Joi.number().integer().min(1).required(),
  userId: userId.required(),
  score: Joi.number().required(),
}).id("LeaderboardEntry");

export const leaderboardScoreResultSchema = Joi.object<LeaderboardScoreResult>({
  userId: userId.required(),
  score: Joi.number().required(),
  rank: Joi.number().integer().min(1).required(),
  previous: Joi.number().allow(null).required(),
  achievement: Joi.object({ id: Joi.string().required(), notificationId: Joi.string().required() }),
});

/** `GET /v1/leaderboards/:id`: the live top and a user's standing (LeaderboardView without `seq`). */
export const leaderboardStandingsSchema = Joi.object<Omit<LeaderboardView, "seq">>({
  id: leaderboardId.required(),
  total: Joi.number().integer().min(0).required(),
  top: Joi.array().items(leaderboardEntrySchema).required(),
  me: leaderboardEntrySchema.allow(null).required(),
  around: Joi.array().items(leaderboardEntrySchema),
});
