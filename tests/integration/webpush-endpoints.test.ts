/**
 * Web Push endpoints are URLs any user registers, so the node only sends to public https hosts
 * (PROTOCOL §3 "Notifications and push"): registration refuses non-https URLs, IP literals outside
 * public unicast space (however they are spelled) and local host names; sending refuses a host
 * name when any of its addresses is not public, and connects only to an address it checked.
 * WEBPUSH_ALLOWED_HOSTS exempts hosts from the public-address rule.
 */
import { createECDH, randomBytes, randomUUID } from "node:crypto";
import type { LookupAddress } from "node:dns";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createLogger, type Logger, type SwitchboardNode } from "@switchboard/server";
import {
  PushDispatcher,
  PushError,
  WebPushEndpointPolicy,
  WebPushProvider,
  type PushDevice,
  type PushMessage,
  type Resolver,
} from "@switchboard/server/dist/push";
import winston from "winston";
import { closeClients, command, connect } from "../helpers/clients";
import { metricValue } from "../helpers/metrics";
import { startNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { createTestPki, makeVapidKeys, PushLab, type TestPki } from "../helpers/push-endpoints";
import { serviceToken, signToken } from "../helpers/tokens";

/** A local TLS push service that answers 201 to everything and counts what reaches it. */
class CountingPushService {
  connections = 0;
  requests = 0;

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
  ) {
    server.on("connection", () => this.connections++);
  }

  static async start(pki: TestPki): Promise<CountingPushService> {
    const server = https.createServer({ key: pki.keyPem, cert: pki.certPem });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const service = new CountingPushService(server, (server.address() as AddressInfo).port);
    server.on("request", (req, res) => {
      service.requests++;
      req.resume().on("end", () => res.writeHead(201).end());
    });
    return service;
  }

  reset(): void {
    this.connections = 0;
    this.requests = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const vapid = makeVapidKeys();
let pki: TestPki;
let service: CountingPushService;

beforeAll(async () => {
  pki = createTestPki();
  service = await CountingPushService.start(pki);
});
afterAll(async () => {
  await service?.close();
  pki?.cleanup();
});
beforeEach(() => service.reset());

/** Subscription keys as a browser makes them. */
function subscription(endpoint: string): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return { endpoint, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") } };
}

let seq = 0;
const webDevice = (endpoint: string): PushDevice => ({ id: `pd-${++seq}`, platform: "webpush", subscription: subscription(endpoint) });
const message = (): PushMessage => ({ notificationId: `n-${++seq}`, type: "peer_message", title: "t", body: "b", priority: "normal", ttlS: 60 });

/** A resolver that answers from a table and records every question. */
function fakeDns(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

const providers: WebPushProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  closeClients();
});

function provider(options: { allowedHosts?: string[]; resolve?: Resolver } = {}): WebPushProvider {
  const created = WebPushProvider.create({ vapid, extraCa: pki.caPem, requestTimeoutMs: 2000, ...options });
  providers.push(created);
  return created;
}

async function refusal(send: Promise<void>): Promise<PushError> {
  const err = await send.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PushError);
  return err as PushError;
}

