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
  type EmitterOptions,
  type CustomEventsMap,
  type DefaultCustomEvents,
  type NotifyInput,
  type PublishOptions,
} from "./emitter";
export { EmitterError } from "./errors";
export type {
  AgentCompleted,
  AgentExecutionState,
  AgentFailed,
  AgentInfo,
  AgentProgress,
  AgentRegistration,
  AgentStarted,
  NotifyResult,
  PublishResult,
  WorkspaceUpdateData,
  WorkspaceUpdateEvent,
} from "@switchboard/shared";
