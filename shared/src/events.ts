/**
 * The typed event maps of the Socket.IO connection, used by nodes, the emitter and clients.
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

export type RoomVisibility = "public" | "private";
export type MessagePriority = "low" | "normal" | "high" | "urgent";

export interface RoomInfo {
  id: string;
  name: string;
  type: string;
  visibility: RoomVisibility;
  createdBy: string;
  /** ms since the epoch. */
  createdAt: number;
  maxSize: number;
  memberCount: number;
}

export interface Member {
  userId: string;
  name?: string;
  online: boolean;
  devices: string[];
}

export interface MessageSender {
  userId: string;
  deviceId?: string;
  name?: string;
}

export interface Message {
  room: string;
  /** The room's history offset (`<ms>-<seq>`): ordered and unique per room. */
  id: string;
  from: MessageSender;
  kind: string;
  data: unknown;
  ts: number;
  priority: MessagePriority;
  replyTo?: string;
}

export interface RoomCreatePayload {
  id?: string;
  name: string;
  type?: string;
  maxSize?: number;
  visibility?: RoomVisibility;
  members?: string[];
}
export interface RoomRefPayload {
  room: string;
}
export interface RoomJoinPayload extends RoomRefPayload {
  since?: string;
}
export interface RoomJoinResult {
  room: RoomInfo;
  members: Member[];
  missed?: Message[];
  recovered: boolean;
  /** True when more messages were missed than one answer carries: page on with room:history. */
  hasMore?: boolean;
}
export interface PublishPayload {
  data: unknown;
  kind?: string;
  priority?: MessagePriority;
  replyTo?: string;
  clientMsgId?: string;
}
export interface RoomPublishPayload extends RoomRefPayload, PublishPayload {}
export interface PublishResult {
  id: string;
  ts: number;
  /** True when `clientMsgId` matched an earlier publish: nothing was stored or delivered again. */
  duplicate?: boolean;
}
export interface HistoryQuery {
  before?: string;
  after?: string;
  limit?: number;
}
export interface RoomHistoryPayload extends RoomRefPayload, HistoryQuery {}
export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}
export interface RoomTypingPayload extends RoomRefPayload {
  typing: boolean;
}
export interface RoomCursorPayload extends RoomRefPayload {
  position: unknown;
}
export interface MessageReadPayload extends RoomRefPayload {
  id: string;
}
/** Volatile commands answer `throttled: true` when this one was dropped by the per-socket throttle. */
export interface VolatileResult {
  throttled?: boolean;
}

export interface MemberEvent {
  room: string;
  userId: string;
  name?: string;
  ts: number;
}
export interface TypingEvent {
  room: string;
  userId: string;
  typing: boolean;
}
export interface CursorEvent {
  room: string;
  userId: string;
  deviceId: string;
  position: unknown;
}
export interface ReceiptEvent {
  room: string;
  id: string;
  userId: string;
  ts: number;
}

type Ack<T extends object> = AckCallback<T>;
type Empty = Record<string, never>;

export interface ClientToServerEvents {
  "system:ping": (payload: PingPayload, ack: AckCallback<PingResult>) => void;
  "session:refresh": (payload: SessionRefreshPayload, ack: Ack<SessionRefreshResult>) => void;
  "room:create": (payload: RoomCreatePayload, ack: Ack<{ room: RoomInfo }>) => void;
  "room:join": (payload: RoomJoinPayload, ack: Ack<RoomJoinResult>) => void;
  "room:leave": (payload: RoomRefPayload, ack: Ack<Empty>) => void;
  "room:publish": (payload: RoomPublishPayload, ack: Ack<PublishResult>) => void;
  "room:history": (payload: RoomHistoryPayload, ack: Ack<HistoryPage>) => void;
  "room:members": (payload: RoomRefPayload, ack: Ack<{ members: Member[] }>) => void;
  "room:typing": (payload: RoomTypingPayload, ack: Ack<VolatileResult>) => void;
  "room:cursor": (payload: RoomCursorPayload, ack: Ack<VolatileResult>) => void;
  "message:read": (payload: MessageReadPayload, ack: Ack<Empty>) => void;
  "presence:set": (payload: PresenceSetPayload, ack: Ack<Empty>) => void;
  "presence:get": (payload: PresenceUsersPayload, ack: Ack<PresenceMap>) => void;
  /** Answers the current presence of the watched users. */
  "presence:watch": (payload: PresenceUsersPayload, ack: Ack<PresenceMap>) => void;
  "presence:unwatch": (payload: PresenceUsersPayload, ack: Ack<Empty>) => void;
  "sync:push": (payload: SyncWrite, ack: Ack<SyncDocument>) => void;
  "sync:pull": (payload: SyncPullPayload, ack: Ack<SyncDocument>) => void;
  "notification:ack": (payload: NotificationRefPayload, ack: Ack<Empty>) => void;
  "notification:read": (payload: NotificationRefPayload, ack: Ack<Empty>) => void;
  "notification:list": (payload: NotificationListPayload, ack: Ack<{ notifications: Notification[] }>) => void;
  "push:register": (payload: PushRegisterPayload, ack: Ack<{ id: string }>) => void;
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
  "command:error": (event: CommandErrorEvent) => void;
  "room:message": (message: Message) => void;
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
