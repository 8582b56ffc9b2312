/**
 * The stores behind the engine seam: the interfaces features reach shared state through. The
 * Redis stores (./redis) serve a cluster and the emitter; the nodes' memory engine implements the
 * same interfaces for one node with no Redis. One contract test suite runs against both
 * (tests/integration/engine-contract.test.ts), so they cannot drift.
 */
import type {
  AgentEventInput,
  AgentEventKind,
  AgentExecutionState,
  AgentInfo,
  AgentRegistration,
  ConflictStrategy,
  HistoryQuery,
  Message,
  Notification,
  PresenceStatus,
  QueuedNotification,
  RoomInfo,
  RoomPosition,
  SyncDocument,
  SyncWrite,
  WebPushSubscription,
} from "@switchboard/shared";
import type { DocOpEntry, DocScope, DocType } from "@switchboard/shared";

export * from "./live-types";

export interface NodeInfo {
  nodeId: string;
  version: string;
  startedAt: number;
  connections: number;
  /** ms since the epoch, by the registry's clock. */
  lastHeartbeat: number;
}

/** Which nodes are alive. Liveness is a heartbeat no older than the timeout. */
export interface NodeRegistry {
  /** Records a heartbeat with this node's current info; returns the registry's clock (ms). */
  heartbeat(info: Omit<NodeInfo, "lastHeartbeat">): Promise<number>;
  /** Nodes whose last heartbeat is within `timeoutMs`. */
  live(timeoutMs: number): Promise<NodeInfo[]>;
  /** Node ids that are registered but whose heartbeat is older than `timeoutMs`. */
  expired(timeoutMs: number): Promise<string[]>;
  /**
   * Takes the right to sweep a dead node for `leaseMs`; false when another node holds it or
   * the node is alive again.
   */
  claimSweep(nodeId: string, timeoutMs: number, leaseMs: number): Promise<boolean>;
  /** Removes a node from the registry (after a clean shutdown or a finished sweep). */
  remove(nodeId: string): Promise<void>;
}

export interface DeviceSession {
  tenant: string;
  userId: string;
  deviceId: string;
  sessionId: string;
  nodeId: string;
}

/** A user's presence as stored: `status` is the one they chose; `devices` empty means offline. */
export interface PresenceRecord {
  userId: string;
  status: PresenceStatus;
  message?: string;
  /** Distinct connected device ids, sorted. */
  devices: string[];
  /** ms since the epoch of the last change (connect, disconnect, status); null: never seen. */
  lastSeen: number | null;
  /** Counts the user's presence changes: a larger rev is a later state. */
  rev: number;
  /** The user's rooms, when the store read them in the same step as the change (for its announcement). */
  rooms?: string[];
}

/**
 * `changed` is the new presence when the acquire made a visible change (a new device). A refusal
 * counts the user's devices, and the device's sessions (`connections`) when that limit refused it.
 */
export type AcquireResult = { ok: true; changed?: PresenceRecord } | { ok: false; devices: number; connections?: number };

/** `changed` is the new presence when a device disappeared with the released sessions. */
export interface ReleaseResult {
  released: number;
  changed?: PresenceRecord;
}

/**
 * Presence across the cluster: connected devices per user (and which node holds each session),
 * the status a user chose, and when they were last seen. Every change is one atomic step that
 * reports the resulting presence once, so exactly one node announces each change.
 */
export interface PresenceRegistry {
  /**
   * Registers a session atomically unless it would bring the user's distinct devices above
   * `limit`, or the device's sessions (tabs, reconnects in flight) above `perDevice` (no limit
   * when absent). Together the two cap a user's sockets at `limit` x `perDevice`, cluster-wide.
   */
  acquire(session: DeviceSession, limit: number, perDevice?: number): Promise<AcquireResult>;
  /**
   * Removes sessions of ONE user in one step. When the user has no device left, their presence
   * is kept for `ttlS` seconds (status, message, lastSeen), then forgotten.
   */
  release(sessions: readonly DeviceSession[], ttlS: number): Promise<ReleaseResult>;
  /** Sets the chosen status and message (undefined: none); undefined when nothing changed. */
  setStatus(tenant: string, userId: string, status: PresenceStatus, message: string | undefined, ttlS: number): Promise<PresenceRecord | undefined>;
  /** The presence of each user, in the order asked. */
  get(tenant: string, userIds: readonly string[]): Promise<PresenceRecord[]>;
  /** Distinct device ids of a user with at least one session. */
  devices(tenant: string, userId: string): Promise<string[]>;
  /** Every session a node holds. */
  sessionsOf(nodeId: string): Promise<DeviceSession[]>;
}

