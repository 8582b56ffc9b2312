/**
 * SwitchboardEmitter (PROTOCOL §5): a backend service publishes into a Switchboard cluster
 * through the cluster's Redis, without opening a socket. Every payload is validated with the
 * shared schemas before anything is sent; then it is written through the stores a node's
 * services write through (@switchboard/store, on the nodes' key layout; document ops through the
 * nodes' commit loop), so what it publishes is indistinguishable from what a node publishes.
 * Events reach sockets through Redis alone (./transport).
 */
// The contract, from @switchboard/shared: the ids a target takes, the requests it validates, and the rooms and events it sends.
import { agentId, docId, leaderboardId, roomId, streamName, tenantId, userId as userIdSchema, workspaceId } from "@switchboard/shared";
import { agentEventSchemas, agentRegistrationFields, customEventName, leaderboardScoreRequest, notifyRequest, publishFields, streamAppendSchema, workspaceUpdateFields } from "@switchboard/shared";
import { AGENT_EVENT_NAMES, agentExecutionEvent, agentRoom, streamPointValue, userRoom, workspaceRoom, workspaceUpdateEvent } from "@switchboard/shared";
import { DEFAULT_TENANT, keyLayout, tenantRoom, tenantWideRoom, type KeyLayout, type MessageSender, type NotifyRequest, type NotifyResult } from "@switchboard/shared";
import type { AgentCompleted, AgentEventInput, AgentEventKind, AgentExecutionState, AgentFailed, AgentInfo, AgentProgress, AgentRegistration, AgentStarted } from "@switchboard/shared";
import type { LeaderboardScoreInput, LeaderboardScoreResult, PublishPayload, PublishResult, StreamAppendResult, WorkspaceUpdateData, WorkspaceUpdateEvent } from "@switchboard/shared";
import { docSubmitRequest, type DocOpResult, type DocSnapshot, type DocSubmitRequest } from "@switchboard/shared";
// The stores a node's services write through.
import { commitDocOp, DocState, notifyUser, openRedisStores, publishMessage, recordScore, senderOf, type RedisStores } from "@switchboard/store";
import { Cluster, Redis } from "ioredis";
import Joi from "joi";
import { checkPayload, EmitterError, rethrow, validate } from "./errors";
import { emitterDelivery, type EmitterDelivery } from "./transport";

export interface EmitterOptions {
  /** A Redis URL, or an ioredis client (Redis or Cluster) the caller owns: close() leaves it open. */
  redis?: string | Redis | Cluster;
  /** A Redis Cluster as a comma list `host:port,host:port` (the nodes' REDIS_CLUSTER_NODES). */
  redisClusterNodes?: string;
  /** Tenant of everything this emitter publishes (default: none, the tokens without a `tenant` claim). */
  tenant?: string;
  /** Must match the nodes' REDIS_KEY_PREFIX (default `sb:`). */
  keyPrefix?: string;
  /** Must match the nodes' HISTORY_SIZE, HISTORY_TTL_S and ROOM_IDLE_TTL_S (defaults: theirs). */
  historySize?: number;
  historyTtlS?: number;
  roomIdleTtlS?: number;
  /** The largest payload (JSON bytes) it sends; the nodes' MAX_MESSAGE_BYTES (default 65536). */
  maxMessageBytes?: number;
  /** Points kept per live stream; the nodes' STREAM_MAX_LEN (default 10000). */
  streamMaxLen?: number;
  /** `from` of the room messages it publishes (default `{ userId: "emitter" }`). */
  sender?: MessageSender;
  /** Told when a fire-and-forget emit (`user().emit`, `broadcast`) could not be handed to Redis. */
  onError?: (err: Error) => void;
}

