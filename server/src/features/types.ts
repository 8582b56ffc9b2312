/**
 * What a capability contributes to a node: socket commands and REST routes, both declared
 * through the one pipeline each. Features get their dependencies from the node.
 */
import type { Config } from "../config";
import type { CommandDefinition } from "../commands";
import type { Engine } from "../engine";
import type { Route } from "../http/routes";
import type { AppServer } from "../io";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { SessionManager } from "../connections/sessions";
import type { NodeEvents } from "../node-events";
import type { PushTransportOptions } from "../push";

export interface FeatureDeps {
  config: Config;
  nodeId: string;
  version: string;
  startedAt: number;
  engine: Engine;
  io: AppServer;
  sessions: SessionManager;
  events: NodeEvents;
  logger: Logger;
  metrics: Metrics;
  /** Extra trust for push endpoints (a private CA), on top of NODE_EXTRA_CA_CERTS. */
  pushTransport?: PushTransportOptions;
  /** False once shutdown began. */
  isServing: () => boolean;
}

export interface Feature {
  commands?: readonly CommandDefinition[];
  routes?: readonly Route[];
  /** Background work that runs while the node serves (after it listens). */
  start?(): void;
  /** Ends that work at shutdown, before the engine closes. */
  stop?(): Promise<void>;
}
