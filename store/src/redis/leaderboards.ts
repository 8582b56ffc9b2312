/**
 * Leaderboards in Redis: one sorted set per (tenant, leaderboard) with scores stored negated
 * (highest first, ties by user id), written by LEADERBOARD_SCORE; the top of the last update as a
 * hash, and LEADERBOARD_FLUSH diffing against it under a lease.
 */
import { fromStoredScore as fromStored, toStoredScore as toStored, type KeyLayout, type LeaderboardChange, type LeaderboardEntry } from "@switchboard/shared";
import { LIVE_LEASE_GRACE_MS, type FlushOutcome, type LeaderboardFlush, type LeaderboardSnapshot, type LeaderboardStore, type LiveRef, type ScoreOutcome, type ScoreWrite } from "../types";
import type { RedisClient } from "../script";
import { DueIndex } from "./due-index";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

const scoreScript = new RedisScript(LUA["leaderboards/score"]);
const flushScript = new RedisScript(LUA["leaderboards/flush"]);
const snapshotScript = new RedisScript(LUA["leaderboards/snapshot"]);

/** "rank|stored" as the snapshot keeps an entry. */
function parseEntry(userId: string, encoded: string): LeaderboardEntry {
  const at = encoded.indexOf("|");
  return { rank: Number(encoded.slice(0, at)), userId, score: fromStored(encoded.slice(at + 1)) };
}

export class RedisLeaderboards implements LeaderboardStore {
  private readonly dueIndex: DueIndex;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {
    this.dueIndex = new DueIndex(redis, keys.leaderboardsDue());
  }

  async score(write: ScoreWrite): Promise<ScoreOutcome> {
    const k = (part: string) => this.keys.leaderboard(write.tenant, write.leaderboardId, part);
    const threshold = write.achievement?.threshold;
    const [stored, rank, unlocked, previous] = (await scoreScript.run(
      this.redis,
      [k("scores"), k("dirty"), k("achievements")],
      [write.mode, write.userId, toStored(write.value), write.achievement?.id ?? "", threshold === undefined ? "" : String(threshold)],
    )) as [string, number, number, string];
    await this.dueIndex.mark({ tenant: write.tenant, id: write.leaderboardId });
    return { score: fromStored(stored), rank: Number(rank), previous: previous === "" ? null : fromStored(previous), unlocked: unlocked === 1 };
  }

  async snapshot(tenant: string, id: string, top: number): Promise<LeaderboardSnapshot> {
    const k = (part: string) => this.keys.leaderboard(tenant, id, part);
    const [seq, total, flat, dirty] = (await snapshotScript.run(this.redis, [k("scores"), k("snapshot"), k("meta"), k("dirty")], [])) as [string, string, string[], number];
    if (dirty === 1) await this.dueIndex.mark({ tenant, id });
    const entries: LeaderboardEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const entry = parseEntry(flat[i]!, flat[i + 1]!);
      if (entry.rank <= top) entries.push(entry);
    }
    return { seq: Number(seq), total: Number(total), top: entries.sort((a, b) => a.rank - b.rank) };
  }

  async standing(tenant: string, id: string, userId: string): Promise<LeaderboardEntry | undefined> {
    const key = this.keys.leaderboard(tenant, id, "scores");
    // One slot: a pipeline answers both from the same moment (nothing runs between them on the server).
    const [[, rank], [, stored]] = (await this.redis.multi().zrank(key, userId).zscore(key, userId).exec()) as [[null, number | null], [null, string | null]];
    return rank === null || stored === null ? undefined : { rank: rank + 1, userId, score: fromStored(stored) };
  }

  async range(tenant: string, id: string, from: number, count: number): Promise<{ entries: LeaderboardEntry[]; total: number }> {
    const key = this.keys.leaderboard(tenant, id, "scores");
    const start = Math.max(0, from - 1);
    const [[, flat], [, total]] = (await this.redis.multi().zrange(key, start, start + count - 1, "WITHSCORES").zcard(key).exec()) as [[null, string[]], [null, number]];
    const entries: LeaderboardEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ rank: start + i / 2 + 1, userId: flat[i]!, score: fromStored(flat[i + 1]!) });
    return { entries, total };
  }

  due(limit: number): Promise<LiveRef[]> {
    return this.dueIndex.due(limit);
  }

  async flush(ref: LiveRef, intervalMs: number, topMax: number): Promise<FlushOutcome<LeaderboardFlush>> {
    const k = (part: string) => this.keys.leaderboard(ref.tenant, ref.id, part);
    const reply = (await flushScript.run(this.redis, [k("scores"), k("dirty"), k("lease"), k("snapshot"), k("meta")], [intervalMs, topMax, intervalMs + LIVE_LEASE_GRACE_MS])) as [string, ...unknown[]];
    const status = reply[0] as "busy" | "clean" | "same" | "ok";
    // Busy: the node holding the lease settles it; due again once the lease is over.
    if (status === "busy") return { status };
    await this.dueIndex.settle(ref, k("dirty"));
    if (status !== "ok") return { status };
    const [, seq, total, ts, flat, removed] = reply as [string, number, number, number, string[], string[]];
    const changes: LeaderboardChange[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      const entry = parseEntry(flat[i]!, flat[i + 1]!);
      const previous = flat[i + 2]!;
      changes.push({ ...entry, previousRank: previous === "" ? null : parseEntry(entry.userId, previous).rank });
    }
    changes.sort((a, b) => a.rank - b.rank);
    return { status, update: { seq: Number(seq), total: Number(total), ts: Number(ts), changes, removed: [...removed].sort() } };
  }

  async sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void> {
    // A time already past deletes the lease at once.
    await this.redis.pexpireat(this.keys.leaderboard(ref.tenant, ref.id, "lease"), ts + intervalMs);
  }
}
