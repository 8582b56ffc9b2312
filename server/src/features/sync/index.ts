/**
 * Multi-device state sync (PROTOCOL §3 "Multi-device state sync", §4 `/v1/sync`).
 */
import type { Feature, FeatureDeps } from "../types";
import { syncCommands } from "./commands";
import { syncRoutes } from "./routes";
import { SyncService } from "./service";

export function syncFeature(deps: FeatureDeps): Feature {
  const sync = new SyncService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  return { commands: syncCommands(sync), routes: syncRoutes(sync) };
}
