/**
 * SwitchboardEmitter (PROTOCOL §5): a backend service publishes into a Switchboard cluster
 * through the cluster's Redis, without opening a socket. Every write uses the nodes' own key
 * layout and Lua scripts (@switchboard/shared), so what it publishes is indistinguishable from
 * what a node publishes; every payload is validated with the shared schemas before anything is sent.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  AGENT_EVENT_NAMES,
  AGENT_EXECUTION,
  AGENT_REGISTER,
  achievementNotification,
  agentEventSchemas,
  agentExecutionEvent,
  agentExecutionFields,
  agentId as agentIdSchema,
  agentRegistrationFields,
  agentRoom,
  customEventName,
  DEFAULT_TENANT,
  EMITTER_UID,
  fromStoredScore,
  INBOX_PUT,
  INBOX_SIZE,
  inboxKeys,
  isReservedRoomId,
  keyLayout,
  LEADERBOARD_SCORE,
  leaderboardId as leaderboardIdSchema,
  leaderboardScoreRequest,
  NOTIFICATION_QUEUE_MAX_LEN,
  notifyRequest,
  parseAgent,
  parseAgentExecution,
  queuedNotification,
  PUBLISH_MESSAGE,
  publishFields,
  roomId as roomIdSchema,
  scopedMember,
  streamAppendSchema,
  streamEntryFields,
  streamName as streamNameSchema,
  tenantId,
  toStoredScore,
  tenantRoom,
  tenantWideRoom,
  userId as userIdSchema,
  userRoom,
  workspaceId as workspaceIdSchema,
  workspaceRoom,
  workspaceUpdateEvent,
  workspaceUpdateFields,
  type AgentCompleted,
  type AgentEventInput,
  type AgentEventKind,
  type AgentExecutionState,
  type AgentFailed,
  type AgentInfo,
  type AgentProgress,
  type AgentRegistration,
  type AgentStarted,
  type KeyLayout,
  type LeaderboardScoreInput,
  type LeaderboardScoreResult,
  type Message,
  type MessageSender,
  type NotifyDelivery,
  type NotifyRequest,
  type NotifyResult,
  type PublishPayload,
  type PublishResult,
  type QueuedNotification,
  type StreamAppendResult,
  type WorkspaceUpdateData,
  type WorkspaceUpdateEvent,
} from "@switchboard/shared";
import { Cluster, Redis } from "ioredis";
import Joi from "joi";
import { checkPayload, EmitterError, validate } from "./errors";
import { docId as docIdSchema } from "@switchboard/shared";
import { DocTarget } from "./docs";
import { ClassicTransport, ShardedTransport, type Transport } from "./transport";
import { RedisScript, splitClassicFrame } from "@switchboard/store";

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

/** The nodes' defaults (PROTOCOL §1). */
const DEFAULTS = { historySize: 1000, historyTtlS: 604800, roomIdleTtlS: 86400, maxMessageBytes: 65536, streamMaxLen: 10000 };
const DEFAULT_SENDER: MessageSender = { userId: "emitter" };

const optionsSchema = Joi.object({
  redis: Joi.alternatives(Joi.string().uri({ scheme: ["redis", "rediss"] }), Joi.object()),
  redisClusterNodes: Joi.string().pattern(/^[A-Za-z0-9_.-]+:\d{1,5}(,[A-Za-z0-9_.-]+:\d{1,5})*$/, "host:port list"),
  tenant: tenantId,
  keyPrefix: Joi.string().pattern(/^[A-Za-z0-9_.:-]{0,64}$/).allow(""),
  historySize: Joi.number().integer().min(1).max(1_000_000),
  historyTtlS: Joi.number().integer().min(1),
  roomIdleTtlS: Joi.number().integer().min(1),
  maxMessageBytes: Joi.number().integer().min(256),
  streamMaxLen: Joi.number().integer().min(100).max(10_000_000),
  sender: Joi.object({ userId: userIdSchema.required(), name: Joi.string().max(128), deviceId: Joi.string().pattern(/^[A-Za-z0-9_-]{1,64}$/) }),
  onError: Joi.function(),
}).xor("redis", "redisClusterNodes");

