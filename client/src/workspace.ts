/**
 * Workspace and agent subscriptions: joined (subscribed) once, joined again after every reconnect,
 * each rejoin's answer reported as `joined` (`state` for an agent, with its last execution).
 */
import type {
  AgentExecutionCompleteEvent,
  AgentExecutionFailedEvent,
  AgentExecutionStartEvent,
  AgentExecutionUpdateEvent,
  AgentStatus,
  WorkspaceJoinResult,
  WorkspaceUpdateEvent,
  WorkspaceUserEvent,
} from "@switchboard/shared";
import type { Client } from "./client.js";
import type { SwitchboardError } from "./errors.js";
import { Emitter, type EventMap } from "./emitter.js";

export interface WorkspaceEvents {
  joined: (result: WorkspaceJoinResult) => void;
  user_joined: (event: WorkspaceUserEvent) => void;
  user_left: (event: WorkspaceUserEvent) => void;
  update: (event: WorkspaceUpdateEvent) => void;
  error: (error: Error) => void;
}

export interface AgentEvents {
  /** Each (re)subscription's answer: the agent and its last known execution. */
  state: (status: AgentStatus) => void;
  execution_start: (event: AgentExecutionStartEvent) => void;
  execution_update: (event: AgentExecutionUpdateEvent) => void;
  execution_complete: (event: AgentExecutionCompleteEvent) => void;
  execution_failed: (event: AgentExecutionFailedEvent) => void;
  error: (error: Error) => void;
}

/** A subscription kept across reconnects: `enter` joins, `exit` leaves, `restore` joins again. */
abstract class Subscription<E extends EventMap<E>, R> extends Emitter<E> {
  active = false;

  constructor(protected readonly client: Client) {
    super();
  }

  protected abstract enter(): Promise<R>;

  protected start(): Promise<R> {
    return this.client.whenLive(async () => {
      const result = await this.enter();
      this.active = true;
      this.client.subs.add(this);
      return result;
    });
  }

  protected stop(): void {
    this.active = false;
    this.client.subs.delete(this);
  }

  /** @internal */
  restore(): Promise<R> {
    return this.enter().catch((err: SwitchboardError) => {
      if (err.code !== "DISCONNECTED" && err.code !== "TIMEOUT") this.stop();
      this.forward("error", err);
      throw err;
    });
  }

  /** @internal */
  forward(name: string, value: unknown): void {
    (this.emit as unknown as (event: string, value: unknown) => void).call(this, name, value);
  }
}

export class Workspace extends Subscription<WorkspaceEvents, WorkspaceJoinResult> {
  constructor(
    client: Client,
    readonly id: string,
  ) {
    super(client);
  }

  /** Joins (members only) and stays joined; resolves with the workspace and its users. */
  join(): Promise<WorkspaceJoinResult> {
    return this.start();
  }

  async leave(): Promise<void> {
    this.stop();
    await this.client.request("workspace:leave", { workspaceId: this.id });
  }

  protected async enter(): Promise<WorkspaceJoinResult> {
    const { workspace, users } = await this.client.call("workspace:join", { workspaceId: this.id });
    const result = { workspace, users };
    this.emit("joined", result);
    return result;
  }
}

export class Agent extends Subscription<AgentEvents, AgentStatus> {
  constructor(
    client: Client,
    readonly id: string,
  ) {
    super(client);
  }

  /** Follows the agent's executions; resolves with the agent and its last execution. */
  subscribe(): Promise<AgentStatus> {
    return this.start();
  }

  async unsubscribe(): Promise<void> {
    this.stop();
    await this.client.request("agent:unsubscribe", { agentId: this.id });
  }

  protected async enter(): Promise<AgentStatus> {
    const { ok: _ok, ...status } = await this.client.call("agent:subscribe", { agentId: this.id });
    this.emit("state", status as AgentStatus);
    return status as AgentStatus;
  }
}
