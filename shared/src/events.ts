/**
 * The typed event maps of the Socket.IO connection, used by nodes, the emitter and clients.
 */
import type { AckCallback, ErrorBody } from "./errors";

export interface Session {
  sessionId: string;
  userId: string;
  deviceId: string;
  nodeId: string;
  tenant?: string;
  /** ms since the epoch, the node's clock. */
  serverTime: number;
}

export interface CommandErrorEvent {
  event: string;
  error: ErrorBody;
}

export interface PingPayload {
  clientTime?: number;
}
export interface PingResult {
  serverTime: number;
  nodeId: string;
  clientTime?: number;
}

export interface ClientToServerEvents {
  "system:ping": (payload: PingPayload, ack: AckCallback<PingResult>) => void;
}

export interface ServerToClientEvents {
  session: (session: Session) => void;
  "command:error": (event: CommandErrorEvent) => void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- nodes talk through the adapter only; no server-side events yet
export interface InterServerEvents {}

/** What a node keeps on each authenticated socket (`socket.data`). */
export interface SocketData {
  userId: string;
  tenant: string;
  deviceId: string;
  sessionId: string;
  name?: string;
  roles: string[];
  /** JWT expiry, seconds since the epoch. */
  tokenExp: number;
}
