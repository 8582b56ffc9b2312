/**
 * APNs through @parse/node-apn (HTTP/2, token auth with an ES256 .p8 key), one Provider (one
 * HTTP/2 session) per provider instance. APNS_HOST/APNS_PORT become the Provider's
 * `address`/`port`, so a proxy or a local HTTP/2 endpoint can stand in for Apple's servers.
 *
 * node-apn's own retries (408/429/5xx, up to 3 times) are turned off (`connectionRetryLimit: 0`)
 * so that the dispatcher's NOTIFY_RETRY_* policy is the only one and attempts are countable.
 */
import { createPrivateKey } from "node:crypto";
import { Notification, Provider, type ProviderOptions, type ResponseFailure } from "@parse/node-apn";
import { isPem, PushCredentialError, readCredential } from "./credentials";
import { DEFAULT_REQUEST_TIMEOUT_MS, trustedCa, type PushTransportOptions } from "./transport";
import { PushError, type PushDevice, type PushErrorKind, type PushMessage, type PushProvider } from "./types";

export interface ApnsOptions extends PushTransportOptions {
  /** APNS_KEY: path to the .p8 key or its PEM text. */
  key: string;
  keyId: string;
  teamId: string;
  /** APNS_TOPIC: the app's bundle id. */
  topic: string;
  host?: string;
  port?: number;
  production: boolean;
}

/** APNS_KEY -> PEM text of an EC P-256 private key (what APNs token auth signs with). */
export function readApnsKey(value: string): string {
  const variable = "APNS_KEY";
  let pem = readCredential(variable, value, isPem);
  // a PEM passed through an environment file often has its line breaks escaped
  if (!pem.includes("\n") && pem.includes("\\n")) pem = pem.replace(/\\n/g, "\n");
  let curve: string | undefined;
  try {
    const key = createPrivateKey(pem);
    curve = key.asymmetricKeyType === "ec" ? key.asymmetricKeyDetails?.namedCurve : undefined;
  } catch {
    throw new PushCredentialError(variable, "is not a readable private key (expected the .p8 PEM)");
  }
  if (curve !== "prime256v1") throw new PushCredentialError(variable, "is not an EC P-256 key (APNs signs tokens with ES256)");
  return pem;
}

/** APNs answers that mean the token will never work again. */
const DEAD_REASONS = new Set(["BadDeviceToken", "Unregistered"]);

export function classifyApnsFailure(failure: ResponseFailure): PushError {
  const status = typeof failure.status === "number" ? failure.status : Number(failure.status) || undefined;
  const reason = failure.response?.reason ?? failure.error?.message;
  let kind: PushErrorKind;
  if (status === 410 || (status === 400 && reason !== undefined && DEAD_REASONS.has(reason))) kind = "dead";
  else if (status === undefined || status === 408 || status === 429 || status >= 500) kind = "retryable";
  // node-apn has regenerated its token already; the next attempt carries the new one
  else if (status === 403 && reason === "ExpiredProviderToken") kind = "retryable";
  else kind = "permanent";
  return new PushError(kind, `APNs send failed: ${status ?? "no answer"} ${reason ?? ""}`.trim(), {
    platform: "apns",
    ...(status !== undefined ? { status } : {}),
    ...(reason !== undefined ? { reason } : {}),
  });
}

export function toApnsNotification(topic: string, message: PushMessage, now = Date.now()): Notification {
  const note = new Notification();
  note.topic = topic;
  note.pushType = "alert";
  note.priority = message.priority === "high" || message.priority === "urgent" ? 10 : 5;
  note.expiry = message.ttlS <= 0 ? 0 : Math.floor(now / 1000) + Math.floor(message.ttlS);
  // one notification pushed twice (e.g. a retry whose first answer was lost) shows once
  if (Buffer.byteLength(message.notificationId) <= 64) note.collapseId = message.notificationId;
  note.payload = { notificationId: message.notificationId, type: message.type, ...(message.data !== undefined ? { data: message.data } : {}) };
  note.alert = { title: message.title, body: message.body };
  return note;
}

export class ApnsProvider implements PushProvider {
  readonly platform = "apns" as const;
  private closed = false;

  private constructor(
    private readonly provider: Provider,
    private readonly topic: string,
  ) {}

  /** Throws PushCredentialError when the key cannot sign a token. */
  static create(options: ApnsOptions): ApnsProvider {
    const key = readApnsKey(options.key);
    const providerOptions: ProviderOptions = {
      token: { key, keyId: options.keyId, teamId: options.teamId },
      production: options.production,
      connectionRetryLimit: 0,
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    };
    if (options.host !== undefined) providerOptions.address = options.host;
    if (options.port !== undefined) providerOptions.port = options.port;
    const ca = trustedCa(options);
    if (ca) providerOptions.ca = ca;
    let provider: Provider;
    try {
      // signs the first token at once, so a key it cannot use fails here
      provider = new Provider(providerOptions);
    } catch (err) {
      throw new PushCredentialError("APNS_KEY", `cannot sign an APNs token (${err instanceof Error ? err.message : String(err)})`);
    }
    return new ApnsProvider(provider, options.topic);
  }

  async send(device: PushDevice, message: PushMessage): Promise<void> {
    if (this.closed) throw new PushError("retryable", "APNs provider is closed", { platform: "apns", reason: "closed" });
    if (device.platform !== "apns") throw new PushError("permanent", `not an APNs device: ${device.platform}`, { platform: "apns", reason: "wrong_platform" });
    let result: Awaited<ReturnType<Provider["send"]>>;
    try {
      result = await this.provider.send(toApnsNotification(this.topic, message), device.token);
    } catch (err) {
      throw new PushError("retryable", "APNs send failed", { platform: "apns", reason: err instanceof Error ? err.message : "error" });
    }
    const failure = result.failed[0];
    if (failure) throw classifyApnsFailure(failure);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.provider.shutdown();
  }
}
