/**
 * The whole promise under failures. Three node processes share one redis-server with AOF
 * persistence (`appendfsync always`). A chaos loop SIGKILLs a node and starts it again (same
 * NODE_ID and port, as a supervisor does), kills the nodes' pub/sub connections (CLIENT KILL TYPE
 * pubsub), and restarts Redis (SIGTERM or SIGKILL, then the same port and directory), while SDK
 * clients of three users (two devices each, spread over the nodes) publish to and follow three
 * rooms and write a synced document, and a service notifies them and two offline users whose
 * devices are on the local push services (FCM, APNs, Web Push). Publishes, writes and notifies are
 * sent again until acknowledged (publishes with their clientMsgId, notifies with a clientNotifyId).
 * When the chaos stops and the cluster settles, the counts are taken:
 *   - rooms: every acknowledged publish is in history once, and every device was handed every
 *     message of its rooms exactly once, in order, with no gap (history survived);
 *   - sync: every acknowledged write is in the resolved document — its value, or a sibling of a
 *     field listed in `conflicts` (vector_clock) — unless the strategy replaced it with a later
 *     acknowledged write (lww: a greater stamp; vector_clock: a write whose clock dominates it); and
 *     every device's SDK copy ends equal to the stored document;
 *   - notifications: every SDK device handed each of its user's notifications to the app once
 *     (live, or from the inbox after a reconnect), and every push device of an offline user got
 *     each of its user's notifications pushed once; a repeat with the first push's dedup key is
 *     allowed only where PROTOCOL §3 allows it (its owner died after the provider's answer: another
 *     node took over the dead node's lease). A device that stayed connected while its node's
 *     subscription was down gets what was sent meanwhile from the inbox when the node says
 *     `session:resync`; a notification it never got although it was emitted in such a window is
 *     counted as `missed-live` (and must be 0, like `lost`);
 *   - device sessions: the registry holds exactly the connected devices (none left by a dead process).
 * SOAK_SECONDS (default 60) is the whole test's time, CHAOS_SEED replays a chaos schedule, and
 * SOAK_STRATEGY (`lww` or `vector_clock`, by default the seed's parity) is the cluster's
 * CONFLICT_STRATEGY.
 */
import type { Client, Message, Notification, SyncDoc } from "@switchboard/client";
import { clockDominates } from "@switchboard/server";
import { keyLayout, type ConflictStrategy, type HybridClock, type SyncClock, type SyncDocument, type VectorClock } from "@switchboard/shared";
import { NodeSlot } from "../helpers/nodes";
import { freePort, sleep, waitFor } from "../helpers/ports";
import { PushLab } from "../helpers/push-endpoints";
import { between, pick, seededRandom, type Random } from "../helpers/random";
import { RedisServer } from "../helpers/redis";
import { closeSdkClients, sdkClient } from "../helpers/sdk";
import { serviceToken, signToken } from "../helpers/tokens";

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS || 60);
const SEED = Number(process.env.CHAOS_SEED || Math.floor(Math.random() * 1e9));
const STRATEGY = (process.env.SOAK_STRATEGY || (SEED % 2 === 0 ? "lww" : "vector_clock")) as ConflictStrategy;
/** Setting up before the chaos and settling after it take about this long when nothing is lost. */
const OVERHEAD_S = 10;
const CHAOS_MS = Math.max(15, SOAK_SECONDS - OVERHEAD_S) * 1000;
/** How long the deliveries get to arrive after the chaos. */
const SETTLE_MS = 30_000;
/** How long a started operation keeps being sent again after the workload was told to stop. */
const FINISH_MS = 20_000;
/** The most operations one workload loop makes (it stops on time long before). */
const MAX_OPS = CHAOS_MS / 10;
/** A notification emitted this close to a subscription drop may have been lost live (ms before, after). */
const DROP_MARGIN = [200, 1500] as const;

const ROOMS = ["soak-a", "soak-b", "soak-c"];
const ONLINE_USERS = ["alice", "bob", "carol"];
const DEVICES = ["phone", "laptop"];
const DOC = "soak";
const FIELDS = ["f0", "f1", "f2", "f3"];
const ACTIONS = ["kill-node", "kill-pubsub", "restart-redis"] as const;
type Action = (typeof ACTIONS)[number];

jest.setTimeout((SOAK_SECONDS + 120) * 1000);

/** A room message as the SDK handed it to the app. */
interface Handed {
  id: string;
  seq?: number;
  epoch?: string;
  key: string;
  /** Read from history: missed while away, or lost in live delivery. */
  replayed: boolean;
}

