/**
 * Workspaces and agents for the memory engine: the same semantics as the Redis engine's, kept
 * in maps (agent execution states go through the same field mapping as the AGENT_EXECUTION script).
 */
import {
  agentExecutionFields,
  compositeKey,
  parseAgentExecution,
  type AgentEventInput,
  type AgentEventKind,
  type AgentExecutionState,
  type AgentInfo,
  type AgentRegistration,
} from "@switchboard/shared";
import type {
  AddWorkspaceMemberResult,
  AgentExecutionRecord,
  AgentRegistry,
  WorkspaceMemberRecord,
  WorkspaceRecord,
  WorkspaceRegistry,
} from "../types";

const key = (tenant: string, id: string) => compositeKey(tenant, id);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface WorkspaceState {
  record: WorkspaceRecord;
  members: Map<string, WorkspaceMemberRecord>;
}

export class MemoryWorkspaces implements WorkspaceRegistry {
  private readonly workspaces = new Map<string, WorkspaceState>();
  /** `tenant|userId` -> workspace ids. */
  private readonly byUser = new Map<string, Set<string>>();

  async create(workspace: WorkspaceRecord, members: WorkspaceMemberRecord[]): Promise<boolean> {
    const k = key(workspace.tenant, workspace.id);
    if (this.workspaces.has(k)) return false;
    this.workspaces.set(k, { record: { ...workspace }, members: new Map(members.map((m) => [m.userId, { ...m }])) });
    for (const m of members) this.index(workspace.tenant, m.userId).add(workspace.id);
    return true;
  }

  async get(tenant: string, id: string): Promise<(WorkspaceRecord & { memberCount: number }) | undefined> {
    const state = this.workspaces.get(key(tenant, id));
    return state && { ...state.record, memberCount: state.members.size };
  }

  async list(tenant: string): Promise<string[]> {
    return [...this.workspaces.values()].filter((w) => w.record.tenant === tenant).map((w) => w.record.id).sort(cmp);
  }

  async workspacesOf(tenant: string, userId: string): Promise<string[]> {
    return [...(this.byUser.get(key(tenant, userId)) ?? [])].sort(cmp);
  }

  async addMember(tenant: string, id: string, member: WorkspaceMemberRecord): Promise<AddWorkspaceMemberResult> {
    const state = this.workspaces.get(key(tenant, id));
    if (!state) return "missing";
    if (state.members.has(member.userId)) return "present";
    state.members.set(member.userId, { ...member });
    this.index(tenant, member.userId).add(id);
    return "added";
  }

  async removeMember(tenant: string, id: string, userId: string): Promise<boolean> {
    this.byUser.get(key(tenant, userId))?.delete(id);
    return this.workspaces.get(key(tenant, id))?.members.delete(userId) ?? false;
  }

  async isMember(tenant: string, id: string, userId: string): Promise<boolean> {
    return this.workspaces.get(key(tenant, id))?.members.has(userId) ?? false;
  }

  async members(tenant: string, id: string): Promise<WorkspaceMemberRecord[]> {
    const state = this.workspaces.get(key(tenant, id));
    return state ? [...state.members.values()].map((m) => ({ ...m })).sort((a, b) => cmp(a.userId, b.userId)) : [];
  }

  private index(tenant: string, userId: string): Set<string> {
    const k = key(tenant, userId);
    let ids = this.byUser.get(k);
    if (!ids) this.byUser.set(k, (ids = new Set()));
    return ids;
  }
}

export class MemoryAgents implements AgentRegistry {
  private readonly agents = new Map<string, AgentInfo>();
  /** `tenant|agentId` -> the execution hash's fields, as the Redis engine keeps them. */
  private readonly executions = new Map<string, Record<string, string>>();
  /** `tenant|workspaceId` -> agent ids. */
  private readonly byWorkspace = new Map<string, Set<string>>();

  async register(tenant: string, id: string, registration: AgentRegistration): Promise<{ agent: AgentInfo; created: boolean }> {
    const k = key(tenant, id);
    const prior = this.agents.get(k);
    const now = Date.now();
    const agent: AgentInfo = { id, workspaceId: registration.workspaceId, createdAt: prior?.createdAt ?? now, updatedAt: now };
    if (registration.ownerId !== undefined) agent.ownerId = registration.ownerId;
    if (registration.name !== undefined) agent.name = registration.name;
    this.agents.set(k, agent);
    if (prior && prior.workspaceId !== agent.workspaceId) this.byWorkspace.get(key(tenant, prior.workspaceId))?.delete(id);
    const wk = key(tenant, agent.workspaceId);
    if (!this.byWorkspace.has(wk)) this.byWorkspace.set(wk, new Set());
    this.byWorkspace.get(wk)!.add(id);
    return { agent: { ...agent }, created: !prior };
  }

  async get(tenant: string, id: string): Promise<AgentInfo | undefined> {
    const agent = this.agents.get(key(tenant, id));
    return agent && { ...agent };
  }

  async agentsOf(tenant: string, workspaceId: string): Promise<string[]> {
    return [...(this.byWorkspace.get(key(tenant, workspaceId)) ?? [])].sort(cmp);
  }

  async record<K extends AgentEventKind>(tenant: string, agentId: string, kind: K, input: AgentEventInput[K]): Promise<AgentExecutionRecord | undefined> {
    const k = key(tenant, agentId);
    const agent = this.agents.get(k);
    if (!agent) return undefined;
    const now = Date.now();
    let fields = this.executions.get(k);
    if (kind === "start" || fields?.executionId !== input.executionId) {
      fields = { executionId: input.executionId, startedAt: String(now), status: "running", progress: "0" };
      this.executions.set(k, fields);
    }
    const pairs = agentExecutionFields(kind, input);
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      if (pairs[i + 1] === "") delete fields[pairs[i]!];
      else fields[pairs[i]!] = pairs[i + 1]!;
    }
    fields.updatedAt = String(now);
    if (kind === "complete" || kind === "fail") fields.completedAt = String(now);
    return { state: parseAgentExecution(agentId, agent.workspaceId, fields)!, ts: now };
  }

  async execution(tenant: string, agentId: string): Promise<AgentExecutionState | undefined> {
    const k = key(tenant, agentId);
    const agent = this.agents.get(k);
    const fields = this.executions.get(k);
    return agent && fields ? parseAgentExecution(agentId, agent.workspaceId, fields) : undefined;
  }
}