describe("the Web Push endpoint policy", () => {
  const policy = new WebPushEndpointPolicy();

  it.each([
    ["http://push.example.com/p", /must be an https URL/],
    ["https://127.0.0.1/p", /127\.0\.0\.1 is not a public address \(loopback\)/],
    ["https://2130706433/p", /127\.0\.0\.1 is not a public address/],
    ["https://0x7f.1/p", /127\.0\.0\.1 is not a public address/],
    ["https://0177.0.0.1/p", /127\.0\.0\.1 is not a public address/],
    ["https://127.1/p", /127\.0\.0\.1 is not a public address/],
    ["https://0.0.0.0/p", /unspecified/],
    ["https://10.0.0.8/p", /private/],
    ["https://172.16.4.1/p", /private/],
    ["https://192.168.1.20/p", /private/],
    ["https://169.254.169.254/latest/meta-data", /linkLocal/],
    ["https://100.64.0.1/p", /carrierGradeNat/],
    ["https://224.0.0.1/p", /multicast/],
    ["https://240.0.0.1/p", /reserved/],
    ["https://[::1]/p", /::1 is not a public address \(loopback\)/],
    ["https://[::]/p", /unspecified/],
    ["https://[::ffff:127.0.0.1]/p", /loopback/],
    ["https://[::ffff:10.0.0.1]/p", /private/],
    ["https://[fe80::1]/p", /linkLocal/],
    ["https://[fd12:3456::1]/p", /uniqueLocal/],
    ["https://[ff02::1]/p", /multicast/],
    ["https://[64:ff9b::7f00:1]/p", /not a public address/],
    ["https://localhost/p", /localhost is a local host name/],
    ["https://LOCALHOST.:8443/p", /localhost is a local host name/],
    ["https://push.localhost/p", /local host name/],
    ["https://router.local/p", /local host name/],
    ["https://metadata/computeMetadata", /local host name/],
  ])("refuses %s", (endpoint, reason) => {
    expect(policy.problem(endpoint)).toMatch(reason);
  });

  it.each([
    "https://fcm.googleapis.com/fcm/send/abc:def",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
    "https://web.push.apple.com/QGuQyavXutnMH",
    "https://8.8.8.8/p",
    "https://[2606:4700:4700::1111]/p",
    "https://[::ffff:8.8.8.8]/p",
  ])("accepts the public endpoint %s", (endpoint) => {
    expect(policy.problem(endpoint)).toBeUndefined();
  });

  it("exempts WEBPUSH_ALLOWED_HOSTS from the public-address rule, never from https", () => {
    const allowing = new WebPushEndpointPolicy(["localhost", "10.0.0.8", "[::1]", "push.corp.example"]);
    expect(allowing.problem("https://localhost:8443/p")).toBeUndefined();
    expect(allowing.problem("https://10.0.0.8/p")).toBeUndefined();
    expect(allowing.problem("https://[::1]/p")).toBeUndefined();
    expect(allowing.problem("https://push.corp.example/p")).toBeUndefined();
    expect(allowing.problem("http://localhost/p")).toMatch(/https/);
    expect(allowing.problem("https://10.0.0.9/p")).toMatch(/private/);
  });

  it("resolves once per connection and hands over only the addresses it checked", async () => {
    // A rebinding name: public at the first answer, loopback at every later one.
    let answers = 0;
    const rebinding: Resolver = async () => [{ address: answers++ === 0 ? "93.184.215.14" : "127.0.0.1", family: 4 }];
    const lookup = policy.lookup(rebinding);
    const first = await new Promise<unknown>((resolve, reject) => lookup("push.example.com", { all: true }, (err, address) => (err ? reject(err) : resolve(address))));
    expect(first).toEqual([{ address: "93.184.215.14", family: 4 }]);
    expect(answers).toBe(1);
    const second = await new Promise<Error | null>((resolve) => lookup("push.example.com", {}, (err) => resolve(err)));
    expect(second?.message).toMatch(/push\.example\.com resolves to 127\.0\.0\.1, not a public address \(loopback\)/);
  });
});

