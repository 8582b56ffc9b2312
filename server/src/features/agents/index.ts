/**
 * Agents and their executions (PROTOCOL §3 "Workspaces and agents", §4 agent endpoints).
 */
import type { Feature, FeatureDeps } from "../types";
import { agentCommands } from "./commands";
import { agentRoutes } from "./routes";
import { AgentService } from "./service";

export function agentsFeature(deps: FeatureDeps): Feature {
  const agents = new AgentService({ engine: deps.engine, io: deps.io, maxSubscriptionsPerSocket: deps.config.maxSubscriptionsPerSocket });
  return { commands: agentCommands(agents), routes: agentRoutes(agents) };
}