/**
 * Custom events a service sends with `user().emit` and `broadcast`: name -> listener signature
 * (an interface works too: `SwitchboardEmitter<MyEvents>`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as socket.io's EventsMap: lets interfaces satisfy it
export type CustomEventsMap = { [event: string]: any };
export type DefaultCustomEvents = Record<string, (...args: unknown[]) => void>;
type EventName<E extends CustomEventsMap> = keyof E & string;
/** The arguments of a custom event: its listener's parameters. */
type EventArgs<E extends CustomEventsMap, K extends keyof E> = E[K] extends (...args: infer P) => unknown ? P : never;

/** Publish options: the fields of `room:publish` other than `room` and `data`. */
export type PublishOptions = Omit<PublishPayload, "data">;
/** A notification for one user: `POST /v1/notify` without `userId`. */
export type NotifyInput = Omit<NotifyRequest, "userId">;
/** Options of `doc(id).submit`: the version the op was made against, and optionally a clientOpId and the type of a new document. */
export type DocSubmitOptions = Omit<DocSubmitRequest, "op">;

/** What the emitter keeps of its options; those that mirror the nodes' settings default to the nodes' defaults (PROTOCOL §1). */
type Settings = Required<Pick<EmitterOptions, "historySize" | "historyTtlS" | "roomIdleTtlS" | "maxMessageBytes" | "streamMaxLen" | "sender">>;

const optionsSchema = Joi.object<EmitterOptions & Settings>({
  redis: Joi.alternatives(Joi.string().uri({ scheme: ["redis", "rediss"] }), Joi.object()),
  redisClusterNodes: Joi.string().pattern(/^[A-Za-z0-9_.-]+:\d{1,5}(,[A-Za-z0-9_.-]+:\d{1,5})*$/, "host:port list"),
  tenant: tenantId,
  keyPrefix: Joi.string().pattern(/^[A-Za-z0-9_.:-]{0,64}$/).allow(""),
  historySize: Joi.number().integer().min(1).max(1_000_000).default(1000),
  historyTtlS: Joi.number().integer().min(1).default(604800),
  roomIdleTtlS: Joi.number().integer().min(1).default(86400),
  maxMessageBytes: Joi.number().integer().min(256).default(65536),
  streamMaxLen: Joi.number().integer().min(100).max(10_000_000).default(10000),
  sender: Joi.object({ userId: userIdSchema.required(), name: Joi.string().max(128), deviceId: Joi.string().pattern(/^[A-Za-z0-9_-]{1,64}$/) }).default({ userId: "emitter" }),
  onError: Joi.function(),
}).xor("redis", "redisClusterNodes");

const publishOptions = Joi.object(publishFields);
const updateSchema = Joi.object(workspaceUpdateFields);
const registrationSchema = Joi.object<AgentRegistration>(agentRegistrationFields);

/** What the targets share of their emitter. */
export interface EmitterContext {
  tenant: string;
  settings: Settings;
  /** Told when a fire-and-forget send could not be handed to Redis. */
  onError(err: Error): void;
  /** The stores a node's services write through, on the emitter's Redis. */
  stores: RedisStores;
  delivery: EmitterDelivery;
  /** Throws UNAVAILABLE once the emitter is closed. */
  assertOpen(): void;
  /** Refuses before anything is sent (closed, a payload the nodes would refuse, a request `schema` refuses); answers the request validated. */
  accept<T>(what: string, schema: Joi.Schema<T>, request: unknown, payload: unknown): T;
}

/** What every target holds: its emitter's context, and the id it targets. */
export abstract class Target {
  constructor(
    protected readonly ctx: EmitterContext,
    readonly id: string,
  ) {}
}

export class SwitchboardEmitter<Events extends CustomEventsMap = DefaultCustomEvents> {
  readonly tenant: string;
  readonly keys: KeyLayout;
  /** The ioredis client it publishes through. */
  readonly redis: Redis | Cluster;
  /** True against a Redis Cluster (sharded pub/sub). */
  readonly sharded: boolean;
  private readonly ownsClient: boolean;
  private readonly context: EmitterContext;
  private closed = false;

