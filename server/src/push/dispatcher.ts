/**
 * One push to one device, with the policy around the providers: retries with exponential
 * back-off for retryable failures, one circuit breaker per provider, the outcome metric and a
 * log line. A dead token is an answer, not a failure: it is never retried and never counts
 * toward a breaker. Nor does a send the node refused itself (a Web Push endpoint that is not public).
 */
import { setTimeout as sleep } from "node:timers/promises";
import CircuitBreaker from "opossum";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { PushError, PUSH_PLATFORMS, type PushDevice, type PushMessage, type PushOutcome, type PushPlatform, type PushProviders } from "./types";

export interface BreakerOptions {
  /** Attempts within the rolling window before the breaker may open at all. */
  volumeThreshold: number;
  /** Share of failed attempts (in %) within the window that opens the breaker. */
  errorThresholdPercentage: number;
  /** How long (ms) an open breaker rejects before it lets one trial attempt through. */
  resetTimeout: number;
  /** The rolling window (ms) the counts cover. */
  rollingCountTimeout: number;
  /** An attempt still pending after this long (ms) counts as a failure; false = never. */
  timeout: number | false;
}

/**
 * opossum's defaults open on the first failure; these need at least 20 attempts in a minute,
 * half of them failing, so one bad device (1 + NOTIFY_RETRY_ATTEMPTS attempts) cannot open it.
 */
export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  volumeThreshold: 20,
  errorThresholdPercentage: 50,
  resetTimeout: 30_000,
  rollingCountTimeout: 60_000,
  timeout: 30_000,
};

export type BreakerState = "closed" | "open" | "half_open";

export interface PushDispatcherOptions {
  providers: PushProviders;
  /** `config.notify`: retryAttempts retries after the first attempt, back-off from retryDelayMs. */
  retry: { retryAttempts: number; retryDelayMs: number };
  logger: Logger;
  metrics?: Pick<Metrics, "notifications">;
  breaker?: Partial<BreakerOptions>;
  /** Upper bound of one back-off wait (ms), Retry-After included; default 60 s, at least retryDelayMs. */
  maxRetryDelayMs?: number;
}

interface Result {
  outcome: PushOutcome;
  /** Attempts that reached the provider. */
  attempts: number;
  error?: PushError;
}

type Breaker = CircuitBreaker<[PushDevice, PushMessage], void>;

const isDead = (err: unknown) => err instanceof PushError && err.kind === "dead";
const isRefused = (err: unknown) => err instanceof PushError && err.details.refused === true;

export class PushDispatcher {
  private readonly breakers = new Map<PushPlatform, Breaker>();
  private readonly stop = new AbortController();
  private readonly maxDelayMs: number;
  private closed = false;

  constructor(private readonly options: PushDispatcherOptions) {
    const breakerOptions = { ...DEFAULT_BREAKER_OPTIONS, ...options.breaker };
    this.maxDelayMs = Math.max(options.maxRetryDelayMs ?? 60_000, options.retry.retryDelayMs);
    for (const platform of PUSH_PLATFORMS) {
      const provider = options.providers[platform];
      if (!provider) continue;
      const breaker: Breaker = new CircuitBreaker((device: PushDevice, message: PushMessage) => provider.send(device, message), {
        ...breakerOptions,
        name: `push-${platform}`,
        // a dead token is the provider working correctly; a send the node refused never reached it
        errorFilter: (err: unknown) => isDead(err) || isRefused(err),
      });
      breaker.on("open", () => options.logger.warn("push breaker opened", { event: "push_breaker", platform, state: "open" }));
      breaker.on("halfOpen", () => options.logger.info("push breaker half open", { event: "push_breaker", platform, state: "half_open" }));
      breaker.on("close", () => options.logger.info("push breaker closed", { event: "push_breaker", platform, state: "closed" }));
      this.breakers.set(platform, breaker);
    }
  }

  /** The platforms that have a provider. */
  get platforms(): PushPlatform[] {
    return [...this.breakers.keys()];
  }

  has(platform: PushPlatform): boolean {
    return !this.closed && this.breakers.has(platform);
  }

  breakerState(platform: PushPlatform): BreakerState | undefined {
    const breaker = this.breakers.get(platform);
    if (!breaker) return undefined;
    return breaker.opened ? "open" : breaker.halfOpen ? "half_open" : "closed";
  }

  /** Pushes `message` to `device`; never throws. */
  async send(device: PushDevice, message: PushMessage): Promise<PushOutcome> {
    const started = Date.now();
    const result = await this.dispatch(device, message);
    this.options.metrics?.notifications.inc({ channel: device.platform, outcome: result.outcome });
    const fields = {
      event: "push",
      platform: device.platform,
      deviceId: device.id,
      notificationId: message.notificationId,
      notificationType: message.type,
      outcome: result.outcome,
      attempts: result.attempts,
      durationMs: Date.now() - started,
      ...(result.error ? { errorKind: result.error.kind, reason: result.error.reason, status: result.error.status } : {}),
    };
    if (result.outcome === "failed" || result.outcome === "breaker_open") this.options.logger.warn("push not delivered", fields);
    else if (result.outcome === "dead") this.options.logger.info("push device gone", fields);
    else this.options.logger.debug(result.outcome === "sent" ? "push sent" : "push disabled", fields);
    return result.outcome;
  }

  private async dispatch(device: PushDevice, message: PushMessage): Promise<Result> {
    const breaker = this.breakers.get(device.platform);
    if (!breaker || this.closed) return { outcome: "disabled", attempts: 0 };
    const { retryAttempts, retryDelayMs } = this.options.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await breaker.fire(device, message);
        return { outcome: "sent", attempts: attempt };
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // rejected by the breaker itself: the provider was not called
        if (code === "EOPENBREAKER") return { outcome: "breaker_open", attempts: attempt - 1 };
        if (code === "ESHUTDOWN") return { outcome: "failed", attempts: attempt - 1 };
        const error =
          err instanceof PushError
            ? err
            : new PushError("retryable", err instanceof Error ? err.message : String(err), {
                platform: device.platform,
                reason: typeof code === "string" ? code : "error",
              });
        if (error.kind === "dead") return { outcome: "dead", attempts: attempt, error };
        if (error.kind === "permanent" || attempt > retryAttempts) return { outcome: "failed", attempts: attempt, error };
        const backoff = Math.min(this.maxDelayMs, retryDelayMs * 2 ** (attempt - 1));
        const delay = Math.max(backoff, Math.min(this.maxDelayMs, error.details.retryAfterMs ?? 0));
        this.options.logger.debug("push retry", {
          event: "push_retry",
          platform: device.platform,
          deviceId: device.id,
          notificationId: message.notificationId,
          attempt,
          delayMs: delay,
          reason: error.reason,
          status: error.status,
        });
        try {
          await sleep(delay, undefined, { signal: this.stop.signal });
        } catch {
          return { outcome: "failed", attempts: attempt, error };
        }
      }
    }
  }

  /** Stops retries, shuts the breakers down and closes every provider (apps, sessions, agents). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    for (const breaker of this.breakers.values()) breaker.shutdown();
    const providers = PUSH_PLATFORMS.map((p) => this.options.providers[p]).filter((p) => p !== undefined);
    const results = await Promise.allSettled(providers.map((p) => p.close()));
    results.forEach((r, i) => {
      if (r.status === "rejected") this.options.logger.warn("push provider close failed", { event: "push", platform: providers[i]!.platform, error: String(r.reason) });
    });
  }
}
