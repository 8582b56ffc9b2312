/**
 * The push providers against local servers that speak the real protocols (tests/helpers/
 * push-endpoints.ts): FCM HTTP v1 + Google OAuth over HTTPS, APNs over HTTP/2 with ES256 token
 * auth, Web Push with VAPID and aes128gcm bodies decrypted here. Then the dispatcher's policy:
 * retries, dead tokens, the per-provider circuit breaker, disabled providers, metrics and logs.
 */
import { execFile } from "node:child_process";
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { createLogger, loadConfig, type Config, type Logger } from "@switchboard/server";
import { createMetrics, type Metrics } from "@switchboard/server/dist/observability/metrics";
import {
  createPushProviders,
  PushDispatcher,
  type BreakerOptions,
  type PushDevice,
  type PushMessage,
  type PushOutcome,
  type PushPlatform,
} from "@switchboard/server/dist/push";
import { getApps } from "firebase-admin/app";
import winston from "winston";
import { metricValue } from "../helpers/metrics";
import { sleep } from "../helpers/ports";
import {
  APNS_BAD_DEVICE_TOKEN,
  APNS_UNAVAILABLE,
  APNS_UNREGISTERED,
  ApnsEndpoint,
  FCM_INTERNAL,
  FCM_INVALID_TOKEN,
  FCM_UNAVAILABLE,
  FCM_UNREGISTERED,
  FcmEndpoint,
  makeApnsKey,
  makeServiceAccount,
  makeVapidKeys,
  PushLab,
  WebPushEndpoint,
  type Endpoint,
  type Reply,
  type TestPki,
} from "../helpers/push-endpoints";
import { TEST_SECRET } from "../helpers/tokens";

const TOPIC = "com.switchboard.test";

// Made at load time: some test tables below are built from them.
const apnsKey = makeApnsKey();
const account = makeServiceAccount();
const vapid = makeVapidKeys();
let lab: PushLab;
let pki: TestPki;
let apns: ApnsEndpoint;
let fcm: FcmEndpoint;
let web: WebPushEndpoint;
let tmp: string;

beforeAll(async () => {
  lab = await PushLab.start(TOPIC, { apnsKey, account, vapid });
  ({ pki, apns, fcm, web } = lab);
  tmp = mkdtempSync(join(tmpdir(), "sb-push-test-"));
});

afterAll(async () => {
  await lab?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// harness

interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

function captureLogger(): { logger: Logger; lines: LogLine[]; raw: string[] } {
  const raw: string[] = [];
  const logger = createLogger({ nodeId: "push-test", level: "debug" });
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          raw.push(...chunk.toString("utf8").split("\n").filter(Boolean));
          callback();
        },
      }),
    }),
  );
  return {
    logger,
    raw,
    get lines() {
      return raw.map((line) => JSON.parse(line) as LogLine);
    },
  };
}

/** The environment of a node whose three providers point at the local endpoints. */
function pushEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  return lab.env({ NODE_ENV: "test", JWT_SECRET: TEST_SECRET, NODE_ID: "push-node", NOTIFY_RETRY_ATTEMPTS: "2", NOTIFY_RETRY_DELAY_MS: "20", ...overrides });
}

interface Harness {
  config: Config;
  dispatcher: PushDispatcher;
  metrics: Metrics;
  log: ReturnType<typeof captureLogger>;
  count(channel: PushPlatform, outcome: PushOutcome): Promise<number>;
}

const open: PushDispatcher[] = [];

function start(overrides: Record<string, string | undefined> = {}, breaker?: Partial<BreakerOptions>): Harness {
  const config = loadConfig(pushEnv(overrides));
  const log = captureLogger();
  const metrics = createMetrics({ nodeId: config.nodeId, version: "test" });
  // in-process: trust the test CA through the providers' agents (NODE_EXTRA_CA_CERTS is read at start only)
  const providers = createPushProviders(config, log.logger, { extraCa: pki.caPem });
  const dispatcher = new PushDispatcher({ providers, retry: config.notify, logger: log.logger, metrics, breaker });
  open.push(dispatcher);
  return {
    config,
    dispatcher,
    metrics,
    log,
    count: async (channel, outcome) => {
      const value = metricValue(await metrics.registry.metrics(), "switchboard_notifications_total", { channel, outcome });
      return Number.isNaN(value) ? 0 : value;
    },
  };
}