  constructor(options: EmitterOptions) {
    const { value, error } = optionsSchema.validate(options);
    if (error) throw new EmitterError("VALIDATION_FAILED", `SwitchboardEmitter options: ${error.message}`);
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.keys = keyLayout(options.keyPrefix ?? "sb:");
    const { historySize, historyTtlS, roomIdleTtlS, maxMessageBytes, streamMaxLen, sender } = value;
    const settings = { historySize, historyTtlS, roomIdleTtlS, maxMessageBytes, streamMaxLen, sender: senderOf(sender) };
    const onError = options.onError ?? (() => undefined);
    this.ownsClient = typeof options.redis !== "object";
    if (options.redisClusterNodes) {
      this.redis = new Cluster(options.redisClusterNodes.split(",").map((node) => ({ host: node.split(":")[0]!, port: Number(node.split(":")[1]) })));
    } else {
      this.redis = typeof options.redis === "string" ? new Redis(options.redis) : options.redis!;
    }
    if (this.ownsClient) this.redis.on("error", onError);
    this.sharded = (this.redis as { isCluster?: boolean }).isCluster === true;
    const delivery = emitterDelivery(this.redis, this.sharded);
    const assertOpen = () => {
      if (this.closed) throw new EmitterError("UNAVAILABLE", "the emitter is closed");
    };
    const accept = <T>(what: string, schema: Joi.Schema<T>, request: unknown, payload: unknown): T => {
      assertOpen();
      checkPayload(payload, settings.maxMessageBytes, what);
      return validate(schema, request, what);
    };
    const stores = openRedisStores(this.redis, this.keys, { cluster: this.sharded, delivery });
    this.context = { tenant: this.tenant, settings, onError, stores, delivery, assertOpen, accept };
  }

  /**
   * Queues a notification for a user, exactly as `POST /v1/notify` does: appended to the nodes'
   * notification stream (durable: delivered even if no node reads at this instant) and filed in
   * the user's inbox. Resolves with its id and the path it is set on.
   */
  async notify(userId: string, notification: NotifyInput): Promise<NotifyResult> {
    const request = this.context.accept("notify", notifyRequest, { ...notification, userId }, notification);
    return notifyUser(this.context.stores, this.tenant, request);
  }

  /** A room of the tenant (created by a node or REST): publish into its history. */
  room(id: string): RoomTarget {
    return new RoomTarget(this.context, validate(roomId.required(), id, "room id"));
  }

  /** Every device of a user, on every node. */
  user(id: string): UserTarget<Events> {
    return new UserTarget(this.context, validate(userIdSchema.required(), id, "user id"));
  }

  workspace(id: string): WorkspaceTarget {
    return new WorkspaceTarget(this.context, validate(workspaceId.required(), id, "workspace id"));
  }

  agent(id: string): AgentTarget {
    return new AgentTarget(this.context, validate(agentId.required(), id, "agent id"));
  }

  /** A leaderboard of the tenant (created by its first score). */
  leaderboard(id: string): LeaderboardTarget {
    return new LeaderboardTarget(this.context, validate(leaderboardId.required(), id, "leaderboard id"));
  }

  /** A live data stream of the tenant (created by its first point). */
  stream(name: string): StreamTarget {
    return new StreamTarget(this.context, validate(streamName.required(), name, "stream name"));
  }

  /** A collaborative document (`room:<roomId>/<name>` or `workspace:<workspaceId>/<name>`): read it, submit ops. */
  doc(id: string): DocTarget {
    return new DocTarget(this.context, validate(docId.required(), id, "document id"));
  }

  /** Fire-and-forget: a custom event to every connected client of the tenant. */
  broadcast<E extends EventName<Events>>(event: E, ...args: EventArgs<Events, E>): void {
    fire(this.context, tenantWideRoom(this.tenant), event, args, "broadcast");
  }