/** A room as stored: what clients see of it (RoomInfo) but its member count, in its tenant. */
export interface RoomRecord extends Omit<RoomInfo, "memberCount"> {
  tenant: string;
}

export interface RoomMemberRecord {
  userId: string;
  name?: string;
  joinedAt: number;
}

export type AddMemberResult = "added" | "present" | "full" | "missing";

/** `exists`: the id is taken in the tenant; `quota`: the creator already has their most rooms. */
export type CreateRoomResult = "created" | "exists" | "quota";

/**
 * Rooms of every tenant: metadata and members. A room not written to (created, joined,
 * published in) for `idleTtlS` seconds disappears with its members.
 */
export interface RoomRegistry {
  /**
   * Creates a room with its first members. With `maxCreated`, refuses (`quota`) when the room's
   * creator already created that many rooms that still exist; counting and creating are atomic
   * across nodes, so concurrent creates never overshoot. Rooms created without it are not counted.
   */
  create(room: RoomRecord, members: RoomMemberRecord[], idleTtlS: number, maxCreated?: number): Promise<CreateRoomResult>;
  get(tenant: string, id: string): Promise<(RoomRecord & { memberCount: number }) | undefined>;
  /** Adds a member unless the room is at `maxSize` (atomic across nodes); refreshes the idle timer. */
  addMember(tenant: string, id: string, member: RoomMemberRecord, idleTtlS: number): Promise<AddMemberResult>;
  /** Removes a member; true when it was one. */
  removeMember(tenant: string, id: string, userId: string): Promise<boolean>;
  member(tenant: string, id: string, userId: string): Promise<RoomMemberRecord | undefined>;
  members(tenant: string, id: string): Promise<RoomMemberRecord[]>;
  /** Ids of the rooms a user is a member of (rooms that expired may linger until rejoined or left). */
  roomsOf(tenant: string, userId: string): Promise<string[]>;
}

/**
 * A message as stored: the id is the history offset, the room is the key, and the position
 * (seq, epoch) is assigned by the store when it appends.
 */
export type StoredMessage = Omit<Message, "id" | "room" | "seq" | "epoch">;

export interface PublishRequest {
  tenant: string;
  room: string;
  message: StoredMessage;
  /** Refuse unless this user is a member (undefined: a service publishing anywhere in its tenant). */
  memberRequired?: string;
  /** With the sender's user id, makes a retried publish return the first id. */
  clientMsgId?: string;
  historySize: number;
  historyTtlS: number;
  idleTtlS: number;
}

export type PublishOutcome =
  | { status: "published"; id: string; seq: number; epoch: string }
  /** The first publish's id, and its position unless it was stored before positions existed. */
  | { status: "duplicate"; id: string; seq?: number; epoch?: string }
  | { status: "missing" }
  | { status: "forbidden" };

/** A room of a tenant. */
export interface RoomRef {
  tenant: string;
  room: string;
}

export interface Recovery {
  messages: Message[];
  /** False when history no longer reaches back to the requested id. */
  recovered: boolean;
  hasMore: boolean;
  /** Where history stands, read with the messages. */
  position: RoomPosition;
}

/**
 * Per-room history. `publish` stores a message and delivers `room:message` to the room's
 * sockets on every node in one step, so the delivered id is the stored id and nothing is
 * delivered that was not stored.
 */
export interface RoomHistory {
  publish(request: PublishRequest): Promise<PublishOutcome>;
  /** Oldest first. `before`: the newest older than it; `after`: the oldest newer; neither: the newest. */
  page(tenant: string, room: string, query: HistoryQuery & { limit: number }): Promise<{ messages: Message[]; hasMore: boolean }>;
  /** Every message after `since` (up to `limit`), and whether history still reaches back to it. */
  since(tenant: string, room: string, since: string, limit: number): Promise<Recovery>;
  /** The newest message's seq and epoch; `{ seq: 0 }` for an empty history. */
  position(tenant: string, room: string): Promise<RoomPosition>;
  /** position() of each room, in the order given, read together (callers bound how many at once). */
  positions(rooms: readonly RoomRef[]): Promise<RoomPosition[]>;
  message(tenant: string, room: string, id: string): Promise<Message | undefined>;
}

