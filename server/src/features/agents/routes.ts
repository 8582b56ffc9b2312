/**
 * The REST face of agents (PROTOCOL §4): services register agents and may report executions
 * (as the emitter does); the owner and workspace members read an agent and its last state.
 */
import { agentEventSchemas, agentExecutionStateSchema, agentId, agentInfoSchema, agentRegisterFields, agentStatusSchema, type AgentEventKind, type AgentRegisterPayload } from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { AgentService } from "./service";

interface AgentParams {
  id: string;
}

const agentParams = Joi.object<AgentParams>({ id: agentId.required() });
const actorOf = (principal: Principal | undefined): Actor => principal!;

/** `POST /v1/agents/:id/<path>` reports the event of the emitter method of the same name. */
const EVENT_PATHS: Record<AgentEventKind, string> = { start: "started", update: "progress", complete: "completed", fail: "failed" };
const EVENT_NAMES: Record<AgentEventKind, string> = { start: "start", update: "update", complete: "complete", fail: "failed" };
const agentAnswer = Joi.object({ agent: agentInfoSchema.required(), created: Joi.boolean().required() });

export function agentRoutes(agents: AgentService): Route[] {
  const reports = (Object.keys(EVENT_PATHS) as AgentEventKind[]).map((kind) =>
    defineRoute<AgentParams, Record<string, never>, never>({
      method: "post",
      path: `/v1/agents/:id/${EVENT_PATHS[kind]}`,
      auth: SERVICE_ROLES,
      params: agentParams,
      body: agentEventSchemas[kind] as Joi.ObjectSchema<never>,
      summary: `Report an execution's ${EVENT_NAMES[kind]} (as the emitter does): agent:execution_${EVENT_NAMES[kind]} to its subscribers`,
      responses: { 202: { description: "The execution's state", body: Joi.object({ execution: agentExecutionStateSchema.required() }) } },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, params, body }) => ({ status: 202, body: await agents.report(actorOf(principal), params.id, kind, body) }),
    }),
  );
  return [
    defineRoute<Record<string, never>, Record<string, never>, AgentRegisterPayload>({
      method: "post",
      path: "/v1/agents",
      auth: SERVICE_ROLES,
      body: Joi.object(agentRegisterFields),
      summary: "Register an agent in a workspace, or update it (owner, name, workspace)",
      responses: {
        201: { description: "Registered", body: agentAnswer },
        200: { description: "Updated (created: false)", body: agentAnswer },
      },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, body }) => {
        const { agent, created } = await agents.register(actorOf(principal), body);
        return { status: created ? 201 : 200, body: { agent, created } };
      },
    }),
    defineRoute<AgentParams>({
      method: "get",
      path: "/v1/agents/:id",
      auth: "user",
      params: agentParams,
      summary: "An agent's info (its owner, the workspace's members, services and admins)",
      responses: { 200: { description: "The agent", body: Joi.object({ agent: agentInfoSchema.required() }) } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { agent: await agents.info(actorOf(principal), params.id) } }),
    }),
    defineRoute<AgentParams>({
      method: "get",
      path: "/v1/agents/:id/status",
      auth: "user",
      params: agentParams,
      summary: "An agent and its last known execution (as agent:subscribe answers)",
      responses: { 200: { description: "The agent and its execution, if any", body: agentStatusSchema } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: await agents.status(actorOf(principal), params.id) }),
    }),
    ...reports,
  ];
}