interface Device {
  user: string;
  deviceId: string;
  client: Client;
  /** What the SDK handed the app, per room. */
  got: Map<string, Handed[]>;
  gaps: string[];
  /** Notification id -> each time the app was handed it (`replayed`: read from the inbox after a reconnect). */
  notes: Map<string, { notification: Notification; replayed: boolean }[]>;
  doc: SyncDoc;
  /** vector_clock: what the device has seen (its acks and its SDK copy's clock). */
  seen: VectorClock;
  /** When each of its sessions began, and on which node. */
  sessions: { at: number; nodeId: string }[];
}

interface AckedPublish {
  room: string;
  key: string;
  id: string;
}

interface AckedWrite {
  user: string;
  device: string;
  state: Record<string, unknown>;
  /** The write's own clock: lww its stamp; vector_clock the sent clock with the device's entry of the ack. */
  clock: SyncClock;
}

interface SentNotification {
  user: string;
  id: string;
  tag: string;
  /** When its notify was answered (it was created before). */
  at: number;
}

/** A push device of an offline user, and its accepted pushes of a notification (the dedup key each carried). */
interface PushDevice {
  label: string;
  user: string;
  /** The id push:register gave it. */
  id: string;
  pushes(notificationId: string): string[];
}

/** A time a node's subscription to the others was down, or not back yet (every node's without `nodeId`). */
interface Drop {
  from: number;
  to: number;
  nodeId?: string;
}

/** Events with their time, to show what happened around a miss. */
class Trace {
  private readonly events: [number, string][] = [];
  constructor(private readonly start: number) {}
  add(what: string): void {
    this.events.push([Date.now(), what]);
  }
  seconds(at = Date.now()): string {
    return `${((at - this.start) / 1000).toFixed(1)}s`;
  }
  /** The events from `ms` before `at` to `ms` after, each with its time. */
  around(at: number, ms = 3000): string[] {
    return this.events.filter(([t]) => Math.abs(t - at) <= ms).map(([t, what]) => `  ${this.seconds(t)} ${what}`);
  }
}

/** How often each kind of failure was met and answered by sending again. */
class Tally {
  private readonly counts = new Map<string, number>();
  add(what: string, err: unknown): void {
    const code = (err as { code?: string }).code ?? (err instanceof Error ? err.message.slice(0, 40) : String(err));
    this.counts.set(`${what}:${code}`, (this.counts.get(`${what}:${code}`) ?? 0) + 1);
  }
  toString(): string {
    return [...this.counts].map(([k, n]) => `${k}=${n}`).join(" ") || "none";
  }
}

