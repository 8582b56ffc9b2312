/**
 * The REST face of rooms (PROTOCOL §4): the same service, so REST and sockets behave alike.
 */
import {
  historyFields,
  historyPageSchema,
  memberSchema,
  publishFields,
  publishResultSchema,
  roomCreateFields,
  roomId,
  roomInfoSchema,
  userId,
  type HistoryQuery,
  type PublishPayload,
  type RoomCreatePayload,
} from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, SERVICE_ROLES, type Route } from "../../http/routes";
import type { RoomService } from "./service";

interface RoomParams {
  id: string;
}
interface MemberParams extends RoomParams {
  userId: string;
}

const roomParams = Joi.object<RoomParams>({ id: roomId.required() });
const roomAnswer = Joi.object({ room: roomInfoSchema.required() });
const memberAnswer = Joi.object({ room: roomInfoSchema.required(), added: Joi.boolean().required() });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function roomRoutes(rooms: RoomService): Route[] {
  return [
    defineRoute<Record<string, never>, Record<string, never>, RoomCreatePayload>({
      method: "post",
      path: "/v1/rooms",
      auth: "user",
      body: Joi.object(roomCreateFields),
      summary: "Create a room (as room:create)",
      responses: { 201: { description: "The room", body: roomAnswer } },
      errors: ["CONFLICT", "FORBIDDEN", "QUOTA_EXCEEDED", "ROOM_FULL"],
      handler: async ({ principal, body }) => ({ status: 201, body: { room: await rooms.create(actorOf(principal), body) } }),
    }),
    defineRoute<RoomParams>({
      method: "get",
      path: "/v1/rooms/:id",
      auth: "user",
      params: roomParams,
      summary: "A room's info",
      responses: { 200: { description: "The room", body: roomAnswer } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { room: await rooms.info(actorOf(principal), params.id) } }),
    }),
    defineRoute<RoomParams, Record<string, never>, { userId: string; name?: string }>({
      method: "post",
      path: "/v1/rooms/:id/members",
      auth: "user",
      params: roomParams,
      body: Joi.object({ userId: userId.required(), name: Joi.string().max(128) }),
      summary: "Add a member (a service or admin adds anyone; a user only themself, to a public room)",
      responses: {
        201: { description: "Added", body: memberAnswer },
        200: { description: "Already a member (added: false)", body: memberAnswer },
      },
      errors: ["FORBIDDEN", "NOT_FOUND", "ROOM_FULL"],
      handler: async ({ principal, params, body }) => {
        const { room, added } = await rooms.addMember(actorOf(principal), params.id, body.userId, body.name);
        return { status: added ? 201 : 200, body: { room, added } };
      },
    }),
    defineRoute<MemberParams>({
      method: "delete",
      path: "/v1/rooms/:id/members/:userId",
      auth: "user",
      params: Joi.object<MemberParams>({ id: roomId.required(), userId: userId.required() }),
      summary: "Remove a member (the user, the room's creator or a service)",
      responses: { 200: { description: "removed: false when the user was not a member", body: Joi.object({ removed: Joi.boolean().required() }) } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { removed: await rooms.leave(actorOf(principal), params.id, params.userId) } }),
    }),
    defineRoute<RoomParams, Record<string, never>, PublishPayload>({
      method: "post",
      path: "/v1/rooms/:id/messages",
      auth: SERVICE_ROLES,
      params: roomParams,
      body: Joi.object(publishFields),
      summary: "Publish into a room as a service (stored in history, delivered like room:publish)",
      responses: { 202: { description: "Stored and sent (duplicate: true for a clientMsgId seen before)", body: publishResultSchema } },
      errors: ["NOT_FOUND"],
      handler: async ({ principal, params, body }) => ({ status: 202, body: await rooms.publish(actorOf(principal), params.id, body) }),
    }),
    defineRoute<RoomParams, HistoryQuery>({
      method: "get",
      path: "/v1/rooms/:id/messages",
      auth: "user",
      params: roomParams,
      query: Joi.object(historyFields),
      summary: "A page of a room's history",
      responses: { 200: { description: "Messages in id order", body: historyPageSchema } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params, query }) => ({ body: await rooms.history(actorOf(principal), params.id, query) }),
    }),
    defineRoute<RoomParams>({
      method: "get",
      path: "/v1/rooms/:id/presence",
      auth: "user",
      params: roomParams,
      summary: "A room's members with a connected device",
      responses: { 200: { description: "The members online", body: Joi.object({ room: roomId.required(), online: Joi.array().items(memberSchema).required() }) } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: { room: params.id, online: await rooms.members(actorOf(principal), params.id, true) } }),
    }),
  ];
}
