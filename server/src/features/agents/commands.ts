/**
 * The agent commands of the protocol (`agent:subscribe`, `agent:unsubscribe`), each a thin call
 * into AgentService through the pipeline.
 */
import { agentSchemas, type AgentRefPayload, type AgentStatus } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { AgentService } from "./service";

export function agentCommands(agents: AgentService): CommandDefinition[] {
  return [
    defineCommand<AgentRefPayload, AgentStatus>("agent:subscribe", agentSchemas["agent:subscribe"], ({ session, socket }, payload) =>
      agents.subscribe(session, socket, payload.agentId),
    ),
    defineCommand<AgentRefPayload, object>("agent:unsubscribe", agentSchemas["agent:unsubscribe"], async ({ session, socket }, payload) => {
      await agents.unsubscribe(session, socket, payload.agentId);
      return {};
    }),
  ];
}
