/**
 * A node killed with SIGKILL in the middle of delivering: it owns every pending notification and
 * has emitted them to the user's device, and is waiting for acks. The other nodes claim its
 * entries once idle (XAUTOCLAIM) and finish the delivery from the recorded state: no second
 * `notification` event, and exactly one push per device per notification.
 */
import type { Notification } from "@switchboard/shared";
import type { Redis } from "ioredis";
import { closeClients, command, connect } from "../helpers/clients";
import { collect } from "../helpers/cluster";
import { NodeProcess } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { PushLab } from "../helpers/push-endpoints";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

const GRACE_MS = 4000;
const CLAIM_IDLE_MS = 1000;
const COUNT = 10;

describe("notification delivery when its owner node is killed", () => {
  let lab: PushLab;
  let redis: RedisServer;
  let store: Redis;
  const processes: NodeProcess[] = [];

  beforeAll(async () => {
    [lab, redis] = await Promise.all([PushLab.start(), RedisServer.start()]);
    store = redis.client();
  });
  afterAll(async () => {
    closeClients();
    await Promise.all(processes.map((p) => p.kill()));
    store?.disconnect();
    await redis?.destroy();
    await lab?.close();
  });

  it("lets another node claim the pending entries and push each exactly once per device", async () => {
    const env = lab.env({
      REDIS_URL: redis.url,
      NODE_EXTRA_CA_CERTS: lab.pki.caFile,
      NOTIFY_ACK_GRACE_MS: String(GRACE_MS),
      NOTIFY_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      NOTIFY_RETRY_DELAY_MS: "50",
    });
    const spawn = async () => {
      const node = await NodeProcess.spawn(env);
      processes.push(node);
      return node;
    };
    const owner = await spawn();

    // zoe is online on the owner node, with a Web Push subscription and an FCM token.
    const phone = await connect(owner.url, { tokenOptions: { sub: "zoe" }, deviceId: "phone" });
    const sub = lab.web.subscribe();
    expect((await command(phone, "push:register", { platform: "webpush", subscription: sub.subscription })).ok).toBe(true);
    expect((await command(phone, "push:register", { platform: "fcm", token: "zoe-fcm" })).ok).toBe(true);
    const phoneSeen = collect<Notification>(phone, "notification");

    // The owner is the only node reading: it takes every notification, emits, and waits for acks.
    const auth = { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" };
    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const res = await fetch(`${owner.url}/v1/notify`, { method: "POST", headers: auth, body: JSON.stringify({ userId: "zoe", type: "peer_message", title: `m${i}`, body: "" }) });
      ids.push(((await res.json()) as { id: string }).id);
    }
    await waitFor(() => phoneSeen.length === COUNT, 5000, "emitted to the phone");
    const emittedAt = Date.now();
    const pending = (await store.xpending("sb:{notify}:queue", "switchboard")) as [number, string, string, [string, string][]];
    expect(pending[0]).toBe(COUNT);
    expect(pending[3]).toEqual([[owner.nodeId, String(COUNT)]]);

    // Two more nodes join; zoe opens her laptop on one of them.
    const [second, third] = await Promise.all([spawn(), spawn()]);
    const laptop = await connect(second.url, { tokenOptions: { sub: "zoe" }, deviceId: "laptop" });
    const laptopSeen = collect<Notification>(laptop, "notification");

    expect((await owner.kill("SIGKILL")).signal).toBe("SIGKILL");
    expect(Date.now() - emittedAt).toBeLessThan(GRACE_MS);
    expect(lab.web.requests).toEqual([]);
    expect(lab.fcm.requests).toEqual([]);

    const webIds = () => lab.web.requests.filter((r) => r.status === 201).map((r) => (JSON.parse(r.plaintext!) as { notificationId: string }).notificationId);
    const fcmIds = () => lab.fcm.requests.filter((r) => r.status === 200).map((r) => String(r.message.data?.notificationId));
    await waitFor(() => webIds().length >= COUNT && fcmIds().length >= COUNT, 20_000, "pushes after the takeover");
    // The survivors honoured what was left of the grace period the owner started.
    expect(Date.now() - emittedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    await sleep(2 * CLAIM_IDLE_MS);

    expect(webIds().sort()).toEqual([...ids].sort());
    expect(fcmIds().sort()).toEqual([...ids].sort());
    // Already emitted by the first owner: not emitted again.
    expect(laptopSeen).toEqual([]);
    expect(((await store.xpending("sb:{notify}:queue", "switchboard")) as [number])[0]).toBe(0);
    const claims = [second, third].flatMap((n) => n.logs()).filter((l) => l.message === "claimed a notification");
    expect(claims).toHaveLength(COUNT);
  });
});
