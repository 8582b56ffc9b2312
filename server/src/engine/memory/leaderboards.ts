/**
 * Leaderboards for the memory engine: the Redis engine's semantics in one process — highest
 * score first, ties by user id in byte order, one update per interval, diffs against the top of
 * the last update.
 */
import { parseScopedMember, scopedMember, type LeaderboardChange, type LeaderboardEntry } from "@switchboard/shared";
import { LIVE_LEASE_GRACE_MS, type FlushOutcome, type LeaderboardFlush, type LeaderboardSnapshot, type LeaderboardStore, type LiveRef, type ScoreOutcome, type ScoreWrite } from "../types";

interface Board {
  scores: Map<string, number>;
  /** Users in rank order, kept sorted on every write. */
  order: string[];
  dirty: boolean;
  leaseUntil: number;
  seq: number;
  total: number | null;
  /** userId -> rank and score of the last update. */
  snapshot: Map<string, { rank: number; score: number }>;
  achievements: Set<string>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MemoryLeaderboards implements LeaderboardStore {
  private readonly boards = new Map<string, Board>();
  /** scoped member -> due time (ms). */
  private readonly dueAt = new Map<string, number>();

  async score(write: ScoreWrite): Promise<ScoreOutcome> {
    const board = this.board(write.tenant, write.leaderboardId, true)!;
    const before = board.scores.get(write.userId);
    // As Redis: the stored value is the negated score (so -0 never appears).
    const score = write.mode === "inc" ? (before ?? 0) + write.value : write.value;
    this.place(board, write.userId, score + 0);
    board.dirty = true;
    this.mark(write.tenant, write.leaderboardId);
    let unlocked = false;
    if (write.achievement) {
      const { id, threshold } = write.achievement;
      const crossed = threshold === undefined || (score >= threshold && (before === undefined || before < threshold));
      const member = `${write.userId}|${id}`;
      if (crossed && !board.achievements.has(member)) {
        board.achievements.add(member);
        unlocked = true;
      }
    }
    return { score: board.scores.get(write.userId)!, rank: board.order.indexOf(write.userId) + 1, previous: before ?? null, unlocked };
  }

  async snapshot(tenant: string, id: string, top: number): Promise<LeaderboardSnapshot> {
    const board = this.board(tenant, id, false);
    if (!board) return { seq: 0, total: 0, top: [] };
    if (board.total === null && board.scores.size > 0) board.dirty = true;
    if (board.dirty) this.mark(tenant, id);
    const entries = [...board.snapshot].filter(([, e]) => e.rank <= top).map(([userId, e]) => ({ rank: e.rank, userId, score: e.score }));
    return { seq: board.seq, total: board.total ?? 0, top: entries.sort((a, b) => a.rank - b.rank) };
  }

  async standing(tenant: string, id: string, userId: string): Promise<LeaderboardEntry | undefined> {
    const board = this.board(tenant, id, false);
    const score = board?.scores.get(userId);
    return board && score !== undefined ? { rank: board.order.indexOf(userId) + 1, userId, score } : undefined;
  }

  async range(tenant: string, id: string, from: number, count: number): Promise<{ entries: LeaderboardEntry[]; total: number }> {
    const board = this.board(tenant, id, false);
    if (!board) return { entries: [], total: 0 };
    const start = Math.max(0, from - 1);
    const entries = board.order.slice(start, start + count).map((userId, i) => ({ rank: start + i + 1, userId, score: board.scores.get(userId)! }));
    return { entries, total: board.order.length };
  }

  async due(limit: number): Promise<LiveRef[]> {
    const now = Date.now();
    return [...this.dueAt]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([member]) => parseScopedMember(member));
  }

  async flush(ref: LiveRef, intervalMs: number, topMax: number): Promise<FlushOutcome<LeaderboardFlush>> {
    const board = this.board(ref.tenant, ref.id, false);
    const now = Date.now();
    if (board && board.leaseUntil > now) return { status: "busy" };
    this.dueAt.delete(scopedMember(ref.tenant, ref.id));
    if (!board?.dirty) return { status: "clean" };
    board.leaseUntil = now + intervalMs + LIVE_LEASE_GRACE_MS;
    board.dirty = false;
    const old = new Map(board.snapshot);
    const fresh = new Map<string, { rank: number; score: number }>();
    const changes: LeaderboardChange[] = [];
    board.order.slice(0, topMax).forEach((userId, i) => {
      const entry = { rank: i + 1, score: board.scores.get(userId)! };
      fresh.set(userId, entry);
      const previous = old.get(userId);
      if (!previous || previous.rank !== entry.rank || previous.score !== entry.score) changes.push({ ...entry, userId, previousRank: previous?.rank ?? null });
      old.delete(userId);
    });
    const total = board.order.length;
    if (changes.length === 0 && old.size === 0 && board.total === total) {
      board.leaseUntil = now + intervalMs;
      return { status: "same" };
    }
    board.snapshot = fresh;
    board.seq += 1;
    board.total = total;
    return { status: "ok", update: { seq: board.seq, total, changes, removed: [...old.keys()].sort(), ts: now } };
  }

  async sent(ref: LiveRef, ts: number, intervalMs: number): Promise<void> {
    const board = this.board(ref.tenant, ref.id, false);
    if (board) board.leaseUntil = ts + intervalMs;
  }

  private board(tenant: string, id: string, create: boolean): Board | undefined {
    const key = scopedMember(tenant, id);
    let board = this.boards.get(key);
    if (!board && create) {
      board = { scores: new Map(), order: [], dirty: false, leaseUntil: 0, seq: 0, total: null, snapshot: new Map(), achievements: new Set() };
      this.boards.set(key, board);
    }
    return board;
  }

  /** Moves a user to their place: highest score first, ties by user id. */
  private place(board: Board, userId: string, score: number): void {
    if (board.scores.has(userId)) board.order.splice(board.order.indexOf(userId), 1);
    board.scores.set(userId, score);
    let lo = 0;
    let hi = board.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = board.order[mid]!;
      const s = board.scores.get(other)!;
      if (s > score || (s === score && cmp(other, userId) < 0)) lo = mid + 1;
      else hi = mid;
    }
    board.order.splice(lo, 0, userId);
  }

  private mark(tenant: string, id: string): void {
    const key = scopedMember(tenant, id);
    const now = Date.now();
    const at = this.dueAt.get(key);
    if (at === undefined || at > now) this.dueAt.set(key, now);
  }
}
