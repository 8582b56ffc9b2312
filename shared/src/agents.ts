/**
 * Agents and their executions (PROTOCOL §3 "Workspaces and agents", §4 agent endpoints, §5
 * `agent()`): the types, schemas and the one mapping from an execution event to its stored
 * state and to the event subscribers get, shared by nodes and the emitter so both write and
 * send exactly the same.
 */
import Joi from "joi";
import { jsonValue } from "./json";
import { ROOM_ID_PATTERN } from "./rooms";
import { epochMs, userId } from "./schemas";
import { workspaceId } from "./workspaces";

export const AGENT_ID_PATTERN = ROOM_ID_PATTERN;
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const EXECUTION_STATUS_PATTERN = /^[A-Za-z0-9_.:-]{1,32}$/;
export const AGENT_STEP_MAX = 256;

export interface AgentInfo {
  id: string;
  workspaceId: string;
  ownerId?: string;
  name?: string;
  /** ms since the epoch. */
  createdAt: number;
  updatedAt: number;
}

/** `POST /v1/agents`. */
export interface AgentRegisterPayload {
  id: string;
  workspaceId: string;
  ownerId?: string;
  name?: string;
}

/** The emitter's `agent(id).register(…)`. */
export type AgentRegistration = Omit<AgentRegisterPayload, "id">;

/** What an execution error says. */
export interface AgentError {
  code?: string;
  message: string;
}

export interface AgentStarted {
  executionId: string;
  task?: unknown;
}
export interface AgentProgress {
  executionId: string;
  /** 0–100. */
  progress?: number;
  currentStep?: string;
  /** Default `running`. */
  status?: string;
}
export interface AgentCompleted {
  executionId: string;
  result?: unknown;
}
export interface AgentFailed {
  executionId: string;
  error: AgentError;
}

/** The four execution events as the store and the wire name them. */
export type AgentEventKind = "start" | "update" | "complete" | "fail";
export type AgentEventInput = { start: AgentStarted; update: AgentProgress; complete: AgentCompleted; fail: AgentFailed };

export const AGENT_EVENT_NAMES = {
  start: "agent:execution_start",
  update: "agent:execution_update",
  complete: "agent:execution_complete",
  fail: "agent:execution_failed",
} as const satisfies Record<AgentEventKind, string>;

/** The last known execution of an agent. */
export interface AgentExecutionState {
  agentId: string;
  executionId: string;
  workspaceId: string;
  /** `running` (or what progress said), `completed`, `failed`. */
  status: string;
  progress: number;
  currentStep?: string;
  task?: unknown;
  result?: unknown;
  error?: AgentError;
  startedAt: number;
  updatedAt: number;
  completedAt?: number;
}

/** Every agent event: `{ agentId, executionId, workspaceId, status, progress, ..., ts }`. */
export interface AgentExecutionEvent {
  agentId: string;
  executionId: string;
  workspaceId: string;
  status: string;
  progress: number;
  ts: number;
}
export interface AgentExecutionStartEvent extends AgentExecutionEvent {
  task?: unknown;
}
export interface AgentExecutionUpdateEvent extends AgentExecutionEvent {
  currentStep?: string;
}
export interface AgentExecutionCompleteEvent extends AgentExecutionEvent {
  result?: unknown;
}
export interface AgentExecutionFailedEvent extends AgentExecutionEvent {
  error: AgentError;
}

export interface AgentRefPayload {
  agentId: string;
}

/** `agent:subscribe` ack and `GET /v1/agents/:id/status`: the agent and its last execution, if any. */
export interface AgentStatus {
  agent: AgentInfo;
  execution?: AgentExecutionState;
}

export const agentId = Joi.string().pattern(AGENT_ID_PATTERN, "agent id");
export const executionId = Joi.string().pattern(EXECUTION_ID_PATTERN, "execution id");

export const agentRegistrationFields = {
  workspaceId: workspaceId.required(),
  ownerId: userId,
  name: Joi.string().min(1).max(128),
};
export const agentRegisterFields = { id: agentId.required(), ...agentRegistrationFields };

/** Payload schemas of each execution event, shared by the emitter and `POST /v1/agents/:id/…`. */
export const agentEventSchemas = {
  start: Joi.object<AgentStarted>({ executionId: executionId.required(), task: jsonValue }),
  update: Joi.object<AgentProgress>({
    executionId: executionId.required(),
    progress: Joi.number().min(0).max(100),
    currentStep: Joi.string().max(AGENT_STEP_MAX).allow(""),
    status: Joi.string().pattern(EXECUTION_STATUS_PATTERN, "status").invalid("completed", "failed"),
  }).or("progress", "currentStep", "status"),
  complete: Joi.object<AgentCompleted>({ executionId: executionId.required(), result: jsonValue }),
  fail: Joi.object<AgentFailed>({
    executionId: executionId.required(),
    error: Joi.object({
      code: Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "error code"),
      message: Joi.string().min(1).max(1024).required(),
    }).required(),
  }),
} as const satisfies Record<AgentEventKind, Joi.ObjectSchema>;