/** What a sync push asks of the store: one user's document, resolved atomically. */
export interface SyncPush extends SyncWrite {
  tenant: string;
  userId: string;
  /** The writing device: the tie-breaker of lww and its own entry in a vector clock. */
  deviceId: string;
  strategy: ConflictStrategy;
  /** The document expires this long after its last write. */
  ttlS: number;
  /** The most bytes the document's values may take together. */
  maxBytes: number;
}

export type SyncPushOutcome = { status: "ok"; document: SyncDocument } | { status: "too_large"; bytes: number; limit: number };

/**
 * Per-user synced documents. A push reads, resolves (lww or vector clocks) and writes in one
 * atomic step, so two nodes writing one key at once never lose an update.
 */
export interface SyncStore {
  push(push: SyncPush): Promise<SyncPushOutcome>;
  /** The document as stored (empty when absent or expired). */
  get(tenant: string, userId: string, key: string, strategy: ConflictStrategy): Promise<SyncDocument>;
}

/** A notification as queued and kept in the inbox (its `read` flag lives beside it). */
export type StoredNotification = QueuedNotification;

/** A queue entry handed to one node: the node owns the notification until it acks the entry. */
export interface NotificationEntry {
  entryId: string;
  notification: StoredNotification;
}

/**
 * The cluster's notification queue: one entry per notification, read by every node through one
 * consumer group, so exactly one node owns each; entries of a node that stopped acking (it died)
 * are claimed by another after `minIdleMs`.
 */
export interface NotificationQueue {
  /**
   * Appends durably, whether or not a node is reading at this moment, and answers the id queued.
   * With `clientNotifyId`, once per user and id while the notification lives: a later call
   * appends nothing and answers the id of the first.
   */
  enqueue(notification: StoredNotification, clientNotifyId?: string): Promise<string>;
  /** New entries for `consumer`, waiting up to `blockMs` for the first. */
  read(consumer: string, count: number, blockMs: number): Promise<NotificationEntry[]>;
  /** Entries idle on any consumer for at least `minIdleMs`, now owned by `consumer`. */
  claim(consumer: string, minIdleMs: number, count: number): Promise<NotificationEntry[]>;
  /** Marks entries `consumer` is still working on as fresh, so nobody claims them. */
  touch(consumer: string, entryIds: readonly string[]): Promise<void>;
  /** The entries are done with. */
  ack(entryIds: readonly string[]): Promise<void>;
}

export interface InboxQuery {
  unreadOnly: boolean;
  limit: number;
}

/**
 * The answer of a push claim: send now, already sent, or the node `owner` holds the lease (it is
 * sending right now, or it died while sending: see `PushLease.takeOverFrom`).
 */
export type PushClaim = { status: "claimed" } | { status: "sent" } | { status: "busy"; owner: string };

/** Who claims a device's push, for how long, and whose lease it may take at once. */
export interface PushLease {
  /** The claiming node; the lease records it. */
  owner: string;
  /** The lease lapses after this long even if its owner never records the push. */
  leaseMs: number;
  /**
   * A node the caller found dead (not live in the node registry) holding the lease: the claim
   * takes the lease if that node still holds it, expired or not. Another holder answers `busy`.
   */
  takeOverFrom?: string;
}

/**
 * Each user's notifications (newest first, each until its `expiresAt`, at most INBOX_SIZE) and
 * the delivery state of each: emitted to sockets, acked by a device, pushed to which devices.
 */
