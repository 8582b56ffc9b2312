/**
 * The composition root of one Switchboard node: HTTP server, express app, Socket.IO server,
 * engine, session handling, cluster membership and the features, wired once here.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "@switchboard/shared";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { Server } from "socket.io";
import { TokenVerifier } from "./auth/tokens";
import { ClusterMembership } from "./cluster/membership";
import { CommandPipeline, type CommandDefinition } from "./commands";
import type { Config } from "./config";
import { batchClientWrites, upgradeInOneWrite } from "./connections/turn-writes";
import { SessionManager } from "./connections/sessions";
import { createEngine, encodeForRecipientsOnly, type BroadcastSteps, type Engine } from "./engine";
import { agentsFeature } from "./features/agents";
import { leaderboardsFeature } from "./features/leaderboards";
import { streamsFeature } from "./features/streams";
import { demoFeature } from "./features/demo";
import { sdkFeature } from "./features/sdk";
import { devFeature } from "./features/dev";
import { docsFeature } from "./features/docs";
import { notificationsFeature } from "./features/notifications";
import { presenceFeature } from "./features/presence";
import { roomsFeature } from "./features/rooms";
import { sessionFeature } from "./features/session";
import { syncFeature } from "./features/sync";
import { systemFeature } from "./features/system";
import type { Feature, FeatureDeps } from "./features/types";
import { workspacesFeature } from "./features/workspaces";
import { createApp } from "./http/app";
import { openApiRoute } from "./http/openapi";
import type { Route } from "./http/routes";
import type { AppServer } from "./io";
import { instrumentAdminUi } from "./observability/admin-ui";
import { createLogger, type Logger } from "./observability/logger";
import { createMetrics, type Metrics } from "./observability/metrics";
import { RefusalLog } from "./observability/refusal-log";
import { NodeEvents } from "./node-events";
import type { PushTransportOptions } from "./push";
import { VERSION } from "./version";

export interface NodeOptions {
  logger?: Logger;
  /** How long start() waits for Redis before serving anyway (readiness stays 503 until it comes). */
  engineWaitMs?: number;
  /** Extra trust for push endpoints (a private CA PEM), for embedding a node in another process. */
  pushTransport?: PushTransportOptions;
}

const FEATURES: readonly ((deps: FeatureDeps) => Feature)[] = [systemFeature, sessionFeature, devFeature, roomsFeature, syncFeature, presenceFeature, notificationsFeature, workspacesFeature, agentsFeature, leaderboardsFeature, streamsFeature, docsFeature, demoFeature, sdkFeature];

export class SwitchboardNode {
  readonly nodeId: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly engine: Engine;
  readonly io: AppServer;
  readonly http: HttpServer;
  readonly sessions: SessionManager;
  readonly events = new NodeEvents();
  /** Every socket command and REST route this node serves, as registered. */
  readonly commands: readonly CommandDefinition[];
  readonly routes: readonly Route[];
  private readonly membership: ClusterMembership;
  /** Stops the Admin UI's instrumentation (ADMIN_UI=1). */
  private readonly stopAdminUi: () => void;
  /** The express app; set once in the constructor, after the features it routes to. */
  private app?: (req: IncomingMessage, res: ServerResponse) => void;
  private readonly features: Feature[];
  private readonly startedAt = Date.now();
  private serving = true;
  private shutdownPromise?: Promise<void>;

