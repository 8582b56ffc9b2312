/**
 * Live data streams (PROTOCOL §8 "Leaderboards and live streams"): appends (REST; the emitter
 * appends the same through Redis), subscriptions, this node's share of the aggregation (one
 * consumer group per stream across the cluster) and of the coalesced `stream:update` broadcasts.
 */
import { CoalescedUpdates } from "../coalesced-updates";
import type { Feature, FeatureDeps } from "../types";
import { streamCommands } from "./commands";
import { StreamConsumer } from "./consumer";
import { streamRoutes } from "./routes";
import { StreamService } from "./service";

/** An idle stream whose windows still hold points is updated at least this often, so its windows decay visibly. */
const DECAY_MS = 1000;

export function streamsFeature(deps: FeatureDeps): Feature {
  const { engine, config } = deps;
  const { streamIntervalMs, streamClaimIdleMs, streamBatchMs } = config.live;
  const streams = new StreamService({ config, engine, io: deps.io, metrics: deps.metrics, appended: () => consumer.wake() });
  const consumer = new StreamConsumer({
    nodeId: deps.nodeId,
    engine,
    logger: deps.logger,
    metrics: deps.metrics,
    options: { claimIdleMs: streamClaimIdleMs, batchMs: streamBatchMs, pollMs: Math.min(50, Math.max(5, streamBatchMs)) },
  });
  const updates = new CoalescedUpdates({
    what: "stream",
    engine,
    logger: deps.logger,
    tickMs: Math.max(5, Math.floor(streamIntervalMs / 3)),
    due: (limit) => engine.streams.due(limit),
    flush: (ref) => engine.streams.flush(ref, streamIntervalMs, Math.max(DECAY_MS, streamIntervalMs)),
    send: (ref, update) => streams.broadcast(ref, update),
    sent: (ref, update) => engine.streams.sent(ref, update.ts, streamIntervalMs),
  });
  return {
    commands: streamCommands(streams),
    routes: streamRoutes(streams),
    start: () => {
      consumer.start();
      updates.start();
    },
    stop: async () => {
      await consumer.stop();
      await updates.stop();
    },
  };
}