export interface NotificationInbox {
  /** Stores a notification unless it is there already; true when it was new. */
  put(notification: StoredNotification): Promise<boolean>;
  get(tenant: string, userId: string, id: string): Promise<Notification | undefined>;
  list(tenant: string, userId: string, query: InboxQuery): Promise<Notification[]>;
  /** False when the notification is not (or no longer) in the inbox. */
  markRead(tenant: string, userId: string, id: string): Promise<boolean>;
  /** A device confirmed delivery. False when the notification is not in the inbox. */
  markAcked(tenant: string, userId: string, id: string): Promise<boolean>;
  isAcked(tenant: string, userId: string, id: string): Promise<boolean>;
  /** Records the first emission to sockets; answers when that was (an earlier owner's time, if any). */
  markEmitted(tenant: string, userId: string, id: string, at: number): Promise<number>;
  /**
   * Takes the right to push this notification to one device for `lease.leaseMs`, unless it was
   * pushed there already (`sent`) or another node holds the lease (`busy`, with that node): a
   * lease is free once expired, or at once when its owner is `lease.takeOverFrom`.
   */
  claimPush(tenant: string, userId: string, id: string, deviceId: string, lease: PushLease): Promise<PushClaim>;
  /** The push to the device succeeded: never again. */
  pushSent(tenant: string, userId: string, id: string, deviceId: string): Promise<void>;
}

/** A registered push device of a user. */
export type PushDeviceRecord =
  | { id: string; platform: "fcm" | "apns"; token: string; createdAt: number }
  | { id: string; platform: "webpush"; subscription: WebPushSubscription; createdAt: number };

/** Where a push device is reached: two registrations with the same address are one device. */
export function pushAddress(device: PushDeviceRecord): string {
  return device.platform === "webpush" ? `webpush|${device.subscription.endpoint}` : `${device.platform}|${device.token}`;
}

/** Each user's push devices (FCM and APNs tokens, Web Push subscriptions). */
export interface PushDeviceRegistry {
  /**
   * Registers a device, or answers the id it already has (same token or endpoint);
   * `full` when the user has `max` devices.
   */
  register(tenant: string, userId: string, device: PushDeviceRecord, max: number): Promise<{ id: string; created: boolean } | "full">;
  unregister(tenant: string, userId: string, id: string): Promise<boolean>;
  list(tenant: string, userId: string): Promise<PushDeviceRecord[]>;
}

export interface WorkspaceRecord {
  tenant: string;
  id: string;
  name: string;
  createdBy: string;
  /** ms since the epoch. */
  createdAt: number;
}

export interface WorkspaceMemberRecord {
  userId: string;
  /** ms since the epoch. */
  addedAt: number;
}

export type AddWorkspaceMemberResult = "added" | "present" | "missing";

/**
 * Workspaces of every tenant: metadata and members. Unlike rooms they do not expire; membership
 * is managed by services (REST), and the index of a user's workspaces follows it.
 */
export interface WorkspaceRegistry {
  /** Creates a workspace with its first members; false when the id is taken in the tenant. */
  create(workspace: WorkspaceRecord, members: WorkspaceMemberRecord[]): Promise<boolean>;
  get(tenant: string, id: string): Promise<(WorkspaceRecord & { memberCount: number }) | undefined>;
  /** Ids of every workspace of the tenant, sorted. */
  list(tenant: string): Promise<string[]>;
  /** Ids of the workspaces a user is a member of, sorted. */
  workspacesOf(tenant: string, userId: string): Promise<string[]>;
  addMember(tenant: string, id: string, member: WorkspaceMemberRecord): Promise<AddWorkspaceMemberResult>;
  /** True when the user was a member. */
  removeMember(tenant: string, id: string, userId: string): Promise<boolean>;
  isMember(tenant: string, id: string, userId: string): Promise<boolean>;
  /** Members sorted by user id. */
  members(tenant: string, id: string): Promise<WorkspaceMemberRecord[]>;
}

/** What recording an execution event left: the agent's execution state and the store's time of it. */
export interface AgentExecutionRecord {
  state: AgentExecutionState;
  ts: number;
}

/**
 * Registered agents (agent -> workspace, owner) and the last known execution of each. Nodes and
 * the emitter write through the same Redis implementation, so agents registered and executions
 * reported by a backend service are the ones nodes read.
 */
export interface AgentRegistry {
  /** Registers an agent, or moves it / changes its owner and name; the workspace is checked by the caller. */
  register(tenant: string, id: string, registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }>;
  get(tenant: string, id: string): Promise<AgentInfo | undefined>;
  /** Ids of the agents registered in a workspace, sorted. */
  agentsOf(tenant: string, workspaceId: string): Promise<string[]>;
  /** Records an execution event as the agent's state; undefined when the agent is not registered. */
  record<K extends AgentEventKind>(tenant: string, agentId: string, kind: K, input: AgentEventInput[K]): Promise<AgentExecutionRecord | undefined>;
  /** The agent's last known execution, if any. */
  execution(tenant: string, agentId: string): Promise<AgentExecutionState | undefined>;
}

