/**
 * Workspaces (PROTOCOL §3 "Workspaces and agents", §4 workspace endpoints): the types and schemas
 * shared by nodes, the emitter and clients.
 */
import Joi from "joi";
import { jsonValue } from "./json";
import { ROOM_ID_PATTERN } from "./rooms";
import { epochMs, userId } from "./schemas";

/** Workspace ids look like room ids (`[A-Za-z0-9_.:-]{1,128}`). */
export const WORKSPACE_ID_PATTERN = ROOM_ID_PATTERN;
export const WORKSPACE_UPDATE_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** The most members a workspace is created with in one request. */
export const WORKSPACE_INITIAL_MEMBERS_MAX = 1000;

export interface WorkspaceInfo {
  id: string;
  name: string;
  createdBy: string;
  /** ms since the epoch. */
  createdAt: number;
  memberCount: number;
}

/** A member of a workspace and whether any of their devices is connected anywhere. */
export interface WorkspaceUser {
  userId: string;
  online: boolean;
}

export interface WorkspaceCreatePayload {
  id?: string;
  name: string;
  members?: string[];
}

export interface WorkspaceRefPayload {
  workspaceId: string;
}

export interface WorkspaceJoinResult {
  workspace: WorkspaceInfo;
  users: WorkspaceUser[];
}

/**
 * `workspace:user_joined` / `workspace:user_left`: a member's device joined or left the
 * workspace's room (`removed`: the member was taken off the workspace).
 */
export interface WorkspaceUserEvent {
  workspaceId: string;
  userId: string;
  name?: string;
  deviceId?: string;
  removed?: boolean;
  ts: number;
}

/** Free-form fields of an update; they may not reuse the event's own field names. */
export type WorkspaceUpdateData = Record<string, unknown>;

/** `workspace:update`: `{ workspaceId, updateType, ...data, ts }`. */
export type WorkspaceUpdateEvent = WorkspaceUpdateData & {
  workspaceId: string;
  updateType: string;
  ts: number;
};

export interface WorkspaceUpdatePayload {
  updateType: string;
  data?: WorkspaceUpdateData;
}

export const workspaceId = Joi.string().pattern(WORKSPACE_ID_PATTERN, "workspace id");
export const workspaceUpdateType = Joi.string().pattern(WORKSPACE_UPDATE_TYPE_PATTERN, "update type");

/** Fields of `POST /v1/workspaces`. */
export const workspaceCreateFields = {
  id: workspaceId,
  name: Joi.string().min(1).max(128).required(),
  members: Joi.array().items(userId).max(WORKSPACE_INITIAL_MEMBERS_MAX).unique(),
};

/** The data of an update: a JSON object whose keys are not the event's own fields. */
export const workspaceUpdateData = Joi.object({ workspaceId: Joi.forbidden(), updateType: Joi.forbidden(), ts: Joi.forbidden() })
  .pattern(/^/, jsonValue)
  .max(100);

/** Fields of `POST /v1/workspaces/:id/updates` and the emitter's `workspace(id).update(type, data)`. */
export const workspaceUpdateFields = {
  updateType: workspaceUpdateType.required(),
  data: workspaceUpdateData,
};

const workspaceRef = Joi.object<WorkspaceRefPayload>({ workspaceId: workspaceId.required() });

export const workspaceSchemas = {
  "workspace:join": workspaceRef,
  "workspace:leave": workspaceRef,
} as const;

/** The event of an update, with the data's fields spread in. */
export function workspaceUpdateEvent(id: string, updateType: string, data: WorkspaceUpdateData | undefined, ts: number): WorkspaceUpdateEvent {
  return { ...data, workspaceId: id, updateType, ts };
}

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
export const workspaceInfoSchema = Joi.object<WorkspaceInfo>({
  id: workspaceId.required(),
  name: Joi.string().required(),
  createdBy: Joi.string().required(),
  createdAt: epochMs.required(),
  memberCount: Joi.number().integer().min(0).required(),
}).id("WorkspaceInfo");

export const workspaceUserSchema = Joi.object<WorkspaceUser>({ userId: userId.required(), online: Joi.boolean().required() });

/** `workspace:update`: the update's data fields beside these. */
export const workspaceUpdateEventSchema = Joi.object<WorkspaceUpdateEvent>({
  workspaceId: workspaceId.required(),
  updateType: workspaceUpdateType.required(),
  ts: epochMs.required(),
}).unknown(true);