  constructor(
    readonly config: Config,
    private readonly options: NodeOptions = {},
  ) {
    this.nodeId = config.nodeId;
    this.logger = options.logger ?? createLogger({ nodeId: this.nodeId, level: config.logLevel });
    this.metrics = createMetrics({ nodeId: this.nodeId, version: VERSION });
    this.engine = createEngine(config, (client, err) => {
      this.metrics.redisErrors.inc({ client });
      this.logger.warn("redis error", { event: "redis", client, error: err.message });
    });
    const verifier = new TokenVerifier(config.jwt);
    const { points, durationS } = config.rateLimit;
    // A device's socket lives on one node, so its command budget is kept in this process: no
    // Redis round trip before every command. REST calls reach any node: their budget is the
    // engine's, shared by the cluster.
    const commandLimiter = new RateLimiterMemory({ points, duration: durationS });
    const restLimiter = this.engine.createRateLimiter({ name: "commands", points, durationS });

    // The express app is built after the features, but it must be the server's request listener
    // BEFORE Socket.IO attaches: engine.io takes over the listeners present at that moment and
    // passes them every request that is not its own (/socket.io/ long-polling included).
    this.http = createServer((req, res) => this.app!(req, res));
    this.io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(this.http, {
      adapter: this.engine.adapter,
      cors: config.corsOrigins ? { origin: config.corsOrigins, credentials: config.corsOrigins !== "*" } : undefined,
      pingInterval: config.heartbeatIntervalMs,
      pingTimeout: config.heartbeatTimeoutMs,
      // Room for PAYLOAD_TOO_LARGE answers: packets up to twice the limit are read and refused
      // with that code; larger ones close the connection at the transport.
      maxHttpBufferSize: config.maxMessageBytes * 2 + 16 * 1024,
    });
    this.engine.attach(this.io);
    encodeForRecipientsOnly(this.io.of("/").adapter as unknown as BroadcastSteps);
    batchClientWrites();
    upgradeInOneWrite(this.io.engine);
    this.stopAdminUi = config.adminUi ? instrumentAdminUi(this.io, this.nodeId, config.adminUi) : () => undefined;
    this.sessions = new SessionManager({
      nodeId: this.nodeId,
      engine: this.engine,
      verifier,
      metrics: this.metrics,
      logger: this.logger,
      maxConnections: config.maxConnections,
      maxDevicesPerUser: config.maxDevicesPerUser,
      maxConnectionsPerDevice: config.maxConnectionsPerDevice,
      sessionTtlS: config.sessionTtlS,
      events: this.events,
    });
    this.membership = new ClusterMembership({
      nodeId: this.nodeId,
      startedAt: this.startedAt,
      version: VERSION,
      engine: this.engine,
      logger: this.logger,
      metrics: this.metrics,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      connections: () => this.sessions.connections,
      localSessions: () => this.sessions.localSessions(),
      sessionTtlS: config.sessionTtlS,
      events: this.events,
    });

    const deps: FeatureDeps = {
      config,
      nodeId: this.nodeId,
      version: VERSION,
      startedAt: this.startedAt,
      engine: this.engine,
      io: this.io,
      sessions: this.sessions,
      events: this.events,
      pushTransport: options.pushTransport,
      logger: this.logger,
      metrics: this.metrics,
      isServing: () => this.serving,
    };
    const features = FEATURES.map((create) => create(deps));
    const refusals = new RefusalLog(this.logger, this.metrics);
    this.features = features;
    const pipeline = new CommandPipeline({
      nodeId: this.nodeId,
      engine: this.engine,
      metrics: this.metrics,
      logger: this.logger,
      maxMessageBytes: config.maxMessageBytes,
      rateLimiter: commandLimiter,
      refusals,
    });
    pipeline.register(features.flatMap((f) => f.commands ?? []));
    this.commands = pipeline.definitions;
    // The API document describes every route, itself included.
    this.routes = [...features.flatMap((f) => f.routes ?? []), openApiRoute(() => this.routes, { version: VERSION })];

    this.app = createApp({
      corsOrigins: config.corsOrigins,
      maxMessageBytes: config.maxMessageBytes,
      routes: this.routes,
      verifier,
      rateLimiter: restLimiter,
      refusals,
      metrics: this.metrics,
      logger: this.logger,
    });

    this.io.use((socket, next) => this.sessions.middleware(socket, next));
    this.io.on("connection", (socket) => {
      this.sessions.onConnection(socket);
      pipeline.attach(socket);
    });
  }

  /** Waits for the engine (bounded), listens, and joins the cluster. */
  async start(): Promise<this> {
    for (const warning of this.config.warnings) this.logger.warn(warning, { event: "config" });
    const ready = await this.engine.waitUntilAvailable(this.options.engineWaitMs ?? 5000);
    if (!ready) this.logger.warn("starting without the shared store; readiness stays 503 until it is reachable", { event: "engine" });
    // Unreachable now: the reconciliation when the store comes back releases them instead.
    await this.membership.releaseLeftovers();
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.membership.start();
    for (const feature of this.features) feature.start?.();
    this.logger.info("node started", { event: "start", port: this.port, engine: this.engine.kind, version: VERSION });
    return this;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Graceful shutdown: readiness turns 503, new handshakes are refused, sockets are closed so
   * their clients reconnect elsewhere, the node leaves the registry, Redis connections close.
   */
  shutdown(reason = "shutdown"): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  private async doShutdown(reason: string): Promise<void> {
    this.logger.info("shutting down", { event: "shutdown", reason });
    this.serving = false;
    this.sessions.stopAccepting();
    const httpClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.sessions.disconnectAll();
    await this.membership.leave();
    await Promise.all(this.features.map((f) => f.stop?.()));
    this.stopAdminUi();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    this.http.closeAllConnections();
    await httpClosed;
    await this.engine.close();
    this.logger.info("stopped", { event: "shutdown" });
  }
}

export async function startNode(config: Config, options?: NodeOptions): Promise<SwitchboardNode> {
  return new SwitchboardNode(config, options).start();
}
