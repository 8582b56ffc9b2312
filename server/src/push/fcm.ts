/**
 * FCM through firebase-admin 13 (HTTP v1 API), one named firebase app per provider instance.
 *
 * Where the requests go: firebase-admin hard-codes fcm.googleapis.com, so FCM_API_URL is
 * implemented with a RedirectingAgent (transport.ts) given to `initializeApp({ httpAgent })`;
 * the OAuth token request uses the same agent. `messaging().send()` is used per device because
 * sendEach() opens its own HTTP/2 session that ignores the agent.
 *
 * Why our own credential instead of `cert(serviceAccount, agent)`: firebase-admin's credential
 * goes through google-auth-library/gaxios, which loads node-fetch with a dynamic `import()`
 * (fails inside jest's VM without --experimental-vm-modules) and ignores the account's
 * `token_uri`. The OAuth 2.0 JWT-bearer grant it performs is small, so it is done here with
 * node:crypto and node:https over the same agent.
 */
import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import https from "node:https";
import { deleteApp, initializeApp, type App, type Credential, type GoogleOAuthAccessToken } from "firebase-admin/app";
import { getMessaging, type Message, type Messaging } from "firebase-admin/messaging";
import { isJsonObject, PushCredentialError, readCredential } from "./credentials";
import { DEFAULT_REQUEST_TIMEOUT_MS, RedirectingAgent, trustedCa, type PushTransportOptions } from "./transport";
import { PushError, type PushDevice, type PushErrorKind, type PushMessage, type PushProvider } from "./types";

const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";
const SCOPES = ["https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/firebase.messaging"];
/** FCM keeps a message at most four weeks. */
const MAX_TTL_S = 2_419_200;
/** Data keys FCM refuses (its reserved words and prefixes). */
const RESERVED_DATA_KEY = /^(from|notification|message_type|collapse_key)$|^(google|gcm)/i;

export interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  privateKey: KeyObject;
  privateKeyId?: string;
  tokenUri: string;
}

/** FCM_SERVICE_ACCOUNT (a path or the JSON text) -> a checked service account. */
export function readServiceAccount(value: string): ServiceAccount {
  const variable = "FCM_SERVICE_ACCOUNT";
  const text = readCredential(variable, value, isJsonObject);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new PushCredentialError(variable, "is not valid JSON");
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new PushCredentialError(variable, "is not a JSON object");
  const str = (key: string) => (typeof json[key] === "string" && json[key] !== "" ? (json[key] as string) : undefined);
  const projectId = str("project_id");
  const clientEmail = str("client_email");
  const pem = str("private_key");
  if (!projectId || !clientEmail || !pem) throw new PushCredentialError(variable, "lacks project_id, client_email or private_key");
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new PushCredentialError(variable, "has a private_key that cannot be parsed");
  }
  if (privateKey.asymmetricKeyType !== "rsa") throw new PushCredentialError(variable, "has a private_key that is not an RSA key");
  const tokenUri = str("token_uri");
  return {
    projectId,
    clientEmail,
    privateKey,
    privateKeyId: str("private_key_id"),
    tokenUri: tokenUri && /^https?:\/\//.test(tokenUri) ? tokenUri : GOOGLE_TOKEN_URI,
  };
}

const b64url = (value: Buffer | string) => Buffer.from(value).toString("base64url");

/** OAuth 2.0 JWT-bearer grant (RFC 7523) for a service account, over the provider's agent. */
class ServiceAccountCredential implements Credential {
  constructor(
    private readonly account: ServiceAccount,
    private readonly agent: https.Agent,
    private readonly timeoutMs: number,
  ) {}

  async getAccessToken(): Promise<GoogleOAuthAccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", ...(this.account.privateKeyId ? { kid: this.account.privateKeyId } : {}) };
    const claims = { iss: this.account.clientEmail, scope: SCOPES.join(" "), aud: this.account.tokenUri, iat: now, exp: now + 3600 };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const assertion = `${input}.${b64url(sign("sha256", Buffer.from(input), this.account.privateKey))}`;
    const form = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString();
    const { status, text } = await this.post(form);
    if (status !== 200) throw new Error(`OAuth token endpoint answered ${status}`);
    const json = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof json.access_token !== "string" || json.access_token === "") throw new Error("OAuth token endpoint returned no access_token");
    return { access_token: json.access_token, expires_in: typeof json.expires_in === "number" ? json.expires_in : 3600 };
  }

  private post(form: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        this.account.tokenUri,
        {
          method: "POST",
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(form), accept: "application/json" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("OAuth token request timed out")));
      req.on("error", reject);
      req.end(form);
    });
  }
}

