/**
 * The one interface every push provider implements (FCM, APNs, Web Push), and the error and
 * outcome vocabulary the dispatcher and the notification pipeline share.
 */

import type { NotificationPriority, PushPlatform, WebPushSubscription } from "@switchboard/shared";

export { PUSH_PLATFORMS } from "@switchboard/shared";
export type { PushPlatform, WebPushSubscription };

/** A registered push device; `id` is the registration id the server assigned. */
export type PushDevice =
  | { id: string; platform: "fcm" | "apns"; token: string }
  | { id: string; platform: "webpush"; subscription: WebPushSubscription };

export type PushPriority = NotificationPriority;

export interface PushMessage {
  notificationId: string;
  type: string;
  title: string;
  body: string;
  data?: Record<string, unknown>;
  priority: PushPriority;
  /** Seconds the push service may hold the message for an unreachable device (0 = now or never). */
  ttlS: number;
}

/**
 * - `dead`: the token or subscription is gone (remove the device; not a provider failure).
 * - `retryable`: the provider or the network failed transiently (retry with back-off).
 * - `permanent`: this message cannot be delivered as it is (bad payload, rejected credentials).
 */
export type PushErrorKind = "dead" | "retryable" | "permanent";

export class PushError extends Error {
  override readonly name = "PushError";

  constructor(
    readonly kind: PushErrorKind,
    message: string,
    readonly details: {
      platform: PushPlatform;
      /** HTTP status of the provider's answer, when there was one. */
      status?: number;
      /** The provider's own reason code (e.g. UNREGISTERED, BadDeviceToken, ECONNREFUSED). */
      reason?: string;
      /** A Retry-After the provider asked for, in milliseconds. */
      retryAfterMs?: number;
      /** The node refused to send (e.g. an endpoint that is not public): no request was made, so it says nothing of the provider. */
      refused?: boolean;
    },
  ) {
    super(message);
  }

  get platform(): PushPlatform {
    return this.details.platform;
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get reason(): string | undefined {
    return this.details.reason;
  }
}

export interface PushProvider {
  readonly platform: PushPlatform;
  /** Delivers one message to one device; resolves when the provider accepted it, else throws PushError. */
  send(device: PushDevice, message: PushMessage): Promise<void>;
  /** Releases connections, apps and timers; send() fails afterwards. */
  close(): Promise<void>;
}

/** The final result of one dispatch (one device, one message), also the metric's `outcome` label. */
export type PushOutcome = "sent" | "dead" | "failed" | "breaker_open" | "disabled";

/** The enabled providers of a node, by platform; a missing platform is disabled. */
export type PushProviders = Partial<Record<PushPlatform, PushProvider>>;
