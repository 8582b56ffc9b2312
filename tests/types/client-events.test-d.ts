/**
 * An app without the SDK: a plain socket.io-client socket typed with the event maps that
 * @switchboard/client exports. Checked by `tsc -p tests` (`npm run lint`) against the workspace,
 * and by tests/integration/client-package.test.ts against the packed packages installed in a
 * directory of their own, as an app would install them. It imports only those two packages.
 * Each `@ts-expect-error` fails the check if the line under it compiles (and so if the maps
 * resolved to `any`).
 */
import type { Ack, ClientToServerEvents, Message, PresenceInfo, RoomJoinResult, ServerToClientEvents } from "@switchboard/client";
import { io, type Socket } from "socket.io-client";

export function connect(url: string, token: string): Socket<ServerToClientEvents, ClientToServerEvents> {
  return io(url, { auth: { token, deviceId: "web-1" }, autoConnect: false }) as Socket<ServerToClientEvents, ClientToServerEvents>;
}

export async function commands(socket: Socket<ServerToClientEvents, ClientToServerEvents>): Promise<void> {
  socket.emit("room:join", { room: "math-101", since: "1-0" }, (answer: Ack<RoomJoinResult>) => answer.ok && answer.recovered);
  socket.emit("room:publish", { room: "math-101", data: { text: "hi" }, clientMsgId: "c-1" }, (answer) => (answer.ok ? answer.seq : answer.error.code));
  socket.emit("presence:set", { status: "busy", message: "exam" }, (answer) => answer.ok && answer.changed);
  const page = await socket.emitWithAck("room:history", { room: "math-101", limit: 50 });
  if (page.ok) void page.messages.map((m: Message) => m.id);
  const pong = await socket.timeout(1000).emitWithAck("system:ping", { clientTime: Date.now() });
  if (pong.ok) void pong.serverTime.toFixed();
  else void pong.error.message;

  // @ts-expect-error the protocol has no such command
  socket.emit("room:jion", { room: "math-101" }, () => undefined);
  // @ts-expect-error room:join knows no `sinse`
  socket.emit("room:join", { room: "math-101", sinse: "1-0" }, () => undefined);
  // @ts-expect-error a publish needs its room
  socket.emit("room:publish", { data: { text: "hi" } }, () => undefined);
  // @ts-expect-error presence has no status "asleep"
  socket.emit("presence:set", { status: "asleep" }, () => undefined);
  // @ts-expect-error a ping's serverTime is a number
  socket.emit("system:ping", {}, (answer) => answer.ok && answer.serverTime.startsWith("1"));
  // @ts-expect-error room:leave answers `removed`, not `left`
  socket.emit("room:leave", { room: "math-101" }, (answer) => answer.ok && answer.left);
}

export function events(socket: Socket<ServerToClientEvents, ClientToServerEvents>): void {
  socket.on("session", (session) => session.nodeId.length + session.expiresAt);
  socket.on("room:message", (message) => message.from.userId);
  socket.on("presence:update", (presence: PresenceInfo) => presence.online);
  socket.on("notification", (notification) => notification.id);

  // @ts-expect-error the protocol sends no such event
  socket.on("room:mesage", () => undefined);
  // @ts-expect-error a presence update has no `text`
  socket.on("presence:update", (presence) => presence.text);
  // @ts-expect-error room:message carries a Message, whose `seq` is a number
  socket.on("room:message", (message) => message.seq?.startsWith("1"));
}
