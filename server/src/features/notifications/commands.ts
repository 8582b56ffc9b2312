/**
 * The notification and push commands of the protocol, each a thin call into NotificationService.
 */
import {
  notificationSchemas,
  type Notification,
  type NotificationListPayload,
  type NotificationRefPayload,
  type PushRegisterPayload,
} from "@switchboard/shared";
import { defineCommand, type CommandDefinition } from "../../commands";
import type { NotificationService } from "./service";

export function notificationCommands(notifications: NotificationService): CommandDefinition[] {
  return [
    defineCommand<NotificationRefPayload, object>("notification:ack", notificationSchemas["notification:ack"], async ({ session }, { id }) => {
      await notifications.ack(session, id);
      return {};
    }),
    defineCommand<NotificationRefPayload, object>("notification:read", notificationSchemas["notification:read"], async ({ session }, { id }) => {
      await notifications.read(session, id);
      return {};
    }),
    defineCommand<NotificationListPayload, { notifications: Notification[] }>("notification:list", notificationSchemas["notification:list"], async ({ session }, query) => ({
      notifications: await notifications.list(session, query),
    })),
    defineCommand<PushRegisterPayload, { id: string; created: boolean }>("push:register", notificationSchemas["push:register"], async ({ session }, payload) => {
      const { id, created } = await notifications.registerPush(session, payload);
      return { id, created };
    }),
    defineCommand<NotificationRefPayload, object>("push:unregister", notificationSchemas["push:unregister"], async ({ session }, { id }) => {
      await notifications.unregisterPush(session, id);
      return {};
    }),
  ];
}
