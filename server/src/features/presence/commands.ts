/**
 * The presence commands of the protocol, each a thin call into PresenceService through the pipeline.
 */
import { presenceSchemas, type PresenceMap, type PresenceSetPayload, type PresenceUsersPayload } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { PresenceService } from "./service";

export function presenceCommands(presence: PresenceService): CommandDefinition[] {
  return [
    defineCommand<PresenceSetPayload, { changed: boolean }>("presence:set", presenceSchemas["presence:set"], async ({ session }, payload) => ({
      changed: await presence.set(session, payload.status, payload.message),
    })),
    defineCommand<PresenceUsersPayload, PresenceMap>("presence:get", presenceSchemas["presence:get"], ({ session }, payload) => presence.get(session, payload.userIds)),
    defineCommand<PresenceUsersPayload, PresenceMap>("presence:watch", presenceSchemas["presence:watch"], ({ session, socket }, payload) =>
      presence.watch(session, socket, payload.userIds),
    ),
    defineCommand<PresenceUsersPayload, object>("presence:unwatch", presenceSchemas["presence:unwatch"], async ({ session, socket }, payload) => {
      await presence.unwatch(session, socket, payload.userIds);
      return {};
    }),
  ];
}
