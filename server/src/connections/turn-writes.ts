/**
 * One write per connection per turn of the event loop. Whatever a node sends a socket in one turn
 * — a Redis connection's commands, a client's acks and the room messages of one batch read from
 * Redis — leaves in one write (writev) instead of a system call each: the socket is corked at its
 * first write of a turn and uncorked after the turn's I/O callbacks (setImmediate). The bytes and
 * their order are unchanged; only when they are handed to the kernel moves, by less than a turn.
 */
import type { Socket } from "node:net";
import type { Server } from "socket.io";

/** The sockets corked in this turn, uncorked together after its I/O callbacks. */
const corked = new Set<Socket>();

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/** A socket's write, corking it at its first write of a turn: one function for every socket, no closure each. */
function writeInTurn(this: Socket, ...args: Parameters<Socket["write"]>): boolean {
  if (!corked.has(this)) {
    if (corked.size === 0) setImmediate(uncorkAll);
    corked.add(this);
    this.cork();
  }
  return (Object.getPrototypeOf(this) as Socket).write.apply(this, args);
}

/** Batches `socket`'s writes per turn (a socket whose `write` something else replaced is left as it is). */
export function writeOncePerTurn(socket: Socket): void {
  if (!Object.prototype.hasOwnProperty.call(socket, "write")) socket.write = writeInTurn as Socket["write"];
}

/** An engine.io transport; over WebSocket, `socket` is the `ws` connection on its TCP socket. */
interface EngineTransport {
  name: string;
  socket?: { _socket?: Socket };
}

/**
 * Batches the writes of every client connected over WebSocket, from the start or after upgrading
 * from long-polling (whose HTTP responses are written once each already). Engine.io sends a
 * socket's packets one frame and one write at a time; a client in busy rooms gets several per
 * turn when a batch of messages arrives from Redis.
 */
export function writeClientsOncePerTurn(io: Server): void {
  const batch = (transport: EngineTransport) => {
    const tcp = transport.name === "websocket" ? transport.socket?._socket : undefined;
    if (tcp) writeOncePerTurn(tcp);
  };
  io.engine.on("connection", (socket: { transport: EngineTransport; once(event: "upgrade", listener: (transport: EngineTransport) => void): void }) => {
    // Only a long-polling client upgrades (once); one on WebSocket from the start keeps no listener.
    if (socket.transport.name === "websocket") batch(socket.transport);
    else socket.once("upgrade", batch);
  });
}