  /**
   * Releases every connection this emitter opened (a client passed in stays open). What was
   * published into rooms before it is called is still stored and answered: the room publishes of
   * a turn leave together at the end of the turn's promise callbacks (the store's TurnBatches), so
   * close() waits for their answers before it sends QUIT or resolves (after which the owner of a
   * client passed in may close it).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.context.stores.history.settled();
    if (!this.ownsClient) return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

export class RoomTarget extends Target {
  /**
   * Appends to the room's history and sends `room:message` to its members on every node, as a
   * service publishing through a node would (same store, same id). Durable: a client that was
   * away recovers it with `room:join { since }`.
   */
  async publish(data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const { ctx, id } = this;
    const input = ctx.accept("room().publish", publishOptions, { ...options, data }, data);
    const { historySize, historyTtlS, roomIdleTtlS: idleTtlS, sender: from } = ctx.settings;
    return publishMessage(ctx.stores.history, { tenant: ctx.tenant, room: id, from, input, historySize, historyTtlS, idleTtlS }).catch(rethrow);
  }
}

export class UserTarget<Events extends CustomEventsMap> extends Target {
  /** Fire-and-forget: a custom event to every connected device of the user (lost if none is connected). */
  emit<E extends EventName<Events>>(event: E, ...args: EventArgs<Events, E>): void {
    fire(this.ctx, tenantRoom(this.ctx.tenant, userRoom(this.id)), event, args, "user().emit");
  }
}

export class WorkspaceTarget extends Target {
  /** Sends `workspace:update` `{ workspaceId, updateType, ...data, ts }` to the workspace's room on every node. */
  async update(updateType: string, data?: WorkspaceUpdateData): Promise<WorkspaceUpdateEvent> {
    const { ctx, id } = this;
    const input = ctx.accept("workspace().update", updateSchema, data === undefined ? { updateType } : { updateType, data }, data ?? {});
    await assertWorkspace(ctx, id);
    const event = workspaceUpdateEvent(id, input.updateType, input.data as WorkspaceUpdateData | undefined, Date.now());
    await ctx.delivery.broadcast(tenantRoom(ctx.tenant, workspaceRoom(id)), "workspace:update", [event]);
    return event;
  }
}

export class AgentTarget extends Target {
  /** Registers the agent in a workspace (or moves it, or changes its owner and name). */
  async register(registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }> {
    this.ctx.assertOpen();
    const input = validate(registrationSchema, registration, "agent().register");
    await assertWorkspace(this.ctx, input.workspaceId);
    return this.ctx.stores.agents.register(this.ctx.tenant, this.id, input);
  }

  /** `agent:execution_start`: a new execution (status `running`, progress 0). */
  started(payload: AgentStarted): Promise<AgentExecutionState> {
    return this.report("start", payload, "agent().started");
  }

  /** `agent:execution_update`: progress (0–100), current step, status (default `running`). */
  progress(payload: AgentProgress): Promise<AgentExecutionState> {
    return this.report("update", payload, "agent().progress");
  }

  /** `agent:execution_complete` (status `completed`, progress 100). */
  completed(payload: AgentCompleted): Promise<AgentExecutionState> {
    return this.report("complete", payload, "agent().completed");
  }

  /** `agent:execution_failed` (status `failed`). */
  failed(payload: AgentFailed): Promise<AgentExecutionState> {
    return this.report("fail", payload, "agent().failed");
  }

  /** Records the event as the agent's execution state and sends it to the agent's room on every node. */
  private async report<K extends AgentEventKind>(kind: K, payload: AgentEventInput[K], what: string): Promise<AgentExecutionState> {
    const { ctx, id } = this;
    const input = ctx.accept(what, agentEventSchemas[kind] as Joi.ObjectSchema<AgentEventInput[K]>, payload, payload);
    const recorded = await ctx.stores.agents.record(ctx.tenant, id, kind, input);
    if (!recorded) throw new EmitterError("NOT_FOUND", `agent ${id} is not registered; call agent(${JSON.stringify(id)}).register(...) first`);
    await ctx.delivery.broadcast(tenantRoom(ctx.tenant, agentRoom(id)), AGENT_EVENT_NAMES[kind], [agentExecutionEvent(kind, recorded.state, recorded.ts)]);
    return recorded.state;
  }
}

