/**
 * The Redis key layout, shared by nodes and the emitter so both touch the same data.
 * Keys that one script touches together share a hash tag (`{...}`), so the layout also
 * works on a Redis Cluster.
 */
import { parseDocId, type DocScope } from "./docs";

/**
 * One variable part of a key (an id, a name): the characters keys use as separators and hash-tag
 * braces (`:`, `|`, `{`, `}`) and `%` itself are percent-encoded, so two different lists of
 * parts can never build the same key (`a` + `b:c` and `a:b` + `c` stay apart). Ids without those
 * characters are left as they are.
 */
export function keyPart(value: string): string {
  return value.replace(/[%:|{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

const k = keyPart;

/** In-process map keys built from several parts (the memory engine's), with the same guarantee. */
export function compositeKey(...parts: readonly string[]): string {
  return parts.map(keyPart).join(":");
}

export interface KeyLayout {
  readonly prefix: string;
  /** Sorted set nodeId -> last heartbeat (ms, Redis clock). */
  nodes(): string;
  /** Hash nodeId -> JSON node info. */
  nodeInfo(): string;
  /** Set of device sessions a node holds, for sweeping after the node dies. */
  nodeSessions(nodeId: string): string;
  /** Hash `deviceId|sessionId` -> nodeId: a user's connected devices across the cluster. */
  userDevices(tenant: string, userId: string): string;
  /** Hash status, message, lastSeen, rev: what a user chose to show and when they were last seen. */
  userPresence(tenant: string, userId: string): string;
  /** Set of room ids the user is a member of, so presence changes reach co-members. */
  userRooms(tenant: string, userId: string): string;
  /** String: a synced document of the user (JSON, with the clocks of each field). */
  syncDocument(tenant: string, userId: string, key: string): string;
  /** Hash id -> notification JSON: the user's inbox. */
  inbox(tenant: string, userId: string): string;
  /** Sorted set id -> createdAt: inbox order. */
  inboxOrder(tenant: string, userId: string): string;
  /** Sorted set id -> expiresAt: when each inbox entry leaves. */
  inboxExpiry(tenant: string, userId: string): string;
  /** Set of read notification ids. */
  inboxRead(tenant: string, userId: string): string;
  /** Hash of one notification's delivery: emittedAt, acked, sent:<deviceId>. */
  notificationDelivery(tenant: string, userId: string, id: string): string;
  /** String with a lease: the owner pushing one notification to one device right now. */
  notificationPushLease(tenant: string, userId: string, id: string, deviceId: string): string;
  /** Hash id -> JSON push device: the user's FCM/APNs tokens and Web Push subscriptions. */
  pushDevices(tenant: string, userId: string): string;
  /** Stream of notifications for the nodes' consumer group. */
  notificationQueue(): string;
  /** String: the notification id a request's `clientNotifyId` queued for a user, for idempotent retries. */
  notifyOnce(tenant: string, userId: string, clientNotifyId: string): string;
  /** rate-limiter-flexible key prefix. */
  rateLimit(name: string): string;
  /** Hash: a room's metadata. The room's keys share one hash tag. */
  roomMeta(tenant: string, room: string): string;
  /** Hash userId -> JSON { name?, joinedAt }: the room's members. */
  roomMembers(tenant: string, room: string): string;
  /** Stream: the room's message history; entry ids are message ids. */
  roomHistory(tenant: string, room: string): string;
  /** String: the message id a sender's `clientMsgId` produced, for idempotent retries. */
  roomPublishOnce(tenant: string, room: string, userId: string, clientMsgId: string): string;
  /** String: a workspace's metadata (JSON). The workspace's keys share one hash tag. */
  workspaceMeta(tenant: string, workspace: string): string;
  /** Hash userId -> JSON { addedAt }: the workspace's members. */
  workspaceMembers(tenant: string, workspace: string): string;
  /** Set of the ids of the agents registered in the workspace. */
  workspaceAgents(tenant: string, workspace: string): string;
  /** Set of the workspace ids a user is a member of. */
  userWorkspaces(tenant: string, userId: string): string;
  /** Set of every workspace id of a tenant. */
  tenantWorkspaces(tenant: string): string;
  /** Hash workspaceId, ownerId, name, createdAt, updatedAt: a registered agent. */
  agent(tenant: string, agentId: string): string;
  /** Hash: the agent's last known execution (see AGENT_EXECUTION). Shares the agent's hash tag. */
  agentExecution(tenant: string, agentId: string): string;
  /**
   * Hash type, version, logStart, snapshotVersion: a collaborative document. A document's keys
   * share its room's or workspace's hash tag, so one script checks membership and appends.
   */
  docMeta(tenant: string, docId: string): string;
  /** List: the document's op log (entries logStart+1 … version, JSON). */
  docLog(tenant: string, docId: string): string;
  /** String: the document's snapshot (JSON) at snapshotVersion. */
  docSnapshot(tenant: string, docId: string): string;
  /** String: the version a user's `clientOpId` made, for resends. */
  docOnce(tenant: string, docId: string, userId: string, clientOpId: string): string;
  /** Set of the ids of the documents of a room or workspace. */
  scopeDocs(tenant: string, scope: DocScope): string;
  /**
   * A leaderboard's keys, one hash tag: `scores` (zset userId -> -score), `dirty`, `lease`,
   * `snapshot` (hash userId -> "rank|score" of the last update), `meta` (hash seq, total),
   * `achievements` (set `userId|achievementId` unlocked).
   */
  leaderboard(tenant: string, id: string, part: string): string;
  /** Zset `tenant/id` -> ms: leaderboards with an update due (see scopedMember). */
  leaderboardsDue(): string;
  /**
   * A live stream's keys, one hash tag: `points` (the Redis Stream), `dirty`, `lease`, `meta`,
   * `b:<window>:<start>` (bucket hash) and `b:<window>:<start>:v` (its sampled values).
   */
  stream(tenant: string, name: string, part: string): string;
  /** Zset `tenant/name` -> appends so far: the streams nodes read. */
  streamsRegistry(): string;
  /** Zset `tenant/name` -> ms: streams with an update due. */
  streamsDue(): string;
}

export function keyLayout(prefix = "sb:"): KeyLayout {
  const cluster = `${prefix}{cluster}`;
  return {
    prefix,
    nodes: () => `${cluster}:nodes`,
    nodeInfo: () => `${cluster}:node-info`,
    nodeSessions: (nodeId) => `${cluster}:node-sessions:${k(nodeId)}`,
    userDevices: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:devices`,
    userPresence: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:presence`,
    userRooms: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:rooms`,
    syncDocument: (tenant, userId, key) => `${prefix}{u:${k(tenant)}:${k(userId)}}:sync:${k(key)}`,
    inbox: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:inbox`,
    inboxOrder: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:inbox:order`,
    inboxExpiry: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:inbox:expiry`,
    inboxRead: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:inbox:read`,
    notificationDelivery: (tenant, userId, id) => `${prefix}{u:${k(tenant)}:${k(userId)}}:delivery:${k(id)}`,
    notificationPushLease: (tenant, userId, id, deviceId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:delivery:${k(id)}:lease:${k(deviceId)}`,
    pushDevices: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:push-devices`,
    notificationQueue: () => `${prefix}{notify}:queue`,
    notifyOnce: (tenant, userId, clientNotifyId) => `${prefix}{notify}:once:${k(tenant)}:${k(userId)}:${k(clientNotifyId)}`,
    rateLimit: (name) => `${prefix}rl:${k(name)}`,
    roomMeta: (tenant, room) => `${prefix}${roomTag(tenant, room)}:meta`,
    roomMembers: (tenant, room) => `${prefix}${roomTag(tenant, room)}:members`,
    roomHistory: (tenant, room) => `${prefix}${roomTag(tenant, room)}:history`,
    roomPublishOnce: (tenant, room, userId, clientMsgId) => `${prefix}${roomTag(tenant, room)}:once:${k(userId)}:${k(clientMsgId)}`,
    workspaceMeta: (tenant, workspace) => `${prefix}${workspaceTag(tenant, workspace)}:meta`,
    workspaceMembers: (tenant, workspace) => `${prefix}${workspaceTag(tenant, workspace)}:members`,
    workspaceAgents: (tenant, workspace) => `${prefix}${workspaceTag(tenant, workspace)}:agents`,
    userWorkspaces: (tenant, userId) => `${prefix}{u:${k(tenant)}:${k(userId)}}:workspaces`,
    tenantWorkspaces: (tenant) => `${prefix}{t:${k(tenant)}}:workspaces`,
    agent: (tenant, agentId) => `${prefix}{a:${k(tenant)}:${k(agentId)}}:agent`,
    agentExecution: (tenant, agentId) => `${prefix}{a:${k(tenant)}:${k(agentId)}}:execution`,
    docMeta: (tenant, docId) => `${docBase(prefix, tenant, docId)}|meta`,
    docLog: (tenant, docId) => `${docBase(prefix, tenant, docId)}|log`,
    docSnapshot: (tenant, docId) => `${docBase(prefix, tenant, docId)}|snapshot`,
    docOnce: (tenant, docId, userId, clientOpId) => `${docBase(prefix, tenant, docId)}|once|${k(userId)}|${k(clientOpId)}`,
    scopeDocs: (tenant, scope) => `${prefix}${scopeHashTag(tenant, scope)}:docs`,
    leaderboard: (tenant, id, part) => `${prefix}{lb:${k(tenant)}:${k(id)}}:${k(part)}`,
    leaderboardsDue: () => `${prefix}{leaderboards}:due`,
    stream: (tenant, name, part) => `${prefix}{st:${k(tenant)}:${k(name)}}:${k(part)}`,
    streamsRegistry: () => `${prefix}{streams}:registry`,
    streamsDue: () => `${prefix}{streams}:due`,
  };
}

/** A tenant's leaderboard or stream as a member of a cluster-wide index: `tenant/id` (`/` is in neither). */
export function scopedMember(tenant: string, id: string): string {
  return `${tenant}/${id}`;
}

export function parseScopedMember(member: string): { tenant: string; id: string } {
  const at = member.indexOf("/");
  return { tenant: member.slice(0, at), id: member.slice(at + 1) };
}

/**
 * The hash tag of a room's or a workspace's keys (`{r:<tenant>:<room>}`, `{w:<tenant>:<workspace>}`;
 * the key prefix stands before it): its documents' keys carry it too, and on a Redis Cluster so do
 * the Socket.IO rooms of the room and of its documents (socketRooms), so a script publishes to
 * them on the keys' slot.
 */
export function scopeHashTag(tenant: string, scope: DocScope): string {
  return `{${scope.kind === "room" ? "r" : "w"}:${k(tenant)}:${k(scope.id)}}`;
}

const roomTag = (tenant: string, room: string) => scopeHashTag(tenant, { kind: "room", id: room });
const workspaceTag = (tenant: string, workspace: string) => scopeHashTag(tenant, { kind: "workspace", id: workspace });

function docBase(prefix: string, tenant: string, docId: string): string {
  const parsed = parseDocId(docId);
  if (!parsed) throw new Error(`not a document id: ${docId}`);
  return `${prefix}${scopeHashTag(tenant, parsed.scope)}:doc|${k(parsed.name)}`;
}

/**
 * The keys of the document scripts (DOC_APPEND, DOC_READ take a prefix of them): the scope's
 * meta and members, then the document's meta, log and snapshot, and the scope's document index.
 */
export function docKeys(keys: KeyLayout, tenant: string, docId: string): { scopeMeta: string; scopeMembers: string; meta: string; log: string; snapshot: string; scopeDocs: string } {
  const parsed = parseDocId(docId);
  if (!parsed) throw new Error(`not a document id: ${docId}`);
  const { scope } = parsed;
  const room = scope.kind === "room";
  return {
    scopeMeta: room ? keys.roomMeta(tenant, scope.id) : keys.workspaceMeta(tenant, scope.id),
    scopeMembers: room ? keys.roomMembers(tenant, scope.id) : keys.workspaceMembers(tenant, scope.id),
    meta: keys.docMeta(tenant, docId),
    log: keys.docLog(tenant, docId),
    snapshot: keys.docSnapshot(tenant, docId),
    scopeDocs: keys.scopeDocs(tenant, scope),
  };
}

/** The keys of a user's inbox, in the order the inbox scripts take them. */
export function inboxKeys(keys: KeyLayout, tenant: string, userId: string): string[] {
  return [keys.inbox(tenant, userId), keys.inboxOrder(tenant, userId), keys.inboxExpiry(tenant, userId), keys.inboxRead(tenant, userId)];
}
