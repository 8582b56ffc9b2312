/**
 * A notification's owner node is killed (SIGKILL) in the middle of pushing to an offline user's
 * three devices (Web Push, APNs, FCM), at each point a push can be at:
 *   (a) its lease taken, the request not sent yet;
 *   (b) the APNs and FCM requests sent and held unanswered by the provider (Web Push answered and
 *       recorded);
 *   (c) every provider answered, the answers not recorded yet;
 *   (d) as (a), and a supervisor starts the owner again at once with its NODE_ID, so the registry
 *       lists the node as live while the process holding the leases is gone.
 * Another node claims the queue entry once idle (NOTIFY_CLAIM_IDLE_MS) and takes each lease the
 * dead owner holds as soon as the node registry no longer lists it (HEARTBEAT_TIMEOUT_MS), so every
 * device gets its push within NOTIFY_CLAIM_IDLE_MS + 2 x HEARTBEAT_TIMEOUT_MS + the provider's
 * answer time: exactly once, or twice with the same dedup key in (c) (PROTOCOL §3).
 *
 * Points (a) and (c) are reached with the test-only hook SWITCHBOARD_TEST_PAUSE_PUSH (NODE_ENV=test
 * only), which stops every device push of the owner at that point; (b) with the providers' hold().
 */
import { keyLayout } from "@switchboard/shared";
import type { Redis } from "ioredis";
import { closeClients } from "../helpers/clients";
import { NodeProcess } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { PushLab } from "../helpers/push-endpoints";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

const CLAIM_IDLE_MS = 5000;
const HEARTBEAT_TIMEOUT_MS = 1500;
/** The provider's answer time on a node that has not pushed yet: TLS, HTTP/2, the FCM OAuth token. */
const ANSWER_MS = 1500;
const BOUND_MS = CLAIM_IDLE_MS + 2 * HEARTBEAT_TIMEOUT_MS + ANSWER_MS;

type Platform = "webpush" | "apns" | "fcm";
const PLATFORMS: readonly Platform[] = ["webpush", "apns", "fcm"];