describe("sending to a Web Push endpoint", () => {
  it("refuses a name that resolves to a loopback address and never connects", async () => {
    const dns = fakeDns({ "push.example.com": ["127.0.0.1"] });
    const err = await refusal(provider({ resolve: dns }).send(webDevice(`https://push.example.com:${service.port}/push/1`), message()));
    expect(err).toMatchObject({ kind: "permanent", reason: "endpoint_not_public", details: { refused: true } });
    expect(err.message).toMatch(/resolves to 127\.0\.0\.1/);
    expect(dns.asked).toEqual(["push.example.com"]);
    expect(service.connections).toBe(0);
  });

  it("refuses a name when any one of its addresses is not public", async () => {
    const dns = fakeDns({ "push.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:127.0.0.1"] });
    const err = await refusal(provider({ resolve: dns }).send(webDevice(`https://push.example.com:${service.port}/push/1`), message()));
    expect(err).toMatchObject({ kind: "permanent", reason: "endpoint_not_public" });
    expect(service.connections).toBe(0);
  });

  it.each([
    ["localhost", (port: number) => `https://localhost:${port}/push/1`],
    ["an IP literal", (port: number) => `https://127.0.0.1:${port}/push/1`],
    ["an IPv4-mapped IPv6 literal", (port: number) => `https://[::ffff:127.0.0.1]:${port}/push/1`],
    ["a decimal IPv4 literal", (port: number) => `https://2130706433:${port}/push/1`],
  ])("refuses %s stored before the check existed, without a connection", async (_what, endpoint) => {
    const dns = fakeDns({});
    const err = await refusal(provider({ resolve: dns }).send(webDevice(endpoint(service.port)), message()));
    expect(err).toMatchObject({ kind: "permanent", reason: "endpoint_not_public", details: { refused: true } });
    expect(dns.asked).toEqual([]);
    expect(service.connections).toBe(0);
  });

  it("sends to an allowed host, connecting to the address its lookup answered", async () => {
    const dns = fakeDns({ localhost: ["127.0.0.1"] });
    const web = provider({ allowedHosts: ["localhost"], resolve: dns });
    await web.send(webDevice(`https://localhost:${service.port}/push/1`), message());
    expect(dns.asked).toEqual(["localhost"]);
    expect([service.connections, service.requests]).toEqual([1, 1]);

    const literal = provider({ allowedHosts: ["127.0.0.1"] });
    await literal.send(webDevice(`https://127.0.0.1:${service.port}/push/2`), message());
    expect(service.requests).toBe(2);
  });

  it("fails the refused device once, keeps the breaker closed and still delivers to the others", async () => {
    const raw: string[] = [];
    const logger: Logger = createLogger({ nodeId: "ssrf-test", level: "debug" });
    logger.clear();
    logger.add(new winston.transports.Stream({ stream: new Writable({ write: (chunk: Buffer, _e, cb) => (raw.push(...chunk.toString().split("\n").filter(Boolean)), cb()) }) }));
    const dns = fakeDns({ "push.example.com": ["10.1.2.3"], localhost: ["127.0.0.1"] });
    const dispatcher = new PushDispatcher({
      providers: { webpush: provider({ allowedHosts: ["localhost"], resolve: dns }) },
      retry: { retryAttempts: 3, retryDelayMs: 10 },
      logger,
      // opens on the third failure in a row, were refusals counted
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50 },
    });
    try {
      const refused = webDevice(`https://push.example.com:${service.port}/push/x`);
      for (let i = 0; i < 6; i++) expect(await dispatcher.send(refused, message())).toBe("failed");
      expect(dispatcher.breakerState("webpush")).toBe("closed");
      expect(await dispatcher.send(webDevice(`https://localhost:${service.port}/push/ok`), message())).toBe("sent");
      // one resolution and one log line per refused send: no retries
      expect(dns.asked.filter((h) => h === "push.example.com")).toHaveLength(6);
      const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.deviceId === refused.id);
      expect(lines).toHaveLength(6);
      expect(lines[0]).toMatchObject({ level: "warn", message: "push not delivered", outcome: "failed", attempts: 1, errorKind: "permanent", reason: "endpoint_not_public" });
      expect(service.requests).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });
});

