/**
 * Cluster-wide presence (PROTOCOL §3 "Presence", `GET /v1/presence/:userId`). Changes made by the
 * node's sessions and cluster sweeps arrive as node events and are announced from here.
 */
import type { Feature, FeatureDeps } from "../types";
import { presenceCommands } from "./commands";
import { presenceRoutes } from "./routes";
import { PresenceService } from "./service";

export function presenceFeature(deps: FeatureDeps): Feature {
  const presence = new PresenceService({ engine: deps.engine, io: deps.io, logger: deps.logger, metrics: deps.metrics, sessionTtlS: deps.config.sessionTtlS, maxSubscriptionsPerSocket: deps.config.maxSubscriptionsPerSocket });
  deps.events.on("presence", (tenant, record, reason) => void presence.announce(tenant, record, reason));
  return { commands: presenceCommands(presence), routes: presenceRoutes(presence) };
}
