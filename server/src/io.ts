/**
 * The node's Socket.IO server and its sockets, typed by the protocol's event maps
 * (@switchboard/shared events.ts): emitting an event the protocol does not have, or a payload of
 * the wrong shape, does not compile. `socket.data` is the session the handshake filled in.
 */
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "@switchboard/shared";
import type { Server, Socket } from "socket.io";

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