const publishOptions = Joi.object(publishFields);
const notifySchema = notifyRequest;
const updateSchema = Joi.object(workspaceUpdateFields);
const registrationSchema = Joi.object<AgentRegistration>(agentRegistrationFields);

const publishMessage = new RedisScript(PUBLISH_MESSAGE);
const inboxPut = new RedisScript(INBOX_PUT);
const agentRegister = new RedisScript(AGENT_REGISTER);
const agentExecution = new RedisScript(AGENT_EXECUTION);
const leaderboardScore = new RedisScript(LEADERBOARD_SCORE);

export class SwitchboardEmitter<Events extends CustomEventsMap = DefaultCustomEvents> {
  readonly tenant: string;
  readonly keys: KeyLayout;
  /** The ioredis client it publishes through. */
  readonly redis: Redis | Cluster;
  /** True against a Redis Cluster (sharded pub/sub). */
  readonly sharded: boolean;
  private readonly ownsClient: boolean;
  private readonly transport: Transport;
  private readonly settings: typeof DEFAULTS & { sender: MessageSender; onError: (err: Error) => void };
  /** Marks where the id goes in a pre-encoded `room:message` frame; no message can contain it. */
  private readonly placeholder = `sb-id-${randomBytes(12).toString("hex")}`;
  private closed = false;

  constructor(options: EmitterOptions) {
    const { error } = optionsSchema.validate(options);
    if (error) throw new EmitterError("VALIDATION_FAILED", `SwitchboardEmitter options: ${error.message}`);
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.keys = keyLayout(options.keyPrefix ?? "sb:");
    this.settings = {
      historySize: options.historySize ?? DEFAULTS.historySize,
      historyTtlS: options.historyTtlS ?? DEFAULTS.historyTtlS,
      roomIdleTtlS: options.roomIdleTtlS ?? DEFAULTS.roomIdleTtlS,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      streamMaxLen: options.streamMaxLen ?? DEFAULTS.streamMaxLen,
      sender: options.sender ? normalizedSender(options.sender) : DEFAULT_SENDER,
      onError: options.onError ?? (() => undefined),
    };
    if (options.redisClusterNodes) {
      const nodes = options.redisClusterNodes.split(",").map((hp) => {
        const [host, port] = hp.split(":");
        return { host: host!, port: Number(port) };
      });
      this.redis = new Cluster(nodes);
      this.ownsClient = true;
    } else if (typeof options.redis === "string") {
      this.redis = new Redis(options.redis);
      this.ownsClient = true;
    } else {
      this.redis = options.redis!;
      this.ownsClient = false;
    }
    if (this.ownsClient) this.redis.on("error", (err: Error) => this.settings.onError(err));
    this.sharded = (this.redis as { isCluster?: boolean }).isCluster === true;
    this.transport = this.sharded ? new ShardedTransport(this.redis) : new ClassicTransport(this.redis as Redis);
  }

  /**
   * Queues a notification for a user, exactly as `POST /v1/notify` does: appended to the nodes'
   * notification stream (durable: delivered even if no node reads at this instant) and filed in
   * the user's inbox. Resolves with its id and the path it is set on.
   */
  async notify(userId: string, notification: NotifyInput): Promise<NotifyResult> {
    this.assertOpen();
    checkPayload(notification, this.settings.maxMessageBytes, "notify");
    const request = validate(notifySchema, { ...notification, userId }, "notify");
    const stored = queuedNotification(this.tenant, randomUUID(), request, Date.now());
    await this.queueNotification(stored);
    return { id: stored.id, delivery: await this.plannedDelivery(userId) };
  }

  /** A room of the tenant (created by a node or REST): publish into its history. */
  room(id: string): RoomTarget {
    return new RoomTarget(this, validate(roomIdSchema.required(), id, "room id"));
  }

  /** Every device of a user, on every node. */
  user(id: string): UserTarget<Events> {
    return new UserTarget(this, validate(userIdSchema.required(), id, "user id"));
  }

