/**
 * Leaderboards: services write scores (set or increment); any user of the tenant follows a
 * leaderboard. A subscriber joins the leaderboard's room and starts from the top of the last
 * update, on which every later `leaderboard:update` applies; its own rank and neighbours are
 * read live. Updates are one broadcast per interval (CoalescedUpdates), never one per score.
 * A score may carry an achievement: when the write unlocks it (once per user and leaderboard),
 * an `achievement_unlocked` notification is queued as `POST /v1/notify` queues one.
 */
import {
  LEADERBOARD_AROUND_SPAN,
  LEADERBOARD_TOP_DEFAULT,
  leaderboardRoom,
  tenantRoom,
  type LeaderboardEntry,
  type LeaderboardScoreRequest,
  type LeaderboardScoreResult,
  type LeaderboardUpdateEvent,
  type LeaderboardView,
} from "@switchboard/shared";
import { requirePrivileged, type Actor } from "../../auth/actor";
import { subscribe } from "../../connections/subscriptions";
import { recordScore, scoreMode, type Engine, type LeaderboardFlush, type LiveRef } from "../../engine";
import type { AppServer, AppSocket } from "../../io";
import type { Metrics } from "../../observability/metrics";

export interface LeaderboardServiceDeps {
  engine: Engine;
  io: AppServer;
  metrics: Metrics;
  /** Subscriptions one socket may hold (MAX_SUBSCRIPTIONS_PER_SOCKET). */
  maxSubscriptionsPerSocket: number;
}

export interface LeaderboardQuery {
  top?: number;
  around?: boolean;
  /** Whose standing to answer (default: the caller). */
  userId?: string;
}

export class LeaderboardService {
  constructor(private readonly deps: LeaderboardServiceDeps) {}

  /** The Socket.IO room of a leaderboard's subscribers. */
  socketRoom(tenant: string, id: string): string {
    return tenantRoom(tenant, leaderboardRoom(id));
  }

  async score(actor: Actor, id: string, request: LeaderboardScoreRequest): Promise<LeaderboardScoreResult> {
    requirePrivileged(actor, "write leaderboard scores");
    const result = await recordScore(this.deps.engine, actor.tenant, id, request);
    this.deps.metrics.leaderboardScores.inc({ mode: scoreMode(request) });
    return result;
  }

  /**
   * Joins the room first, then reads the last update's top: an update computed after the read
   * reaches the socket, one computed before is in the top (the client skips `seq` it has).
   */
  async subscribe(actor: Actor, socket: AppSocket, id: string, query: LeaderboardQuery): Promise<LeaderboardView> {
    await subscribe(socket, this.socketRoom(actor.tenant, id), this.deps.maxSubscriptionsPerSocket);
    const snapshot = await this.deps.engine.leaderboards.snapshot(actor.tenant, id, query.top ?? LEADERBOARD_TOP_DEFAULT);
    const { me, around } = await this.standing(actor.tenant, id, actor.userId, query.around ?? false);
    return { id, seq: snapshot.seq, total: snapshot.total, top: snapshot.top, me, ...(around ? { around } : {}) };
  }

  async unsubscribe(actor: Actor, socket: AppSocket, id: string): Promise<void> {
    await socket.leave(this.socketRoom(actor.tenant, id));
  }

  /** `GET /v1/leaderboards/:id`: the live top and one user's live standing. */
  async view(actor: Actor, id: string, query: LeaderboardQuery): Promise<Omit<LeaderboardView, "seq">> {
    const { entries, total } = await this.deps.engine.leaderboards.range(actor.tenant, id, 1, query.top ?? LEADERBOARD_TOP_DEFAULT);
    const { me, around } = await this.standing(actor.tenant, id, query.userId ?? actor.userId, query.around ?? false);
    return { id, total, top: entries, me, ...(around ? { around } : {}) };
  }

  /** Sends an update to the leaderboard's subscribers on every node. */
  broadcast(ref: LiveRef, update: LeaderboardFlush): void {
    const event: LeaderboardUpdateEvent = { id: ref.id, ...update };
    this.deps.io.to(this.socketRoom(ref.tenant, ref.id)).emit("leaderboard:update", event);
    this.deps.metrics.leaderboardBroadcasts.inc();
  }

  private async standing(tenant: string, id: string, userId: string, withAround: boolean): Promise<{ me: LeaderboardEntry | null; around?: LeaderboardEntry[] }> {
    const me = (await this.deps.engine.leaderboards.standing(tenant, id, userId)) ?? null;
    if (!withAround) return { me };
    if (!me) return { me, around: [] };
    const from = Math.max(1, me.rank - LEADERBOARD_AROUND_SPAN);
    const { entries } = await this.deps.engine.leaderboards.range(tenant, id, from, me.rank + LEADERBOARD_AROUND_SPAN - from + 1);
    return { me, around: entries };
  }
}