describe("a node", () => {
  let lab: PushLab;
  let strict: SwitchboardNode;
  let allowing: SwitchboardNode;

  beforeAll(async () => {
    lab = await PushLab.start();
    // strict: only the local service's IP literal is allowed, so `localhost` stays refused
    strict = await startNode(lab.env({ WEBPUSH_ALLOWED_HOSTS: undefined, RATE_LIMIT_POINTS: "10000" }), { pushCa: lab.pki.caPem });
    allowing = await startNode(lab.env({ WEBPUSH_ALLOWED_HOSTS: "127.0.0.1", RATE_LIMIT_POINTS: "10000" }), { pushCa: lab.pki.caPem });
  });
  afterAll(async () => {
    await Promise.all([strict, allowing].filter(Boolean).map((n) => n.shutdown()));
    await lab?.close();
  });
  afterEach(() => lab.reset());

  it("refuses to register non-public or non-https endpoints, over sockets and REST, and stores nothing", async () => {
    const user = `eve-${randomUUID()}`;
    const socket = await connect(strict.url, { tokenOptions: { sub: user } });
    const token = await signToken({ sub: user });
    const keys = lab.web.subscribe().subscription.keys;
    const endpoints = [
      `https://127.0.0.1:${lab.web.port}/push/a`,
      "https://localhost/push/a",
      "https://10.0.0.8/push/a",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/push/a",
      "https://[::ffff:127.0.0.1]/push/a",
      "https://[fe80::1]/push/a",
      "https://[fd00::1]/push/a",
      "https://2130706433/push/a",
      "https://0x7f.1/push/a",
      "http://push.example.com/push/a",
    ];
    for (const endpoint of endpoints) {
      const reply = await command(socket, "push:register", { platform: "webpush", subscription: { endpoint, keys } });
      expect([endpoint, reply.error?.code]).toEqual([endpoint, "VALIDATION_FAILED"]);
      expect(reply.error?.message).toMatch(/subscription\.endpoint/);
      const res = await fetch(`${strict.url}/v1/push/devices`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ platform: "webpush", subscription: { endpoint, keys } }),
      });
      expect([endpoint, res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([endpoint, 400, "VALIDATION_FAILED"]);
    }
    const loopback = await command(socket, "push:register", { platform: "webpush", subscription: { endpoint: endpoints[0], keys } });
    expect(loopback.error).toEqual({
      code: "VALIDATION_FAILED",
      message: "invalid payload: subscription.endpoint must be on a public host: 127.0.0.1 is not a public address (loopback)",
      details: [{ path: "subscription.endpoint", message: "subscription.endpoint must be on a public host: 127.0.0.1 is not a public address (loopback)", type: "webpush.endpoint" }],
    });
    expect(await strict.engine.pushDevices.list("", user)).toEqual([]);

    // a public endpoint passes (nothing is sent: registering does not push)
    const ok = await command(socket, "push:register", { platform: "webpush", subscription: { endpoint: "https://fcm.googleapis.com/fcm/send/abc", keys } });
    expect(ok).toMatchObject({ ok: true, id: expect.any(String) });
  });

  it("registers and delivers to a host in WEBPUSH_ALLOWED_HOSTS", async () => {
    const user = `ida-${randomUUID()}`;
    const socket = await connect(allowing.url, { tokenOptions: { sub: user } });
    const sub = lab.web.subscribe();
    expect(await command(socket, "push:register", { platform: "webpush", subscription: sub.subscription })).toMatchObject({ ok: true });
    socket.close();
    await waitFor(async () => (await allowing.engine.presence.devices("", user)).length === 0, 5000, "offline");
    await notify(allowing, user);
    await waitFor(() => lab.web.requests.some((r) => r.subscriptionId === sub.id && r.status === 201), 5000, "the push");
  });

  it("refuses at send time an endpoint stored before the check, keeping that device and delivering to the others", async () => {
    const user = `max-${randomUUID()}`;
    const good = lab.web.subscribe();
    const stale = lab.web.subscribe();
    // as registered before endpoints were checked: the same local service, by name
    const staleEndpoint = stale.subscription.endpoint.replace("127.0.0.1", "localhost");
    await allowing.engine.pushDevices.register("", user, { id: "pd-good", platform: "webpush", subscription: good.subscription, createdAt: Date.now() }, 20);
    await allowing.engine.pushDevices.register("", user, { id: "pd-stale", platform: "webpush", subscription: { ...stale.subscription, endpoint: staleEndpoint }, createdAt: Date.now() }, 20);

    await notify(allowing, user);
    await waitFor(() => lab.web.requests.some((r) => r.subscriptionId === good.id && r.status === 201), 5000, "the push to the good device");
    await waitFor(async () => metricValue(await allowing.metrics.registry.metrics(), "switchboard_notifications_total", { channel: "webpush", outcome: "failed" }) >= 1, 5000, "the refusal");
    expect(lab.web.requests.filter((r) => r.subscriptionId === stale.id)).toEqual([]);
    expect((await allowing.engine.pushDevices.list("", user)).map((d) => d.id).sort()).toEqual(["pd-good", "pd-stale"]);
  });
});

async function notify(node: SwitchboardNode, userId: string): Promise<void> {
  const res = await fetch(`${node.url}/v1/notify`, {
    method: "POST",
    headers: { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" },
    body: JSON.stringify({ userId, type: "peer_message", title: "hi", body: "" }),
  });
  expect(res.status).toBe(202);
}