  workspace(id: string): WorkspaceTarget {
    return new WorkspaceTarget(this, validate(workspaceIdSchema.required(), id, "workspace id"));
  }

  agent(id: string): AgentTarget {
    return new AgentTarget(this, validate(agentIdSchema.required(), id, "agent id"));
  }

  /** A leaderboard of the tenant (created by its first score). */
  leaderboard(id: string): LeaderboardTarget {
    return new LeaderboardTarget(this, validate(leaderboardIdSchema.required(), id, "leaderboard id"));
  }

  /** A live data stream of the tenant (created by its first point). */
  stream(name: string): StreamTarget {
    return new StreamTarget(this, validate(streamNameSchema.required(), name, "stream name"));
  }

  /** A collaborative document (`room:<roomId>/<name>` or `workspace:<workspaceId>/<name>`): read it, submit ops. */
  doc(id: string): DocTarget {
    const { redis, keys, tenant, sharded, transport, settings } = this;
    const context = { redis, keys, tenant, sharded, transport, maxMessageBytes: settings.maxMessageBytes, roomIdleTtlS: settings.roomIdleTtlS, sender: settings.sender };
    return new DocTarget({ ...context, assertOpen: () => this.assertOpen() }, validate(docIdSchema.required(), id, "document id"));
  }

  /** Fire-and-forget: a custom event to every connected client of the tenant. */
  broadcast<E extends EventName<Events>>(event: E, ...args: EventArgs<Events, E>): void {
    this.fire(tenantWideRoom(this.tenant), event, args, "broadcast");
  }

  /** Releases every connection this emitter opened (a client passed in stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // ---- internals shared by the targets ----

  /** @internal */
  async publishToRoom(room: string, data: unknown, options: PublishOptions): Promise<PublishResult> {
    this.assertOpen();
    if (isReservedRoomId(room)) throw new EmitterError("FORBIDDEN", `room ids starting with ${room.slice(0, room.indexOf(":") + 1)} are reserved for the server`);
    checkPayload(data, this.settings.maxMessageBytes, "room().publish");
    const input = validate(publishOptions, { ...options, data }, "room().publish");
    const { historySize, historyTtlS, roomIdleTtlS, sender } = this.settings;
    const ts = Date.now();
    const stored: Record<string, unknown> = { from: sender, kind: input.kind ?? "text", data: input.data, ts, priority: input.priority ?? "normal" };
    if (input.replyTo !== undefined) stored.replyTo = input.replyTo;
    const socketRoom = tenantRoom(this.tenant, room);
    const frame = this.sharded ? undefined : splitClassicFrame(EMITTER_UID, socketRoom, "room:message", [toMessage(room, this.placeholder, stored)], this.placeholder);
    const k = this.keys;
    const history = k.roomHistory(this.tenant, room);
    const once = input.clientMsgId === undefined ? undefined : k.roomPublishOnce(this.tenant, room, sender.userId, input.clientMsgId);
    const [outcome, id] = (await publishMessage.run(
      this.redis,
      [k.roomMeta(this.tenant, room), k.roomMembers(this.tenant, room), history, once ?? history],
      ["", JSON.stringify(stored), historySize, historyTtlS, roomIdleTtlS, once ? "1" : "0", frame?.channel ?? "", frame?.prefix ?? "", frame?.suffix ?? ""],
    )) as [string, string | undefined];
    if (outcome === "missing") throw new EmitterError("NOT_FOUND", `room ${room} does not exist`);
    if (outcome === "duplicate") {
      const [entry] = (await this.redis.xrange(history, id!, id!)) as [string, string[]][];
      const first = entry ? (JSON.parse(entry[1][1]!) as { ts: number }).ts : Number(id!.split("-")[0]);
      return { id: id!, ts: first, duplicate: true };
    }
    if (outcome !== "published") throw new Error(`unexpected publish outcome ${outcome}`);
    // On a Redis Cluster the adapter's channel lives on another slot: stored first, then sent.
    if (this.sharded) await this.transport.send(socketRoom, "room:message", [toMessage(room, id!, stored)]);
    return { id: id!, ts };
  }

