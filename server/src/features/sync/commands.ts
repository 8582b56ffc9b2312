/**
 * The sync commands (PROTOCOL §3 "Multi-device state sync"): a socket reads and writes its own
 * user's documents, as its device.
 */
import { syncSchemas, type SyncDocument, type SyncPullPayload, type SyncWrite } from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { SyncService } from "./service";

export function syncCommands(sync: SyncService): CommandDefinition[] {
  return [
    defineCommand<SyncWrite, SyncDocument>("sync:push", syncSchemas["sync:push"], ({ session, socket }, { key, ...write }) =>
      sync.push(session, session.userId, key, write, { deviceId: session.deviceId, socketId: socket.id }),
    ),
    defineCommand<SyncPullPayload, SyncDocument>("sync:pull", syncSchemas["sync:pull"], ({ session }, { key }) => sync.pull(session, session.userId, key)),
  ];
}
