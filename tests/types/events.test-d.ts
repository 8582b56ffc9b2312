/**
 * The event maps (shared/src/events.ts) as the compiler enforces them: a node's Socket.IO server
 * and sockets, and a socket.io-client socket typed with the same maps, refuse an event the
 * protocol does not have, a payload field it does not know and an ack of the wrong shape.
 * Checked by `tsc -p tests` (`npm run lint`); nothing here runs. Each `@ts-expect-error` fails
 * the check if the line under it compiles.
 */
import type { AppServer, AppSocket } from "@switchboard/server";
import type { Ack, ClientToServerEvents, Message, PingResult, ServerToClientEvents, TypingEvent } from "@switchboard/shared";
import type { Socket as ClientSocket } from "socket.io-client";

type TypedClient = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

const message: Message = { room: "math-101", id: "1-0", from: { userId: "alice" }, kind: "chat", data: { text: "hi" }, ts: 0, priority: "normal" };

export function serverEmits(io: AppServer, socket: AppSocket): void {
  io.to("math-101").emit("room:message", message);
  io.local.to("math-101").emit("room:position", { room: "math-101", seq: 3, epoch: "e1" });
  io.local.to("math-101").emit("room:position", { room: "math-101", seq: 0 });
  io.local.emit("session:resync", { at: Date.now() });
  socket.emit("session:expired", { code: "TOKEN_EXPIRED", message: "expired", expiredAt: 0 });
  socket.to("math-101").volatile.emit("room:typing", { room: "math-101", userId: "alice", typing: true });

  // @ts-expect-error the protocol has no such event
  io.to("math-101").emit("room:mesage", message);
  // @ts-expect-error the protocol has no such event
  socket.emit("sesion", message);
  // @ts-expect-error a typing event has no `since`
  socket.to("math-101").volatile.emit("room:typing", { room: "math-101", userId: "alice", typing: true, since: 0 });
  // @ts-expect-error a message is not a typing event
  io.to("math-101").emit("room:typing", message);
  // @ts-expect-error a resync says when the subscription came back
  io.local.emit("session:resync", {});
  // @ts-expect-error a position carries the room's seq
  io.local.to("math-101").emit("room:position", { room: "math-101", epoch: "e1" });
  // @ts-expect-error a position is no message: it has no id
  io.local.to("math-101").emit("room:position", { room: "math-101", seq: 3, epoch: "e1", id: "1-0" });
}

export function serverAcks(socket: AppSocket): void {
  socket.on("system:ping", (payload, ack) => ack({ ok: true, serverTime: Date.now(), nodeId: "n1", clientTime: payload.clientTime }));
  socket.on("room:join", (_payload, ack) => ack({ ok: false, error: { code: "NOT_FOUND", message: "no such room" } }));

  // @ts-expect-error serverTime is ms since the epoch, a number
  socket.on("system:ping", (_payload, ack) => ack({ ok: true, serverTime: "now", nodeId: "n1" }));
  // @ts-expect-error room:leave answers whether the user was removed, as `removed`
  socket.on("room:leave", (_payload, ack) => ack({ ok: true, left: true }));
  // @ts-expect-error clients send no such command
  socket.on("room:jion", () => undefined);
}

export async function clientSends(client: TypedClient): Promise<void> {
  client.emit("room:join", { room: "math-101", since: "1-0" }, (answer) => answer.ok && answer.recovered);
  const page = await client.emitWithAck("room:history", { room: "math-101", limit: 50 });
  if (page.ok) void page.messages.map((m) => m.id);

  // @ts-expect-error the protocol has no such command
  client.emit("room:jion", { room: "math-101" }, () => undefined);
  // @ts-expect-error room:join knows no `sinse`
  client.emit("room:join", { room: "math-101", sinse: "1-0" }, () => undefined);
  // @ts-expect-error room:position is sent by nodes only
  client.emit("room:position", { room: "math-101", seq: 3 }, () => undefined);
  // @ts-expect-error the ping's ack carries a PingResult, not a string serverTime
  client.emit("system:ping", {}, (answer: Ack<{ serverTime: string }>) => answer.ok);
  // @ts-expect-error a ping's serverTime is a number
  client.emit("system:ping", {}, (answer: Ack<PingResult>) => answer.ok && answer.serverTime.startsWith("1"));
}

export function clientListens(client: TypedClient): void {
  client.on("room:message", (m) => m.from.userId);
  client.on("room:typing", (event) => event.typing);
  client.on("room:position", (event) => event.seq > 0 && event.epoch?.length);

  // @ts-expect-error the protocol sends no such event
  client.on("room:mesage", () => undefined);
  // @ts-expect-error room:message carries a Message, not a typing event
  client.on("room:message", (event: TypingEvent) => event.typing);
  // @ts-expect-error room:position carries where the room stands, not a Message
  client.on("room:position", (event: Message) => event.id);
}