  /** @internal */
  fire(room: string, event: string, args: unknown[], what: string): void {
    this.assertOpen();
    validate(customEventName.required(), event, `${what} event`);
    checkPayload(args, this.settings.maxMessageBytes, what);
    this.transport.send(room, event, args).catch((err: unknown) => this.settings.onError(err instanceof Error ? err : new Error(String(err))));
  }

  /** @internal */
  async updateWorkspace(workspaceId: string, updateType: string, data: WorkspaceUpdateData | undefined): Promise<WorkspaceUpdateEvent> {
    this.assertOpen();
    checkPayload(data ?? {}, this.settings.maxMessageBytes, "workspace().update");
    const input = validate(updateSchema, data === undefined ? { updateType } : { updateType, data }, "workspace().update");
    await this.assertWorkspace(workspaceId);
    const event = workspaceUpdateEvent(workspaceId, input.updateType, input.data as WorkspaceUpdateData | undefined, Date.now());
    await this.transport.send(tenantRoom(this.tenant, workspaceRoom(workspaceId)), "workspace:update", [event]);
    return event;
  }

  /** @internal */
  async registerAgent(agentId: string, registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }> {
    this.assertOpen();
    const input = validate(registrationSchema, registration, "agent().register");
    await this.assertWorkspace(input.workspaceId);
    const k = this.keys;
    const [created, previous] = (await agentRegister.run(this.redis, [k.agent(this.tenant, agentId)], [input.workspaceId, input.ownerId ?? "", input.name ?? ""])) as [number, string, number];
    if (previous && previous !== input.workspaceId) await this.redis.srem(k.workspaceAgents(this.tenant, previous), agentId);
    await this.redis.sadd(k.workspaceAgents(this.tenant, input.workspaceId), agentId);
    const agent = parseAgent(agentId, await this.redis.hgetall(k.agent(this.tenant, agentId)));
    if (!agent) throw new Error(`agent ${agentId} vanished while it was registered`);
    return { agent, created: created === 1 };
  }

  /** @internal */
  async reportExecution<K extends AgentEventKind>(agentId: string, kind: K, payload: AgentEventInput[K], what: string): Promise<AgentExecutionState> {
    this.assertOpen();
    checkPayload(payload, this.settings.maxMessageBytes, what);
    const input = validate(agentEventSchemas[kind] as Joi.ObjectSchema<AgentEventInput[K]>, payload, what);
    const k = this.keys;
    const reply = (await agentExecution.run(this.redis, [k.agent(this.tenant, agentId), k.agentExecution(this.tenant, agentId)], [kind, input.executionId, ...agentExecutionFields(kind, input)])) as (
      | string
      | number
    )[];
    if (reply[0] !== "ok") throw new EmitterError("NOT_FOUND", `agent ${agentId} is not registered; call agent(${JSON.stringify(agentId)}).register(...) first`);
    const [, workspaceId, ts, ...fields] = reply;
    const state = parseAgentExecution(agentId, String(workspaceId), fields.map(String))!;
    await this.transport.send(tenantRoom(this.tenant, agentRoom(agentId)), AGENT_EVENT_NAMES[kind], [agentExecutionEvent(kind, state, Number(ts))]);
    return state;
  }