describe("chaos soak: node SIGKILLs, pub/sub drops and Redis restarts under load", () => {
  let trace: Trace;
  let lab: PushLab;
  let redis: RedisServer;
  let slots: NodeSlot[] = [];
  let service: string;

  beforeAll(async () => {
    trace = new Trace(Date.now());
    [lab, redis] = await Promise.all([PushLab.start(), RedisServer.start({ persistence: "aof" })]);
    service = await serviceToken();
    const env = lab.env({
      REDIS_URL: redis.url,
      NODE_EXTRA_CA_CERTS: lab.pki.caFile,
      LOG_LEVEL: "info",
      CONFLICT_STRATEGY: STRATEGY,
      RATE_LIMIT_POINTS: "100000",
      NOTIFY_ACK_GRACE_MS: "2000",
      NOTIFY_CLAIM_IDLE_MS: "3000",
      NOTIFY_RETRY_DELAY_MS: "100",
    });
    const ports = [await freePort(), await freePort(), await freePort()];
    slots = ports.map((port, i) => new NodeSlot(`soak-${i + 1}`, port, env));
    await Promise.all(slots.map((slot) => slot.start()));
  }, 60_000);

  afterAll(async () => {
    closeSdkClients();
    await Promise.all(slots.map((slot) => slot.kill("SIGTERM")));
    await redis?.destroy();
    await lab?.close();
  });

  /** A REST call to node `i` (modulo the nodes), a service's unless `token`; throws on a network error or a 5xx. */
  async function call(i: number, method: string, path: string, body?: unknown, token = service): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${slots[i % slots.length]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 500) throw Object.assign(new Error(`${method} ${path}: ${res.status}`), { code: `HTTP_${res.status}` });
    return { status: res.status, body: json };
  }

  /** The users' devices, each joined to every room and holding an SDK copy of the document. */
  async function openDevices(failures: Tally): Promise<Device[]> {
    const urls = slots.map((slot) => slot.url);
    const devices: Device[] = [];
    for (const [u, user] of ONLINE_USERS.entries()) {
      for (const name of DEVICES) {
        // Phones stay on their own node (one each, so every message crosses nodes) and wait for it
        // to come back; laptops start on the next node and fail over to the others.
        const home = name === "phone" ? u : u + 1;
        const list = name === "phone" ? [urls[home % urls.length]!] : [...urls.slice(home % urls.length), ...urls.slice(0, home % urls.length)];
        const deviceId = `${user}-${name}`;
        const client = await sdkClient(list, { tokenOptions: { sub: user }, deviceId, breaker: { cooldownMs: 2000 } });
        const device: Device = { user, deviceId, client, got: new Map(), gaps: [], notes: new Map(), doc: client.sync(DOC), seen: {}, sessions: [] };
        client.notifications.on("notification", (n, meta) => {
          device.notes.set(n.id, [...(device.notes.get(n.id) ?? []), { notification: n, replayed: meta.replayed }]);
          if (meta.replayed) trace.add(`${deviceId} handed ${String(n.data.tag)} from the inbox`);
        });
        client.on("error", (err) => {
          failures.add("sdk", err);
          trace.add(`${deviceId} error ${err.code} ${err.message}`);
        });
        client.on("session", (session) => {
          device.sessions.push({ at: Date.now(), nodeId: session.nodeId });
          trace.add(`${deviceId} session on ${session.nodeId}`);
        });
        client.on("disconnect", (reason) => trace.add(`${deviceId} disconnect ${reason}`));
        client.on("state", (state, code) => state === "failed" && failures.add("breaker", { code }));
        devices.push(device);
      }
    }
    for (const device of devices) {
      for (const id of ROOMS) {
        const got: Handed[] = [];
        device.got.set(id, got);
        const room = device.client.room(id);
        room.on("message", (m: Message, meta) => got.push({ id: m.id, seq: m.seq, epoch: m.epoch, key: (m.data as { key: string }).key, replayed: meta.replayed }));
        room.on("gap", (info) => device.gaps.push(`${id} after ${info.lastId}${info.epoch ? ` (epoch ${info.epoch})` : ""}`));
        await room.join();
      }
      await device.doc.ready;
    }
    return devices;
  }

  /** Two offline users with two push devices each, on the local push services. */
  async function registerPushDevices(): Promise<PushDevice[]> {
    const web = lab.web.subscribe();
    const tokens = { daveApns: "da7e0000000000000000000000000001", erinFcm: "erin-fcm-1", erinApns: "e1170000000000000000000000000002" };
    const specs = [
      {
        label: "dave-webpush",
        user: "dave",
        body: { platform: "webpush", subscription: web.subscription },
        pushes: (id: string) =>
          lab.web.requests.filter((r) => r.status === 201 && r.subscriptionId === web.id && (JSON.parse(r.plaintext!) as { notificationId: string }).notificationId === id).map((r) => r.headers.topic!),
      },
      {
        label: "dave-apns",
        user: "dave",
        body: { platform: "apns", token: tokens.daveApns },
        pushes: (id: string) => lab.apns.requests.filter((r) => r.status === 200 && r.token === tokens.daveApns && r.payload.notificationId === id).map((r) => r.headers["apns-collapse-id"]!),
      },
      {
        label: "erin-fcm",
        user: "erin",
        body: { platform: "fcm", token: tokens.erinFcm },
        // FCM has no dedup key for distinct messages: the app drops a repeat by data.notificationId.
        pushes: (id: string) => lab.fcm.requests.filter((r) => r.status === 200 && r.message.token === tokens.erinFcm && r.message.data?.notificationId === id).map(() => id),
      },
      {
        label: "erin-apns",
        user: "erin",
        body: { platform: "apns", token: tokens.erinApns },
        pushes: (id: string) => lab.apns.requests.filter((r) => r.status === 200 && r.token === tokens.erinApns && r.payload.notificationId === id).map((r) => r.headers["apns-collapse-id"]!),
      },
    ];
    const devices: PushDevice[] = [];
    for (const { body, ...spec } of specs) {
      const reply = await call(0, "POST", "/v1/push/devices", body, await signToken({ sub: spec.user }));
      expect(reply.status).toBe(201);
      devices.push({ ...spec, id: reply.body.id as string });
    }
    return devices;
  }

  it(`keeps every promise (seed ${SEED}, ${STRATEGY}, ${SOAK_SECONDS} s)`, async () => {
    const failures = new Tally();
    /** Set when the workload is told to stop: a started operation is sent again until then + FINISH_MS. */
    let stopAt = Infinity;
    const stopping = () => stopAt !== Infinity;

    /** Runs `attempt` until it succeeds (each failure counted, 150 ms apart); undefined when it never did. */
    async function untilDone<T>(what: string, attempt: () => Promise<T>): Promise<T | undefined> {
      for (let tries = 1; ; tries++) {
        try {
          return await attempt();
        } catch (err) {
          failures.add(what, err);
          if (Date.now() > stopAt + FINISH_MS || tries >= MAX_OPS) return undefined;
          await sleep(150);
        }
      }
    }

    // ---- setup ---------------------------------------------------------------------------------
    for (const room of ROOMS) expect((await call(0, "POST", "/v1/rooms", { id: room, name: room })).status).toBe(201);
    const devices = await openDevices(failures);
    const pushDevices = await registerPushDevices();
    const setupDone = trace.seconds();

    // ---- workload: publishes, sync writes and notifies, each sent again until acknowledged ------
    const published: AckedPublish[] = [];
    const writes: AckedWrite[] = [];
    const sent: SentNotification[] = [];
    let unfinished = 0;

    async function publishAcked(device: Device, room: string, key: string): Promise<void> {
      const ack = await untilDone("publish", () => device.client.room(room).publish({ key }, { clientMsgId: key }));
      if (ack) published.push({ room, key, id: ack.id });
      else unfinished++;
    }

    async function publisher(device: Device, rand: Random): Promise<void> {
      for (let n = 1; !stopping() && n <= MAX_OPS; n++) {
        await publishAcked(device, pick(rand, ROOMS), `${device.deviceId}.${n}`);
        await sleep(between(rand, 50, 250));
      }
    }

    async function writer(device: Device, rand: Random): Promise<void> {
      let previous: VectorClock | undefined;
      for (let n = 1; !stopping() && n <= MAX_OPS; n++) {
        const state: Record<string, unknown> = {};
        for (let k = 1 + Math.floor(rand() * 2); k > 0; k--) state[pick(rand, FIELDS)] = rand() < 0.1 ? null : `${device.deviceId}.${n}`;
        // vector_clock: the clock the device has seen; now and then the one of its previous write,
        // as a change made before the other device's latest writes arrived (concurrent writes).
        const fresh = STRATEGY === "vector_clock" ? merge(device.seen, device.doc.clock as VectorClock | undefined) : undefined;
        const context = fresh && previous && rand() < 0.3 ? previous : fresh;
        previous = context;
        const payload = context ? { key: DOC, state, clock: context } : { key: DOC, state };
        const ack = await untilDone("sync", () => device.client.request("sync:push", payload, { lane: `sync:${DOC}` }));
        if (!ack) unfinished++;
        else if (context) {
          // The store made the write the device's next event: the sent clock with the ack's entry of the device.
          const clock = ack.clock as VectorClock;
          device.seen = merge(device.seen, clock);
          writes.push({ user: device.user, device: device.deviceId, state, clock: { ...context, [device.deviceId]: clock[device.deviceId]! } });
        } else {
          writes.push({ user: device.user, device: device.deviceId, state, clock: ack.clock });
        }
        await sleep(between(rand, 100, 400));
      }
    }

    async function notifier(rand: Random): Promise<void> {
      let node = 0;
      const users = [...ONLINE_USERS, ...new Set(pushDevices.map((d) => d.user))];
      for (let n = 1; !stopping() && n <= MAX_OPS; n++) {
        const user = pick(rand, users);
        const tag = `n${n}`;
        const reply = await untilDone("notify", async () => {
          const via = slots[node % slots.length]!.nodeId;
          try {
            return await call(node++, "POST", "/v1/notify", { userId: user, type: "peer_message", title: tag, body: "", data: { tag }, clientNotifyId: tag });
          } catch (err) {
            trace.add(`notify ${tag} to ${user} via ${via} failed: ${(err as { code?: string }).code ?? String(err)}`);
            throw err;
          }
        });
        if (reply?.status === 202) {
          sent.push({ user, id: reply.body.id as string, tag, at: Date.now() });
          trace.add(`notify ${tag} to ${user}: ${JSON.stringify(reply.body)}`);
        } else unfinished++;
        await sleep(between(rand, 150, 450));
      }
    }

    const workload = [
      ...devices.filter((d) => d.deviceId.endsWith("-phone")).map((d, i) => publisher(d, seededRandom(SEED + 1 + i))),
      ...devices.map((d, i) => writer(d, seededRandom(SEED + 10 + i))),
      notifier(seededRandom(SEED + 20)),
    ];

    // ---- chaos: every action once in the seed's order, then at random ------------------------
    const performed: Record<Action, number> = { "kill-node": 0, "kill-pubsub": 0, "restart-redis": 0 };
    const drops: Drop[] = [];
    const timeline: string[] = [];
    const chaosRand = seededRandom(SEED);
    const first = [...ACTIONS].sort(() => chaosRand() - 0.5);
    const chaosEnds = Date.now() + CHAOS_MS;
    await sleep(1000);
    for (let round = 0; Date.now() < chaosEnds && round < MAX_OPS; round++) {
      const action = first.shift() ?? pick(chaosRand, ACTIONS);
      const at = trace.seconds();
      const from = Date.now();
      let what: string;
      if (action === "kill-node") {
        // Now and then down long enough to be swept as dead (2 x HEARTBEAT_TIMEOUT_MS); often back sooner.
        const slot = pick(chaosRand, slots);
        const downMs = between(chaosRand, 0, 3500);
        await slot.kill();
        await sleep(downMs);
        await slot.start();
        // Its sockets come back to a new process, whose subscription may still be on its way.
        drops.push({ from: Date.now(), to: Date.now(), nodeId: slot.nodeId });
        what = `SIGKILL ${slot.nodeId}, down ${Math.round(downMs)} ms`;
      } else if (action === "kill-pubsub") {
        const probe = redis.client();
        try {
          what = `CLIENT KILL TYPE pubsub: ${String(await probe.call("CLIENT", "KILL", "TYPE", "pubsub"))}`;
          drops.push({ from, to: Date.now() });
        } finally {
          probe.disconnect();
        }
      } else {
        const crash = chaosRand() < 0.5;
        const downMs = between(chaosRand, 100, 1500);
        await (crash ? redis.kill() : redis.stop());
        await sleep(downMs);
        await redis.restart();
        drops.push({ from, to: Date.now() });
        what = `Redis ${crash ? "SIGKILL" : "SIGTERM"}, down ${Math.round(downMs)} ms`;
      }
      performed[action]++;
      timeline.push(`${at} ${what}`);
      trace.add(what);
      await sleep(between(chaosRand, 1000, 3000));
    }
    const chaosDone = trace.seconds();

    // ---- quiesce: the cluster healthy, the clients connected, the workload finished -----------
    await waitFor(async () => (await Promise.all(slots.map(async (s) => (await fetch(`${s.url}/health/ready`)).status))).every((s) => s === 200), 20_000, "every node ready");
    await waitFor(() => devices.every((d) => d.client.state === "connected"), 20_000, "every device connected").catch(() => undefined);
    stopAt = Date.now();
    await Promise.all(workload);
    // A last message per publisher and room: a live delivery lost just before the end shows as a
    // seq jump at it, which the SDK fills from history.
    for (const device of devices.filter((d) => d.deviceId.endsWith("-phone"))) {
      for (const room of ROOMS) await publishAcked(device, room, `${device.deviceId}.last-${room}`);
    }
    // A last change through each device's SDK copy: each copy then holds the stored document (its
    // own push's answer, then the other device's `sync:state`).
    for (const device of devices) {
      device.doc.set({ last: device.deviceId });
      // set() shows the change at once ("local"); the next "local" change is the push's answer.
      let answered = false;
      const off = device.doc.on("change", (_state, source) => (answered ||= source === "local"));
      await waitFor(() => answered, 10_000, `${device.deviceId}'s last change answered`).catch(() => undefined);
      off();
    }
    const roomsAndPushesArrived = () =>
      devices.every((d) => published.every((p) => d.got.get(p.room)!.some((m) => m.key === p.key))) &&
      sent.every((n) => pushDevices.every((d) => d.user !== n.user || d.pushes(n.id).length > 0));
    await waitFor(roomsAndPushesArrived, SETTLE_MS, "every room message and push", 200).catch(() => undefined);
    // A notification comes live, or from the inbox after a reconnect or a `session:resync`.
    const notesArrived = () => sent.every((n) => devices.every((d) => d.user !== n.user || d.notes.has(n.id)));
    await waitFor(notesArrived, 10_000, "every notification handed over", 200).catch(() => undefined);
    // A dead node is swept within 2 x HEARTBEAT_TIMEOUT_MS: by now the registry holds the live sessions only.
    await waitFor(async () => (await sessionRegistry(redis, devices)).stale.length === 0, 5000, "no session of a dead process").catch(() => undefined);
    // Late duplicates would show now.
    await sleep(1000);
    const settleDone = trace.seconds();

    // ---- counts --------------------------------------------------------------------------------
    const history = new Map<string, Message[]>();
    for (const room of ROOMS) history.set(room, await readHistory((path) => call(0, "GET", path), room));
    const rooms = roomCounts(devices, published, history);
    const docs = new Map<string, SyncDocument>();
    for (const user of ONLINE_USERS) docs.set(user, (await call(0, "GET", `/v1/sync/${user}/${DOC}`)).body as unknown as SyncDocument);
    const sync = syncCounts(devices, writes, docs);
    const inboxes = new Map<string, Set<string>>();
    for (const user of ONLINE_USERS) {
      const listed = (await call(0, "GET", "/v1/notifications?limit=200", undefined, await signToken({ sub: user }))).body as unknown as { notifications: Notification[] };
      inboxes.set(user, new Set(listed.notifications.map((n) => n.id)));
    }
    const takeovers = new Set(
      slots.flatMap((s) => s.logs()).filter((line) => line.message === "took over the push of a dead node").map((line) => `${String(line.notificationId)}|${String(line.pushDeviceId)}`),
    );
    const emitted = new Map<string, number>();
    const probe = redis.client();
    for (const n of sent) {
      const at = await probe.hget(keyLayout().notificationDelivery("", n.user, n.id), "emittedAt");
      if (at !== null) emitted.set(n.id, Number(at));
    }
    probe.disconnect();
    const notifications = notificationCounts({ devices, pushDevices, sent, drops, inboxes, emitted, takeovers });
    const registry = await sessionRegistry(redis, devices);
    const crashes = slots.flatMap((s) => s.crashes);
    const errors = slots.flatMap((s) => s.logs()).filter((line) => line.level === "error");

    console.log(
      [
        `chaos soak: CHAOS_SEED=${SEED} SOAK_STRATEGY=${STRATEGY} SOAK_SECONDS=${SOAK_SECONDS}: set up at ${setupDone}, chaos until ${chaosDone}, settled at ${settleDone}, done at ${trace.seconds()}`,
        `chaos: ${ACTIONS.map((a) => `${a}=${performed[a]}`).join(" ")} crashes=${crashes.length} node-errors=${errors.length} stale-sessions=${registry.stale.length} missing-sessions=${registry.missing.length}`,
        `rooms: published=${rooms.published} delivered=${rooms.delivered} duplicates=${rooms.duplicates} lost=${rooms.lost} reordered=${rooms.reordered} gaps=${rooms.gaps} (stored=${rooms.stored}, from history=${rooms.replayed})`,
        `sync: writes=${sync.writes} kept=${sync.kept} conflicts=${sync.conflicts} lost=${sync.lost} (superseded=${sync.superseded}, concurrent=${sync.concurrent}, diverged copies=${sync.diverged})`,
        `notifications: sent=${notifications.sent} delivered=${notifications.delivered} duplicates=${notifications.duplicates} lost=${notifications.lost} (missed-live=${notifications.missedLive}, from the inbox=${notifications.fromInbox}, push repeats after a takeover=${notifications.pushRepeats})`,
        `sent again after: ${failures}; unfinished=${unfinished}`,
        `timeline: ${timeline.join("; ")}`,
        ...[...rooms.problems, ...sync.problems].slice(0, 10),
        ...notifications.problems.slice(0, 10).flatMap(([problem, at]) => [problem, ...trace.around(at)]),
        ...crashes,
        ...errors.slice(0, 5).map((line) => `node error: ${JSON.stringify(line).slice(0, 500)}`),
      ].join("\n"),
    );

    expect(crashes).toEqual([]);
    expect(registry).toEqual({ stale: [], missing: [] });
    for (const action of ACTIONS) expect(performed[action]).toBeGreaterThan(0);
    expect(unfinished).toBe(0);
    // Enough work that the counts mean something: several publishes and writes a second, a notification a second.
    expect(rooms.published).toBeGreaterThan(CHAOS_MS / 200);
    expect(sync.writes).toBeGreaterThan(CHAOS_MS / 200);
    expect(notifications.sent).toBeGreaterThan(CHAOS_MS / 1000);
    expect({ ...rooms, published: 0, delivered: 0, stored: 0, replayed: 0, problems: [] }).toEqual({
      published: 0, delivered: 0, stored: 0, replayed: 0, problems: [], duplicates: 0, lost: 0, reordered: 0, gaps: 0,
    });
    expect({ lost: sync.lost, diverged: sync.diverged }).toEqual({ lost: 0, diverged: 0 });
    expect({ duplicates: notifications.duplicates, lost: notifications.lost, missedLive: notifications.missedLive }).toEqual({ duplicates: 0, lost: 0, missedLive: 0 });
  });
});

