/**
 * Local stand-ins for the push services, speaking the real protocols over real TLS:
 *   - ApnsEndpoint: HTTP/2 + TLS like api.push.apple.com (token auth, /3/device/<token>);
 *   - FcmEndpoint: HTTPS, both Google's OAuth token endpoint (JWT-bearer grant) and the FCM
 *     HTTP v1 `messages:send` API;
 *   - WebPushEndpoint: an HTTPS push service that checks VAPID and decrypts the aes128gcm body
 *     with the subscription's private key (http_ece), as a browser would.
 * Each one checks what it receives (problems are recorded on the request and answered with the
 * service's own error), records every request, and answers from a script (`next`, `always`,
 * `forToken`), 200/201 by default. `hold()` keeps the answers back (a provider that has not
 * answered yet) until `release()`; a request whose client went away meanwhile stays unanswered
 * (`status` 0).
 *
 * Trust: the servers use a certificate for 127.0.0.1/localhost issued by a throw-away CA made
 * here with the `openssl` CLI. Node reads NODE_EXTRA_CA_CERTS only at process start, so:
 *   - in-process providers get the CA through `createPushProviders(config, logger, { extraCa })`,
 *     which the providers hand to node-apn's `ca`, and to the https.Agent given to
 *     firebase-admin (httpAgent + OAuth) and to web-push (`agent`);
 *   - a node started as a child process gets `NODE_EXTRA_CA_CERTS=<pki.caFile>` in its env.
 */
import { execFileSync } from "node:child_process";
import {
  createECDH,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type ECDH,
  type KeyObject,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader, jwtVerify } from "jose";
import webpush from "web-push";

// http_ece ships no types; this is the one function the tests use.
const ece = createRequire(__filename)("http_ece") as {
  decrypt(buffer: Buffer, params: { version: "aes128gcm"; privateKey: ECDH; authSecret: string }): Buffer;
};

// ---------------------------------------------------------------------------------------------
// Certificates and keys

export interface TestPki {
  dir: string;
  /** PEM of the CA that issued the servers' certificate (what clients must trust). */
  caPem: string;
  /** Path of caPem, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  certPem: string;
  keyPem: string;
  cleanup(): void;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "sb-push-pki-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ecKey, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=Switchboard push test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-new", ...ecKey, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(file("server.ext"), [
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
  ].join("\n"));
  openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-set_serial", `0x${randomBytes(8).toString("hex")}`,
    "-days", "2", "-extfile", file("server.ext"), "-out", file("server.pem"));
  return {
    dir,
    caPem: readFileSync(file("ca.pem"), "utf8"),
    caFile: file("ca.pem"),
    certPem: readFileSync(file("server.pem"), "utf8"),
    keyPem: readFileSync(file("server.key"), "utf8"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ApnsKey {
  /** The .p8 content: an EC P-256 private key, PKCS#8 PEM. */
  pem: string;
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
}

export function makeApnsKey(): ApnsKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey,
    keyId: randomBytes(5).toString("hex").toUpperCase(),
    teamId: randomBytes(5).toString("hex").toUpperCase(),
  };
}

export interface TestServiceAccount {
  /** The JSON as Google hands it out. */
  json: Record<string, string>;
  projectId: string;
  clientEmail: string;
  publicKey: KeyObject;
}

export function makeServiceAccount(projectId = "switchboard-test"): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const clientEmail = `push@${projectId}.iam.gserviceaccount.com`;
  return {
    json: {
      type: "service_account",
      project_id: projectId,
      private_key_id: randomBytes(20).toString("hex"),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: clientEmail,
      client_id: String(Date.now()),
      token_uri: "https://oauth2.googleapis.com/token",
    },
    projectId,
    clientEmail,
    publicKey,
  };
}

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/**
 * A VAPID key pair as the protocol's variables take them (URL-safe base64 of the raw P-256 keys),
 * made by web-push's generator: the private key always 32 bytes.
 */
export function makeVapidKeys(subject = "mailto:push@switchboard.test"): VapidKeys {
  return { ...webpush.generateVAPIDKeys(), subject };
}

