/**
 * The workspace commands of the protocol (`workspace:join`, `workspace:leave`), each a thin call
 * into WorkspaceService through the pipeline.
 */
import { workspaceSchemas, type WorkspaceJoinResult, type WorkspaceRefPayload } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { WorkspaceService } from "./service";

export function workspaceCommands(workspaces: WorkspaceService): CommandDefinition[] {
  return [
    defineCommand<WorkspaceRefPayload, WorkspaceJoinResult>("workspace:join", workspaceSchemas["workspace:join"], ({ session, socket }, payload) =>
      workspaces.join(session, socket, payload.workspaceId),
    ),
    defineCommand<WorkspaceRefPayload, object>("workspace:leave", workspaceSchemas["workspace:leave"], async ({ session, socket }, payload) => {
      await workspaces.leave(session, socket, payload.workspaceId);
      return {};
    }),
  ];
}
