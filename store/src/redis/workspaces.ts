/**
 * Workspaces and agents in Redis. A workspace's keys share the tag `{w:<tenant>:<id>}`, an
 * agent's `{a:<tenant>:<id>}`, so each script runs on one slot; the indexes on other slots (the
 * user's workspaces, the tenant's, the workspace's agents) are written after the script, like
 * the room membership index.
 */
import {
  agentExecutionFields,
  parseAgent,
  parseAgentExecution,
  type AgentEventInput,
  type AgentEventKind,
  type AgentExecutionState,
  type AgentInfo,
  type AgentRegistration,
  type KeyLayout,
} from "@switchboard/shared";
import type {
  AddWorkspaceMemberResult,
  AgentExecutionRecord,
  AgentRegistry,
  WorkspaceMemberRecord,
  WorkspaceRecord,
  WorkspaceRegistry,
} from "../types";
import type { RedisClient } from "../script";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

const createWorkspace = new RedisScript(LUA["workspaces/create"]);
const addWorkspaceMember = new RedisScript(LUA["workspaces/add-member"]);
const agentRegister = new RedisScript(LUA["agents/register"]);
const agentExecution = new RedisScript(LUA["agents/execution"]);

const sorted = (ids: string[]) => ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

export class RedisWorkspaces implements WorkspaceRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async create(workspace: WorkspaceRecord, members: WorkspaceMemberRecord[]): Promise<boolean> {
    const { tenant, id } = workspace;
    const pairs = members.flatMap((m) => [m.userId, memberJson(m)]);
    const created = await createWorkspace.run(this.redis, [this.keys.workspaceMeta(tenant, id), this.keys.workspaceMembers(tenant, id)], [JSON.stringify(workspace), ...pairs]);
    if (Number(created) !== 1) return false;
    await this.redis.sadd(this.keys.tenantWorkspaces(tenant), id);
    await Promise.all(members.map((m) => this.redis.sadd(this.keys.userWorkspaces(tenant, m.userId), id)));
    return true;
  }

  async get(tenant: string, id: string): Promise<(WorkspaceRecord & { memberCount: number }) | undefined> {
    const results = await this.redis.multi().get(this.keys.workspaceMeta(tenant, id)).hlen(this.keys.workspaceMembers(tenant, id)).exec();
    const [[metaErr, meta], [countErr, count]] = results as [[Error | null, string | null], [Error | null, number]];
    if (metaErr ?? countErr) throw metaErr ?? countErr;
    if (!meta) return undefined;
    return { ...(JSON.parse(meta) as WorkspaceRecord), memberCount: count };
  }

  async list(tenant: string): Promise<string[]> {
    return sorted(await this.redis.smembers(this.keys.tenantWorkspaces(tenant)));
  }

  async workspacesOf(tenant: string, userId: string): Promise<string[]> {
    return sorted(await this.redis.smembers(this.keys.userWorkspaces(tenant, userId)));
  }

  async addMember(tenant: string, id: string, member: WorkspaceMemberRecord): Promise<AddWorkspaceMemberResult> {
    const keys = [this.keys.workspaceMeta(tenant, id), this.keys.workspaceMembers(tenant, id)];
    const outcome = String(await addWorkspaceMember.run(this.redis, keys, [member.userId, memberJson(member)])) as AddWorkspaceMemberResult;
    if (outcome !== "missing") await this.redis.sadd(this.keys.userWorkspaces(tenant, member.userId), id);
    return outcome;
  }

  async removeMember(tenant: string, id: string, userId: string): Promise<boolean> {
    const removed = (await this.redis.hdel(this.keys.workspaceMembers(tenant, id), userId)) === 1;
    await this.redis.srem(this.keys.userWorkspaces(tenant, userId), id);
    return removed;
  }

  async isMember(tenant: string, id: string, userId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.workspaceMembers(tenant, id), userId)) === 1;
  }

  async members(tenant: string, id: string): Promise<WorkspaceMemberRecord[]> {
    const all = await this.redis.hgetall(this.keys.workspaceMembers(tenant, id));
    return sorted(Object.keys(all)).map((userId) => ({ userId, addedAt: (JSON.parse(all[userId]!) as { addedAt: number }).addedAt }));
  }
}

export class RedisAgents implements AgentRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async register(tenant: string, id: string, registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }> {
    const [created, previous] = (await agentRegister.run(
      this.redis,
      [this.keys.agent(tenant, id)],
      [registration.workspaceId, registration.ownerId ?? "", registration.name ?? ""],
    )) as [number, string, number];
    if (previous && previous !== registration.workspaceId) await this.redis.srem(this.keys.workspaceAgents(tenant, previous), id);
    await this.redis.sadd(this.keys.workspaceAgents(tenant, registration.workspaceId), id);
    const agent = await this.get(tenant, id);
    if (!agent) throw new Error(`agent ${id} vanished while it was registered`);
    return { agent, created: created === 1 };
  }

  async get(tenant: string, id: string): Promise<AgentInfo | undefined> {
    return parseAgent(id, await this.redis.hgetall(this.keys.agent(tenant, id)));
  }

  async agentsOf(tenant: string, workspaceId: string): Promise<string[]> {
    return sorted(await this.redis.smembers(this.keys.workspaceAgents(tenant, workspaceId)));
  }

  async record<K extends AgentEventKind>(tenant: string, agentId: string, kind: K, input: AgentEventInput[K]): Promise<AgentExecutionRecord | undefined> {
    const reply = (await agentExecution.run(
      this.redis,
      [this.keys.agent(tenant, agentId), this.keys.agentExecution(tenant, agentId)],
      [kind, input.executionId, ...agentExecutionFields(kind, input)],
    )) as (string | number)[];
    if (reply[0] !== "ok") return undefined;
    const [, workspaceId, ts, ...fields] = reply;
    return { state: parseAgentExecution(agentId, String(workspaceId), fields.map(String))!, ts: Number(ts) };
  }

  async execution(tenant: string, agentId: string): Promise<AgentExecutionState | undefined> {
    const results = await this.redis.multi().hget(this.keys.agent(tenant, agentId), "workspaceId").hgetall(this.keys.agentExecution(tenant, agentId)).exec();
    const [[wsErr, workspaceId], [execErr, fields]] = results as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (wsErr ?? execErr) throw wsErr ?? execErr;
    return workspaceId ? parseAgentExecution(agentId, workspaceId, fields) : undefined;
  }
}

function memberJson(member: WorkspaceMemberRecord): string {
  return JSON.stringify({ addedAt: member.addedAt });
}