/** A room's whole history, oldest first, through `get` (a REST GET). */
async function readHistory(get: (path: string) => Promise<{ body: Record<string, unknown> }>, room: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (let after = "0-0"; ; ) {
    const page = (await get(`/v1/rooms/${room}/messages?after=${after}&limit=500`)).body as unknown as { messages: Message[]; hasMore: boolean };
    messages.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return messages;
    after = page.messages.at(-1)!.id;
  }
}

/**
 * Every acknowledged publish stored once (`stored`; missing or twice: `lost`, `duplicates`), and
 * handed to every device of its room once (`delivered`; again: `duplicates`; never: `lost`), in
 * seq order within one epoch (`reordered` otherwise), nothing handed that history does not hold.
 */
function roomCounts(devices: readonly Device[], published: readonly AckedPublish[], history: ReadonlyMap<string, Message[]>) {
  const counts = { published: published.length, stored: 0, delivered: 0, duplicates: 0, lost: 0, reordered: 0, gaps: 0, replayed: 0, problems: [] as string[] };
  const keyOf = (m: Message) => (m.data as { key: string }).key;
  for (const [room, stored] of history) {
    const times = new Map<string, number>();
    for (const m of stored) times.set(keyOf(m), (times.get(keyOf(m)) ?? 0) + 1);
    for (const [key, n] of times) if (n > 1) counts.problems.push(`${room}: ${key} stored ${n} times`);
    for (const n of times.values()) counts.duplicates += n - 1;
    // One epoch (history survived every restart), seq 1…N in id order.
    if (new Set(stored.map((m) => m.epoch)).size > 1) counts.problems.push(`${room}: ${new Set(stored.map((m) => m.epoch)).size} epochs`);
    if (stored.some((m, i) => m.seq !== i + 1)) counts.problems.push(`${room}: seq is not 1…${stored.length}`);
    const acked = published.filter((p) => p.room === room);
    for (const p of acked) {
      if (stored.some((m) => m.id === p.id && keyOf(m) === p.key)) counts.stored++;
      else {
        counts.lost++;
        counts.problems.push(`${room}: ${p.key} (${p.id}) acknowledged, not in history`);
      }
    }
    const storedIds = new Set(stored.map((m) => m.id));
    for (const device of devices) {
      const got = device.got.get(room)!;
      const seen = new Set<string>();
      got.forEach((m, i) => {
        if (seen.has(m.key)) counts.duplicates++;
        else counts.delivered++;
        seen.add(m.key);
        if (m.replayed) counts.replayed++;
        const before = got[i - 1];
        if (before && (m.epoch !== before.epoch || m.seq! <= before.seq!)) counts.reordered++;
        if (!storedIds.has(m.id)) counts.problems.push(`${room}: ${device.deviceId} was handed ${m.key} (${m.id}), which history does not hold`);
      });
      for (const p of acked) {
        if (seen.has(p.key)) continue;
        counts.lost++;
        counts.problems.push(`${room}: ${p.key} never handed to ${device.deviceId}`);
      }
    }
  }
  counts.gaps = devices.reduce((n, d) => n + d.gaps.length, 0);
  for (const d of devices) for (const gap of d.gaps) counts.problems.push(`gap at ${d.deviceId}: ${gap}`);
  return counts;
}