describe("a push in flight when its owner node is killed", () => {
  let lab: PushLab;
  let redis: RedisServer;
  let store: Redis;
  let processes: NodeProcess[] = [];
  const measured: Record<string, Record<Platform, number>> = {};

  beforeAll(async () => {
    [lab, redis] = await Promise.all([PushLab.start(), RedisServer.start()]);
    store = redis.client();
  });
  afterEach(async () => {
    lab.release();
    lab.reset();
    await Promise.all(processes.map((p) => p.kill()));
    processes = [];
  });
  afterAll(async () => {
    closeClients();
    store?.disconnect();
    await redis?.destroy();
    await lab?.close();
    // The times from the kill to each device's push, for the record.
    console.log(`push after the owner's kill (ms), bound ${BOUND_MS}: ${JSON.stringify(measured)}`);
  });

  /**
   * Runs one kill point: the owner alone takes the notification and reaches `atKillPoint`, two
   * more nodes join, the owner is killed. Answers the notification id, the dead owner, the time
   * of the kill, and `restart`: starts a process with the owner's NODE_ID and port (no test hook).
   */
  async function killOwnerAt(
    name: string,
    ownerEnv: Record<string, string>,
    before: () => void,
    atKillPoint: (owner: NodeProcess, id: string) => Promise<unknown>,
  ): Promise<{ id: string; owner: NodeProcess; killedAt: number; survivors: NodeProcess[]; prefix: string; restart: () => Promise<NodeProcess> }> {
    const prefix = `lease-${name}:`;
    const env = lab.env({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      NODE_EXTRA_CA_CERTS: lab.pki.caFile,
      NOTIFY_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      HEARTBEAT_INTERVAL_MS: "1000",
      HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
      NOTIFY_RETRY_DELAY_MS: "50",
    });
    const spawn = async (extra: Record<string, string> = {}) => {
      const node = await NodeProcess.spawn({ ...env, ...extra });
      processes.push(node);
      return node;
    };
    const owner = await spawn(ownerEnv);

    // ana is offline, with a Web Push subscription, an APNs token and an FCM token.
    const userId = `ana-${name}`;
    const asAna = { authorization: `Bearer ${await signToken({ sub: userId })}`, "content-type": "application/json" };
    const sub = lab.web.subscribe();
    for (const device of [
      { platform: "webpush", subscription: sub.subscription },
      { platform: "apns", token: "a1b2c3d4e5f60718293a4b5c6d7e8f90" },
      { platform: "fcm", token: `fcm-${name}` },
    ]) {
      const res = await fetch(`${owner.url}/v1/push/devices`, { method: "POST", headers: asAna, body: JSON.stringify(device) });
      expect(res.status).toBe(201);
    }

    before();
    const auth = { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" };
    const res = await fetch(`${owner.url}/v1/notify`, { method: "POST", headers: auth, body: JSON.stringify({ userId, type: "peer_message", title: `hello ${name}`, body: "" }) });
    const { id, delivery } = (await res.json()) as { id: string; delivery: string };
    expect(delivery).toBe("push");
    await atKillPoint(owner, id);

    // Two more nodes join while the owner holds the entry (it keeps touching it), then it dies.
    const survivors = await Promise.all([spawn(), spawn()]);
    expect((await owner.kill("SIGKILL")).signal).toBe("SIGKILL");
    const killedAt = Date.now();
    return { id, owner, killedAt, survivors, prefix, restart: () => spawn({ NODE_ID: owner.nodeId, PORT: String(owner.port) }) };
  }

  /** Accepted pushes of `id` per platform, each with its dedup key. */
  function accepted(id: string): Record<Platform, string[]> {
    return {
      webpush: lab.web.requests.filter((r) => r.status === 201 && (JSON.parse(r.plaintext!) as { notificationId: string }).notificationId === id).map((r) => r.headers.topic!),
      apns: lab.apns.requests.filter((r) => r.status === 200 && r.payload.notificationId === id).map((r) => r.headers["apns-collapse-id"]!),
      fcm: lab.fcm.requests.filter((r) => r.status === 200 && r.message.data?.notificationId === id).map((r) => String(r.message.data?.notificationId)),
    };
  }

  /** Waits until every platform has `count` accepted pushes; answers the time each got there, from the kill. */
  async function timesToPush(id: string, killedAt: number, count: Record<Platform, number>): Promise<Record<Platform, number>> {
    const at: Partial<Record<Platform, number>> = {};
    await waitFor(
      () => {
        const now = accepted(id);
        for (const p of PLATFORMS) if (at[p] === undefined && now[p].length >= count[p]) at[p] = Date.now() - killedAt;
        return PLATFORMS.every((p) => at[p] !== undefined);
      },
      BOUND_MS + 10_000,
      "the pushes after the kill",
      20,
    );
    return at as Record<Platform, number>;
  }

  async function finished(prefix: string, survivors: NodeProcess[], takeovers: number): Promise<void> {
    await waitFor(async () => ((await store.xpending(`${prefix}{notify}:queue`, "switchboard")) as [number])[0] === 0, 5000, "the entry acked");
    const logs = survivors.flatMap((n) => n.logs());
    expect(logs.filter((l) => l.message === "claimed a notification")).toHaveLength(1);
    expect(logs.filter((l) => l.message === "took over the push of a dead node")).toHaveLength(takeovers);
  }

  /** Kill point (a): the owner paused with the three leases taken, no request sent. */
  const killOwnerAfterClaims = (name: string) =>
    killOwnerAt(
      name,
      { SWITCHBOARD_TEST_PAUSE_PUSH: "claimed" },
      () => undefined,
      (owner) => waitFor(() => owner.logs().filter((l) => l.message === "push paused for a test").length === 3, 10_000, "the owner paused after its claims"),
    );

  /** Each device gets its push once, within the bound after the kill; the entry ends acked after `takeovers` takeovers. */
  async function pushedOnceEach(name: string, id: string, killedAt: number, nodes: NodeProcess[], prefix: string, takeovers: number): Promise<void> {
    const times = await timesToPush(id, killedAt, { webpush: 1, apns: 1, fcm: 1 });
    measured[name] = times;
    for (const p of PLATFORMS) expect(times[p]).toBeLessThanOrEqual(BOUND_MS);
    await sleep(2000);
    const pushes = accepted(id);
    for (const p of PLATFORMS) expect(pushes[p]).toHaveLength(1);
    await finished(prefix, nodes, takeovers);
  }

  it("(a) killed with the leases taken, before any request: each device gets its push once", async () => {
    const { id, owner, killedAt, survivors, prefix } = await killOwnerAfterClaims("a");
    expect(owner.logs().filter((l) => l.message === "push paused for a test").map((l) => l.point)).toEqual(["claimed", "claimed", "claimed"]);
    expect([lab.web.requests, lab.apns.requests, lab.fcm.requests].map((r) => r.length)).toEqual([0, 0, 0]);
    await pushedOnceEach("a", id, killedAt, survivors, prefix, 3);
  });

  it("(d) killed with the leases taken and started again at once with its NODE_ID: each device gets its push once, as soon", async () => {
    const { id, killedAt, survivors, prefix, restart } = await killOwnerAfterClaims("d");
    // A supervisor starts it again at once: the registry lists its NODE_ID as live again, but the
    // process that holds the leases is gone.
    const again = await restart();
    await pushedOnceEach("d", id, killedAt, [...survivors, again], prefix, 3);
  });

  it("(b) killed with the APNs and FCM requests unanswered at the provider: each device gets its push once", async () => {
    const { id, killedAt, survivors, prefix } = await killOwnerAt(
      "b",
      {},
      () => {
        lab.apns.hold();
        lab.fcm.hold();
      },
      async (_owner, id) => {
        await waitFor(() => lab.apns.holdingCount === 1 && lab.fcm.holdingCount === 1 && accepted(id).webpush.length === 1, 10_000, "APNs and FCM held, Web Push answered");
        // The Web Push answer is recorded: that device is done.
        await waitFor(async () => {
          const [key] = await store.keys(`lease-b:*:delivery:${id}`);
          return key !== undefined && Object.keys(await store.hgetall(key)).some((f) => f.startsWith("sent:"));
        }, 5000, "the Web Push recorded as sent");
      },
    );
    // The providers see the owner's two requests lose their client (they stay unanswered), and
    // answer again.
    await waitFor(() => lab.apns.holdingCount === 0 && lab.fcm.holdingCount === 0, 5000, "the held requests' client gone");
    lab.apns.release();
    lab.fcm.release();

    const times = await timesToPush(id, killedAt, { webpush: 1, apns: 1, fcm: 1 });
    measured.b = { ...times, webpush: 0 };
    for (const p of ["apns", "fcm"] as const) expect(times[p]).toBeLessThanOrEqual(BOUND_MS);
    await sleep(2000);
    const pushes = accepted(id);
    for (const p of PLATFORMS) expect(pushes[p]).toHaveLength(1);
    expect(lab.apns.requests.filter((r) => r.status === 0)).toHaveLength(1);
    expect(lab.fcm.requests.filter((r) => r.status === 0)).toHaveLength(1);
    expect(lab.web.requests).toHaveLength(1);
    await finished(prefix, survivors, 2);
  });

  it("(c) killed after the providers answered, before the answers were recorded: each device gets it at most twice, with one dedup key", async () => {
    const { id, killedAt, survivors, prefix } = await killOwnerAt(
      "c",
      { SWITCHBOARD_TEST_PAUSE_PUSH: "answered" },
      () => undefined,
      (owner) => waitFor(() => owner.logs().filter((l) => l.message === "push paused for a test").length === 3, 10_000, "the owner paused after the answers"),
    );
    const first = accepted(id);
    for (const p of PLATFORMS) expect(first[p]).toHaveLength(1);

    const times = await timesToPush(id, killedAt, { webpush: 2, apns: 2, fcm: 2 });
    measured.c = times;
    for (const p of PLATFORMS) expect(times[p]).toBeLessThanOrEqual(BOUND_MS);
    await sleep(2000);
    const pushes = accepted(id);
    // The repeat carries the first push's dedup key: APNs apns-collapse-id and the Web Push Topic
    // replace it on the device; FCM's data.notificationId lets the app drop it.
    for (const p of PLATFORMS) {
      expect(pushes[p]).toHaveLength(2);
      expect(new Set(pushes[p]).size).toBe(1);
    }
    expect(pushes.apns[0]).toBe(id);
    expect(pushes.fcm[0]).toBe(id);
    expect(pushes.webpush[0]).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    await finished(prefix, survivors, 3);
  });
});

/**
 * Redis goes away (a crash; AOF persistence keeps every write) while the provider holds a push's
 * answer, and the answer comes before Redis is back: the owner, alive all along, keeps the push
 * until it can record it, so no claim sends it again once the lease lapses.
 */
describe("a push answered while Redis is away", () => {
  let lab: PushLab;
  let redis: RedisServer;
  let node: NodeProcess | undefined;

  beforeAll(async () => {
    [lab, redis] = await Promise.all([PushLab.start(), RedisServer.start({ persistence: "aof" })]);
  });
  afterAll(async () => {
    await node?.kill();
    await redis?.destroy();
    await lab?.close();
  });

  it("is recorded once Redis is back and the notification finished: pushed once", async () => {
    node = await NodeProcess.spawn(lab.env({ REDIS_URL: redis.url, NODE_EXTRA_CA_CERTS: lab.pki.caFile, NOTIFY_CLAIM_IDLE_MS: "2000", NOTIFY_RETRY_DELAY_MS: "50" }));
    const asUma = { authorization: `Bearer ${await signToken({ sub: "uma" })}`, "content-type": "application/json" };
    const sub = lab.web.subscribe();
    const registered = await fetch(`${node.url}/v1/push/devices`, { method: "POST", headers: asUma, body: JSON.stringify({ platform: "webpush", subscription: sub.subscription }) });
    expect(registered.status).toBe(201);

    lab.web.hold();
    const auth = { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" };
    const res = await fetch(`${node.url}/v1/notify`, { method: "POST", headers: auth, body: JSON.stringify({ userId: "uma", type: "peer_message", title: "hi", body: "" }) });
    const { id, delivery } = (await res.json()) as { id: string; delivery: string };
    expect(delivery).toBe("push");
    await waitFor(() => lab.web.holdingCount === 1, 10_000, "the push held by the provider");

    // Redis crashes; the provider answers while it is down; Redis comes back with its data.
    await redis.kill();
    lab.web.release();
    await waitFor(() => lab.web.requests.some((r) => r.status === 201), 5000, "the provider's answer");
    await sleep(1000);
    await redis.restart();

    const store = redis.client();
    try {
      const deliveryKey = keyLayout().notificationDelivery("", "uma", id);
      await waitFor(async () => Object.keys(await store.hgetall(deliveryKey)).some((f) => f.startsWith("sent:")), 10_000, "the push recorded as sent");
      await waitFor(async () => ((await store.xpending("sb:{notify}:queue", "switchboard")) as [number])[0] === 0, 10_000, "the notification finished");
    } finally {
      store.disconnect();
    }
    expect(lab.web.requests.filter((r) => r.status === 201)).toHaveLength(1);
  });
});