// ---------------------------------------------------------------------------------------------
// Scripted answers

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

class Script {
  private queue: Reply[] = [];
  private fallback: Reply | undefined;
  private tokens = new Map<string, Reply>();

  next(...replies: Reply[]): void {
    this.queue.push(...replies);
  }

  always(reply: Reply | undefined): void {
    this.fallback = reply;
  }

  forToken(token: string, reply: Reply | undefined): void {
    if (reply) this.tokens.set(token, reply);
    else this.tokens.delete(token);
  }

  take(token: string | undefined, success: Reply): Reply {
    return (token !== undefined ? this.tokens.get(token) : undefined) ?? this.queue.shift() ?? this.fallback ?? success;
  }

  reset(): void {
    this.queue = [];
    this.fallback = undefined;
    this.tokens.clear();
  }
}

export abstract class Endpoint<R extends { problems: string[]; status: number }> {
  readonly requests: R[] = [];
  protected readonly script = new Script();
  private holding = false;
  private readonly held: { answer: () => void; gone: () => boolean }[] = [];

  /** Valid requests are recorded but not answered (status stays 0) until release(). */
  hold(): this {
    this.holding = true;
    return this;
  }

  /** Answers the held requests whose client is still there, and every request after. */
  release(): this {
    this.holding = false;
    for (const { answer } of this.held.splice(0)) answer();
    return this;
  }

  /** How many held requests wait for release() with their client still there. */
  get holdingCount(): number {
    return this.held.filter((h) => !h.gone()).length;
  }

  /** Waits while held; false when the client went away meanwhile (nothing to answer). */
  protected async answerable(gone: () => boolean): Promise<boolean> {
    if (this.holding) await new Promise<void>((answer) => this.held.push({ answer, gone }));
    return !gone();
  }

  /** Answers for the next requests, in order (before `always`). */
  next(...replies: Reply[]): this {
    this.script.next(...replies);
    return this;
  }

  /** The answer once the `next` queue is empty (undefined = success again). */
  always(reply: Reply | undefined): this {
    this.script.always(reply);
    return this;
  }

  /** A fixed answer for one device token / subscription id, whatever else is scripted. */
  forToken(token: string, reply: Reply | undefined): this {
    this.script.forToken(token, reply);
    return this;
  }

  /** Forgets the script and the recorded requests. */
  reset(): this {
    this.script.reset();
    this.requests.length = 0;
    return this;
  }

  /** Problems found in any recorded request (what the real service would have refused). */
  get problems(): string[] {
    return this.requests.flatMap((r) => r.problems);
  }
}