/**
 * Per field, the acknowledged writes no other acknowledged write replaced by the strategy's rule
 * (lww: a greater stamp; vector_clock: a dominating clock) must all be in the stored document:
 * one alone shows its value (absent for a delete) and the field is not in `conflicts`; several are
 * siblings: the field is in `conflicts` and shows one of their values. Each such write counts
 * `kept`, each replaced one `superseded`, any other `lost`; `concurrent` counts the writes that
 * met a concurrent one on a field (vector_clock: neither clock dominates). Every device's SDK copy
 * must equal the stored document (`diverged` otherwise).
 */
function syncCounts(devices: readonly Device[], writes: readonly AckedWrite[], docs: ReadonlyMap<string, SyncDocument>) {
  const counts = { writes: writes.length, kept: 0, superseded: 0, concurrent: 0, conflicts: 0, lost: 0, diverged: 0, problems: [] as string[] };
  const replaces = (by: AckedWrite, w: AckedWrite) =>
    "wall" in by.clock ? later(by.clock as HybridClock, w.clock as HybridClock) : clockDominates(by.clock as VectorClock, w.clock as VectorClock);
  for (const [user, doc] of docs) {
    counts.conflicts += doc.conflicts.length;
    for (const field of FIELDS) {
      const onField = writes.filter((w) => w.user === user && field in w.state);
      const survivors = onField.filter((w) => !onField.some((o) => o !== w && replaces(o, w)));
      counts.superseded += onField.length - survivors.length;
      counts.concurrent += onField.filter((w) => onField.some((o) => o !== w && !replaces(o, w) && !replaces(w, o))).length;
      const shown = doc.state[field] ?? null;
      const inConflicts = doc.conflicts.includes(field);
      const ok = survivors.length === 1 ? !inConflicts && isEqual(survivors[0]!.state[field], shown) : inConflicts && survivors.some((s) => isEqual(s.state[field], shown));
      if (ok) counts.kept += survivors.length;
      else {
        counts.lost += survivors.length;
        counts.problems.push(`${user}.${field}: shows ${JSON.stringify(shown)} (conflicts ${JSON.stringify(doc.conflicts)}), kept writes ${JSON.stringify(survivors)}`);
      }
    }
    for (const device of devices.filter((d) => d.user === user)) {
      if (isEqual(device.doc.state, doc.state) && isEqual(device.doc.conflicts, doc.conflicts)) continue;
      counts.diverged++;
      counts.problems.push(`${device.deviceId} holds ${JSON.stringify(device.doc.state)} ${JSON.stringify(device.doc.conflicts)}, stored ${JSON.stringify(doc.state)} ${JSON.stringify(doc.conflicts)}`);
    }
  }
  return counts;
}

