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
}

export function keyLayout(prefix = "sb:"): KeyLayout {
  const cluster = `${prefix}{cluster}`;
  return {
    prefix,
    nodes: () => `${cluster}:nodes`,
    nodeInfo: () => `${cluster}:node-info`,
    nodeSessions: (nodeId) => `${cluster}:node-sessions:${nodeId}`,
    userDevices: (tenant, userId) => `${prefix}{u:${tenant}:${userId}}:devices`,
    rateLimit: (name) => `${prefix}rl:${name}`,
    roomMeta: (tenant, room) => `${prefix}{r:${tenant}:${room}}:meta`,
    roomMembers: (tenant, room) => `${prefix}{r:${tenant}:${room}}:members`,
    roomHistory: (tenant, room) => `${prefix}{r:${tenant}:${room}}:history`,
    roomPublishOnce: (tenant, room, userId, clientMsgId) => `${prefix}{r:${tenant}:${room}}:once:${userId}:${clientMsgId}`,
  };
}
