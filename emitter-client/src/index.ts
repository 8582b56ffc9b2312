/**
 * @switchboard/emitter: publish into a Switchboard cluster from a backend service through the
 * cluster's Redis, without opening a socket (PROTOCOL §5).
 */
export {
  SwitchboardEmitter,
  RoomTarget,
  UserTarget,
  WorkspaceTarget,
  AgentTarget,
  LeaderboardTarget,
  StreamTarget,
  DocTarget,
  type EmitterOptions,
  type CustomEventsMap,
  type DefaultCustomEvents,
  type NotifyInput,
  type PublishOptions,
  type DocSubmitOptions,
} from "./emitter";
export { EmitterError } from "./errors";
export type { DocOpResult, DocSnapshot, DocType } from "@switchboard/shared";
export type {
  AgentCompleted,
  AgentExecutionState,
  AgentFailed,
  AgentInfo,
  AgentProgress,
  AgentRegistration,
  AgentStarted,
  LeaderboardScoreInput,
  LeaderboardScoreResult,
  NotifyResult,
  PublishResult,
  StreamAppendResult,
  StreamPoint,
  WorkspaceUpdateData,
  WorkspaceUpdateEvent,
} from "@switchboard/shared";
