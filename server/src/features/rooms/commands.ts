/**
 * The room commands of the protocol, each a thin call into RoomService through the pipeline.
 */
import {
  AppError,
  CURSOR_MAX_BYTES,
  roomSchemas,
  type HistoryPage,
  type Member,
  type MessageReadPayload,
  type PublishResult,
  type RoomCreatePayload,
  type RoomCursorPayload,
  type RoomHistoryPayload,
  type RoomInfo,
  type RoomJoinPayload,
  type RoomJoinResult,
  type RoomPublishPayload,
  type RoomRefPayload,
  type RoomTypingPayload,
  type VolatileResult,
  assertNotReserved,
} from "@switchboard/shared";
import type { Actor } from "../../auth/actor";
import { defineCommand, type CommandContext, type CommandDefinition } from "../../commands";
import { SocketThrottle } from "../socket-throttle";
import type { RoomService } from "./service";

/** Typing updates of one state per room at most this often per socket. */
export const TYPING_INTERVAL_MS = 1000;
/** Cursor updates per room at most this often per socket (20/s). */
export const CURSOR_INTERVAL_MS = 50;

const actorOf = ({ session }: CommandContext): Actor => session;

export function roomCommands(rooms: RoomService): CommandDefinition[] {
  const typingThrottle = new SocketThrottle(TYPING_INTERVAL_MS);
  const cursorThrottle = new SocketThrottle(CURSOR_INTERVAL_MS);

  /** Volatile events go only to rooms this socket joined; checked locally, no store round trip. */
  const joinedRoom = (ctx: CommandContext, roomId: string): string => {
    assertNotReserved(roomId);
    const socketRoom = rooms.socketRoom(actorOf(ctx), roomId);
    if (!ctx.socket.rooms.has(socketRoom)) throw new AppError("FORBIDDEN", `join room ${roomId} first`);
    return socketRoom;
  };

  return [
    defineCommand<RoomCreatePayload, { room: RoomInfo }>("room:create", roomSchemas["room:create"], async (ctx, payload) => ({
      room: await rooms.create(actorOf(ctx), payload),
    })),
    defineCommand<RoomJoinPayload, RoomJoinResult>("room:join", roomSchemas["room:join"], (ctx, payload) =>
      rooms.join(actorOf(ctx), payload.room, payload.since, ctx.socket),
    ),
    defineCommand<RoomRefPayload, { removed: boolean }>("room:leave", roomSchemas["room:leave"], async (ctx, payload) => {
      const removed = await rooms.leave(actorOf(ctx), payload.room);
      void ctx.socket.leave(rooms.socketRoom(actorOf(ctx), payload.room));
      return { removed };
    }),
    defineCommand<RoomPublishPayload, PublishResult>("room:publish", roomSchemas["room:publish"], (ctx, { room, ...message }) =>
      rooms.publish(actorOf(ctx), room, message),
    ),
    defineCommand<RoomHistoryPayload, HistoryPage>("room:history", roomSchemas["room:history"], (ctx, { room, ...query }) =>
      rooms.history(actorOf(ctx), room, query),
    ),
    defineCommand<RoomRefPayload, { members: Member[] }>("room:members", roomSchemas["room:members"], async (ctx, payload) => ({
      members: await rooms.members(actorOf(ctx), payload.room),
    })),
    defineCommand<RoomTypingPayload, VolatileResult>("room:typing", roomSchemas["room:typing"], (ctx, payload) => {
      const socketRoom = joinedRoom(ctx, payload.room);
      if (!typingThrottle.allow(ctx.socket, socketRoom, payload.typing)) return { throttled: true };
      ctx.socket.to(socketRoom).volatile.emit("room:typing", { room: payload.room, userId: ctx.session.userId, typing: payload.typing });
      return {};
    }),
    defineCommand<RoomCursorPayload, VolatileResult>("room:cursor", roomSchemas["room:cursor"], (ctx, payload) => {
      const size = Buffer.byteLength(JSON.stringify(payload.position));
      if (size > CURSOR_MAX_BYTES) {
        throw new AppError("PAYLOAD_TOO_LARGE", `a cursor position is at most ${CURSOR_MAX_BYTES} bytes`, { size, limit: CURSOR_MAX_BYTES });
      }
      const socketRoom = joinedRoom(ctx, payload.room);
      if (!cursorThrottle.allow(ctx.socket, socketRoom)) return { throttled: true };
      const { userId, deviceId } = ctx.session;
      ctx.socket.to(socketRoom).volatile.emit("room:cursor", { room: payload.room, userId, deviceId, position: payload.position });
      return {};
    }),
    defineCommand<MessageReadPayload, object>("message:read", roomSchemas["message:read"], async (ctx, payload) => {
      await rooms.read(actorOf(ctx), payload.room, payload.id);
      return {};
    }),
  ];
}
