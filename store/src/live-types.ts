/**
 * The engine seam of live leaderboards and live data streams. Both coalesce their broadcasts the
 * same way: a write marks the leaderboard (stream) dirty and due; every node looks at what is due
 * each tick, and `flush` lets exactly one node per interval compute the next update (a lease in
 * the store), so subscribers get at most one update per interval however many writes arrive.
 */
import type { LeaderboardChange, LeaderboardEntry, StreamAggregates, StreamPoint } from "@switchboard/shared";

/** A leaderboard or stream of a tenant. */
export interface LiveRef {
  tenant: string;
  id: string;
}

/**
 * What a flush did: `busy` (another flush of this one happened less than an interval ago),
 * `clean` (nothing to send), `same` (written to, but the top did not change), `ok` (send `update`).
 */
export type FlushOutcome<T> = { status: "busy" } | { status: "clean" } | { status: "same" } | { status: "ok"; update: T };

/**
 * An `ok` flush holds the lease until the update was sent (`sent`), so the next update of the
 * same leaderboard (stream) cannot be computed — and published — before it, even when the node
 * that holds it is slow; if that node dies first, the lease ends this long after the flush.
 */
export const LIVE_LEASE_GRACE_MS = 3000;

export interface ScoreWrite {
  tenant: string;
  leaderboardId: string;
  userId: string;
  /** `set` replaces the score, `inc` adds to it. */
  mode: "set" | "inc";
  value: number;
  /** Record the achievement as unlocked when this write unlocks it (see LeaderboardScoreRequest). */
  achievement?: { id: string; threshold?: number };
}

export interface ScoreOutcome {
  score: number;
  rank: number;
  previous: number | null;
  /** True when this write unlocked the achievement (each unlocks once per user and leaderboard). */
  unlocked: boolean;
}

/** The top as of the last update, and one user's live standing. */
export interface LeaderboardSnapshot {
  seq: number;
  total: number;
  top: LeaderboardEntry[];
}

/** The changes a flush computed against the previous update's top (what `leaderboard:update` carries). */
export interface LeaderboardFlush {
  seq: number;
  total: number;
  changes: LeaderboardChange[];
  removed: string[];
  ts: number;
}

/**
 * Leaderboards: scores by user (highest first, ties by user id in byte order), the top of the
 * last update (so a subscriber starts where the next update's changes apply), and coalescing.
 */
export interface LeaderboardStore {
  /** Sets or adds to a score atomically, marks the leaderboard due, and answers the live standing. */
  score(write: ScoreWrite): Promise<ScoreOutcome>;
  /** The top `top` of the last update (empty before the first). */
  snapshot(tenant: string, id: string, top: number): Promise<LeaderboardSnapshot>;
  /** A user's live rank and score (undefined: not on the leaderboard). */
  standing(tenant: string, id: string, userId: string): Promise<LeaderboardEntry | undefined>;
  /** Live entries from rank `from` (1-based), at most `count`, and how many users there are. */
  range(tenant: string, id: string, from: number, count: number): Promise<{ entries: LeaderboardEntry[]; total: number }>;
  /** Leaderboards with an update due now, at most `limit`. */
  due(limit: number): Promise<LiveRef[]>;
  /**
   * Computes the next update of the top `topMax` unless one was computed less than `intervalMs`
   * ago (by any node); the node that gets `ok` broadcasts it.
   */
  flush(ref: LiveRef, intervalMs: number, topMax: number): Promise<FlushOutcome<LeaderboardFlush>>;
  /** The update computed at `ts` was handed to the adapter: the next may be computed from `ts + intervalMs`. */
  sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void>;
}

/** A stream the cluster reads, with how many appends it has had (a change means: read it again). */
export interface StreamInfo extends LiveRef {
  appended: number;
}

export interface StreamFlush {
  seq: number;
  ts: number;
  windows: StreamAggregates;
  points: StreamPoint[];
  truncated: boolean;
}

/**
 * Live data streams: points appended to a capped stream per (tenant, name), read by every node
 * through one consumer group, aggregated exactly once into rolling windows (the aggregation of an
 * entry and its ack are one atomic step, so an entry claimed by two consumers counts once).
 */
export interface LiveStreamStore {
  /** Appends validated points (each with the value aggregates take from it); answers their ids. */
  append(tenant: string, name: string, points: readonly { data: Record<string, unknown>; value: number | null }[], maxLen: number): Promise<string[]>;
  /** Points that arrived at or after `sinceMs`, the newest `limit`, oldest first. */
  tail(tenant: string, name: string, sinceMs: number, limit: number): Promise<StreamPoint[]>;
  /** The streams to read, at most `limit`. */
  streams(limit: number): Promise<StreamInfo[]>;
  /** New points for `consumer` (they are pending on it until aggregated). */
  read(ref: LiveRef, consumer: string, count: number): Promise<StreamPoint[]>;
  /** Points pending on any consumer for at least `minIdleMs`, now pending on `consumer`. */
  claim(ref: LiveRef, consumer: string, minIdleMs: number, count: number): Promise<StreamPoint[]>;
  /** Keeps points `consumer` still holds from being claimed. */
  touch(ref: LiveRef, consumer: string, ids: readonly string[]): Promise<void>;
  /**
   * Acks the points and aggregates each that was still pending (on any consumer), in one atomic
   * step; marks the stream due. Answers how many were acked now (the rest were done already).
   */
  aggregate(ref: LiveRef, points: readonly StreamPoint[]): Promise<number>;
  /** The current aggregates of every window. */
  aggregates(ref: LiveRef): Promise<{ ts: number; windows: StreamAggregates }>;
  due(limit: number): Promise<LiveRef[]>;
  /**
   * Computes the next update unless one was computed less than `intervalMs` ago. Without new
   * points, a stream whose windows still hold points is updated every `decayMs` until they empty.
   */
  flush(ref: LiveRef, intervalMs: number, decayMs: number): Promise<FlushOutcome<StreamFlush>>;
  /** The update computed at `ts` was handed to the adapter: the next may be computed from `ts + intervalMs`. */
  sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void>;
}
