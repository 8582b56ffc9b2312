/**
 * The one place where arbitrary failures become protocol errors, for acks and HTTP alike.
 */
import { AppError } from "@switchboard/shared";
import { EngineUnavailableError } from "./engine/types";

const REDIS_UNAVAILABLE = [
  /Stream isn't writeable/,
  /Connection is closed/,
  /Command timed out/,
  /Reached the max retries per request limit/,
  /Failed to refresh slots cache/,
  /None of startup nodes is available/,
  /CLUSTERDOWN/,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/,
  /LOADING/,
];

export function isUnavailableError(err: unknown): boolean {
  if (err instanceof EngineUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  return err.name === "MaxRetriesPerRequestError" || err.name === "ClusterAllFailedError" || REDIS_UNAVAILABLE.some((re) => re.test(err.message));
}

/** Maps any thrown value to an AppError; `internal` is true when it was not an expected failure. */
export function toAppError(err: unknown): { error: AppError; internal: boolean } {
  if (err instanceof AppError) return { error: err, internal: err.code === "INTERNAL" };
  if (isUnavailableError(err)) return { error: new AppError("UNAVAILABLE", "the service is temporarily unavailable; retry shortly"), internal: false };
  return { error: new AppError("INTERNAL", "internal error"), internal: true };
}
