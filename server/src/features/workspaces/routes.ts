/**
 * The REST face of workspaces (PROTOCOL §4): services create workspaces and manage members and
 * send updates; members read what they belong to.
 */
import {
  userId,
  workspaceCreateFields,
  workspaceId,
  workspaceInfoSchema,
  workspaceUpdateEventSchema,
  workspaceUpdateFields,
  workspaceUserSchema,
  type WorkspaceCreatePayload,
  type WorkspaceUpdatePayload,
} from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { WorkspaceService } from "./service";

interface WorkspaceParams {
  id: string;
}
interface MemberParams extends WorkspaceParams {
  userId: string;
}
interface ListQuery {
  userId?: string;
}

const workspaceParams = Joi.object<WorkspaceParams>({ id: workspaceId.required() });
const workspaceAnswer = Joi.object({ workspace: workspaceInfoSchema.required() });
const memberAnswer = Joi.object({ workspace: workspaceInfoSchema.required(), added: Joi.boolean().required() });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function workspaceRoutes(workspaces: WorkspaceService): Route[] {
  return [
    defineRoute<Record<string, never>, Record<string, never>, WorkspaceCreatePayload>({
      method: "post",
      path: "/v1/workspaces",
      auth: SERVICE_ROLES,
      body: Joi.object(workspaceCreateFields),
      summary: "Create a workspace (its id is generated when absent)",
      responses: { 201: { description: "The workspace", body: workspaceAnswer } },
      errors: ["CONFLICT"],
      handler: async ({ principal, body }) => ({ status: 201, body: { workspace: await workspaces.create(actorOf(principal), body) } }),
    }),
    defineRoute<Record<string, never>, ListQuery>({
      method: "get",
      path: "/v1/workspaces",
      auth: "user",
      query: Joi.object<ListQuery>({ userId }),
      summary: "The caller's workspaces (a service or admin: the tenant's, or a user's with userId)",
      responses: { 200: { description: "The workspaces", body: Joi.object({ workspaces: Joi.array().items(workspaceInfoSchema).required() }) } },
      errors: ["FORBIDDEN"],
      handler: async ({ principal, query }) => ({ body: { workspaces: await workspaces.list(actorOf(principal), query.userId) } }),
    }),
    defineRoute<WorkspaceParams>({
      method: "get",
      path: "/v1/workspaces/:id",
      auth: "user",
      params: workspaceParams,
      summary: "A workspace's info (members, services and admins)",
      responses: { 200: { description: "The workspace", body: workspaceAnswer } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { workspace: await workspaces.info(actorOf(principal), params.id) } }),
    }),
    defineRoute<WorkspaceParams>({
      method: "get",
      path: "/v1/workspaces/:id/users",
      auth: "user",
      params: workspaceParams,
      summary: "A workspace's members with presence, sorted by user id",
      responses: { 200: { description: "The members", body: Joi.object({ users: Joi.array().items(workspaceUserSchema).required() }) } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { users: await workspaces.users(actorOf(principal), params.id) } }),
    }),
    defineRoute<WorkspaceParams, Record<string, never>, { userId: string }>({
      method: "post",
      path: "/v1/workspaces/:id/members",
      auth: SERVICE_ROLES,
      params: workspaceParams,
      body: Joi.object({ userId: userId.required() }),
      summary: "Add a member",
      responses: {
        201: { description: "Added", body: memberAnswer },
        200: { description: "Already a member (added: false)", body: memberAnswer },
      },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, params, body }) => {
        const result = await workspaces.addMember(actorOf(principal), params.id, body.userId);
        return { status: result.added ? 201 : 200, body: result };
      },
    }),
    defineRoute<MemberParams>({
      method: "delete",
      path: "/v1/workspaces/:id/members/:userId",
      auth: "user",
      params: Joi.object<MemberParams>({ id: workspaceId.required(), userId: userId.required() }),
      summary: "Remove a member (a service or admin, or the member leaving)",
      responses: { 200: { description: "removed: false when the user was not a member", body: Joi.object({ removed: Joi.boolean().required() }) } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: await workspaces.removeMember(actorOf(principal), params.id, params.userId) }),
    }),
    defineRoute<WorkspaceParams, Record<string, never>, WorkspaceUpdatePayload>({
      method: "post",
      path: "/v1/workspaces/:id/updates",
      auth: SERVICE_ROLES,
      params: workspaceParams,
      body: Joi.object(workspaceUpdateFields),
      summary: "Send workspace:update to the workspace's room",
      responses: { 202: { description: "The event sent (volatile: not stored)", body: Joi.object({ event: workspaceUpdateEventSchema.required() }) } },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, params, body }) => ({ status: 202, body: { event: await workspaces.update(actorOf(principal), params.id, body.updateType, body.data) } }),
    }),
  ];
}
