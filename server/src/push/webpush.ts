/**
 * Web Push (RFC 8030) through web-push: aes128gcm-encrypted payloads (RFC 8291) signed with
 * VAPID (RFC 8292). VAPID details are passed per request, never set globally, so several
 * providers (several nodes in one process) never share state; each has its own keep-alive agent.
 * Endpoints are user-supplied URLs: the agent only connects to public addresses (endpoint-guard).
 */
import { createECDH, createHash } from "node:crypto";
import https from "node:https";
import webpush from "web-push";
import { PushCredentialError } from "./credentials";
import { EndpointRefusedError, WebPushEndpointPolicy, type Resolver } from "./endpoint-guard";
import { DEFAULT_REQUEST_TIMEOUT_MS, trustedCa, type PushTransportOptions } from "./transport";
import { PushError, type PushDevice, type PushErrorKind, type PushMessage, type PushProvider } from "./types";

export interface VapidDetails {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface WebPushOptions extends PushTransportOptions {
  vapid: VapidDetails;
  /** WEBPUSH_ALLOWED_HOSTS: endpoint hosts exempt from the public-address rule. */
  allowedHosts?: readonly string[];
  /** How endpoint host names are resolved; the system resolver (dns.lookup) by default. */
  resolve?: Resolver;
}

const unpad = (value: string) => value.replace(/=+$/, "");

/**
 * A P-256 private key is a 32-byte number. Tools that export it as a plain big-endian integer
 * (Node's `ECDH#getPrivateKey`, for one) drop its leading zero bytes, about one key in 256:
 * those are the same key, put back to 32 bytes, as web-push's own generator does.
 */
function privateKeyBytes(encoded: string): Buffer {
  const key = Buffer.from(encoded, "base64url");
  return key.length >= 30 && key.length < 32 ? Buffer.concat([Buffer.alloc(32 - key.length), key]) : key;
}

/** Checks the VAPID keys (lengths, and that the private key is the public key's) and the subject. */
export function checkVapid(details: VapidDetails): VapidDetails {
  const publicKey = Buffer.from(unpad(details.publicKey), "base64url");
  const privateKey = privateKeyBytes(unpad(details.privateKey));
  const vapid = { subject: details.subject, publicKey: unpad(details.publicKey), privateKey: privateKey.toString("base64url") };
  if (publicKey.length !== 65 || publicKey[0] !== 4) throw new PushCredentialError("VAPID_PUBLIC_KEY", "is not an uncompressed P-256 public key (65 bytes)");
  if (privateKey.length !== 32) throw new PushCredentialError("VAPID_PRIVATE_KEY", "is not a P-256 private key (32 bytes)");
  let derived: Buffer;
  try {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(privateKey);
    derived = ecdh.getPublicKey();
  } catch {
    throw new PushCredentialError("VAPID_PRIVATE_KEY", "is not a valid P-256 private key");
  }
  if (!derived.equals(publicKey)) throw new PushCredentialError("VAPID_PRIVATE_KEY", "does not belong to VAPID_PUBLIC_KEY");
  try {
    webpush.getVapidHeaders("https://push.example.com", vapid.subject, vapid.publicKey, vapid.privateKey, "aes128gcm");
  } catch (err) {
    throw new PushCredentialError("VAPID_SUBJECT", `is not usable (${err instanceof Error ? err.message : String(err)})`);
  }
  return vapid;
}

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

/** A Topic is at most 32 URL-safe base64 characters: longer ids (UUIDs) are hashed into one. */
export function webPushTopic(notificationId: string): string {
  return TOPIC.test(notificationId) ? notificationId : createHash("sha256").update(notificationId).digest("base64url").slice(0, 32);
}
const URGENCY: Record<PushMessage["priority"], webpush.Urgency> = { low: "low", normal: "normal", high: "high", urgent: "high" };

/** What the service worker receives (decrypted). */
export function webPushPayload(message: PushMessage): string {
  return JSON.stringify({
    notificationId: message.notificationId,
    type: message.type,
    title: message.title,
    body: message.body,
    data: message.data ?? {},
  });
}

function retryAfterMs(headers: Record<string, string | string[] | undefined> | undefined): number | undefined {
  const value = headers?.["retry-after"];
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function classifyWebPushError(err: unknown): PushError {
  if (err instanceof EndpointRefusedError) {
    return new PushError("permanent", `Web Push endpoint refused: ${err.message}`, { platform: "webpush", reason: "endpoint_not_public", refused: true });
  }
  if (err instanceof webpush.WebPushError) {
    const status = err.statusCode;
    let kind: PushErrorKind = "permanent";
    if (status === 404 || status === 410) kind = "dead";
    else if (status === 408 || status === 429 || status >= 500) kind = "retryable";
    const after = retryAfterMs(err.headers as Record<string, string | undefined>);
    return new PushError(kind, `Web Push send failed: ${status}`, { platform: "webpush", status, reason: String(status), ...(after !== undefined ? { retryAfterMs: after } : {}) });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string") {
    // a network failure (ECONNREFUSED, ECONNRESET, ETIMEDOUT, a TLS error, ...)
    return new PushError("retryable", `Web Push send failed: ${code}`, { platform: "webpush", reason: code });
  }
  if (err instanceof Error && /timeout/i.test(err.message)) {
    return new PushError("retryable", "Web Push send timed out", { platform: "webpush", reason: "timeout" });
  }
  // web-push refused to build the request: a malformed subscription (keys, endpoint)
  return new PushError("permanent", `Web Push request refused: ${err instanceof Error ? err.message : String(err)}`, {
    platform: "webpush",
    reason: "invalid_subscription",
  });
}

export class WebPushProvider implements PushProvider {
  readonly platform = "webpush" as const;
  private closed = false;

  private constructor(
    private readonly vapid: VapidDetails,
    private readonly agent: https.Agent,
    private readonly timeoutMs: number,
    private readonly endpoints: WebPushEndpointPolicy,
  ) {}

  /** Throws PushCredentialError when the VAPID details are unusable. */
  static create(options: WebPushOptions): WebPushProvider {
    const vapid = checkVapid(options.vapid);
    const endpoints = new WebPushEndpointPolicy(options.allowedHosts);
    // every connection's address comes from the policy's lookup, which refuses non-public ones
    const agent = new https.Agent({ keepAlive: true, ca: trustedCa(options), lookup: endpoints.lookup(options.resolve) });
    return new WebPushProvider(vapid, agent, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, endpoints);
  }

  async send(device: PushDevice, message: PushMessage): Promise<void> {
    if (this.closed) throw new PushError("retryable", "Web Push provider is closed", { platform: "webpush", reason: "closed" });
    if (device.platform !== "webpush") {
      throw new PushError("permanent", `not a Web Push device: ${device.platform}`, { platform: "webpush", reason: "wrong_platform" });
    }
    try {
      // Checked again at send time: devices registered before the check existed, or an
      // allowance since removed. The URL goes on in WHATWG form, so web-push's own parser
      // sees the host that was checked.
      const problem = this.endpoints.problem(device.subscription.endpoint);
      if (problem !== undefined) throw new EndpointRefusedError(`the endpoint ${problem}`);
      const endpoint = new URL(device.subscription.endpoint).href;
      await webpush.sendNotification({ ...device.subscription, endpoint }, webPushPayload(message), {
        vapidDetails: this.vapid,
        TTL: Math.max(0, Math.floor(message.ttlS)),
        urgency: URGENCY[message.priority],
        contentEncoding: "aes128gcm",
        // the push service keeps one pending message per topic: a repeated push of one notification replaces, not adds
        topic: webPushTopic(message.notificationId),
        agent: this.agent,
        timeout: this.timeoutMs,
      });
    } catch (err) {
      throw classifyWebPushError(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }
}
