/**
 * Errors of the emitter: the protocol's codes (VALIDATION_FAILED, PAYLOAD_TOO_LARGE, FORBIDDEN,
 * NOT_FOUND), thrown before anything is sent.
 */
import { AppError, isJsonValue, PAYLOAD_OPTIONS, validateInput, type ErrorCode } from "@switchboard/shared";
import Joi from "joi";

export class EmitterError extends AppError {
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(code, message, details);
    this.name = "EmitterError";
  }
}

/** Throws a refusal of the shared validation or of a store as the emitter's own. */
export function rethrow(err: unknown): never {
  throw err instanceof AppError && !(err instanceof EmitterError) ? new EmitterError(err.code, err.message, err.details) : err;
}

/** Checks `value` against `schema` as the nodes check their input (unknown keys refused, nothing converted); throws VALIDATION_FAILED naming `what`. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, what: string, maxBytes?: number): T {
  try {
    return validateInput(schema, value, PAYLOAD_OPTIONS, { what, maxBytes });
  } catch (err) {
    rethrow(err);
  }
}

const anything = Joi.any();

/** Payloads are JSON values of at most `limit` bytes within the nodes' nesting and entry bounds, as the nodes accept them. */
export function checkPayload(value: unknown, limit: number, what: string): void {
  validate(anything, value, what, limit);
  if (!isJsonValue(value)) {
    throw new EmitterError("VALIDATION_FAILED", `${what}: the payload must be JSON (plain objects, arrays, strings, finite numbers, booleans, null)`);
  }
}