/** What a document read found: the ops after the version asked for, or the snapshot and the ops after it. */
export type DocRead =
  | { kind: "ops"; type: DocType; version: number; entries: DocOpEntry[] }
  | { kind: "snapshot"; type: DocType; version: number; snapshotVersion: number; snapshot: unknown; entries: DocOpEntry[] };

/** One op of an append: its log entry and who made it. */
export interface DocAppendOp {
  entry: Omit<DocOpEntry, "version">;
  /** Refuse unless this user is a member of the document's room or workspace (undefined: a service). */
  memberRequired?: string;
  /** The socket that submitted the op: it gets no `doc:op` of it. */
  exceptSocket?: string;
}

export interface DocAppendRequest {
  tenant: string;
  docId: string;
  /** The document's type; a document that does not exist yet is created with it (at version 0). */
  type: DocType;
  /** The version the first op applies to: accepted only while it is the document's version. */
  version: number;
  /** The ops, in order, each transformed to follow the one before: appended all or none. */
  ops: DocAppendOp[];
  /** The document at one of the new versions, kept as the snapshot (the log is trimmed then). */
  snapshot?: { version: number; content: unknown };
  /** At a snapshot, how many of the latest ops the log keeps at least. */
  logKeep: number;
  /** How long each op's clientOpId (with its author's user id) is remembered. */
  onceTtlS: number;
  /** Room documents expire with their room this long after the last write; 0: never. */
  idleTtlS: number;
}

export type DocAppendOutcome =
  /** The version the last op made. */
  | { status: "appended"; version: number }
  /** The clientOpId of op `index` made `version` before: nothing was appended. */
  | { status: "duplicate"; index: number; version: number }
  /** The author of op `index` is not a member: nothing was appended. */
  | { status: "forbidden"; index: number }
  /** Another writer appended first: the entries after the requested version. */
  | { status: "conflict"; version: number; entries: DocOpEntry[] }
  /** The requested version is not in the log (trimmed, or ahead of the document). */
  | { status: "stale"; version: number }
  | { status: "type"; type: DocType }
  /** The room or workspace does not exist. */
  | { status: "missing" };

export type DocCreateOutcome = { status: "created" } | { status: "exists"; type: DocType } | { status: "missing" } | { status: "forbidden" };

export interface DocStore {
  /**
   * Creates an empty document (version 0) unless it exists, for a member of its room or workspace
   * (`memberRequired`; undefined: a service), and lists it in the scope's document index.
   */
  create(request: { tenant: string; docId: string; type: DocType; memberRequired?: string; idleTtlS: number }): Promise<DocCreateOutcome>;
  /** With `from`: the entries after it while the log holds them, else the snapshot; undefined: no document. */
  read(tenant: string, docId: string, from?: number): Promise<DocRead | undefined>;
  /** Appends ops made against the current version, all or none, and delivers them as `doc:op`. */
  append(request: DocAppendRequest): Promise<DocAppendOutcome>;
  /** The version a user's clientOpId made, while it is remembered. */
  opVersion(tenant: string, docId: string, userId: string, clientOpId: string): Promise<number | undefined>;
  /** Ids of the documents of a room or workspace, sorted. */
  list(tenant: string, scope: DocScope): Promise<string[]>;
}

/** Thrown by engine calls while the backing store is unreachable. */
export class EngineUnavailableError extends Error {
  constructor(message = "the shared store is unreachable") {
    super(message);
    this.name = "EngineUnavailableError";
  }
}

export function sessionMember(s: DeviceSession): string {
  return [s.tenant, s.userId, s.deviceId, s.sessionId].join("|");
}

export function parseSessionMember(member: string, nodeId: string): DeviceSession | undefined {
  const [tenant, userId, deviceId, sessionId] = member.split("|");
  if (tenant === undefined || !userId || !deviceId || !sessionId) return undefined;
  return { tenant, userId, deviceId, sessionId, nodeId };
}