/**
 * Each acknowledged notification handed once to each SDK device of its user and pushed once to
 * each push device of its user (`delivered`). Handed twice, or pushed again other than after a
 * takeover of a dead owner's lease: `duplicates`. Never handed to a device that stayed connected
 * through a subscription drop when it was sent, and kept in the inbox: `missedLive`; any other
 * miss: `lost`. Problems come with the time to show the trace around.
 */
function notificationCounts(input: {
  devices: readonly Device[];
  pushDevices: readonly PushDevice[];
  sent: readonly SentNotification[];
  drops: readonly Drop[];
  inboxes: ReadonlyMap<string, Set<string>>;
  /** When each notification was emitted to its user's sockets (the delivery state's emittedAt). */
  emitted: ReadonlyMap<string, number>;
  takeovers: ReadonlySet<string>;
}) {
  const { devices, pushDevices, sent, drops, inboxes, emitted, takeovers } = input;
  const counts = { sent: sent.length, delivered: 0, duplicates: 0, lost: 0, missedLive: 0, fromInbox: 0, pushRepeats: 0, problems: [] as [string, number][] };
  /**
   * Emitted while the device was connected (no session of it began later, whose restore would
   * have read the inbox) to a node whose subscription was down or not back yet then, and kept in
   * the inbox.
   */
  const missedLive = (device: Device, n: SentNotification) => {
    const at = emitted.get(n.id);
    if (at === undefined || device.sessions.some((s) => s.at > at) || !inboxes.get(n.user)!.has(n.id)) return false;
    const nodeId = device.sessions.at(-1)?.nodeId;
    return drops.some((d) => (d.nodeId === undefined || d.nodeId === nodeId) && at >= d.from - DROP_MARGIN[0] && at <= d.to + DROP_MARGIN[1]);
  };
  const sentIds = new Set(sent.map((n) => n.id));
  for (const device of devices) {
    for (const [id, handed] of device.notes) {
      if (sentIds.has(id)) continue;
      // Only a notify that was never answered could have made it: one sent again made no second one.
      counts.duplicates += handed.length;
      const { notification } = handed[0]!;
      counts.problems.push([`${device.deviceId} was handed ${String(notification.data.tag)} under ${id}, which no notify answered`, notification.createdAt]);
    }
  }
  for (const n of sent) {
    for (const device of devices.filter((d) => d.user === n.user)) {
      const handed = device.notes.get(n.id) ?? [];
      if (handed.length > 0) {
        counts.delivered++;
        if (handed[0]!.replayed) counts.fromInbox++;
      } else if (missedLive(device, n)) {
        counts.missedLive++;
        counts.problems.push([`missed live (in the inbox): ${n.tag} ${n.id} to ${device.deviceId}`, emitted.get(n.id)!]);
      } else {
        counts.lost++;
        counts.problems.push([`lost: ${n.tag} ${n.id} to ${device.deviceId}`, n.at]);
      }
      counts.duplicates += Math.max(0, handed.length - 1);
    }
    for (const device of pushDevices.filter((d) => d.user === n.user)) {
      const keys = device.pushes(n.id);
      if (keys.length === 0) {
        counts.lost++;
        counts.problems.push([`lost: ${n.tag} ${n.id} to ${device.label}`, n.at]);
        continue;
      }
      counts.delivered++;
      // PROTOCOL §3: pushed again, with the first push's dedup key, only when its owner died after
      // the provider's answer and another node took over the dead node's lease.
      const again = keys.length - 1;
      if (again === 0) continue;
      if (new Set(keys).size === 1 && takeovers.has(`${n.id}|${device.id}`)) counts.pushRepeats += again;
      else {
        counts.duplicates += again;
        counts.problems.push([`pushed ${keys.length} times: ${n.tag} ${n.id} to ${device.label} (keys ${JSON.stringify(keys)})`, n.at]);
      }
    }
  }
  return counts;
}

