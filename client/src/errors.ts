import type { ErrorCode } from "@switchboard/shared";

/**
 * Codes a command or connection may fail with: the protocol's, plus the SDK's own:
 * `QUEUE_OVERFLOW` (dropped from a full offline queue), `DISCONNECTED` (sent, and the connection
 * was lost before an answer, for a command that is not safe to send twice), `TIMEOUT` (no answer in
 * time), `CLOSED` (the client was closed), `NETWORK` (the node could not be reached),
 * `TOKEN_ERROR` (getToken failed).
 */
export type ClientErrorCode = ErrorCode | "QUEUE_OVERFLOW" | "DISCONNECTED" | "TIMEOUT" | "CLOSED" | "NETWORK" | "TOKEN_ERROR";

export class SwitchboardError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "SwitchboardError";
  }
}