async function readBody(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

const listen = (server: https.Server | http2.Http2SecureServer) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// APNs

export interface ApnsRequest {
  method: string;
  path: string;
  token: string;
  headers: Record<string, string>;
  /** The bearer JWT's claims and header, once verified. */
  jwt?: { iss?: unknown; iat?: unknown; kid?: string };
  payload: { aps?: { alert?: { title?: string; body?: string } }; [key: string]: unknown };
  status: number;
  problems: string[];
}

export const APNS_UNREGISTERED: Reply = { status: 410, body: { reason: "Unregistered", timestamp: Date.now() } };
export const APNS_BAD_DEVICE_TOKEN: Reply = { status: 400, body: { reason: "BadDeviceToken" } };
export const APNS_UNAVAILABLE: Reply = { status: 503, body: { reason: "ServiceUnavailable" } };
export const APNS_INTERNAL: Reply = { status: 500, body: { reason: "InternalServerError" } };

export class ApnsEndpoint extends Endpoint<ApnsRequest> {
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly server: http2.Http2SecureServer,
    readonly port: number,
    private readonly key: ApnsKey,
    readonly topic: string,
  ) {
    super();
    server.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
    server.on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      void this.handle(req, res);
    });
  }

  static async start(pki: TestPki, key: ApnsKey, topic: string): Promise<ApnsEndpoint> {
    const server = http2.createSecureServer({ key: pki.keyPem, cert: pki.certPem });
    const port = await listen(server);
    return new ApnsEndpoint(server, port, key, topic);
  }

  /** APNS_HOST for this endpoint (APNS_PORT is `port`). */
  get host(): string {
    return "127.0.0.1";
  }

  private async handle(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Promise<void> {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string" && !name.startsWith(":")) headers[name] = value;
    const problems: string[] = [];
    const path = req.headers[":path"] ?? "";
    const token = /^\/3\/device\/([^/?]+)$/.exec(path)?.[1] ?? "";
    const record: ApnsRequest = { method: req.method, path, token, headers, payload: {}, status: 0, problems };
    this.requests.push(record);

    const refuse = (status: number, reason: string, problem: string) => {
      problems.push(problem);
      record.status = status;
      res.writeHead(status, { "apns-id": randomUUID(), "content-type": "application/json" });
      res.end(JSON.stringify({ reason }));
    };

    if (req.method !== "POST") return refuse(405, "MethodNotAllowed", `method ${req.method}`);
    if (!/^[0-9a-f]{8,200}$/i.test(token)) return refuse(404, "BadPath", `path ${path}`);
    const auth = /^bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
    if (!auth) return refuse(403, "MissingProviderToken", "no bearer token");
    try {
      const { payload, protectedHeader } = await jwtVerify(auth, this.key.publicKey, { algorithms: ["ES256"], issuer: this.key.teamId });
      if (protectedHeader.kid !== this.key.keyId) return refuse(403, "InvalidProviderToken", `kid ${protectedHeader.kid}`);
      if (typeof payload.iat !== "number") return refuse(403, "InvalidProviderToken", "no iat");
      record.jwt = { iss: payload.iss, iat: payload.iat, kid: protectedHeader.kid };
    } catch (err) {
      return refuse(403, "InvalidProviderToken", `token: ${errorMessage(err)}`);
    }
    if (headers["apns-topic"] !== this.topic) return refuse(400, headers["apns-topic"] ? "TopicDisallowed" : "MissingTopic", `topic ${headers["apns-topic"]}`);
    if (!["5", "10"].includes(headers["apns-priority"] ?? "10")) return refuse(400, "BadPriority", `priority ${headers["apns-priority"]}`);
    if (headers["apns-expiration"] !== undefined && !/^\d+$/.test(headers["apns-expiration"])) return refuse(400, "BadExpirationDate", "expiration");
    try {
      record.payload = JSON.parse(body.toString("utf8")) as ApnsRequest["payload"];
    } catch {
      return refuse(400, "PayloadEmpty", "body is not JSON");
    }
    if (typeof record.payload.aps !== "object") return refuse(400, "PayloadEmpty", "no aps");
    if (body.length > 4096) return refuse(413, "PayloadTooLarge", "payload > 4 KiB");

    if (!(await this.answerable(() => res.stream.destroyed))) return;
    const reply = this.script.take(token, { status: 200 });
    record.status = reply.status;
    res.writeHead(reply.status, { "apns-id": randomUUID(), ...(reply.body !== undefined ? { "content-type": "application/json" } : {}), ...reply.headers });
    if (reply.body !== undefined) res.end(JSON.stringify(reply.body));
    else res.end();
  }

  async close(): Promise<void> {
    this.release();
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// FCM (OAuth token endpoint + HTTP v1)

export interface FcmRequest {
  path: string;
  authorization?: string;
  /** The `message` of the v1 send body. */
  message: {
    token?: string;
    notification?: { title?: string; body?: string };
    data?: Record<string, unknown>;
    android?: { priority?: string; ttl?: string };
    apns?: { headers?: Record<string, string> };
    webpush?: { headers?: Record<string, string> };
    [key: string]: unknown;
  };
  status: number;
  problems: string[];
}

export interface TokenRequest {
  path: string;
  claims?: Record<string, unknown>;
  status: number;
  problems: string[];
}

const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/** An error body as the FCM v1 API sends it. */
export function fcmError(status: number, grpcStatus: string, message: string, errorCode?: string): Reply {
  return {
    status,
    body: { error: { code: status, message, status: grpcStatus, ...(errorCode ? { details: [{ "@type": FCM_ERROR_TYPE, errorCode }] } : {}) } },
  };
}

export const FCM_UNREGISTERED = fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED");
export const FCM_INVALID_TOKEN = fcmError(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT");
export const FCM_INTERNAL = fcmError(500, "INTERNAL", "Internal error encountered.", "INTERNAL");
export const FCM_UNAVAILABLE = fcmError(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE");

export class FcmEndpoint extends Endpoint<FcmRequest> {
  readonly tokenRequests: TokenRequest[] = [];
  private readonly issued = new Set<string>();

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
    private readonly account: TestServiceAccount,
  ) {
    super();
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  static async start(pki: TestPki, account: TestServiceAccount): Promise<FcmEndpoint> {
    const server = https.createServer({ key: pki.keyPem, cert: pki.certPem });
    const port = await listen(server);
    return new FcmEndpoint(server, port, account);
  }

  /** FCM_API_URL for this endpoint. */
  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  override reset(): this {
    super.reset();
    this.tokenRequests.length = 0;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? "";
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
      res.end(JSON.stringify(value));
    };
    if (req.method === "POST" && /\/token$/.test(path)) return this.token(path, body.toString("utf8"), json);

    const problems: string[] = [];
    const record: FcmRequest = { path, authorization: req.headers.authorization, message: {}, status: 0, problems };
    this.requests.push(record);
    const refuse = (reply: Reply, problem: string) => {
      problems.push(problem);
      record.status = reply.status;
      json(reply.status, reply.body);
    };
    const project = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path)?.[1];
    if (req.method !== "POST" || !project) return refuse(fcmError(404, "NOT_FOUND", "Not found"), `${req.method} ${path}`);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!bearer || !this.issued.has(bearer)) {
      return refuse(fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), "bearer token not issued here");
    }
    if (project !== this.account.projectId) return refuse(fcmError(403, "PERMISSION_DENIED", "wrong project", "SENDER_ID_MISMATCH"), `project ${project}`);
    try {
      record.message = (JSON.parse(body.toString("utf8")) as { message: FcmRequest["message"] }).message ?? {};
    } catch {
      return refuse(fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), "body is not JSON");
    }
    const { message } = record;
    if (typeof message.token !== "string" || message.token === "") return refuse(fcmError(400, "INVALID_ARGUMENT", "Recipient of the message is not set."), "no token");
    for (const [key, value] of Object.entries(message.data ?? {})) {
      if (typeof value !== "string") return refuse(fcmError(400, "INVALID_ARGUMENT", `Invalid value at 'message.data[${key}].value'`), `data.${key} is not a string`);
    }
    if (message.android?.ttl !== undefined && !/^\d+(\.\d+)?s$/.test(message.android.ttl)) {
      return refuse(fcmError(400, "INVALID_ARGUMENT", "Invalid value at 'message.android.ttl'"), `ttl ${message.android.ttl}`);
    }

    if (!(await this.answerable(() => req.socket.destroyed))) return;
    const reply = this.script.take(message.token, { status: 200, body: { name: `projects/${project}/messages/${randomUUID()}` } });
    record.status = reply.status;
    res.writeHead(reply.status, { "content-type": "application/json; charset=UTF-8", ...reply.headers });
    res.end(reply.body !== undefined ? JSON.stringify(reply.body) : "");
  }

  /** Google's OAuth 2.0 token endpoint, JWT-bearer grant (RFC 7523). */
  private async token(path: string, form: string, json: (status: number, value: unknown) => void): Promise<void> {
    const problems: string[] = [];
    const record: TokenRequest = { path, status: 0, problems };
    this.tokenRequests.push(record);
    const params = new URLSearchParams(form);
    const refuse = (error: string, problem: string) => {
      problems.push(problem);
      record.status = 400;
      json(400, { error, error_description: problem });
    };
    if (params.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return refuse("unsupported_grant_type", `grant_type ${params.get("grant_type")}`);
    const assertion = params.get("assertion") ?? "";
    try {
      const { payload } = await jwtVerify(assertion, this.account.publicKey, { algorithms: ["RS256"], issuer: this.account.clientEmail });
      record.claims = payload;
      if (decodeProtectedHeader(assertion).kid !== this.account.json.private_key_id) return refuse("invalid_grant", "kid is not the account's private_key_id");
      const scope = String(payload.scope ?? "");
      if (!/auth\/(firebase\.messaging|cloud-platform)/.test(scope)) return refuse("invalid_scope", `scope ${scope}`);
      if (typeof payload.exp !== "number" || typeof payload.iat !== "number" || payload.exp - payload.iat > 3600) return refuse("invalid_grant", "exp/iat");
    } catch (err) {
      return refuse("invalid_grant", `assertion: ${errorMessage(err)}`);
    }
    const accessToken = `ya29.test-${randomBytes(24).toString("base64url")}`;
    this.issued.add(accessToken);
    record.status = 200;
    json(200, { access_token: accessToken, expires_in: 3599, token_type: "Bearer" });
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// Web Push

export interface TestSubscription {
  id: string;
  /** What a browser's PushSubscription.toJSON() gives (minus expirationTime). */
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  ecdh: ECDH;
}

export interface WebPushRequest {
  path: string;
  subscriptionId: string;
  headers: Record<string, string>;
  vapid?: { aud?: unknown; exp?: unknown; sub?: unknown; k: string };
  /** The decrypted body. */
  plaintext?: string;
  status: number;
  problems: string[];
}

export class WebPushEndpoint extends Endpoint<WebPushRequest> {
  private readonly subscriptions = new Map<string, TestSubscription>();

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
    private vapid: { publicKey: string; subject: string },
  ) {
    super();
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** The application server key (and subject) the push service accepts from now on; returns the previous one. */
  acceptVapid(vapid: { publicKey: string; subject: string }): { publicKey: string; subject: string } {
    const previous = this.vapid;
    this.vapid = vapid;
    return previous;
  }

  static async start(pki: TestPki, vapid: { publicKey: string; subject: string }): Promise<WebPushEndpoint> {
    const server = https.createServer({ key: pki.keyPem, cert: pki.certPem });
    const port = await listen(server);
    return new WebPushEndpoint(server, port, vapid);
  }

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** A new subscription on this push service: keys made like a browser's (P-256 + 16-byte auth). */
  subscribe(): TestSubscription {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const id = randomBytes(12).toString("base64url");
    const sub: TestSubscription = {
      id,
      subscription: {
        endpoint: `${this.origin}/push/${id}`,
        keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") },
      },
      ecdh,
    };
    this.subscriptions.set(id, sub);
    return sub;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? "";
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers[name] = value;
    const subscriptionId = /^\/push\/([^/?]+)$/.exec(path)?.[1] ?? "";
    const problems: string[] = [];
    const record: WebPushRequest = { path, subscriptionId, headers, status: 0, problems };
    this.requests.push(record);
    const answer = (status: number, problem?: string) => {
      if (problem) problems.push(problem);
      record.status = status;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(problem ?? "");
    };

    const sub = this.subscriptions.get(subscriptionId);
    if (req.method !== "POST" || !sub) return answer(404, `${req.method} ${path}: no such subscription`);
    if (!/^\d+$/.test(headers.ttl ?? "")) return answer(400, `TTL header ${headers.ttl}`);
    if (headers.urgency !== undefined && !["very-low", "low", "normal", "high"].includes(headers.urgency)) return answer(400, `Urgency ${headers.urgency}`);
    if (headers["content-encoding"] !== "aes128gcm") return answer(415, `Content-Encoding ${headers["content-encoding"]}`);

    // VAPID (RFC 8292): Authorization: vapid t=<JWT ES256>, k=<public key>
    const vapid = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? "");
    if (!vapid) return answer(401, `Authorization ${headers.authorization?.split(" ")[0]}`);
    const [, jwt, k] = vapid as unknown as [string, string, string];
    if (k !== this.vapid.publicKey) return answer(403, "k is not the application server's VAPID key");
    try {
      const raw = Buffer.from(k, "base64url");
      const publicKey = createPublicKey({
        key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33, 65).toString("base64url") },
        format: "jwk",
      });
      const { payload } = await jwtVerify(jwt, publicKey, { algorithms: ["ES256"], audience: this.origin, subject: this.vapid.subject });
      if (typeof payload.exp !== "number" || payload.exp > Date.now() / 1000 + 24 * 3600) return answer(403, "exp missing or beyond 24 h");
      record.vapid = { aud: payload.aud, exp: payload.exp, sub: payload.sub, k };
    } catch (err) {
      return answer(403, `VAPID JWT: ${errorMessage(err)}`);
    }
    if (body.length > 4096) return answer(413, "payload > 4096 bytes");
    try {
      record.plaintext = ece.decrypt(body, { version: "aes128gcm", privateKey: sub.ecdh, authSecret: sub.subscription.keys.auth }).toString("utf8");
    } catch (err) {
      return answer(400, `cannot decrypt: ${errorMessage(err)}`);
    }

    if (!(await this.answerable(() => req.socket.destroyed))) return;
    const reply = this.script.take(subscriptionId, { status: 201, headers: { location: `${this.origin}/message/${randomUUID()}` } });
    record.status = reply.status;
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body !== undefined ? JSON.stringify(reply.body) : "");
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// All three services at once, and the node environment that points at them