/** The device sessions the registry holds that no connected device has (`stale`), and the reverse (`missing`). */
async function sessionRegistry(redis: RedisServer, devices: readonly Device[]): Promise<{ stale: string[]; missing: string[] }> {
  const probe = redis.client();
  try {
    const live = new Set(devices.map((d) => `${d.deviceId}|${d.client.session?.sessionId}`));
    const stored = new Set<string>();
    for (const user of new Set(devices.map((d) => d.user))) for (const field of Object.keys(await probe.hgetall(keyLayout().userDevices("", user)))) stored.add(field);
    return { stale: [...stored].filter((s) => !live.has(s)), missing: [...live].filter((s) => !stored.has(s)) };
  } finally {
    probe.disconnect();
  }
}

function merge(a: VectorClock | undefined, b: VectorClock | undefined): VectorClock {
  const out: VectorClock = { ...a };
  for (const [k, n] of Object.entries(b ?? {})) out[k] = Math.max(out[k] ?? 0, n);
  return out;
}

const later = (p: HybridClock, q: HybridClock) => p.wall > q.wall || (p.wall === q.wall && p.counter > q.counter);

/** JSON equality whatever the order of object keys; `undefined` and `null` alike (a deleted field). */
function isEqual(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, w]) => [k, canonical(w)])) : v;
  return JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
}
