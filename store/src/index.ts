/**
 * @switchboard/store: the Redis store a Switchboard cluster shares. Nodes and the emitter write
 * through the same stores (rooms and history, documents, workspaces and agents, notifications,
 * presence, sync, leaderboards, streams, the node registry), the same Lua scripts and the same
 * adapter frames; what reaches sockets goes through a Delivery port each of them implements.
 */
export * from "./types";
export type { Delivery } from "./delivery";
export { RedisScript, type RedisClient } from "./script";
export { TurnBatches } from "./turn-batches";
export { adapterFrame, messageArguments, messageFrame, readEventFrame, roomChannel, type EventFrame, type Frame, type MessageFrame } from "./frames";
export { compareMessageIds, MessageIdClock, newEpoch, senderOf, toMessage, type MessagePosition } from "./messages";
export * from "./stream-windows";
export * from "./sync-resolver";
export { DocState } from "./doc-state";
export {
  commitDocOp,
  commitDocOps,
  docTypeConflict,
  docVersionError,
  entriesSince,
  PendingDocOp,
  type DocCommitTarget,
  type DocEntriesSince,
  type DocOpSettlement,
  type DocSubmission,
} from "./doc-commit";
export { notifyUser, plannedDelivery, queueNotification, type DeliveryPlanStores, type NotificationStores } from "./notify";
export { recordScore, scoreMode } from "./scores";
export { DEFAULT_MESSAGE_KIND, publishMessage, type RoomPublish } from "./publish";
export { openRedisStores, type RedisStoreOptions, type RedisStores } from "./redis/open";
export { RedisDocStore } from "./redis/docs";
export { RedisLeaderboards } from "./redis/leaderboards";
export { RedisNodeRegistry } from "./redis/node-registry";
export { RedisNotificationInbox, RedisNotificationQueue, RedisPushDevices } from "./redis/notifications";
export { RedisPresenceRegistry } from "./redis/presence";
export { RedisRoomHistory, RedisRoomRegistry } from "./redis/rooms";
export { RedisLiveStreams } from "./redis/streams";
export { RedisSyncStore } from "./redis/sync";
export { RedisAgents, RedisWorkspaces } from "./redis/workspaces";
