/**
 * One write per connection per turn of the event loop. Whatever a node sends a socket in one turn
 * — a Redis connection's commands, a client's acks and the room messages of one batch read from
 * Redis — leaves in one write (writev) instead of a system call each: the socket is corked at its
 * first write of a turn and uncorked after the turn's I/O callbacks (setImmediate). The bytes and
 * their order are unchanged; only when they are handed to the kernel moves, by less than a turn.
 */
import type { Socket } from "node:net";
import type { Server } from "socket.io";

const batched = new WeakSet<Socket>();

export function writeOncePerTurn(socket: Socket): void {
  if (batched.has(socket)) return;
  batched.add(socket);
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return (write as (...a: Parameters<Socket["write"]>) => boolean).apply(this, args);
  } as Socket["write"];
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
  io.engine.on("connection", (socket: { transport: EngineTransport; on(event: "upgrade", listener: (transport: EngineTransport) => void): void }) => {
    batch(socket.transport);
    socket.on("upgrade", batch);
  });
}