  /** @internal */
  async writeScore(leaderboard: string, userId: string, input: LeaderboardScoreInput): Promise<LeaderboardScoreResult> {
    this.assertOpen();
    const body = typeof input === "number" ? { value: input } : input;
    checkPayload(body, this.settings.maxMessageBytes, "leaderboard().score");
    const request = validate(leaderboardScoreRequest, { ...body, userId }, "leaderboard().score");
    userId = request.userId;
    const mode = request.inc === undefined ? "set" : "inc";
    const { achievement } = request;
    const k = (part: string) => this.keys.leaderboard(this.tenant, leaderboard, part);
    const [stored, rank, unlocked, previous] = (await leaderboardScore.run(
      this.redis,
      [k("scores"), k("dirty"), k("achievements")],
      [mode, userId, toStoredScore(mode === "inc" ? request.inc! : request.value!), achievement?.id ?? "", achievement?.threshold === undefined ? "" : String(achievement.threshold)],
    )) as [string, number, number, string];
    // Due for the nodes' next coalesced leaderboard:update.
    await this.redis.zadd(this.keys.leaderboardsDue(), "LT", Date.now(), scopedMember(this.tenant, leaderboard));
    const score = fromStoredScore(stored);
    const result: LeaderboardScoreResult = { userId, score, rank: Number(rank), previous: previous === "" ? null : fromStoredScore(previous) };
    if (unlocked === 1 && achievement) {
      const notification = queuedNotification(this.tenant, randomUUID(), achievementNotification(leaderboard, userId, achievement, score, result.rank), Date.now());
      await this.queueNotification(notification);
      result.achievement = { id: achievement.id, notificationId: notification.id };
    }
    return result;
  }

  /** @internal */
  async appendToStream(name: string, points: readonly Record<string, unknown>[]): Promise<StreamAppendResult> {
    this.assertOpen();
    checkPayload(points, this.settings.maxMessageBytes, "stream().append");
    const input = validate(streamAppendSchema(name), { points }, "stream().append");
    const key = this.keys.stream(this.tenant, name, "points");
    const pipeline = this.redis.pipeline();
    for (const point of input.points) pipeline.xadd(key, "MAXLEN", "~", this.settings.streamMaxLen, "*", ...streamEntryFields(name, point));
    const ids = ((await pipeline.exec()) ?? []).map(([err, id]) => {
      if (err) throw err;
      return String(id);
    });
    // The nodes read the streams whose append counter moved.
    await this.redis.zincrby(this.keys.streamsRegistry(), ids.length, scopedMember(this.tenant, name));
    return { ids };
  }

  /** Appends to the nodes' notification stream and files the inbox entry (as a node's notify does). */
  private async queueNotification(stored: QueuedNotification): Promise<void> {
    const json = JSON.stringify(stored);
    await this.redis.xadd(this.keys.notificationQueue(), "MAXLEN", "~", NOTIFICATION_QUEUE_MAX_LEN, "*", "n", json);
    await inboxPut.run(this.redis, inboxKeys(this.keys, this.tenant, stored.userId), [stored.id, json, stored.createdAt, stored.expiresAt, INBOX_SIZE]);
  }

  private async assertWorkspace(workspaceId: string): Promise<void> {
    if ((await this.redis.exists(this.keys.workspaceMeta(this.tenant, workspaceId))) === 0) {
      throw new EmitterError("NOT_FOUND", `workspace ${workspaceId} does not exist`);
    }
  }

  /** As the nodes answer `POST /v1/notify`: a device online, else push devices, else the inbox. */
  private async plannedDelivery(userId: string): Promise<NotifyDelivery> {
    if ((await this.redis.hlen(this.keys.userDevices(this.tenant, userId))) > 0) return "socket";
    return (await this.redis.hlen(this.keys.pushDevices(this.tenant, userId))) > 0 ? "push" : "inbox";
  }

  private assertOpen(): void {
    if (this.closed) throw new EmitterError("UNAVAILABLE", "the emitter is closed");
  }
}

export class RoomTarget {
  constructor(
    private readonly emitter: SwitchboardEmitter<CustomEventsMap>,
    readonly id: string,
  ) {}

  /**
   * Appends to the room's history and sends `room:message` to its members on every node, as a
   * service publishing through a node would (same script, same keys, same id). Durable: a client
   * that was away recovers it with `room:join { since }`.
   */
  publish(data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    return this.emitter.publishToRoom(this.id, data, options);
  }
}

export class UserTarget<Events extends CustomEventsMap> {
  constructor(
    private readonly emitter: SwitchboardEmitter<Events>,
    readonly id: string,
  ) {}

