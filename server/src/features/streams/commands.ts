/**
 * The stream commands (`stream:subscribe`, `stream:unsubscribe`), each a thin call into
 * StreamService through the pipeline.
 */
import { streamSchemas, type StreamRefPayload, type StreamSubscribePayload, type StreamView } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { StreamService } from "./service";

export function streamCommands(streams: StreamService): CommandDefinition[] {
  return [
    defineCommand<StreamSubscribePayload, StreamView>("stream:subscribe", streamSchemas["stream:subscribe"], ({ session, socket }, { name, window }) =>
      streams.subscribe(session, socket, name, window),
    ),
    defineCommand<StreamRefPayload, object>("stream:unsubscribe", streamSchemas["stream:unsubscribe"], async ({ session, socket }, { name }) => {
      await streams.unsubscribe(session, socket, name);
      return {};
    }),
  ];
}
