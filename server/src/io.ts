/**
 * The node's Socket.IO server and its sockets, typed by the protocol's event maps
 * (@switchboard/shared events.ts): emitting an event the protocol does not have, or a payload of
 * the wrong shape, does not compile. `socket.data` is the session the handshake filled in.
 */
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "@switchboard/shared";
import type { Server, Socket } from "socket.io";

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * A listener for every socket, made once: Socket.IO calls a socket's listeners with the socket as
 * `this`, so `handle` gets it without a closure per socket.
 */
export function socketListener<A extends unknown[]>(handle: (socket: AppSocket, ...args: A) => void): (this: AppSocket, ...args: A) => void {
  return function (this: AppSocket, ...args: A) {
    handle(this, ...args);
  };
}
