/**
 * The typed event maps of the Socket.IO connection, used by nodes, the emitter and clients, and
 * the payloads of the connection itself (session, ping, command errors). Each capability's
 * payload types live in its own file (rooms.ts, presence.ts, …).
 */
import type {
  AgentExecutionCompleteEvent,
  AgentExecutionFailedEvent,
  AgentExecutionStartEvent,
  AgentExecutionUpdateEvent,
  AgentRefPayload,
  AgentStatus,
} from "./agents";
import type { DocCursorEvent, DocCursorPayload, DocOpenPayload, DocOpenResult, DocOpEvent, DocOpPayload, DocOpResult, DocRefPayload } from "./docs";
import type { AckCallback, ErrorBody } from "./errors";
import type { LeaderboardRefPayload, LeaderboardSubscribePayload, LeaderboardUpdateEvent, LeaderboardView } from "./leaderboards";
import type { Notification, NotificationListPayload, NotificationRefPayload, PushRegisterPayload } from "./notifications";
import type { Presence, PresenceMap, PresenceSetPayload, PresenceUsersPayload } from "./presence";
import type {
  CursorEvent,
  HistoryPage,
  Member,
  MemberEvent,
  Message,
  MessageReadPayload,
  PublishResult,
  ReceiptEvent,
  RoomCreatePayload,
  RoomCursorPayload,
  RoomHistoryPayload,
  RoomInfo,
  RoomJoinPayload,
  RoomJoinResult,
  RoomPositionEvent,
  RoomPublishPayload,
  RoomRefPayload,
  RoomTypingPayload,
  TypingEvent,
} from "./rooms";
import type { StreamRefPayload, StreamSubscribePayload, StreamUpdateEvent, StreamView } from "./streams";
import type { SyncDocument, SyncPullPayload, SyncStateEvent, SyncWrite } from "./sync";
import type { WorkspaceJoinResult, WorkspaceRefPayload, WorkspaceUpdateEvent, WorkspaceUserEvent } from "./workspaces";

export interface Session {
  sessionId: string;
  userId: string;
  deviceId: string;
  nodeId: string;
  tenant?: string;
  /** ms since the epoch, the node's clock. */
  serverTime: number;
  /** When the session's token expires (ms since the epoch): the node ends the socket then unless `session:refresh` gave it a newer token. */
  expiresAt: number;
}

/** `session:refresh`: a newer token for the same user (and tenant), without reconnecting. */
export interface SessionRefreshPayload {
  token: string;
}
export interface SessionRefreshResult {
  /** The new token's expiry, ms since the epoch. */
  expiresAt: number;
}

/** Sent right before a node ends a socket whose token expired. */
/** `session:resync`: sent when the node's subscription came back (its clock then, ms since the epoch). */
export interface SessionResyncEvent {
  at: number;
}

export interface SessionExpiredEvent {
  code: "TOKEN_EXPIRED";
  message: string;
  /** ms since the epoch. */
  expiredAt: number;
}

export interface CommandErrorEvent {
  event: string;
  error: ErrorBody;
}

export interface PingPayload {
  clientTime?: number;
}
export interface PingResult {
  serverTime: number;
  nodeId: string;
  clientTime?: number;
}

/** Volatile commands answer `throttled: true` when this one was dropped by the per-socket throttle. */
export interface VolatileResult {
  throttled?: boolean;
}

type Ack<T extends object> = AckCallback<T>;
type Empty = Record<string, never>;

