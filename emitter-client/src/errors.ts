/**
 * Errors of the emitter: the protocol's codes (VALIDATION_FAILED, PAYLOAD_TOO_LARGE, FORBIDDEN,
 * NOT_FOUND), thrown before anything is sent.
 */
import { AppError, isJsonValue, jsonBytes, PAYLOAD_OPTIONS, type ErrorCode } from "@switchboard/shared";
import type Joi from "joi";

export class EmitterError extends AppError {
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(code, message, details);
    this.name = "EmitterError";
  }
}

/** Checks `value` against `schema` (unknown keys refused, nothing converted); throws VALIDATION_FAILED naming `what`. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, what: string): T {
  const { value: out, error } = schema.validate(value, PAYLOAD_OPTIONS);
  if (error) {
    throw new EmitterError(
      "VALIDATION_FAILED",
      `${what}: ${error.details.map((d) => d.message).join("; ")}`,
      error.details.map((d) => ({ path: d.path.join("."), message: d.message, type: d.type })),
    );
  }
  return out as T;
}

/** Payloads are JSON values of at most `limit` bytes, as the nodes accept them. */
export function checkPayload(value: unknown, limit: number, what: string): void {
  if (!isJsonValue(value)) {
    throw new EmitterError("VALIDATION_FAILED", `${what}: the payload must be JSON (plain objects, arrays, strings, finite numbers, booleans, null)`);
  }
  const size = jsonBytes(value);
  if (size > limit) throw new EmitterError("PAYLOAD_TOO_LARGE", `${what}: the payload is ${size} bytes; the limit is ${limit}`, { size, limit });
}