/** FCM `data` values must be strings: non-strings are JSON-encoded, reserved keys dropped. */
export function fcmData(message: PushMessage): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.data ?? {})) {
    if (RESERVED_DATA_KEY.test(key)) continue;
    const encoded = typeof value === "string" ? value : (JSON.stringify(value) as string | undefined);
    if (encoded !== undefined) data[key] = encoded;
  }
  data.notificationId = message.notificationId;
  data.type = message.type;
  return data;
}

export function toFcmMessage(token: string, message: PushMessage): Message {
  const urgent = message.priority === "high" || message.priority === "urgent";
  const ttlS = Math.min(Math.max(0, Math.floor(message.ttlS)), MAX_TTL_S);
  return {
    token,
    notification: { title: message.title, body: message.body },
    data: fcmData(message),
    android: { priority: urgent ? "high" : "normal", ttl: ttlS * 1000 },
    apns: {
      headers: {
        "apns-priority": urgent ? "10" : "5",
        "apns-expiration": String(ttlS === 0 ? 0 : Math.floor(Date.now() / 1000) + ttlS),
      },
    },
    webpush: { headers: { TTL: String(ttlS), Urgency: message.priority === "urgent" ? "high" : message.priority } },
  };
}

const RETRYABLE_CODES = new Set([
  "messaging/server-unavailable",
  "messaging/internal-error",
  "messaging/unknown-error",
  "messaging/message-rate-exceeded",
  "messaging/device-message-rate-exceeded",
  "messaging/topics-message-rate-exceeded",
  "app/network-error",
  "app/network-timeout",
  // the OAuth token request failed (endpoint down or refusing); the breaker guards against a loop
  "app/invalid-credential",
]);

/** firebase-admin's error -> PushError. */
export function classifyFcmError(err: unknown): PushError {
  const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : undefined;
  const text = err instanceof Error ? err.message : String(err);
  let kind: PushErrorKind = "permanent";
  if (code === "messaging/registration-token-not-registered" || code === "messaging/invalid-registration-token") kind = "dead";
  // INVALID_ARGUMENT is also what FCM answers for a malformed token; only then is the device dead.
  else if (code === "messaging/invalid-argument" && /registration token/i.test(text)) kind = "dead";
  else if (code && RETRYABLE_CODES.has(code)) kind = "retryable";
  else if (!code) kind = "retryable";
  const statusMatch = /Status code: (\d{3})/.exec(text);
  return new PushError(kind, `FCM send failed: ${code ?? "error"}`, {
    platform: "fcm",
    reason: code ?? "error",
    ...(statusMatch ? { status: Number(statusMatch[1]) } : {}),
  });
}

let appCounter = 0;

export class FcmProvider implements PushProvider {
  readonly platform = "fcm" as const;
  private closed = false;

  private constructor(
    private readonly app: App,
    private readonly messaging: Messaging,
    private readonly agent: https.Agent,
  ) {}

  /**
   * `apiUrl` is FCM_API_URL (an origin receiving both the OAuth token request and the v1 API);
   * `name` makes the firebase app unique (firebase-admin keeps apps in a process-wide registry).
   */
  static create(options: { serviceAccount: ServiceAccount; apiUrl?: string; name: string } & PushTransportOptions): FcmProvider {
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const agentOptions: https.AgentOptions = { keepAlive: true, ca: trustedCa(options) };
    const agent = options.apiUrl ? new RedirectingAgent(new URL(options.apiUrl), agentOptions) : new https.Agent(agentOptions);
    const app = initializeApp(
      {
        credential: new ServiceAccountCredential(options.serviceAccount, agent, timeoutMs),
        projectId: options.serviceAccount.projectId,
        httpAgent: agent,
      },
      `switchboard-fcm-${options.name}-${++appCounter}`,
    );
    return new FcmProvider(app, getMessaging(app), agent);
  }

  async send(device: PushDevice, message: PushMessage): Promise<void> {
    if (this.closed) throw new PushError("retryable", "FCM provider is closed", { platform: "fcm", reason: "closed" });
    if (device.platform !== "fcm") throw new PushError("permanent", `not an FCM device: ${device.platform}`, { platform: "fcm", reason: "wrong_platform" });
    try {
      await this.messaging.send(toFcmMessage(device.token, message));
    } catch (err) {
      throw classifyFcmError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await deleteApp(this.app);
    } finally {
      this.agent.destroy();
    }
  }
}
