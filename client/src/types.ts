export { Client } from "./client.js";
export type { ClientEvents, ClientOptions, CommandName, CommandPayload, CommandResult, ConnectionState, IoFactory, RequestOptions, StorageLike } from "./client.js";
export { SwitchboardError, type ClientErrorCode } from "./errors.js";
export { Room, compareIds, type JoinOptions, type RoomEvents } from "./room.js";
export { Presence, type PresenceEvents } from "./presence.js";
export { SyncDoc, type SyncEvents } from "./sync.js";
export { Notifications, type NotificationEvents } from "./notifications.js";
export { Agent, Workspace, type AgentEvents, type WorkspaceEvents } from "./workspace.js";
export type {
  AgentStatus,
  HistoryPage,
  Message,
  Notification,
  Presence as PresenceInfo,
  PublishResult,
  RoomInfo,
  RoomJoinResult,
  Session,
  SyncDocument,
  WorkspaceJoinResult,
} from "@switchboard/shared";