export interface ClientToServerEvents {
  "system:ping": (payload: PingPayload, ack: AckCallback<PingResult>) => void;
  "session:refresh": (payload: SessionRefreshPayload, ack: Ack<SessionRefreshResult>) => void;
  "room:create": (payload: RoomCreatePayload, ack: Ack<{ room: RoomInfo }>) => void;
  "room:join": (payload: RoomJoinPayload, ack: Ack<RoomJoinResult>) => void;
  "room:leave": (payload: RoomRefPayload, ack: Ack<{ removed: boolean }>) => void;
  "room:publish": (payload: RoomPublishPayload, ack: Ack<PublishResult>) => void;
  "room:history": (payload: RoomHistoryPayload, ack: Ack<HistoryPage>) => void;
  "room:members": (payload: RoomRefPayload, ack: Ack<{ members: Member[] }>) => void;
  "room:typing": (payload: RoomTypingPayload, ack: Ack<VolatileResult>) => void;
  "room:cursor": (payload: RoomCursorPayload, ack: Ack<VolatileResult>) => void;
  "message:read": (payload: MessageReadPayload, ack: Ack<Empty>) => void;
  "presence:set": (payload: PresenceSetPayload, ack: Ack<{ changed: boolean }>) => void;
  "presence:get": (payload: PresenceUsersPayload, ack: Ack<PresenceMap>) => void;
  /** Answers the current presence of the watched users. */
  "presence:watch": (payload: PresenceUsersPayload, ack: Ack<PresenceMap>) => void;
  "presence:unwatch": (payload: PresenceUsersPayload, ack: Ack<Empty>) => void;
  "sync:push": (payload: SyncWrite, ack: Ack<SyncDocument>) => void;
  "sync:pull": (payload: SyncPullPayload, ack: Ack<SyncDocument>) => void;
  "notification:ack": (payload: NotificationRefPayload, ack: Ack<Empty>) => void;
  "notification:read": (payload: NotificationRefPayload, ack: Ack<Empty>) => void;
  "notification:list": (payload: NotificationListPayload, ack: Ack<{ notifications: Notification[] }>) => void;
  "push:register": (payload: PushRegisterPayload, ack: Ack<{ id: string; created: boolean }>) => void;
  "push:unregister": (payload: NotificationRefPayload, ack: Ack<Empty>) => void;
  "workspace:join": (payload: WorkspaceRefPayload, ack: Ack<WorkspaceJoinResult>) => void;
  "workspace:leave": (payload: WorkspaceRefPayload, ack: Ack<Empty>) => void;
  /** Answers the agent and its last known execution (a late subscriber starts from there). */
  "agent:subscribe": (payload: AgentRefPayload, ack: Ack<AgentStatus>) => void;
  "agent:unsubscribe": (payload: AgentRefPayload, ack: Ack<Empty>) => void;
  /** Subscribes to a collaborative document: its snapshot, or the ops since `version`. */
  "doc:open": (payload: DocOpenPayload, ack: Ack<DocOpenResult>) => void;
  "doc:op": (payload: DocOpPayload, ack: Ack<DocOpResult>) => void;
  "doc:close": (payload: DocRefPayload, ack: Ack<Empty>) => void;
  "doc:cursor": (payload: DocCursorPayload, ack: Ack<VolatileResult>) => void;
  /** Answers the top as of the last update (`seq`) and the caller's live rank (and neighbours). */
  "leaderboard:subscribe": (payload: LeaderboardSubscribePayload, ack: Ack<LeaderboardView>) => void;
  "leaderboard:unsubscribe": (payload: LeaderboardRefPayload, ack: Ack<Empty>) => void;
  /** Answers the window's tail and the current aggregates. */
  "stream:subscribe": (payload: StreamSubscribePayload, ack: Ack<StreamView>) => void;
  "stream:unsubscribe": (payload: StreamRefPayload, ack: Ack<Empty>) => void;
}

export interface ServerToClientEvents {
  session: (session: Session) => void;
  "session:expired": (event: SessionExpiredEvent) => void;
  /**
   * The node's subscription to the other nodes came back after a drop: a `notification` or
   * `sync:state` sent meanwhile may not have arrived. Read the inbox and pull synced documents.
   */
  "session:resync": (event: SessionResyncEvent) => void;
  "command:error": (event: CommandErrorEvent) => void;
  "room:message": (message: Message) => void;
  /** Where a room stands, after the node's subscription to the other nodes came back (a client behind reads the rest from history). */
  "room:position": (event: RoomPositionEvent) => void;
  "room:member_joined": (event: MemberEvent) => void;
  "room:member_left": (event: MemberEvent) => void;
  "room:typing": (event: TypingEvent) => void;
  "room:cursor": (event: CursorEvent) => void;
  "message:receipt": (event: ReceiptEvent) => void;
  "presence:update": (presence: Presence) => void;
  "sync:state": (event: SyncStateEvent) => void;
  notification: (notification: Notification) => void;
  "workspace:user_joined": (event: WorkspaceUserEvent) => void;
  "workspace:user_left": (event: WorkspaceUserEvent) => void;
  "workspace:update": (event: WorkspaceUpdateEvent) => void;
  "agent:execution_start": (event: AgentExecutionStartEvent) => void;
  "agent:execution_update": (event: AgentExecutionUpdateEvent) => void;
  "agent:execution_complete": (event: AgentExecutionCompleteEvent) => void;
  "agent:execution_failed": (event: AgentExecutionFailedEvent) => void;
  "doc:op": (event: DocOpEvent) => void;
  "doc:cursor": (event: DocCursorEvent) => void;
  "leaderboard:update": (event: LeaderboardUpdateEvent) => void;
  "stream:update": (event: StreamUpdateEvent) => void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- nodes talk through the adapter only; no server-side events yet
export interface InterServerEvents {}

/** What a node keeps on each authenticated socket (`socket.data`). */
export interface SocketData {
  userId: string;
  tenant: string;
  deviceId: string;
  sessionId: string;
  name?: string;
  roles: string[];
  /** JWT expiry, seconds since the epoch. */
  tokenExp: number;
}
