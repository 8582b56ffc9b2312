/**
 * The command pipeline. Every socket command is declared with defineCommand and runs through
 * the same steps: rate limit -> known name -> one payload -> shape (depth, entries, binary) and
 * size limits -> schema -> availability -> handler -> ack envelope, with metrics for each and a
 * log line for refusals (within a budget per device). Handlers return a result or throw; they
 * never ack. No client input reaches an exception outside this pipeline's catch.
 */
import { AppError, PAYLOAD_OPTIONS, validateInput, type Ack, type ErrorBody, type SocketData } from "@switchboard/shared";
import type Joi from "joi";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import { RateLimiterRes } from "rate-limiter-flexible";
import type { Engine } from "./engine";
import { toAppError } from "./errors";
import { socketListener, type AppSocket } from "./io";
import type { Logger } from "./observability/logger";
import type { Metrics } from "./observability/metrics";
import type { RefusalLog } from "./observability/refusal-log";
import { ROLE_SERVICE } from "./auth/tokens";

export interface CommandContext {
  socket: AppSocket;
  session: SocketData;
  nodeId: string;
}

export interface CommandOptions {
  /** Whether the command needs the shared store (default true): refused with UNAVAILABLE while it is away. */
  needsEngine?: boolean;
}

/** A declared command. Its payload type is checked at defineCommand; the pipeline sees it erased. */
export interface CommandDefinition {
  readonly name: string;
  readonly schema: Joi.ObjectSchema<unknown>;
  /** Runs with a payload that already passed `schema`. */
  readonly handler: (ctx: CommandContext, payload: unknown) => object | Promise<object>;
  readonly options: Required<CommandOptions>;
}

export function defineCommand<P, R extends object>(
  name: string,
  schema: Joi.ObjectSchema<P>,
  handler: (ctx: CommandContext, payload: P) => R | Promise<R>,
  options: CommandOptions = {},
): CommandDefinition {
  return {
    name,
    schema: schema as Joi.ObjectSchema<unknown>,
    handler: (ctx, payload) => handler(ctx, payload as P),
    options: { needsEngine: options.needsEngine ?? true },
  };
}

export interface PipelineDeps {
  nodeId: string;
  engine: Engine;
  metrics: Metrics;
  logger: Logger;
  maxMessageBytes: number;
  rateLimiter: RateLimiterAbstract;
  refusals: RefusalLog;
}

/** One device of one user: what rate limits and log budgets count per, made once per session. */
const deviceKeys = new WeakMap<SocketData, string>();
function deviceKey(session: SocketData): string {
  let key = deviceKeys.get(session);
  if (key === undefined) deviceKeys.set(session, (key = JSON.stringify([session.tenant, session.userId, session.deviceId])));
  return key;
}

type AckFn = (ack: Ack<object>) => void;

export class CommandPipeline {
  private readonly commands = new Map<string, CommandDefinition>();

  constructor(private readonly deps: PipelineDeps) {}

  register(definitions: readonly CommandDefinition[]): void {
    for (const def of definitions) {
      if (this.commands.has(def.name)) throw new Error(`command ${def.name} is defined twice`);
      this.commands.set(def.name, def);
    }
  }

  /** Every registered command (the fuzzer and the docs enumerate them from here). */
  get definitions(): readonly CommandDefinition[] {
    return [...this.commands.values()];
  }

  /**
   * Listens for every event a client sends. One listener takes them all, so each event — known or
   * not, well-formed or not — passes the rate limit before anything else looks at it.
   */
  attach(socket: AppSocket): void {
    socket.onAny(this.onAny);
  }

  /**
   * The catch-all listener of every socket, one function for them all. `unknown` on purpose, not
   * the event maps: a client may send any event name (even a number) with any arguments, and this
   * is where they arrive.
   */
  private readonly onAny = socketListener((socket, event: unknown, ...args: unknown[]) => void this.dispatch(socket, event, args));

  private async dispatch(socket: AppSocket, event: unknown, args: unknown[]): Promise<void> {
    const started = performance.now();
    const ack = typeof args[args.length - 1] === "function" ? (args.pop() as AckFn) : undefined;
    // Socket.IO lets a client name an event with a number too; only strings name commands.
    const def = typeof event === "string" ? this.commands.get(event) : undefined;
    const name = def?.name ?? "unknown";
    try {
      await this.consumeRateLimit(socket.data);
      if (!def) throw new AppError("NOT_FOUND", `unknown command ${JSON.stringify(String(event).slice(0, 64))}`);
      if (args.length > 1) throw new AppError("VALIDATION_FAILED", "a command takes one payload object");
      const value = validateInput(def.schema, args[0] ?? {}, PAYLOAD_OPTIONS, { maxBytes: this.deps.maxMessageBytes });
      if (def.options.needsEngine && !this.deps.engine.isAvailable()) {
        throw new AppError("UNAVAILABLE", "the cluster store is unreachable; retry shortly");
      }
      const result = await def.handler({ socket, session: socket.data, nodeId: this.deps.nodeId }, value);
      this.observe(name, "ok", started);
      ack?.({ ok: true, ...result });
      // winston formats a message before its transports drop it for its level: skip the call instead.
      if (this.deps.logger.isDebugEnabled()) {
        this.deps.logger.debug("command", { event: "command", command: name, userId: socket.data.userId, deviceId: socket.data.deviceId, outcome: "ok" });
      }
    } catch (err) {
      const { error, internal } = toAppError(err);
      if (internal) {
        this.deps.logger.error("command failed", { event: "command", command: name, userId: socket.data.userId, error: err instanceof Error ? err.stack : String(err) });
      }
      this.fail(socket, name, typeof event === "string" ? event.slice(0, 128) : String(event).slice(0, 128), ack, error, started);
    }
  }

  private async consumeRateLimit(session: SocketData): Promise<void> {
    if (session.roles.includes(ROLE_SERVICE)) return;
    try {
      await this.deps.rateLimiter.consume(deviceKey(session));
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new AppError("RATE_LIMITED", "too many commands; slow down", { retryAfterMs: err.msBeforeNext });
      }
      throw err;
    }
  }

  /** Answers a refusal: through the ack, or as `command:error` when the client sent none. */
  private fail(socket: AppSocket, name: string, event: string, ack: AckFn | undefined, error: AppError, started: number): void {
    this.observe(name, error.code, started);
    const body: ErrorBody = error.toBody();
    if (ack) ack({ ok: false, error: body });
    else socket.emit("command:error", { event, error: body });
    if (error.code !== "INTERNAL") {
      this.deps.refusals.refused(deviceKey(socket.data), "command", "command refused", { command: name, userId: socket.data.userId, deviceId: socket.data.deviceId, outcome: error.code });
    }
  }

  private observe(command: string, outcome: string, started: number): void {
    this.deps.metrics.commands.inc({ command, outcome });
    this.deps.metrics.commandDuration.observe({ command, outcome }, (performance.now() - started) / 1000);
  }
}
