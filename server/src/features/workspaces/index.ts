/**
 * Workspaces (PROTOCOL §3 "Workspaces and agents", §4 workspace endpoints).
 */
import type { Feature, FeatureDeps } from "../types";
import { workspaceCommands } from "./commands";
import { workspaceRoutes } from "./routes";
import { WorkspaceService } from "./service";

export function workspacesFeature(deps: FeatureDeps): Feature {
  const workspaces = new WorkspaceService({ engine: deps.engine, io: deps.io, maxSubscriptionsPerSocket: deps.config.maxSubscriptionsPerSocket });
  return { commands: workspaceCommands(workspaces), routes: workspaceRoutes(workspaces) };
}