beforeEach(() => {
  apns.reset();
  fcm.reset();
  web.reset();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

let seq = 0;
const message = (overrides: Partial<PushMessage> = {}): PushMessage => ({
  notificationId: `n-${++seq}`,
  type: "milestone_achieved",
  title: "Chapter 1",
  body: "You finished chapter 1 of Algebra",
  data: { courseId: "c-42", progress: 100, tags: ["math"], done: true },
  priority: "high",
  ttlS: 3600,
  ...overrides,
});

const fcmDevice = (): PushDevice => ({ id: `reg-${++seq}`, platform: "fcm", token: `fcm-token-${randomBytes(12).toString("hex")}` });
const apnsDevice = (): PushDevice => ({ id: `reg-${++seq}`, platform: "apns", token: randomBytes(32).toString("hex") });
const webDevice = (): PushDevice => ({ id: `reg-${++seq}`, platform: "webpush", subscription: web.subscribe().subscription });
const deviceKey = (device: PushDevice) => (device.platform === "webpush" ? device.subscription.endpoint.split("/").pop()! : device.token);

const nowS = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// each provider speaks its platform's protocol

describe("FCM (firebase-admin, HTTP v1)", () => {
  it("sends one message per device with the notification, string data, Android priority and TTL", async () => {
    const h = start();
    const device = fcmDevice();
    const msg = message({ priority: "high", ttlS: 3600, data: { courseId: "c-42", progress: 100, tags: ["math"], from: "reserved" } });
    await expect(h.dispatcher.send(device, msg)).resolves.toBe("sent");

    expect(fcm.problems).toEqual([]);
    expect(fcm.tokenRequests).toHaveLength(1);
    expect(fcm.tokenRequests[0]).toMatchObject({ status: 200, claims: { iss: account.clientEmail } });
    expect(fcm.requests).toHaveLength(1);
    const [req] = fcm.requests;
    expect(req!.path).toBe(`/v1/projects/${account.projectId}/messages:send`);
    expect(req!.authorization).toMatch(/^Bearer ya29\.test-/);
    expect(req!.message.token).toBe(device.platform === "fcm" && device.token);
    expect(req!.message.notification).toEqual({ title: msg.title, body: msg.body });
    // every value a string; non-strings JSON-encoded; FCM's reserved key dropped
    expect(req!.message.data).toEqual({ notificationId: msg.notificationId, type: msg.type, courseId: "c-42", progress: "100", tags: '["math"]' });
    expect(req!.message.android).toMatchObject({ priority: "high", ttl: "3600s" });
    expect(req!.message.apns?.headers?.["apns-priority"]).toBe("10");
    expect(Number(req!.message.apns?.headers?.["apns-expiration"])).toBeGreaterThanOrEqual(nowS() + 3590);
  });

  it.each([
    ["low", 0, "normal", "0s", "5"],
    ["normal", 60, "normal", "60s", "5"],
    ["high", 120, "high", "120s", "10"],
    ["urgent", 86400, "high", "86400s", "10"],
  ] as const)("maps priority %s and ttl %i s", async (priority, ttlS, android, ttl, apnsPriority) => {
    const h = start();
    await expect(h.dispatcher.send(fcmDevice(), message({ priority, ttlS }))).resolves.toBe("sent");
    expect(fcm.problems).toEqual([]);
    expect(fcm.requests[0]!.message.android).toMatchObject({ priority: android, ttl });
    expect(fcm.requests[0]!.message.apns?.headers?.["apns-priority"]).toBe(apnsPriority);
  });

  it("reuses the OAuth token across sends and reads the service account from a file", async () => {
    const file = join(tmp, "service-account.json");
    writeFileSync(file, JSON.stringify(account.json));
    const h = start({ FCM_SERVICE_ACCOUNT: file });
    for (let i = 0; i < 3; i++) await expect(h.dispatcher.send(fcmDevice(), message())).resolves.toBe("sent");
    expect(fcm.tokenRequests).toHaveLength(1);
    expect(fcm.requests).toHaveLength(3);
    expect(fcm.problems).toEqual([]);
  });

  it("counts firebase-admin's own retry of a 503 inside one attempt", async () => {
    // firebase-admin retries 503 itself (first retry at once); its retries add to ours
    const h = start();
    fcm.next(FCM_UNAVAILABLE);
    await expect(h.dispatcher.send(fcmDevice(), message())).resolves.toBe("sent");
    expect(fcm.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it("treats UNREGISTERED and an invalid registration token as dead, without retrying", async () => {
    const h = start();
    fcm.next(FCM_UNREGISTERED);
    await expect(h.dispatcher.send(fcmDevice(), message())).resolves.toBe("dead");
    fcm.next(FCM_INVALID_TOKEN);
    await expect(h.dispatcher.send(fcmDevice(), message())).resolves.toBe("dead");
    expect(fcm.requests.map((r) => r.status)).toEqual([404, 400]);
  });
});

describe("APNs (@parse/node-apn, HTTP/2)", () => {
  it("posts to /3/device/<token> with a valid ES256 provider token, the topic and priority headers, and the alert payload", async () => {
    const h = start();
    const device = apnsDevice();
    const msg = message({ priority: "urgent", ttlS: 600 });
    await expect(h.dispatcher.send(device, msg)).resolves.toBe("sent");

    expect(apns.problems).toEqual([]);
    expect(apns.requests).toHaveLength(1);
    const [req] = apns.requests;
    expect(req!.path).toBe(`/3/device/${device.platform === "apns" && device.token}`);
    expect(req!.jwt).toMatchObject({ iss: apnsKey.teamId, kid: apnsKey.keyId });
    expect(req!.headers).toMatchObject({ "apns-topic": TOPIC, "apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": msg.notificationId });
    const expiration = Number(req!.headers["apns-expiration"]);
    expect(expiration).toBeGreaterThanOrEqual(nowS() + 590);
    expect(expiration).toBeLessThanOrEqual(nowS() + 600);
    expect(req!.payload).toEqual({
      aps: { alert: { title: msg.title, body: msg.body } },
      notificationId: msg.notificationId,
      type: msg.type,
      data: msg.data,
    });
  });

  it.each([
    ["low", "5"],
    ["normal", "5"],
    ["high", "10"],
    ["urgent", "10"],
  ] as const)("maps priority %s to apns-priority %s", async (priority, header) => {
    const h = start();
    await expect(h.dispatcher.send(apnsDevice(), message({ priority }))).resolves.toBe("sent");
    expect(apns.requests[0]!.headers["apns-priority"]).toBe(header);
  });

  it("maps ttl 0 to apns-expiration 0 (deliver now or never) and reads the .p8 key from a file", async () => {
    const file = join(tmp, "AuthKey.p8");
    writeFileSync(file, apnsKey.pem);
    const h = start({ APNS_KEY: file });
    await expect(h.dispatcher.send(apnsDevice(), message({ ttlS: 0 }))).resolves.toBe("sent");
    expect(apns.problems).toEqual([]);
    expect(apns.requests[0]!.headers["apns-expiration"]).toBe("0");
  });

  it("accepts a .p8 PEM whose line breaks were escaped in the environment", async () => {
    const h = start({ APNS_KEY: apnsKey.pem.trim().replace(/\n/g, "\\n") });
    await expect(h.dispatcher.send(apnsDevice(), message())).resolves.toBe("sent");
    expect(apns.problems).toEqual([]);
  });

  it("treats 410 Unregistered and 400 BadDeviceToken as dead, without retrying", async () => {
    const h = start();
    apns.next(APNS_UNREGISTERED);
    await expect(h.dispatcher.send(apnsDevice(), message())).resolves.toBe("dead");
    apns.next(APNS_BAD_DEVICE_TOKEN);
    await expect(h.dispatcher.send(apnsDevice(), message())).resolves.toBe("dead");
    expect(apns.requests.map((r) => r.status)).toEqual([410, 400]);
  });
});

describe("Web Push (web-push, VAPID + aes128gcm)", () => {
  it("delivers an encrypted body that decrypts to the message, with TTL, Urgency and a VAPID token for the push service", async () => {
    const h = start();
    const device = webDevice();
    const msg = message({ priority: "normal", ttlS: 900 });
    await expect(h.dispatcher.send(device, msg)).resolves.toBe("sent");

    expect(web.problems).toEqual([]);
    expect(web.requests).toHaveLength(1);
    const [req] = web.requests;
    expect(JSON.parse(req!.plaintext!)).toEqual({ notificationId: msg.notificationId, type: msg.type, title: msg.title, body: msg.body, data: msg.data });
    expect(req!.headers).toMatchObject({ ttl: "900", urgency: "normal", "content-encoding": "aes128gcm", topic: msg.notificationId });
    expect(req!.vapid).toMatchObject({ aud: web.origin, sub: vapid.subject, k: vapid.publicKey });
  });

  it.each([
    ["low", "low"],
    ["normal", "normal"],
    ["high", "high"],
    ["urgent", "high"],
  ] as const)("maps priority %s to Urgency %s", async (priority, urgency) => {
    const h = start();
    await expect(h.dispatcher.send(webDevice(), message({ priority, ttlS: 0 }))).resolves.toBe("sent");
    expect(web.requests[0]!.headers).toMatchObject({ urgency, ttl: "0" });
  });

  it.each([[404], [410]])("treats %i as a dead subscription, without retrying", async (status) => {
    const h = start();
    web.next({ status });
    await expect(h.dispatcher.send(webDevice(), message())).resolves.toBe("dead");
    expect(web.requests).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// the dispatcher's policy, the same for every provider

interface PlatformCase {
  platform: PushPlatform;
  endpoint: () => Endpoint<{ problems: string[]; status: number }>;
  device: () => PushDevice;
  retryable: Reply;
  dead: Reply;
}

const platforms: PlatformCase[] = [
  { platform: "fcm", endpoint: () => fcm, device: fcmDevice, retryable: FCM_INTERNAL, dead: FCM_UNREGISTERED },
  { platform: "apns", endpoint: () => apns, device: apnsDevice, retryable: APNS_UNAVAILABLE, dead: APNS_UNREGISTERED },
  { platform: "webpush", endpoint: () => web, device: webDevice, retryable: { status: 500 }, dead: { status: 410 } },
];

describe.each(platforms)("dispatching to $platform", ({ platform, endpoint, device, retryable, dead }) => {
  it("retries a retryable failure with back-off and then sends", async () => {
    const h = start();
    endpoint().next(retryable, retryable);
    const began = Date.now();
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("sent");
    expect(Date.now() - began).toBeGreaterThanOrEqual(20 + 40 - 5); // 20 ms, then 40 ms
    expect(endpoint().requests.map((r) => r.status)).toEqual([retryable.status, retryable.status, platform === "webpush" ? 201 : 200]);
    expect(endpoint().problems).toEqual([]);
    expect(await h.count(platform, "sent")).toBe(1);
  });

  it("fails after NOTIFY_RETRY_ATTEMPTS retries", async () => {
    const h = start();
    endpoint().always(retryable);
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("failed");
    expect(endpoint().requests).toHaveLength(3);
    expect(await h.count(platform, "failed")).toBe(1);
  });

  it("does not retry a dead token", async () => {
    const h = start();
    endpoint().always(dead);
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("dead");
    expect(endpoint().requests).toHaveLength(1);
    expect(await h.count(platform, "dead")).toBe(1);
  });

  it("opens the breaker after repeated failures, rejects without calling the endpoint, and closes after resetTimeout", async () => {
    const h = start({ NOTIFY_RETRY_ATTEMPTS: "0" }, { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: 300 });
    endpoint().always(retryable);
    for (let i = 0; i < 3; i++) await expect(h.dispatcher.send(device(), message())).resolves.toBe("failed");
    expect(h.dispatcher.breakerState(platform)).toBe("open");

    await expect(h.dispatcher.send(device(), message())).resolves.toBe("breaker_open");
    expect(endpoint().requests).toHaveLength(3);
    expect(h.log.lines.some((l) => l.message === "push breaker opened" && l.platform === platform)).toBe(true);

    endpoint().always(undefined);
    await sleep(400);
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("sent");
    expect(h.dispatcher.breakerState(platform)).toBe("closed");
    expect(endpoint().requests).toHaveLength(4);
    expect(await h.count(platform, "breaker_open")).toBe(1);
  });

  it("never counts dead tokens toward the breaker", async () => {
    const h = start({ NOTIFY_RETRY_ATTEMPTS: "0" }, { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: 60_000 });
    endpoint().always(dead);
    for (let i = 0; i < 6; i++) await expect(h.dispatcher.send(device(), message())).resolves.toBe("dead");
    expect(h.dispatcher.breakerState(platform)).toBe("closed");
    endpoint().always(undefined);
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("sent");
  });

  it("keeps the breaker closed for one bad device with the default breaker options", async () => {
    const h = start();
    const bad = device();
    endpoint().forToken(deviceKey(bad), retryable);
    await expect(h.dispatcher.send(bad, message())).resolves.toBe("failed");
    await expect(h.dispatcher.send(bad, message())).resolves.toBe("failed");
    expect(h.dispatcher.breakerState(platform)).toBe("closed");
    await expect(h.dispatcher.send(device(), message())).resolves.toBe("sent");
  });
});

// ---------------------------------------------------------------------------------------------
// configuration, metrics, logs, lifecycle

describe("push configuration", () => {
  const unset = {
    FCM_SERVICE_ACCOUNT: undefined,
    FCM_API_URL: undefined,
    APNS_KEY: undefined,
    APNS_KEY_ID: undefined,
    APNS_TEAM_ID: undefined,
    APNS_TOPIC: undefined,
    APNS_HOST: undefined,
    APNS_PORT: undefined,
    VAPID_PUBLIC_KEY: undefined,
    VAPID_PRIVATE_KEY: undefined,
    VAPID_SUBJECT: undefined,
  };

  it("disables a provider whose variables are unset, with one info line naming the variable", async () => {
    const h = start(unset);
    expect(h.dispatcher.platforms).toEqual([]);
    const lines = h.log.lines.filter((l) => l.event === "push_provider");
    expect(lines).toEqual([
      expect.objectContaining({ level: "info", message: "push provider disabled", platform: "fcm", missing: "FCM_SERVICE_ACCOUNT" }),
      expect.objectContaining({ level: "info", message: "push provider disabled", platform: "apns", missing: "APNS_KEY" }),
      expect.objectContaining({ level: "info", message: "push provider disabled", platform: "webpush", missing: "VAPID_PUBLIC_KEY" }),
    ]);
    await expect(h.dispatcher.send(fcmDevice(), message())).resolves.toBe("disabled");
    await expect(h.dispatcher.send(apnsDevice(), message())).resolves.toBe("disabled");
    await expect(h.dispatcher.send(webDevice(), message())).resolves.toBe("disabled");
    expect(fcm.requests.length + apns.requests.length + web.requests.length).toBe(0);
    expect(await h.count("fcm", "disabled")).toBe(1);
    expect(await h.count("apns", "disabled")).toBe(1);
    expect(await h.count("webpush", "disabled")).toBe(1);
  });

  it("disables Web Push without VAPID_SUBJECT and keeps the others", () => {
    const h = start({ VAPID_SUBJECT: undefined });
    expect(h.dispatcher.platforms.sort()).toEqual(["apns", "fcm"]);
    expect(h.log.lines.filter((l) => l.message === "push provider disabled")).toEqual([
      expect.objectContaining({ level: "info", platform: "webpush", missing: "VAPID_SUBJECT" }),
    ]);
  });

  it("accepts a VAPID private key exported without its leading zero byte, and signs with it", async () => {
    // the same P-256 key as 32 bytes (first byte 0) and as the 31-byte integer some tools print
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.concat([Buffer.from([0, 0x5a]), randomBytes(30)]));
    const short = ecdh.getPrivateKey();
    expect(short).toHaveLength(31);
    const keys = { VAPID_PUBLIC_KEY: ecdh.getPublicKey().toString("base64url"), VAPID_PRIVATE_KEY: short.toString("base64url") };
    const h = start(keys);
    expect(h.dispatcher.platforms).toContain("webpush");
    const previous = web.acceptVapid({ publicKey: keys.VAPID_PUBLIC_KEY, subject: vapid.subject });
    try {
      await expect(h.dispatcher.send(webDevice(), message())).resolves.toBe("sent");
    } finally {
      web.acceptVapid(previous);
    }
    expect(web.problems).toEqual([]);
    // the push service checked the token's ES256 signature against that public key
    expect(web.requests.at(-1)!.vapid).toMatchObject({ sub: vapid.subject, k: keys.VAPID_PUBLIC_KEY });
  });

  const rsaPem = account.json.private_key!;
  const otherVapid = makeVapidKeys();
  it.each([
    ["FCM_SERVICE_ACCOUNT is not JSON", { FCM_SERVICE_ACCOUNT: '{"type": "service_account",' }, "fcm"],
    ["FCM_SERVICE_ACCOUNT names no file", { FCM_SERVICE_ACCOUNT: "/nonexistent/service-account.json" }, "fcm"],
    ["FCM_SERVICE_ACCOUNT lacks private_key", { FCM_SERVICE_ACCOUNT: JSON.stringify({ ...account.json, private_key: undefined }) }, "fcm"],
    ["FCM_SERVICE_ACCOUNT has a broken key", { FCM_SERVICE_ACCOUNT: JSON.stringify({ ...account.json, private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }) }, "fcm"],
    ["APNS_KEY names no file", { APNS_KEY: "/nonexistent/AuthKey.p8" }, "apns"],
    ["APNS_KEY is garbage PEM", { APNS_KEY: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n" }, "apns"],
    ["APNS_KEY is an RSA key", { APNS_KEY: rsaPem }, "apns"],
    ["VAPID keys do not match", { VAPID_PRIVATE_KEY: otherVapid.privateKey }, "webpush"],
    ["VAPID public key is too short", { VAPID_PUBLIC_KEY: "AAAA" }, "webpush"],
  ] as const)("disables the provider when %s (one warning, no throw)", async (_label, overrides, platform) => {
    const h = start(overrides);
    expect(h.dispatcher.platforms).not.toContain(platform);
    expect(h.dispatcher.platforms).toHaveLength(2);
    const warnings = h.log.lines.filter((l) => l.level === "warn");
    expect(warnings).toEqual([expect.objectContaining({ message: "push provider disabled", platform })]);
    // the warning says what is wrong without echoing the credential
    expect(h.log.raw.join("\n")).not.toContain("PRIVATE KEY");
    const dev = platform === "fcm" ? fcmDevice() : platform === "apns" ? apnsDevice() : webDevice();
    await expect(h.dispatcher.send(dev, message())).resolves.toBe("disabled");
  });
});

describe("push metrics, logs and lifecycle", () => {
  it("counts every send once with its final outcome, per channel", async () => {
    const h = start({ NOTIFY_RETRY_ATTEMPTS: "1" }, { volumeThreshold: 4, errorThresholdPercentage: 40, resetTimeout: 60_000 });
    await h.dispatcher.send(webDevice(), message()); // sent
    web.next({ status: 500 });
    await h.dispatcher.send(webDevice(), message()); // sent after one retry
    web.next({ status: 404 });
    await h.dispatcher.send(webDevice(), message()); // dead
    web.always({ status: 503 });
    await h.dispatcher.send(webDevice(), message()); // failed after 2 attempts: 3 of 6 attempts failed (> 40 %), the breaker opens
    await h.dispatcher.send(webDevice(), message()); // breaker_open
    apns.next(APNS_UNREGISTERED);
    await h.dispatcher.send(apnsDevice(), message()); // dead
    await h.dispatcher.send(fcmDevice(), message()); // sent

    expect(await h.count("webpush", "sent")).toBe(2);
    expect(await h.count("webpush", "dead")).toBe(1);
    expect(await h.count("webpush", "failed")).toBe(1);
    expect(await h.count("webpush", "breaker_open")).toBe(1);
    expect(await h.count("apns", "dead")).toBe(1);
    expect(await h.count("fcm", "sent")).toBe(1);
    expect(await h.count("fcm", "failed")).toBe(0);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain("# HELP switchboard_notifications_total Notification deliveries by channel and outcome");
  });

  it("logs outcomes with ids, never tokens, subscriptions or bodies", async () => {
    const h = start();
    const devices = [fcmDevice(), apnsDevice(), webDevice()];
    const msg = message({ title: "Secret title 7f3a", body: "Secret body 9c2e", data: { hint: "secret-data-55aa" } });
    apns.next(APNS_UNAVAILABLE);
    web.next({ status: 410 });
    fcm.always(FCM_INTERNAL);
    const outcomes = await Promise.all(devices.map((d) => h.dispatcher.send(d, msg)));
    expect(outcomes).toEqual(["failed", "sent", "dead"]);

    const text = h.log.raw.join("\n");
    for (const device of devices) {
      expect(text).toContain(device.id);
      expect(text).not.toContain(device.platform === "webpush" ? device.subscription.endpoint : device.token);
      if (device.platform === "webpush") expect(text).not.toContain(device.subscription.keys.auth);
    }
    for (const secret of ["Secret title 7f3a", "Secret body 9c2e", "secret-data-55aa", account.json.private_key_id!]) expect(text).not.toContain(secret);
    const failed = h.log.lines.find((l) => l.event === "push" && l.outcome === "failed");
    expect(failed).toMatchObject({ level: "warn", platform: "fcm", notificationId: msg.notificationId, attempts: 3, reason: "messaging/internal-error" });
    const dead = h.log.lines.find((l) => l.event === "push" && l.outcome === "dead");
    expect(dead).toMatchObject({ platform: "webpush", status: 410 });
  });

  it("gives each node its own firebase app and releases everything on close", async () => {
    const a = start({ NODE_ID: "twin" });
    const b = start({ NODE_ID: "twin" });
    const appNames = () => getApps().map((app) => app.name).filter((name) => name.startsWith("switchboard-fcm-twin"));
    expect(appNames()).toHaveLength(2);
    await expect(a.dispatcher.send(fcmDevice(), message())).resolves.toBe("sent");
    await expect(b.dispatcher.send(apnsDevice(), message())).resolves.toBe("sent");

    await a.dispatcher.close();
    await b.dispatcher.close();
    expect(appNames()).toHaveLength(0);
    await expect(a.dispatcher.send(fcmDevice(), message())).resolves.toBe("disabled");
    await expect(b.dispatcher.send(webDevice(), message())).resolves.toBe("disabled");
    await a.dispatcher.close(); // idempotent
  });

  it("stops waiting for a retry when closed", async () => {
    const h = start({ NOTIFY_RETRY_DELAY_MS: "5000" });
    web.always({ status: 503 });
    const pending = h.dispatcher.send(webDevice(), message());
    await sleep(100);
    const began = Date.now();
    await h.dispatcher.close();
    await expect(pending).resolves.toBe("failed");
    expect(Date.now() - began).toBeLessThan(1000);
    expect(web.requests).toHaveLength(1);
  });
});

describe("a node process", () => {
  // What a node started as a child process does: no `extraCa`, trust comes from NODE_EXTRA_CA_CERTS.
  const script = `
    const { loadConfig, createLogger } = require("@switchboard/server");
    const { createPushDispatcher } = require("@switchboard/server/dist/push");
    (async () => {
      const config = loadConfig(process.env);
      const dispatcher = createPushDispatcher(config, { logger: createLogger({ nodeId: config.nodeId, level: "error", silent: true }) });
      const outcomes = [];
      for (const device of JSON.parse(process.env.TEST_DEVICES)) outcomes.push(await dispatcher.send(device, JSON.parse(process.env.TEST_MESSAGE)));
      await dispatcher.close();
      process.stdout.write(JSON.stringify(outcomes));
    })().catch((err) => { console.error(err); process.exit(1); });
  `;
  const run = async (extra: Record<string, string>) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...pushEnv({ NOTIFY_RETRY_ATTEMPTS: "0" }), ...extra };
    env.TEST_DEVICES = JSON.stringify([fcmDevice(), apnsDevice(), webDevice()]);
    env.TEST_MESSAGE = JSON.stringify(message());
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { cwd: join(__dirname, "..", ".."), env, timeout: 20_000 });
    return JSON.parse(stdout) as PushOutcome[];
  };

  it("reaches all three local endpoints when NODE_EXTRA_CA_CERTS names the test CA", async () => {
    await expect(run({ NODE_EXTRA_CA_CERTS: pki.caFile })).resolves.toEqual(["sent", "sent", "sent"]);
    expect([...fcm.problems, ...apns.problems, ...web.problems]).toEqual([]);
    expect([fcm.requests.length, apns.requests.length, web.requests.length]).toEqual([1, 1, 1]);
  });

  it("refuses the endpoints' certificate without it", async () => {
    await expect(run({})).resolves.toEqual(["failed", "failed", "failed"]);
    expect([fcm.requests.length, apns.requests.length, web.requests.length]).toEqual([0, 0, 0]);
  });
});