const agentRef = Joi.object<AgentRefPayload>({ agentId: agentId.required() });

export const agentSchemas = {
  "agent:subscribe": agentRef,
  "agent:unsubscribe": agentRef,
} as const;

/**
 * The execution fields an event sets, as field/value pairs of the stored hash ('' removes a
 * field). JSON values are kept as their JSON text.
 */
export function agentExecutionFields<K extends AgentEventKind>(kind: K, input: AgentEventInput[K]): string[] {
  const json = (value: unknown) => (value === undefined ? "" : JSON.stringify(value));
  switch (kind) {
    case "start": {
      const { task } = input as AgentStarted;
      return task === undefined ? [] : ["task", json(task)];
    }
    case "update": {
      const { progress, currentStep, status } = input as AgentProgress;
      const out = ["status", status ?? "running"];
      if (progress !== undefined) out.push("progress", String(progress));
      if (currentStep !== undefined) out.push("currentStep", currentStep);
      return out;
    }
    case "complete": {
      const { result } = input as AgentCompleted;
      return ["status", "completed", "progress", "100", "result", json(result)];
    }
    case "fail":
      return ["status", "failed", "error", json((input as AgentFailed).error)];
  }
  return [];
}

/** The stored execution hash (as field/value pairs or an object) as an execution state. */
export function parseAgentExecution(agentId: string, workspaceId: string, fields: Record<string, string> | readonly string[]): AgentExecutionState | undefined {
  const map: Record<string, string> = Array.isArray(fields) ? pairsToObject(fields as readonly string[]) : (fields as Record<string, string>);
  if (!map.executionId) return undefined;
  const state: AgentExecutionState = {
    agentId,
    executionId: map.executionId,
    workspaceId,
    status: map.status ?? "running",
    progress: Number(map.progress ?? 0),
    startedAt: Number(map.startedAt),
    updatedAt: Number(map.updatedAt ?? map.startedAt),
  };
  if (map.currentStep !== undefined) state.currentStep = map.currentStep;
  if (map.task !== undefined) state.task = JSON.parse(map.task) as unknown;
  if (map.result !== undefined) state.result = JSON.parse(map.result) as unknown;
  if (map.error !== undefined) state.error = JSON.parse(map.error) as AgentError;
  if (map.completedAt !== undefined) state.completedAt = Number(map.completedAt);
  return state;
}

/** The stored agent hash as AgentInfo. */
export function parseAgent(id: string, fields: Record<string, string>): AgentInfo | undefined {
  if (!fields.workspaceId) return undefined;
  const info: AgentInfo = { id, workspaceId: fields.workspaceId, createdAt: Number(fields.createdAt), updatedAt: Number(fields.updatedAt ?? fields.createdAt) };
  if (fields.ownerId) info.ownerId = fields.ownerId;
  if (fields.name) info.name = fields.name;
  return info;
}

/** The event subscribers get for an execution event, from the state it left. */
export function agentExecutionEvent(kind: AgentEventKind, state: AgentExecutionState, ts: number): AgentExecutionEvent & Record<string, unknown> {
  const event: AgentExecutionEvent & Record<string, unknown> = {
    agentId: state.agentId,
    executionId: state.executionId,
    workspaceId: state.workspaceId,
    status: state.status,
    progress: state.progress,
    ts,
  };
  if (kind === "start" && state.task !== undefined) event.task = state.task;
  if (kind === "update" && state.currentStep !== undefined) event.currentStep = state.currentStep;
  if (kind === "complete" && state.result !== undefined) event.result = state.result;
  if (kind === "fail") event.error = state.error;
  return event;
}

function pairsToObject(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i]!] = pairs[i + 1]!;
  return out;
}

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
export const agentInfoSchema = Joi.object<AgentInfo>({
  id: agentId.required(),
  workspaceId: workspaceId.required(),
  ownerId: userId,
  name: Joi.string(),
  createdAt: epochMs.required(),
  updatedAt: epochMs.required(),
}).id("AgentInfo");

export const agentExecutionStateSchema = Joi.object<AgentExecutionState>({
  agentId: agentId.required(),
  executionId: executionId.required(),
  workspaceId: workspaceId.required(),
  status: Joi.string().required(),
  progress: Joi.number().min(0).max(100).required(),
  currentStep: Joi.string().allow(""),
  task: Joi.any(),
  result: Joi.any(),
  error: Joi.object({ code: Joi.string(), message: Joi.string().required() }),
  startedAt: epochMs.required(),
  updatedAt: epochMs.required(),
  completedAt: epochMs,
}).id("AgentExecutionState");

export const agentStatusSchema = Joi.object<AgentStatus>({ agent: agentInfoSchema.required(), execution: agentExecutionStateSchema });
