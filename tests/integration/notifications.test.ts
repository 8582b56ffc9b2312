/**
 * Notifications end to end (PROTOCOL §3 "Notifications and push", POST /v1/notify): real nodes
 * (memory: one; Redis: three on one redis-server), real socket.io clients, and local services that
 * speak the FCM, APNs and Web Push protocols. Online delivery and ack, ack timeout → push,
 * offline → push at once, retries, dead tokens, the inbox, and bad input refused.
 */
import type { Notification } from "@switchboard/shared";
import { closeClients, command, connect, type Client } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { metricValue } from "../helpers/metrics";
import { sleep, waitFor } from "../helpers/ports";
import { FCM_INTERNAL, PushLab, type TestSubscription } from "../helpers/push-endpoints";
import { serviceToken, signToken } from "../helpers/tokens";

const GRACE_MS = 700;

let lab: PushLab;
beforeAll(async () => {
  lab = await PushLab.start();
});
afterAll(async () => {
  await lab?.close();
});

const inbox = (client: Client) => collect<Notification>(client, "notification");

describe.each(["memory", "redis"] as const)("notifications (%s engine)", (name) => {
  const { nodes, url, unique } = clusterFixture({
    backing: name,
    nodes: name === "redis" ? 3 : 1,
    env: () => lab.env({ NOTIFY_ACK_GRACE_MS: String(GRACE_MS), NOTIFY_RETRY_ATTEMPTS: "3", NOTIFY_RETRY_DELAY_MS: "20", RATE_LIMIT_POINTS: "10000" }),
    pushCa: () => lab.pki.caPem,
  });
  const device = (sub: string, i: number, deviceId?: string) => connect(url(i), { tokenOptions: { sub }, deviceId });

  async function notify(body: Record<string, unknown>, i = 0, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${url(i)}/v1/notify`, {
      method: "POST",
      headers: { authorization: `Bearer ${token ?? (await serviceToken())}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Registers a Web Push subscription and an FCM token for `user` through a socket. */
  async function pushDevices(socket: Client): Promise<{ sub: TestSubscription; fcmToken: string; ids: string[] }> {
    const sub = lab.web.subscribe();
    const fcmToken = unique("fcm-token");
    const web = await command(socket, "push:register", { platform: "webpush", subscription: sub.subscription });
    const fcm = await command(socket, "push:register", { platform: "fcm", token: fcmToken });
    expect([web.ok, web.created, fcm.ok, fcm.created]).toEqual([true, true, true, true]);
    // Registering the same token again answers the id it has, not a new device.
    expect(await command(socket, "push:register", { platform: "fcm", token: fcmToken })).toEqual({ ok: true, id: fcm.id, created: false });
    return { sub, fcmToken, ids: [web.id as string, fcm.id as string] };
  }

  const webPushesOf = (sub: TestSubscription) => lab.web.requests.filter((r) => r.subscriptionId === sub.id && r.status === 201);
  const fcmPushesOf = (token: string) => lab.fcm.requests.filter((r) => r.message.token === token && r.status === 200);
  const notifiedIds = (sub: TestSubscription) => webPushesOf(sub).map((r) => (JSON.parse(r.plaintext!) as { notificationId: string }).notificationId);

  async function metric(channel: string, outcome: string): Promise<number> {
    let total = 0;
    for (const node of nodes) {
      const value = metricValue(await node.metrics.registry.metrics(), "switchboard_notifications_total", { channel, outcome });
      if (!Number.isNaN(value)) total += value;
    }
    return total;
  }

  afterEach(() => {
    closeClients();
    lab.reset();
  });

  it("delivers to every online device at once; an ack stops the push", async () => {
    const ana = unique("ana");
    const [phone, laptop] = [await device(ana, 0, "phone"), await device(ana, 1, "laptop")];
    const { sub, fcmToken } = await pushDevices(phone);
    const [phoneSeen, laptopSeen] = [inbox(phone), inbox(laptop)];

    const accepted = await notify({ userId: ana, type: "peer_message", priority: "high", title: "Bob", body: "Are you coming?", data: { roomId: "r1" } }, 2);
    expect(accepted).toEqual({ status: 202, body: { id: expect.any(String), delivery: "socket" } });
    const id = accepted.body.id as string;
    await waitFor(() => phoneSeen.length === 1 && laptopSeen.length === 1, 3000, "notification on both devices");
    const expected: Notification = {
      id,
      userId: ana,
      type: "peer_message",
      priority: "high",
      title: "Bob",
      body: "Are you coming?",
      data: { roomId: "r1" },
      createdAt: expect.any(Number) as number,
      expiresAt: expect.any(Number) as number,
      read: false,
    };
    expect(phoneSeen).toEqual([expected]);
    expect(laptopSeen).toEqual([expected]);
    expect(phoneSeen[0]!.expiresAt - phoneSeen[0]!.createdAt).toBe(7 * 24 * 3600 * 1000);

    expect(await command(laptop, "notification:ack", { id })).toEqual({ ok: true });
    await sleep(GRACE_MS + 500);
    expect(webPushesOf(sub)).toEqual([]);
    expect(fcmPushesOf(fcmToken)).toEqual([]);
    expect(phoneSeen).toHaveLength(1);
    // Acked is delivered, not read.
    const listed = await command(phone, "notification:list", {});
    expect(listed).toEqual({ ok: true, notifications: [expected] });
    expect(await metric("socket", "acked")).toBeGreaterThanOrEqual(1);
  });

  it("pushes to every push device once when no device acks within the grace period", async () => {
    const ben = unique("ben");
    const phone = await device(ben, 1, "phone");
    const { sub, fcmToken } = await pushDevices(phone);
    const apnsToken = "a".repeat(64);
    expect((await command(phone, "push:register", { platform: "apns", token: apnsToken })).ok).toBe(true);
    const seen = inbox(phone);

    const started = Date.now();
    const { body } = await notify({ userId: ben, type: "review_reminder", priority: "urgent", title: "Review", body: "Flashcards are due", ttl: 600 });
    await waitFor(() => seen.length === 1, 3000, "socket delivery");
    await waitFor(() => webPushesOf(sub).length === 1 && fcmPushesOf(fcmToken).length === 1 && lab.apns.requests.some((r) => r.token === apnsToken), 5000, "pushes");
    // Not before the grace period ran out.
    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE_MS);
    const web = webPushesOf(sub)[0]!;
    expect(JSON.parse(web.plaintext!)).toEqual({ notificationId: body.id, type: "review_reminder", title: "Review", body: "Flashcards are due", data: {} });
    expect(web.headers.urgency).toBe("high");
    expect(Number(web.headers.ttl)).toBeGreaterThan(590);
    expect(Number(web.headers.ttl)).toBeLessThanOrEqual(600);
    expect(fcmPushesOf(fcmToken)[0]!.message).toMatchObject({ notification: { title: "Review", body: "Flashcards are due" }, data: { notificationId: body.id }, android: { priority: "high" } });
    const apnsPush = lab.apns.requests.find((r) => r.token === apnsToken)!;
    expect(apnsPush.headers["apns-priority"]).toBe("10");
    expect(apnsPush.payload.aps?.alert).toEqual({ title: "Review", body: "Flashcards are due" });

    await sleep(GRACE_MS);
    expect(webPushesOf(sub)).toHaveLength(1);
    expect(fcmPushesOf(fcmToken)).toHaveLength(1);
    expect(await metric("socket", "unacked")).toBeGreaterThanOrEqual(1);
    expect(await metric("webpush", "sent")).toBeGreaterThanOrEqual(1);
  });

  it("pushes at once to a user with no device online, and files it in the inbox for later", async () => {
    const cleo = unique("cleo");
    const setup = await device(cleo, 0, "setup");
    const { sub } = await pushDevices(setup);
    setup.close();
    await waitFor(async () => {
      const res = await fetch(`${url(1)}/v1/presence/${cleo}`, { headers: { authorization: `Bearer ${await serviceToken()}` } });
      return ((await res.json()) as { online: boolean }).online === false;
    }, 3000, "offline");

    const started = Date.now();
    const first = await notify({ userId: cleo, type: "milestone_achieved", title: "Chapter 1", body: "Done", priority: "low" }, 1);
    expect(first.body.delivery).toBe("push");
    await waitFor(() => webPushesOf(sub).length === 1, 3000, "push");
    expect(Date.now() - started).toBeLessThan(GRACE_MS);
    expect(webPushesOf(sub)[0]!.headers.urgency).toBe("low");
    const second = await notify({ userId: cleo, type: "achievement_unlocked", title: "Streak", body: "7 days" }, 2);
    await waitFor(() => webPushesOf(sub).length === 2, 3000, "second push");

    // Coming back: the inbox holds both, newest first; reading one leaves the other unread.
    const back = await device(cleo, 2, "tablet");
    const all = await command(back, "notification:list", {});
    expect((all.notifications as Notification[]).map((n) => [n.id, n.read])).toEqual([
      [second.body.id, false],
      [first.body.id, false],
    ]);
    expect(await command(back, "notification:read", { id: first.body.id })).toEqual({ ok: true });
    const unread = await command(back, "notification:list", { unreadOnly: true });
    expect((unread.notifications as Notification[]).map((n) => n.id)).toEqual([second.body.id]);
    expect((await command(back, "notification:list", { limit: 1 })).notifications).toHaveLength(1);

    // The same inbox over REST.
    const token = await signToken({ sub: cleo });
    const rest = await fetch(`${url(0)}/v1/notifications?unreadOnly=true&limit=10`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await rest.json()) as { notifications: Notification[] }).notifications.map((n) => n.id)).toEqual([second.body.id]);
    const read = await fetch(`${url(1)}/v1/notifications/${second.body.id as string}/read`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect((await command(back, "notification:list", { unreadOnly: true })).notifications).toEqual([]);
    const missing = await fetch(`${url(1)}/v1/notifications/nope/read`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(missing.status).toBe(404);
    expect(await command(back, "notification:ack", { id: "nope" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("retries a failing push with back-off until it succeeds", async () => {
    const dan = unique("dan");
    const setup = await device(dan, 0);
    const fcmToken = unique("fcm-retry");
    expect((await command(setup, "push:register", { platform: "fcm", token: fcmToken })).ok).toBe(true);
    setup.close();
    await sleep(300); // offline everywhere
    // The next two FCM sends fail with 500; this is the only push of the test.
    lab.fcm.next(FCM_INTERNAL, FCM_INTERNAL);
    await notify({ userId: dan, type: "intervention_alert", title: "Check in", body: "How is it going?" });
    await waitFor(() => fcmPushesOf(fcmToken).length === 1, 5000, "eventual success");
    await sleep(200);
    expect(lab.fcm.requests.filter((r) => r.message.token === fcmToken).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(await metric("fcm", "sent")).toBeGreaterThanOrEqual(1);
  });

  it("removes a device whose subscription is gone and never pushes to it again", async () => {
    const eve = unique("eve");
    const setup = await device(eve, 0);
    const { sub, fcmToken, ids } = await pushDevices(setup);
    setup.close();
    await sleep(300);
    lab.web.forToken(sub.id, { status: 410, body: "gone" });
    await notify({ userId: eve, type: "peer_message", title: "1", body: "one" });
    await waitFor(() => fcmPushesOf(fcmToken).length === 1 && lab.web.requests.some((r) => r.subscriptionId === sub.id), 3000, "first round");
    const node = nodes[0]!;
    await waitFor(async () => (await node.engine.pushDevices.list("", eve)).length === 1, 3000, "dead device removed");
    expect((await node.engine.pushDevices.list("", eve)).map((d) => d.id)).toEqual([ids[1]]);
    expect(await metric("webpush", "dead")).toBeGreaterThanOrEqual(1);

    await notify({ userId: eve, type: "peer_message", title: "2", body: "two" });
    await waitFor(() => fcmPushesOf(fcmToken).length === 2, 3000, "second round");
    expect(lab.web.requests.filter((r) => r.subscriptionId === sub.id)).toHaveLength(1);
  });

  it("pushes each of many notifications exactly once per device", async () => {
    const fay = unique("fay");
    const setup = await device(fay, 0);
    const { sub, fcmToken } = await pushDevices(setup);
    setup.close();
    await sleep(300);
    const accepted = await Promise.all(Array.from({ length: 24 }, (_, i) => notify({ userId: fay, type: "peer_message", title: `m${i}`, body: "" }, i)));
    const ids = accepted.map((a) => a.body.id as string).sort();
    await waitFor(() => webPushesOf(sub).length >= 24 && fcmPushesOf(fcmToken).length >= 24, 10000, "all pushes");
    await sleep(500);
    expect(notifiedIds(sub).sort()).toEqual(ids);
    expect(fcmPushesOf(fcmToken).map((r) => r.message.data?.notificationId).sort()).toEqual(ids);
  });

  it("queues a request with a known clientNotifyId once: the retry answers the first id, nothing is delivered again", async () => {
    const hal = unique("hal");
    const [phone, laptop] = [await device(hal, 0, "phone"), await device(hal, 1, "laptop")];
    const [phoneSeen, laptopSeen] = [inbox(phone), inbox(laptop)];
    const request = { userId: hal, type: "review_reminder", title: "Review", body: "", clientNotifyId: "job-7:review" };
    const first = await notify(request, 0);
    expect(first).toEqual({ status: 202, body: { id: expect.any(String), delivery: "socket" } });
    // The same request again, through other nodes (the service lost the first answer), and once
    // more with other content: the id decides.
    expect(await notify(request, 1)).toEqual({ status: 202, body: { id: first.body.id, delivery: "socket", duplicate: true } });
    expect(await notify({ ...request, title: "Other" }, 2)).toEqual({ status: 202, body: { id: first.body.id, delivery: "socket", duplicate: true } });
    // Scoped to the user: another user's request with that id is a notification of its own.
    const other = await notify({ ...request, userId: unique("ida") }, 0);
    expect(other.body.id).not.toBe(first.body.id);
    expect(other.body.duplicate).toBeUndefined();
    // Another id for the same user: a new notification.
    const next = await notify({ ...request, clientNotifyId: "job-8:review" }, 0);
    expect(next.body.id).not.toBe(first.body.id);

    await waitFor(() => phoneSeen.length === 2 && laptopSeen.length === 2, 3000, "both notifications on both devices");
    await sleep(300);
    for (const seen of [phoneSeen, laptopSeen]) expect(seen.map((n) => [n.id, n.title])).toEqual([[first.body.id, "Review"], [next.body.id, "Review"]]);
    expect((await command(phone, "notification:list", {})).notifications).toHaveLength(2);
  });

  it("refuses bad notify requests and bad push registrations, and queues nothing for them", async () => {
    const gus = unique("gus");
    const ok = { userId: gus, type: "peer_message", title: "t", body: "b" };
    const bad: Record<string, unknown>[] = [
      { ...ok, userId: undefined },
      { ...ok, userId: "has spaces" },
      { ...ok, type: "no spaces allowed" },
      { ...ok, priority: "critical" },
      { ...ok, title: "" },
      { ...ok, title: "x".repeat(257) },
      { ...ok, body: undefined },
      { ...ok, data: "text" },
      { ...ok, ttl: 0 },
      { ...ok, ttl: 31 * 24 * 3600 },
      { ...ok, clientNotifyId: "" },
      { ...ok, clientNotifyId: "has spaces" },
      { ...ok, clientNotifyId: "x".repeat(65) },
      { ...ok, extra: true },
    ];
    for (const body of bad) {
      const res = await notify(body);
      expect([JSON.stringify(body), res.status, (res.body.error as { code: string }).code]).toEqual([JSON.stringify(body), 400, "VALIDATION_FAILED"]);
    }
    expect((await notify(ok, 0, await signToken({ sub: "someone" }))).status).toBe(403);
    const anonymous = await fetch(`${url(0)}/v1/notify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ok) });
    expect(anonymous.status).toBe(401);

    const socket = await device(gus, 1);
    const sub = lab.web.subscribe().subscription;
    const badRegistrations: Record<string, unknown>[] = [
      { platform: "sms", token: "t" },
      { platform: "fcm" },
      { platform: "fcm", token: "t", subscription: sub },
      { platform: "webpush", token: "t" },
      { platform: "webpush", subscription: { ...sub, endpoint: "http://insecure.example/push" } },
      { platform: "webpush", subscription: { endpoint: sub.endpoint, keys: { p256dh: "not base64!" , auth: "x" } } },
      { platform: "apns", token: "x".repeat(4097) },
    ];
    for (const payload of badRegistrations) {
      const reply = await command(socket, "push:register", payload);
      expect([JSON.stringify(payload), reply.error?.code]).toEqual([JSON.stringify(payload), "VALIDATION_FAILED"]);
    }
    expect(await command(socket, "push:unregister", { id: "pd-unknown" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await command(socket, "notification:list", { limit: 0 })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect((await command(socket, "notification:list", {})).notifications).toEqual([]);
    expect(await nodes[0]!.engine.pushDevices.list("", gus)).toEqual([]);
  });

  it("registers a push device once per address, over sockets and REST, up to 20", async () => {
    const hal = unique("hal");
    const socket = await device(hal, 0);
    const token = await signToken({ sub: hal });
    const first = await command(socket, "push:register", { platform: "apns", token: "b".repeat(64) });
    const again = await fetch(`${url(1)}/v1/push/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ platform: "apns", token: "b".repeat(64) }),
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ id: first.id });
    for (let i = 1; i < 20; i++) expect((await command(socket, "push:register", { platform: "fcm", token: `t-${i}` })).ok).toBe(true);
    expect(await command(socket, "push:register", { platform: "fcm", token: "t-21" })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED", details: { limit: 20 } } });
    const removed = await fetch(`${url(2)}/v1/push/devices/${first.id as string}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(removed.status).toBe(200);
    const created = await fetch(`${url(2)}/v1/push/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ platform: "fcm", token: "t-21" }),
    });
    expect(created.status).toBe(201);
    expect((await fetch(`${url(2)}/v1/push/devices/${first.id as string}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });
});
