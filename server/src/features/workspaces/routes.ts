/**
 * The REST face of workspaces (PROTOCOL §4): services create workspaces and manage members and
 * send updates; members read what they belong to.
 */
import { userId, workspaceCreateFields, workspaceId, workspaceUpdateFields, type WorkspaceCreatePayload, type WorkspaceUpdatePayload } from "@switchboard/shared";
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
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function workspaceRoutes(workspaces: WorkspaceService): Route[] {
  return [
    defineRoute<Record<string, never>, Record<string, never>, WorkspaceCreatePayload>({
      method: "post",
      path: "/v1/workspaces",
      auth: SERVICE_ROLES,
      body: Joi.object(workspaceCreateFields),
      handler: async ({ principal, body }) => ({ status: 201, body: { workspace: await workspaces.create(actorOf(principal), body) } }),
    }),
    defineRoute<Record<string, never>, ListQuery>({
      method: "get",
      path: "/v1/workspaces",
      auth: "user",
      query: Joi.object<ListQuery>({ userId }),
      handler: async ({ principal, query }) => ({ body: { workspaces: await workspaces.list(actorOf(principal), query.userId) } }),
    }),
    defineRoute<WorkspaceParams>({
      method: "get",
      path: "/v1/workspaces/:id",
      auth: "user",
      params: workspaceParams,
      handler: async ({ principal, params }) => ({ body: { workspace: await workspaces.info(actorOf(principal), params.id) } }),
    }),
    defineRoute<WorkspaceParams>({
      method: "get",
      path: "/v1/workspaces/:id/users",
      auth: "user",
      params: workspaceParams,
      handler: async ({ principal, params }) => ({ body: { users: await workspaces.users(actorOf(principal), params.id) } }),
    }),
    defineRoute<WorkspaceParams, Record<string, never>, { userId: string }>({
      method: "post",
      path: "/v1/workspaces/:id/members",
      auth: SERVICE_ROLES,
      params: workspaceParams,
      body: Joi.object({ userId: userId.required() }),
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
      handler: async ({ principal, params }) => ({ body: await workspaces.removeMember(actorOf(principal), params.id, params.userId) }),
    }),
    defineRoute<WorkspaceParams, Record<string, never>, WorkspaceUpdatePayload>({
      method: "post",
      path: "/v1/workspaces/:id/updates",
      auth: SERVICE_ROLES,
      params: workspaceParams,
      body: Joi.object(workspaceUpdateFields),
      handler: async ({ principal, params, body }) => ({ status: 202, body: { event: await workspaces.update(actorOf(principal), params.id, body.updateType, body.data) } }),
    }),
  ];
}
