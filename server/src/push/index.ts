/**
 * The push layer of a node: the providers its configuration enables, and the dispatcher that
 * sends through them. A provider whose variables are unset is disabled with one info line; one
 * whose credentials are malformed is disabled with one warning. Neither stops the node.
 */
import type { Config } from "../config";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { ApnsProvider } from "./apns";
import { PushCredentialError } from "./credentials";
import { PushDispatcher, type BreakerOptions } from "./dispatcher";
import { FcmProvider, readServiceAccount } from "./fcm";
import type { PushTransportOptions } from "./transport";
import type { PushPlatform, PushProvider, PushProviders } from "./types";
import { WebPushProvider } from "./webpush";

export * from "./types";
export { PushDispatcher, DEFAULT_BREAKER_OPTIONS, type BreakerOptions, type BreakerState, type PushDispatcherOptions } from "./dispatcher";
export { PushCredentialError } from "./credentials";
export type { PushTransportOptions } from "./transport";
export { FcmProvider, toFcmMessage, fcmData } from "./fcm";
export { ApnsProvider, toApnsNotification } from "./apns";
export { WebPushProvider, webPushPayload, type WebPushOptions } from "./webpush";
export { WebPushEndpointPolicy, isPublicAddress, nonPublicRange, type Resolver } from "./endpoint-guard";

/** The first of `variables` that is unset, if any. */
function firstMissing(values: Record<string, string | undefined>): string | undefined {
  return Object.entries(values).find(([, v]) => v === undefined || v === "")?.[0];
}

/**
 * The providers `config.push` enables. `transport.extraCa` lets in-process tests trust a local
 * CA; a node process trusts a private CA through NODE_EXTRA_CA_CERTS.
 */
export function createPushProviders(config: Config, logger: Logger, transport: PushTransportOptions = {}): PushProviders {
  const providers: PushProviders = {};
  const { push } = config;

  const enable = (platform: PushPlatform, missing: string | undefined, create: () => PushProvider, endpoint: () => string) => {
    if (missing !== undefined) {
      logger.info("push provider disabled", { event: "push_provider", platform, missing });
      return;
    }
    try {
      providers[platform] = create();
      logger.info("push provider enabled", { event: "push_provider", platform, endpoint: endpoint() });
    } catch (err) {
      const variable = err instanceof PushCredentialError ? err.variable : undefined;
      logger.warn("push provider disabled", {
        event: "push_provider",
        platform,
        invalid: variable,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  };

  enable(
    "fcm",
    firstMissing({ FCM_SERVICE_ACCOUNT: push.fcmServiceAccount }),
    () =>
      FcmProvider.create({
        serviceAccount: readServiceAccount(push.fcmServiceAccount!),
        apiUrl: push.fcmApiUrl,
        name: config.nodeId,
        ...transport,
      }),
    () => (push.fcmApiUrl ? new URL(push.fcmApiUrl).origin : "https://fcm.googleapis.com"),
  );

  const { apns } = push;
  enable(
    "apns",
    firstMissing({ APNS_KEY: apns.key, APNS_KEY_ID: apns.keyId, APNS_TEAM_ID: apns.teamId, APNS_TOPIC: apns.topic }),
    () =>
      ApnsProvider.create({
        key: apns.key!,
        keyId: apns.keyId!,
        teamId: apns.teamId!,
        topic: apns.topic!,
        host: apns.host,
        port: apns.port,
        production: apns.production,
        ...transport,
      }),
    () => `${apns.host ?? (apns.production ? "api.push.apple.com" : "api.sandbox.push.apple.com")}:${apns.port ?? 443}`,
  );

  const { vapid } = push;
  enable(
    "webpush",
    firstMissing({ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: vapid.subject }),
    () =>
      WebPushProvider.create({
        vapid: { publicKey: vapid.publicKey!, privateKey: vapid.privateKey!, subject: vapid.subject! },
        allowedHosts: config.webPushAllowedHosts,
        ...transport,
      }),
    () => "subscription endpoints",
  );

  return providers;
}

/** Providers from `config` plus the dispatcher over them; `close()` on it releases both. */
export function createPushDispatcher(
  config: Config,
  deps: { logger: Logger; metrics?: Pick<Metrics, "notifications">; breaker?: Partial<BreakerOptions>; transport?: PushTransportOptions },
): PushDispatcher {
  return new PushDispatcher({
    providers: createPushProviders(config, deps.logger, deps.transport),
    retry: config.notify,
    logger: deps.logger,
    metrics: deps.metrics,
    breaker: deps.breaker,
  });
}
