/**
 * Agents: the registry (agent -> workspace, owner), who may follow an agent (its owner and the
 * members of its workspace), and its executions. Backend services report executions through the
 * emitter (or REST); each event is recorded as the agent's last known state and sent to the
 * agent's room, so a late subscriber starts from the state and continues with the events.
 */
import {
  AGENT_EVENT_NAMES,
  AppError,
  agentExecutionEvent,
  agentRoom,
  tenantRoom,
  type AgentEventInput,
  type AgentEventKind,
  type AgentExecutionState,
  type AgentInfo,
  type AgentRegisterPayload,
  type AgentStatus,
} from "@switchboard/shared";
import { isPrivileged, requirePrivileged, type Actor } from "../../auth/actor";
import { subscribe } from "../../connections/subscriptions";
import type { Engine } from "../../engine";
import type { AppServer, AppSocket } from "../../io";

/** The wire name of an execution event (`agent:execution_start`, …). */
type AgentEventName = (typeof AGENT_EVENT_NAMES)[AgentEventKind];

export interface AgentServiceDeps {
  engine: Engine;
  io: AppServer;
  /** Subscriptions one socket may hold (MAX_SUBSCRIPTIONS_PER_SOCKET). */
  maxSubscriptionsPerSocket: number;
}

export class AgentService {
  constructor(private readonly deps: AgentServiceDeps) {}

  /** The Socket.IO room that carries an agent's execution events. */
  socketRoom(tenant: string, agentId: string): string {
    return tenantRoom(tenant, agentRoom(agentId));
  }

  /** Registers an agent in an existing workspace, or updates its registration (services and admins). */
  async register(actor: Actor, input: AgentRegisterPayload): Promise<{ agent: AgentInfo; created: boolean }> {
    requirePrivileged(actor, "register agents");
    const { engine } = this.deps;
    if (!(await engine.workspaces.get(actor.tenant, input.workspaceId))) throw new AppError("NOT_FOUND", `workspace ${input.workspaceId} does not exist`);
    const { id, ...registration } = input;
    return engine.agents.register(actor.tenant, id, registration);
  }

  async info(actor: Actor, agentId: string): Promise<AgentInfo> {
    return this.visible(actor, agentId);
  }

  /** The agent and its last known execution. */
  async status(actor: Actor, agentId: string): Promise<AgentStatus> {
    const agent = await this.visible(actor, agentId);
    return withExecution(agent, await this.deps.engine.agents.execution(actor.tenant, agentId));
  }

  /**
   * Subscribes the socket to the agent's events, then answers the current state: an event that
   * comes after the state was read is delivered, one that came before is in the state.
   */
  async subscribe(actor: Actor, socket: AppSocket, agentId: string): Promise<AgentStatus> {
    const agent = await this.visible(actor, agentId);
    await subscribe(socket, this.socketRoom(actor.tenant, agentId), this.deps.maxSubscriptionsPerSocket);
    return withExecution(agent, await this.deps.engine.agents.execution(actor.tenant, agentId));
  }

  async unsubscribe(actor: Actor, socket: AppSocket, agentId: string): Promise<void> {
    await socket.leave(this.socketRoom(actor.tenant, agentId));
  }

  /** Records an execution event and sends it to the agent's subscribers (services and admins). */
  async report<K extends AgentEventKind>(actor: Actor, agentId: string, kind: K, input: AgentEventInput[K]): Promise<{ execution: AgentExecutionState }> {
    requirePrivileged(actor, "report agent executions");
    const recorded = await this.deps.engine.agents.record(actor.tenant, agentId, kind, input);
    if (!recorded) throw notFound(agentId);
    // Named as one of the four events rather than by K, so that emit can check it against the event maps.
    const event: AgentEventName = AGENT_EVENT_NAMES[kind];
    this.deps.io.to(this.socketRoom(actor.tenant, agentId)).emit(event, agentExecutionEvent(kind, recorded.state, recorded.ts));
    return { execution: recorded.state };
  }

  /** Registered in the actor's tenant, and the actor owns it, is a member of its workspace, or is privileged. */
  private async visible(actor: Actor, agentId: string): Promise<AgentInfo> {
    const { engine } = this.deps;
    const agent = await engine.agents.get(actor.tenant, agentId);
    if (!agent) throw notFound(agentId);
    if (isPrivileged(actor) || agent.ownerId === actor.userId) return agent;
    if (await engine.workspaces.isMember(actor.tenant, agent.workspaceId, actor.userId)) return agent;
    throw new AppError("FORBIDDEN", `only the owner of agent ${agentId} and members of its workspace may follow it`);
  }
}

const notFound = (agentId: string) => new AppError("NOT_FOUND", `agent ${agentId} is not registered`);

function withExecution(agent: AgentInfo, execution: AgentExecutionState | undefined): AgentStatus {
  return execution ? { agent, execution } : { agent };
}
