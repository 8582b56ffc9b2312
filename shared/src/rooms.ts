/**
 * Room names. Clients speak of rooms by id; the server keeps reserved prefixes for rooms it
 * manages, and scopes every Socket.IO room by tenant so tenants never share a room.
 */
export const RESERVED_ROOM_PREFIXES = ["user:", "workspace:", "agent:", "presence:", "leaderboard:", "stream:", "doc:"] as const;

export const ROOM_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isReservedRoomId(id: string): boolean {
  return RESERVED_ROOM_PREFIXES.some((prefix) => id.startsWith(prefix));
}

export const userRoom = (userId: string): string => `user:${userId}`;
export const workspaceRoom = (workspaceId: string): string => `workspace:${workspaceId}`;
export const agentRoom = (agentId: string): string => `agent:${agentId}`;
export const presenceRoom = (userId: string): string => `presence:${userId}`;
export const leaderboardRoom = (leaderboardId: string): string => `leaderboard:${leaderboardId}`;
export const streamRoom = (streamName: string): string => `stream:${streamName}`;

/**
 * Every socket of a tenant is in this room, so a broadcast reaches the tenant and no other.
 * `*` never appears in a room id, so no client room can take the name.
 */
export const TENANT_WIDE_ROOM = "*";

/** The tenant of tokens without a `tenant` claim. */
export const DEFAULT_TENANT = "";

/**
 * The Socket.IO room that carries `room` for `tenant`. The default tenant keeps plain names,
 * so an emitter with no tenant configured reaches the same rooms as a node.
 * `/` never appears in ids or tenants, so scoped names cannot collide.
 */
export function tenantRoom(tenant: string, room: string): string {
  return tenant === DEFAULT_TENANT ? room : `${tenant}/${room}`;
}

/** The Socket.IO room holding every socket of `tenant` (the emitter's `broadcast`). */
export function tenantWideRoom(tenant: string): string {
  return tenantRoom(tenant, TENANT_WIDE_ROOM);
}
