/**
 * Live leaderboards (PROTOCOL §8 "Leaderboards and live streams"): score writes (REST; the
 * emitter writes the same through Redis), subscriptions, and this node's share of the coalesced
 * `leaderboard:update` broadcasts.
 */
import { LEADERBOARD_TOP_MAX } from "@switchboard/shared";
import { CoalescedUpdates } from "../coalesced-updates";
import type { Feature, FeatureDeps } from "../types";
import { leaderboardCommands } from "./commands";
import { leaderboardRoutes } from "./routes";
import { LeaderboardService } from "./service";

export function leaderboardsFeature(deps: FeatureDeps): Feature {
  const { engine } = deps;
  const intervalMs = deps.config.live.leaderboardIntervalMs;
  const leaderboards = new LeaderboardService({ engine, io: deps.io, metrics: deps.metrics, maxSubscriptionsPerSocket: deps.config.maxSubscriptionsPerSocket });
  const updates = new CoalescedUpdates({
    what: "leaderboard",
    engine,
    logger: deps.logger,
    // Several looks per interval keep an update's delay well under one interval.
    tickMs: Math.max(5, Math.floor(intervalMs / 3)),
    due: (limit) => engine.leaderboards.due(limit),
    flush: (ref) => engine.leaderboards.flush(ref, intervalMs, LEADERBOARD_TOP_MAX),
    send: (ref, update) => leaderboards.broadcast(ref, update),
    sent: (ref, update) => engine.leaderboards.sent(ref, update.ts, intervalMs),
  });
  return {
    commands: leaderboardCommands(leaderboards),
    routes: leaderboardRoutes(leaderboards),
    start: () => updates.start(),
    stop: () => updates.stop(),
  };
}
