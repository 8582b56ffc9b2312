/**
 * Log lines for refused commands and requests, with a budget per client: a client sending junk
 * gets its first few refusals logged, then one line saying the rest are not, until its window
 * turns. Every refusal is still counted in the command and request metrics, so nothing is lost
 * but the repetition; a flood of junk cannot turn into a flood of log lines.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";

/** Refusal lines one client may cause per window. */
export const REFUSAL_LOG_BUDGET = 10;
export const REFUSAL_LOG_WINDOW_S = 60;

export class RefusalLog {
  private readonly budget = new RateLimiterMemory({ points: REFUSAL_LOG_BUDGET, duration: REFUSAL_LOG_WINDOW_S });

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Logs `message` at info level unless `client` spent its budget; never throws. */
  refused(client: string, event: "command" | "http", message: string, meta: Record<string, unknown>): void {
    this.budget.consume(client).then(
      () => this.logger.info(message, { event, ...meta }),
      (res: unknown) => {
        this.metrics.logLinesSuppressed.inc({ event });
        if (res instanceof RateLimiterRes && res.consumedPoints === REFUSAL_LOG_BUDGET + 1) {
          this.logger.info("further refusals of this client are not logged in this window", {
            event,
            ...meta,
            windowS: REFUSAL_LOG_WINDOW_S,
            resumesInMs: res.msBeforeNext,
          });
        }
      },
    );
  }
}