  /** Fire-and-forget: a custom event to every connected device of the user (lost if none is connected). */
  emit<E extends EventName<Events>>(event: E, ...args: EventArgs<Events, E>): void {
    this.emitter.fire(tenantRoom(this.emitter.tenant, userRoom(this.id)), event, args, "user().emit");
  }
}

export class WorkspaceTarget {
  constructor(
    private readonly emitter: SwitchboardEmitter<CustomEventsMap>,
    readonly id: string,
  ) {}

  /** Sends `workspace:update` `{ workspaceId, updateType, ...data, ts }` to the workspace's room on every node. */
  update(updateType: string, data?: WorkspaceUpdateData): Promise<WorkspaceUpdateEvent> {
    return this.emitter.updateWorkspace(this.id, updateType, data);
  }
}

export class AgentTarget {
  constructor(
    private readonly emitter: SwitchboardEmitter<CustomEventsMap>,
    readonly id: string,
  ) {}

  /** Registers the agent in a workspace (or moves it, or changes its owner and name). */
  register(registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }> {
    return this.emitter.registerAgent(this.id, registration);
  }

  /** `agent:execution_start`: a new execution (status `running`, progress 0). */
  started(payload: AgentStarted): Promise<AgentExecutionState> {
    return this.emitter.reportExecution(this.id, "start", payload, "agent().started");
  }

  /** `agent:execution_update`: progress (0–100), current step, status (default `running`). */
  progress(payload: AgentProgress): Promise<AgentExecutionState> {
    return this.emitter.reportExecution(this.id, "update", payload, "agent().progress");
  }

  /** `agent:execution_complete` (status `completed`, progress 100). */
  completed(payload: AgentCompleted): Promise<AgentExecutionState> {
    return this.emitter.reportExecution(this.id, "complete", payload, "agent().completed");
  }

  /** `agent:execution_failed` (status `failed`). */
  failed(payload: AgentFailed): Promise<AgentExecutionState> {
    return this.emitter.reportExecution(this.id, "fail", payload, "agent().failed");
  }
}

export class LeaderboardTarget {
  constructor(
    private readonly emitter: SwitchboardEmitter<CustomEventsMap>,
    readonly id: string,
  ) {}

  /**
   * Sets a user's score (`score(userId, 42)` or `{ value: 42 }`) or adds to it (`{ inc: 5 }`),
   * optionally with an `achievement` the write may unlock (then an `achievement_unlocked`
   * notification is queued). Subscribers get it with the nodes' next coalesced `leaderboard:update`.
   */
  score(userId: string, input: LeaderboardScoreInput): Promise<LeaderboardScoreResult> {
    return this.emitter.writeScore(this.id, userId, input);
  }
}

export class StreamTarget {
  constructor(
    private readonly emitter: SwitchboardEmitter<CustomEventsMap>,
    readonly name: string,
  ) {}

  /**
   * Appends one point or several (at most 500, all or none), validated by the stream's kind
   * (`metrics`, `feedback`, `model_performance`; other kinds are free-form objects). Each point is
   * aggregated once by the nodes into the stream's rolling windows.
   */
  append(point: Record<string, unknown> | readonly Record<string, unknown>[]): Promise<StreamAppendResult> {
    return this.emitter.appendToStream(this.name, Array.isArray(point) ? point : [point as Record<string, unknown>]);
  }
}

/** `from` with its fields in the order nodes write them. */
function normalizedSender({ userId, deviceId, name }: MessageSender): MessageSender {
  const sender: MessageSender = { userId };
  if (deviceId !== undefined) sender.deviceId = deviceId;
  if (name !== undefined) sender.name = name;
  return sender;
}

/** The message as nodes deliver it (`id` first, as the nodes encode it). */
function toMessage(room: string, id: string, stored: Record<string, unknown>): Message {
  const message = { id, room, from: stored.from, kind: stored.kind, data: stored.data, ts: stored.ts, priority: stored.priority } as Message;
  if (stored.replyTo !== undefined) message.replyTo = stored.replyTo as string;
  return message;
}