export class LeaderboardTarget extends Target {
  /**
   * Sets a user's score (`score(userId, 42)` or `{ value: 42 }`) or adds to it (`{ inc: 5 }`),
   * optionally with an `achievement` the write may unlock (then an `achievement_unlocked`
   * notification is queued). Subscribers get it with the nodes' next coalesced `leaderboard:update`.
   */
  async score(userId: string, input: LeaderboardScoreInput): Promise<LeaderboardScoreResult> {
    const body = typeof input === "number" ? { value: input } : input;
    const request = this.ctx.accept("leaderboard().score", leaderboardScoreRequest, { ...body, userId }, body);
    return recordScore(this.ctx.stores, this.ctx.tenant, this.id, request);
  }
}

export class StreamTarget extends Target {
  /** The stream's name (its id). */
  get name(): string {
    return this.id;
  }

  /**
   * Appends one point or several (at most 500, all or none), validated by the stream's kind
   * (`metrics`, `feedback`, `model_performance`; other kinds are free-form objects). Each point is
   * aggregated once by the nodes into the stream's rolling windows.
   */
  async append(point: Record<string, unknown> | readonly Record<string, unknown>[]): Promise<StreamAppendResult> {
    const { ctx, name } = this;
    const points = Array.isArray(point) ? point : [point as Record<string, unknown>];
    const input = ctx.accept("stream().append", streamAppendSchema(name), { points }, points);
    const values = input.points.map((data) => ({ data, value: streamPointValue(name, data) }));
    return { ids: await ctx.stores.streams.append(ctx.tenant, name, values, ctx.settings.streamMaxLen) };
  }
}

export class DocTarget extends Target {
  /** The latest snapshot and its version (NOT_FOUND for a document nobody wrote). */
  async get(): Promise<DocSnapshot> {
    this.ctx.assertOpen();
    const state = await DocState.read(this.ctx.stores.docs, this.ctx.tenant, this.id);
    if (!state) throw new EmitterError("NOT_FOUND", `document ${this.id} does not exist`);
    return { docId: this.id, type: state.type, version: state.version, snapshot: state.head };
  }

  /**
   * Submits an op made against `version`: resolves the version it made, or, for a `clientOpId`
   * applied before, that version with `duplicate: true`. A document that does not exist yet is
   * created with `type` (default `text`).
   */
  async submit(op: unknown, options: DocSubmitOptions): Promise<DocOpResult> {
    const { ctx, id } = this;
    const input = ctx.accept("doc().submit", docSubmitRequest, { ...options, op }, op);
    const { docs } = ctx.stores;
    // Each submit starts from the store's copy of the document: a service keeps none between calls.
    const target = { docs, tenant: ctx.tenant, docId: id, roomIdleTtlS: ctx.settings.roomIdleTtlS, load: () => DocState.read(docs, ctx.tenant, id) };
    return commitDocOp(target, { ...input, from: ctx.settings.sender }).catch(rethrow);
  }
}

/** Fire-and-forget: a custom event to the sockets of `room`; a send Redis refused goes to `onError`. */
function fire(ctx: EmitterContext, room: string, event: string, args: unknown[], what: string): void {
  ctx.assertOpen();
  validate(customEventName.required(), event, `${what} event`);
  checkPayload(args, ctx.settings.maxMessageBytes, what);
  ctx.delivery.broadcast(room, event, args).catch((err: unknown) => ctx.onError(err instanceof Error ? err : new Error(String(err))));
}

async function assertWorkspace(ctx: EmitterContext, workspaceId: string): Promise<void> {
  if (!(await ctx.stores.workspaces.get(ctx.tenant, workspaceId))) throw new EmitterError("NOT_FOUND", `workspace ${workspaceId} does not exist`);
}
