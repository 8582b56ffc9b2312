/**
 * The REST face of sync (PROTOCOL §4 `/v1/sync/:userId/:key`): backends push and read a user's
 * documents; a user may use it for their own.
 */
import { deviceId, syncDocumentSchema, syncKey, syncWriteFields, userId, type SyncDocument } from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, type Route } from "../../http/routes";
import type { SyncService, SyncWriteInput } from "./service";

/** The device a REST push writes as when the body names none. */
export const REST_DEVICE_ID = "service";

interface SyncParams {
  userId: string;
  key: string;
}

type SyncPushBody = SyncWriteInput & { deviceId?: string };

const syncParams = Joi.object<SyncParams>({ userId: userId.required(), key: syncKey.required() });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function syncRoutes(sync: SyncService): Route[] {
  return [
    defineRoute<SyncParams, Record<string, never>, SyncPushBody>({
      method: "post",
      path: "/v1/sync/:userId/:key",
      auth: "user",
      params: syncParams,
      body: Joi.object({ ...syncWriteFields, deviceId }),
      summary: "Push a synced document of a user (as sync:push, made as deviceId, default service)",
      responses: { 200: { description: "The document after the write", body: syncDocumentSchema } },
      errors: ["FORBIDDEN"],
      handler: async ({ principal, params, body }): Promise<{ body: SyncDocument }> => {
        const { deviceId: device, ...write } = body;
        return { body: await sync.push(actorOf(principal), params.userId, params.key, write, { deviceId: device ?? REST_DEVICE_ID }) };
      },
    }),
    defineRoute<SyncParams>({
      method: "get",
      path: "/v1/sync/:userId/:key",
      auth: "user",
      params: syncParams,
      summary: "Read a synced document of a user (the user, or a service or admin of the tenant)",
      responses: { 200: { description: "The document", body: syncDocumentSchema } },
      errors: ["FORBIDDEN"],
      handler: async ({ principal, params }) => ({ body: await sync.pull(actorOf(principal), params.userId, params.key) }),
    }),
  ];
}