/** The three local push services with their keys, for tests that run whole nodes. */
export class PushLab {
  private constructor(
    readonly pki: TestPki,
    readonly apnsKey: ApnsKey,
    readonly account: TestServiceAccount,
    readonly vapid: VapidKeys,
    readonly apns: ApnsEndpoint,
    readonly fcm: FcmEndpoint,
    readonly web: WebPushEndpoint,
    readonly topic: string,
  ) {}

  static async start(
    topic = "com.switchboard.test",
    keys: { apnsKey?: ApnsKey; account?: TestServiceAccount; vapid?: VapidKeys } = {},
  ): Promise<PushLab> {
    const pki = createTestPki();
    const [apnsKey, account, vapid] = [keys.apnsKey ?? makeApnsKey(), keys.account ?? makeServiceAccount(), keys.vapid ?? makeVapidKeys()];
    const [apns, fcm, web] = await Promise.all([ApnsEndpoint.start(pki, apnsKey, topic), FcmEndpoint.start(pki, account), WebPushEndpoint.start(pki, vapid)]);
    return new PushLab(pki, apnsKey, account, vapid, apns, fcm, web, topic);
  }

  /** Node variables enabling the three providers against these services. */
  env(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string | undefined> = {
      FCM_SERVICE_ACCOUNT: JSON.stringify(this.account.json),
      FCM_API_URL: this.fcm.origin,
      APNS_KEY: this.apnsKey.pem,
      APNS_KEY_ID: this.apnsKey.keyId,
      APNS_TEAM_ID: this.apnsKey.teamId,
      APNS_TOPIC: this.topic,
      APNS_HOST: this.apns.host,
      APNS_PORT: String(this.apns.port),
      VAPID_PUBLIC_KEY: this.vapid.publicKey,
      VAPID_PRIVATE_KEY: this.vapid.privateKey,
      VAPID_SUBJECT: this.vapid.subject,
      // The Web Push service here is on a loopback address, which endpoints may not name otherwise.
      WEBPUSH_ALLOWED_HOSTS: "127.0.0.1,localhost",
      ...overrides,
    };
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  }

  reset(): void {
    for (const endpoint of [this.apns, this.fcm, this.web]) endpoint.reset();
  }

  /** Ends every endpoint's hold(). */
  release(): void {
    for (const endpoint of [this.apns, this.fcm, this.web]) endpoint.release();
  }

  async close(): Promise<void> {
    await Promise.all([this.apns.close(), this.fcm.close(), this.web.close()]);
    this.pki.cleanup();
  }
}
