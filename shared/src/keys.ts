/**
 * The Redis key layout, shared by nodes and the emitter so both touch the same data.
 * Keys that one script touches together share a hash tag (`{...}`), so the layout also
 * works on a Redis Cluster.
 */
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
}

export function keyLayout(prefix = "sb:"): KeyLayout {
  const cluster = `${prefix}{cluster}`;
  return {
    prefix,
    nodes: () => `${cluster}:nodes`,
    nodeInfo: () => `${cluster}:node-info`,
    nodeSessions: (nodeId) => `${cluster}:node-sessions:${nodeId}`,
    userDevices: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:devices`,
    userPresence: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:presence`,
    userRooms: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:rooms`,
    syncDocument: (tenant, userId, key) => `${prefix}{u:${tenant}:${userId}}:sync:${key}`,
    inbox: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:inbox`,
    inboxOrder: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:inbox:order`,
    inboxExpiry: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:inbox:expiry`,
    inboxRead: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:inbox:read`,
    notificationDelivery: (tenant, userId, id) => `${prefix}{u:${tenant}:${userId}}:delivery:${id}`,
    notificationPushLease: (tenant, userId, id, deviceId) => `${prefix}{u:${tenant}:${userId}}:delivery:${id}:lease:${deviceId}`,
    pushDevices: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:push-devices`,
    notificationQueue: () => `${prefix}{notify}:queue`,
    rateLimit: (name) => `${prefix}rl:${name}`,
    roomMeta: (tenant, room) => `${prefix}{r:${tenant}:${room}}:meta`,
    roomMembers: (tenant, room) => `${prefix}{r:${tenant}:${room}}:members`,
    roomHistory: (tenant, room) => `${prefix}{r:${tenant}:${room}}:history`,
    roomPublishOnce: (tenant, room, userId, clientMsgId) => `${prefix}{r:${tenant}:${room}}:once:${userId}:${clientMsgId}`,
    workspaceMeta: (tenant, workspace) => `${prefix}{w:${tenant}:${workspace}}:meta`,
    workspaceMembers: (tenant, workspace) => `${prefix}{w:${tenant}:${workspace}}:members`,
    workspaceAgents: (tenant, workspace) => `${prefix}{w:${tenant}:${workspace}}:agents`,
    userWorkspaces: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:workspaces`,
    tenantWorkspaces: (tenant) => `${prefix}{t:${tenant}}:workspaces`,
    agent: (tenant, agentId) => `${prefix}{a:${tenant}:${agentId}}:agent`,
    agentExecution: (tenant, agentId) => `${prefix}{a:${tenant}:${agentId}}:execution`,
  };
}

/** The keys of a user's inbox, in the order the inbox scripts take them. */
export function inboxKeys(keys: KeyLayout, tenant: string, userId: string): string[] {
  return [keys.inbox(tenant, userId), keys.inboxOrder(tenant, userId), keys.inboxExpiry(tenant, userId), keys.inboxRead(tenant, userId)];
}
