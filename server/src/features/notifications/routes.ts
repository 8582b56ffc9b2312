/**
 * The REST face of notifications (PROTOCOL §4): services notify; users read their own inbox and
 * manage their own push devices.
 */
import {
  emptySchema,
  notificationId,
  notificationSchema,
  notificationSchemas,
  notifyResultSchema,
  notifyRequest,
  pushRegisterFields,
  type NotificationListPayload,
  type NotifyRequest,
  type PushRegisterPayload,
} from "@switchboard/shared";
import Joi from "joi";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { NotificationService } from "./service";

interface IdParams {
  id: string;
}

const actorOf = (principal: Principal | undefined) => principal!;
const idParams = Joi.object<IdParams>({ id: notificationId.required() });
const pushDeviceAnswer = Joi.object({ id: Joi.string().required() });

export function notificationRoutes(notifications: NotificationService): Route[] {
  return [
    defineRoute<Record<string, never>, Record<string, never>, NotifyRequest>({
      method: "post",
      path: "/v1/notify",
      auth: SERVICE_ROLES,
      body: notifyRequest,
      summary: "Notify a user of the token's tenant: on their sockets, else by push, and in their inbox",
      responses: { 202: { description: "Queued and in the inbox", body: notifyResultSchema } },
      handler: async ({ principal, body }) => ({ status: 202, body: await notifications.notify(actorOf(principal), body) }),
    }),
    defineRoute<Record<string, never>, NotificationListPayload>({
      method: "get",
      path: "/v1/notifications",
      auth: "user",
      query: notificationSchemas["notification:list"],
      summary: "The caller's inbox, newest first (as notification:list)",
      responses: { 200: { description: "The notifications", body: Joi.object({ notifications: Joi.array().items(notificationSchema).required() }) } },
      handler: async ({ principal, query }) => ({ body: { notifications: await notifications.list(actorOf(principal), query) } }),
    }),
    defineRoute<IdParams>({
      method: "post",
      path: "/v1/notifications/:id/read",
      auth: "user",
      params: idParams,
      summary: "Mark a notification of the caller read",
      responses: { 200: { description: "Read", body: emptySchema } },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, params }) => {
        await notifications.read(actorOf(principal), params.id);
        return { body: {} };
      },
    }),
    defineRoute<Record<string, never>, Record<string, never>, PushRegisterPayload>({
      method: "post",
      path: "/v1/push/devices",
      auth: "user",
      body: Joi.object(pushRegisterFields),
      summary: "Register a push device of the caller (body as push:register)",
      responses: {
        201: { description: "Registered", body: pushDeviceAnswer },
        200: { description: "Already registered", body: pushDeviceAnswer },
      },
      handler: async ({ principal, body }) => {
        const { id, created } = await notifications.registerPush(actorOf(principal), body);
        return { status: created ? 201 : 200, body: { id } };
      },
    }),
    defineRoute<IdParams>({
      method: "delete",
      path: "/v1/push/devices/:id",
      auth: "user",
      params: Joi.object<IdParams>({ id: notificationSchemas["push:unregister"].extract("id") as Joi.StringSchema }),
      summary: "Remove a push device of the caller",
      responses: { 200: { description: "Removed (or not known)", body: emptySchema } },
      handler: async ({ principal, params }) => {
        await notifications.unregisterPush(actorOf(principal), params.id);
        return { body: {} };
      },
    }),
  ];
}
