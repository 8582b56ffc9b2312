/**
 * Error codes of the protocol and the envelope every command ack and REST error uses.
 * One table maps a code to its HTTP status so sockets and REST can never disagree.
 */
export const ERROR_CODES = [
  "VALIDATION_FAILED",
  "UNAUTHORIZED",
  "TOKEN_EXPIRED",
  "FORBIDDEN",
  "NOT_FOUND",
  "ROOM_FULL",
  "RATE_LIMITED",
  "QUOTA_EXCEEDED",
  "PAYLOAD_TOO_LARGE",
  "CONFLICT",
  "DEVICE_LIMIT",
  "SERVER_FULL",
  "UNAVAILABLE",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes a refused handshake may carry in `connect_error`. */
export const HANDSHAKE_ERROR_CODES = [
  "UNAUTHORIZED",
  "TOKEN_EXPIRED",
  "VALIDATION_FAILED",
  "DEVICE_LIMIT",
  "SERVER_FULL",
  "UNAVAILABLE",
] as const satisfies readonly ErrorCode[];

export type HandshakeErrorCode = (typeof HANDSHAKE_ERROR_CODES)[number];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ROOM_FULL: 409,
  DEVICE_LIMIT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 403,
  INTERNAL: 500,
  SERVER_FULL: 503,
  UNAVAILABLE: 503,
};

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export type AckOk<T extends object = Record<string, never>> = { ok: true } & T;
export interface AckError {
  ok: false;
  error: ErrorBody;
}
export type Ack<T extends object = Record<string, never>> = AckOk<T> | AckError;
export type AckCallback<T extends object = Record<string, never>> = (ack: Ack<T>) => void;

/** A failure that the protocol names. Thrown by services, mapped once to acks and HTTP. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "AppError";
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}
