/**
 * One contract for every engine implementation, run against the engines directly (no node):
 * the memory engine, the Redis engine on a single redis-server, and the Redis engine on a
 * three-master Redis Cluster (every script must keep its keys on one slot). Node registry,
 * presence registry, room membership index, notification queue, inbox, push devices and rate
 * limiter, leaderboards and live streams must behave identically, so features cannot tell them apart.
 */
import { emptyStreamAggregates, INBOX_SIZE, percentileOf, STREAM_WINDOW_NAMES, streamBucketStart, streamWindowBuckets, type StreamAggregates, type StreamPoint } from "@switchboard/shared";
import {
  type AcquireResult,
  type DeviceSession,
  type Engine,
  type NodeInfo,
  type NotificationEntry,
  type PresenceRecord,
  type PushDeviceRecord,
  type StoredNotification,
} from "@switchboard/server";
import { openEngine, startBacking, type Backing } from "../helpers/engines";
import { sleep } from "../helpers/ports";



interface Rejection {
  msBeforeNext: number;
  remainingPoints: number;
  consumedPoints: number;
}

/** The rejection of a consume that went over the limit (a RateLimiterRes). */
async function refusal(promise: Promise<unknown>): Promise<Rejection> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) throw err;
    return err as Rejection;
  }
  throw new Error("the consume was allowed");
}

const byId = (a: { sessionId: string }, b: { sessionId: string }) => a.sessionId.localeCompare(b.sessionId);

describe.each(["memory", "redis", "redis-cluster"] as const)("engine contract (%s)", (name) => {
  let backing: Backing;
  let engine: Engine;
  let counter = 0;
  const unique = (prefix: string) => `${prefix}-${++counter}`;
  const info = (nodeId: string, connections = 0): Omit<NodeInfo, "lastHeartbeat"> => ({ nodeId, version: "9.8.7", startedAt: 1_700_000_000_000, connections });
  const liveIds = async (timeoutMs: number) => (await engine.nodes.live(timeoutMs)).map((n) => n.nodeId);

  beforeAll(async () => {
    backing = await startBacking(name);
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(10000)).toBe(true);
  });
  afterAll(async () => {
    await engine?.close();
    await backing?.destroy();
  });

  it("names its kind and is available", () => {
    expect(engine.kind).toBe(name);
    expect(engine.isAvailable()).toBe(true);
  });

  describe("node registry", () => {
    it("makes a node live with its info on heartbeat, by the registry's clock", async () => {
      const nodeId = unique("node-live");
      expect(await liveIds(60_000)).not.toContain(nodeId);
      const before = Date.now();
      const now = await engine.nodes.heartbeat(info(nodeId, 7));
      expect(Math.abs(now - before)).toBeLessThan(2000);

      const live = await engine.nodes.live(60_000);
      expect(live.filter((n) => n.nodeId === nodeId)).toEqual([{ nodeId, version: "9.8.7", startedAt: 1_700_000_000_000, connections: 7, lastHeartbeat: now }]);
      expect(await engine.nodes.expired(60_000)).not.toContain(nodeId);

      // A later heartbeat updates the same entry.
      await sleep(5);
      const later = await engine.nodes.heartbeat(info(nodeId, 9));
      expect(later).toBeGreaterThanOrEqual(now);
      const again = (await engine.nodes.live(60_000)).filter((n) => n.nodeId === nodeId);
      expect(again).toEqual([expect.objectContaining({ nodeId, connections: 9, lastHeartbeat: later })]);
    });

    it("expires a node whose heartbeat is older than the timeout", async () => {
      const nodeId = unique("node-expiring");
      await engine.nodes.heartbeat(info(nodeId));
      expect(await liveIds(200)).toContain(nodeId);
      expect(await engine.nodes.expired(200)).not.toContain(nodeId);

      await sleep(300);
      expect(await liveIds(200)).not.toContain(nodeId);
      expect(await engine.nodes.expired(200)).toContain(nodeId);
      // Liveness is relative to the timeout asked for.
      expect(await liveIds(60_000)).toContain(nodeId);

      // A heartbeat brings it back.
      await engine.nodes.heartbeat(info(nodeId));
      expect(await liveIds(200)).toContain(nodeId);
      expect(await engine.nodes.expired(200)).not.toContain(nodeId);
    });

    it("gives the sweep lease of a dead node to exactly one of many claimants", async () => {
      const nodeId = unique("node-dead");
      await engine.nodes.heartbeat(info(nodeId));
      // Alive: nobody may sweep it.
      expect(await engine.nodes.claimSweep(nodeId, 60_000, 300)).toBe(false);
      await sleep(250);

      const claims = await Promise.all(Array.from({ length: 8 }, () => engine.nodes.claimSweep(nodeId, 200, 250)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      // While the lease holds, nobody else gets it.
      expect(await engine.nodes.claimSweep(nodeId, 200, 250)).toBe(false);

      // An expired lease (a sweeper that died) can be taken again, once.
      await sleep(350);
      const retry = await Promise.all(Array.from({ length: 4 }, () => engine.nodes.claimSweep(nodeId, 200, 250)));
      expect(retry.filter(Boolean)).toHaveLength(1);
    });

    it("refuses a sweep of an unknown node or one that came back", async () => {
      expect(await engine.nodes.claimSweep(unique("node-unknown"), 200, 300)).toBe(false);
      const nodeId = unique("node-back");
      await engine.nodes.heartbeat(info(nodeId));
      await sleep(250);
      await engine.nodes.heartbeat(info(nodeId));
      expect(await engine.nodes.claimSweep(nodeId, 200, 300)).toBe(false);
    });

    it("forgets a removed node entirely", async () => {
      const kept = unique("node-kept");
      const removed = unique("node-removed");
      await engine.nodes.heartbeat(info(kept));
      await engine.nodes.heartbeat(info(removed));
      expect(await liveIds(60_000)).toEqual(expect.arrayContaining([kept, removed]));

      await engine.nodes.remove(removed);
      expect(await liveIds(60_000)).toContain(kept);
      expect(await liveIds(60_000)).not.toContain(removed);
      await sleep(250);
      expect(await engine.nodes.expired(200)).not.toContain(removed);
      expect(await engine.nodes.expired(200)).toContain(kept);
      expect(await engine.nodes.claimSweep(removed, 200, 300)).toBe(false);
      // Removing an unknown node is harmless.
      await expect(engine.nodes.remove(unique("node-never"))).resolves.toBeUndefined();
    });
  });

  describe("presence registry", () => {
    const session = (userId: string, deviceId: string, sessionId: string, nodeId: string, tenant = ""): DeviceSession => ({ tenant, userId, deviceId, sessionId, nodeId });
    const admitted = { ok: true };
    /** An admission that changed the user's presence to these devices. */
    const admittedWith = (devices: string[]) => ({ ok: true, changed: expect.objectContaining({ devices, status: "online" }) });
    const changeOf = (result: AcquireResult): PresenceRecord => {
      if (!result.ok || !result.changed) throw new Error(`expected a presence change, got ${JSON.stringify(result)}`);
      return result.changed;
    };

    it("admits distinct devices up to the limit and refuses the next one with the count", async () => {
      const user = unique("user");
      const node = unique("node-devices");
      const phone = session(user, "phone", "s1", node);
      const laptop = session(user, "laptop", "s2", node);
      const tablet = session(user, "tablet", "s3", node);
      expect(await engine.presence.acquire(phone, 2)).toEqual(admittedWith(["phone"]));
      expect(await engine.presence.acquire(laptop, 2)).toEqual(admittedWith(["laptop", "phone"]));
      expect(await engine.presence.acquire(tablet, 2)).toEqual({ ok: false, devices: 2 });
      expect(await engine.presence.devices("", user)).toEqual(["laptop", "phone"]);
      // A refused session is not stored anywhere, not even in its node's list.
      expect((await engine.presence.sessionsOf(node)).sort(byId)).toEqual([phone, laptop]);
    });

    it("never counts a device twice: more sessions of a connected device are admitted at the limit, without a presence change", async () => {
      const user = unique("user");
      const node = unique("node-tabs");
      const tab1 = session(user, "phone", "tab-1", node);
      const tab2 = session(user, "phone", "tab-2", node);
      const tab3 = session(user, "phone", "tab-3", node);
      expect(await engine.presence.acquire(tab1, 1)).toEqual(admittedWith(["phone"]));
      expect(await engine.presence.acquire(tab2, 1)).toEqual(admitted);
      expect(await engine.presence.acquire(tab3, 1)).toEqual(admitted);
      // The same session again (a retried acquire) is not a second one either.
      expect(await engine.presence.acquire(tab1, 1)).toEqual(admitted);
      expect(await engine.presence.devices("", user)).toEqual(["phone"]);
      expect(await engine.presence.acquire(session(user, "laptop", "tab-4", node), 1)).toEqual({ ok: false, devices: 1 });
      expect((await engine.presence.sessionsOf(node)).sort(byId)).toEqual([tab1, tab2, tab3]);
    });

    it("frees a slot on release, and changes presence only when a device's last session goes", async () => {
      const user = unique("user");
      const node = unique("node-release");
      const phone1 = session(user, "phone", "p1", node);
      const phone2 = session(user, "phone", "p2", node);
      const laptop = session(user, "laptop", "l1", node);
      const tablet = session(user, "tablet", "t1", node);
      await engine.presence.acquire(phone1, 2);
      await engine.presence.acquire(phone2, 2);
      await engine.presence.acquire(laptop, 2);
      expect(await engine.presence.acquire(tablet, 2)).toEqual({ ok: false, devices: 2 });

      expect(await engine.presence.release([laptop], 60)).toEqual({ released: 1, changed: expect.objectContaining({ devices: ["phone"] }) });
      expect(await engine.presence.release([laptop], 60)).toEqual({ released: 0 });
      expect(await engine.presence.devices("", user)).toEqual(["phone"]);
      expect(await engine.presence.acquire(tablet, 2)).toEqual(admittedWith(["phone", "tablet"]));

      // One of two phone sessions leaves: the phone is still connected, still counts, nothing changed.
      expect(await engine.presence.release([phone1], 60)).toEqual({ released: 1 });
      expect(await engine.presence.devices("", user)).toEqual(["phone", "tablet"]);
      expect(await engine.presence.acquire(laptop, 2)).toEqual({ ok: false, devices: 2 });
      expect((await engine.presence.sessionsOf(node)).sort(byId)).toEqual([phone2, tablet]);

      // Both remaining devices in one release: one change, straight to offline.
      const last = await engine.presence.release([phone2, tablet], 60);
      expect(last).toEqual({ released: 2, changed: expect.objectContaining({ devices: [] }) });
      expect(await engine.presence.devices("", user)).toEqual([]);
      expect(await engine.presence.sessionsOf(node)).toEqual([]);
      // A session that was never acquired is not released.
      expect(await engine.presence.release([session(user, "ghost", "g1", node)], 60)).toEqual({ released: 0 });
      expect(await engine.presence.release([], 60)).toEqual({ released: 0 });
    });

    /** The presence a change leaves; a change may also carry the user's rooms (for its announcement), read in the same step. */
    const stateOf = ({ rooms: _rooms, ...state }: PresenceRecord): PresenceRecord => state;

    it("answers a change with the user's rooms when it reads them with it (the Redis engines do)", async () => {
      const user = unique("user");
      const node = unique("node-rooms");
      const [a, b] = [unique("room"), unique("room")];
      const room = (id: string) => ({ tenant: "", id, name: id, type: "chat", visibility: "public" as const, createdBy: user, createdAt: Date.now(), maxSize: 10 });
      await engine.rooms.create(room(a), [{ userId: user, joinedAt: 1 }], 60);
      await engine.rooms.create(room(b), [{ userId: user, joinedAt: 1 }], 60);
      const changes = [
        changeOf(await engine.presence.acquire(session(user, "phone", "p1", node), 5)),
        (await engine.presence.setStatus("", user, "away", undefined, 60))!,
        (await engine.presence.release([session(user, "phone", "p1", node)], 60)).changed!,
      ];
      for (const change of changes) {
        if (name === "memory") expect(change.rooms).toBeUndefined();
        else expect(change.rooms).toEqual([a, b].sort());
      }
    });

    it("reports every change with a larger rev and the time it happened", async () => {
      const user = unique("user");
      const node = unique("node-rev");
      const phone = session(user, "phone", "p1", node);
      expect(await engine.presence.get("", [user])).toEqual([{ userId: user, status: "online", devices: [], lastSeen: null, rev: 0 }]);
      const before = Date.now();
      const onlineRecord = changeOf(await engine.presence.acquire(phone, 5));
      expect(onlineRecord.lastSeen).toBeGreaterThanOrEqual(before - 1000);
      expect(onlineRecord.rev).toBeGreaterThan(0);

      const busy = (await engine.presence.setStatus("", user, "busy", "in a meeting", 60))!;
      expect(busy).toMatchObject({ userId: user, status: "busy", message: "in a meeting", devices: ["phone"] });
      expect(busy.rev).toBeGreaterThan(onlineRecord.rev);
      // Setting what is already set is no change.
      expect(await engine.presence.setStatus("", user, "busy", "in a meeting", 60)).toBeUndefined();
      // Dropping the message is one.
      const plain = (await engine.presence.setStatus("", user, "busy", undefined, 60))!;
      expect(plain.message).toBeUndefined();
      expect(plain.rev).toBeGreaterThan(busy.rev);

      const offline = (await engine.presence.release([phone], 60)).changed!;
      expect(offline).toMatchObject({ status: "busy", devices: [] });
      expect(offline.rev).toBeGreaterThan(plain.rev);
      expect(await engine.presence.get("", [user, unique("stranger")])).toEqual([stateOf(offline), expect.objectContaining({ devices: [], lastSeen: null, rev: 0 })]);
    });

    it("answers each change as exactly the presence that a read right after it finds", async () => {
      const user = unique("user");
      const node = unique("node-answer");
      const [phone, laptop] = [session(user, "phone", "p1", node), session(user, "laptop", "l1", node)];
      const readBack = async () => (await engine.presence.get("", [user]))[0]!;
      const steps: (() => Promise<PresenceRecord | undefined>)[] = [
        async () => changeOf(await engine.presence.acquire(phone, 5)),
        async () => changeOf(await engine.presence.acquire(laptop, 5)),
        () => engine.presence.setStatus("", user, "busy", "focus", 60),
        () => engine.presence.setStatus("", user, "away", undefined, 60),
        async () => (await engine.presence.release([phone], 60)).changed,
        async () => (await engine.presence.release([laptop], 60)).changed,
      ];
      let rev = 0;
      for (const step of steps) {
        const change = await step();
        expect(change).toBeDefined();
        expect(stateOf(change!)).toEqual(await readBack());
        expect(change!.rev).toBeGreaterThan(rev);
        rev = change!.rev;
      }
      expect(await readBack()).toMatchObject({ status: "away", devices: [] });
    });

    it("forgets an offline user's presence after the ttl, but keeps a connected user's", async () => {
      const gone = unique("user");
      const staying = unique("user");
      const node = unique("node-ttl");
      await engine.presence.acquire(session(gone, "d", "g1", node), 5);
      await engine.presence.acquire(session(staying, "d", "s1", node), 5);
      await engine.presence.setStatus("", gone, "away", "lunch", 1);
      await engine.presence.setStatus("", staying, "away", "lunch", 1);
      const last = (await engine.presence.release([session(gone, "d", "g1", node)], 1)).changed!;
      expect(await engine.presence.get("", [gone])).toEqual([stateOf(last)]);
      await sleep(2100);
      expect(await engine.presence.get("", [gone])).toEqual([{ userId: gone, status: "online", devices: [], lastSeen: null, rev: 0 }]);
      expect(await engine.presence.get("", [staying])).toEqual([expect.objectContaining({ status: "away", message: "lunch", devices: ["d"] })]);
      // Coming back later starts a new presence whose rev still exceeds the forgotten one.
      expect(changeOf(await engine.presence.acquire(session(gone, "d", "g2", node), 5)).rev).toBeGreaterThan(last.rev);
    });

    it("keeps users of different tenants apart and lists sessions per node", async () => {
      const user = unique("user");
      const nodeA = unique("node-a");
      const nodeB = unique("node-b");
      const plain = session(user, "d1", "a1", nodeA);
      const acme = session(user, "d2", "a2", nodeA, "acme");
      const acmeOnB = session(user, "d3", "b1", nodeB, "acme");
      expect(await engine.presence.acquire(plain, 1)).toEqual(admittedWith(["d1"]));
      // The same user id in another tenant is another user with its own limit.
      expect(await engine.presence.acquire(acme, 1)).toEqual(admittedWith(["d2"]));
      expect(await engine.presence.acquire(acmeOnB, 1)).toEqual({ ok: false, devices: 1 });
      expect(await engine.presence.acquire(acmeOnB, 2)).toEqual(admittedWith(["d2", "d3"]));
      await engine.presence.setStatus("acme", user, "dnd", undefined, 60);

      expect(await engine.presence.devices("", user)).toEqual(["d1"]);
      expect(await engine.presence.devices("acme", user)).toEqual(["d2", "d3"]);
      expect(await engine.presence.devices("other", user)).toEqual([]);
      expect((await engine.presence.get("", [user]))[0]).toMatchObject({ status: "online", devices: ["d1"] });
      expect((await engine.presence.get("acme", [user]))[0]).toMatchObject({ status: "dnd", devices: ["d2", "d3"] });
      expect((await engine.presence.sessionsOf(nodeA)).sort(byId)).toEqual([plain, acme]);
      expect(await engine.presence.sessionsOf(nodeB)).toEqual([acmeOnB]);
      expect(await engine.presence.sessionsOf(unique("node-empty"))).toEqual([]);
    });

    it("admits exactly `limit` devices out of many simultaneous acquires, each reporting one change", async () => {
      const user = unique("user");
      const node = unique("node-race");
      const attempts = Array.from({ length: 12 }, (_, i) => engine.presence.acquire(session(user, `dev-${i}`, `race-${i}`, node), 3));
      const results = await Promise.all(attempts);
      const wins = results.filter((r) => r.ok);
      expect(wins).toHaveLength(3);
      // Each admitted device saw a different presence: 1, 2 and 3 devices, with growing revs.
      const changes = wins.map(changeOf).sort((a, b) => a.rev - b.rev);
      expect(changes.map((c) => c.devices.length)).toEqual([1, 2, 3]);
      expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 9 }, () => ({ ok: false, devices: 3 })));
      expect(await engine.presence.devices("", user)).toHaveLength(3);
      expect(await engine.presence.sessionsOf(node)).toHaveLength(3);
    });
  });

  describe("room membership index", () => {
    const room = (id: string, createdBy: string) => ({ tenant: "", id, name: id, type: "chat", visibility: "public" as const, createdBy, createdAt: Date.now(), maxSize: 10 });

    it("lists the rooms a user belongs to, through create, join and leave", async () => {
      const user = unique("user");
      const [a, b] = [unique("room"), unique("room")];
      expect(await engine.rooms.roomsOf("", user)).toEqual([]);
      await engine.rooms.create(room(a, user), [{ userId: user, joinedAt: 1 }], 60);
      await engine.rooms.create(room(b, "someone"), [], 60);
      expect(await engine.rooms.roomsOf("", user)).toEqual([a]);
      expect(await engine.rooms.addMember("", b, { userId: user, joinedAt: 2 }, 60)).toBe("added");
      expect(await engine.rooms.roomsOf("", user)).toEqual([a, b].sort());
      expect(await engine.rooms.roomsOf("other", user)).toEqual([]);
      await engine.rooms.removeMember("", a, user);
      expect(await engine.rooms.roomsOf("", user)).toEqual([b]);
    });
  });

  describe("room history positions", () => {
    const room = (id: string) => ({ tenant: "", id, name: id, type: "chat", visibility: "public" as const, createdBy: "owner", createdAt: Date.now(), maxSize: 10 });
    const publish = (id: string, data: unknown, extra: { clientMsgId?: string; historyTtlS?: number } = {}) =>
      engine.history.publish({
        tenant: "",
        room: id,
        message: { from: { userId: "owner" }, kind: "text", data, ts: Date.now(), priority: "normal" },
        clientMsgId: extra.clientMsgId,
        historySize: 1000,
        historyTtlS: extra.historyTtlS ?? 60,
        idleTtlS: 60,
      });

    it("numbers a room's messages 1, 2, 3, … in one epoch, also under concurrent publishes, and reads the numbers back", async () => {
      const id = unique("room");
      await engine.rooms.create(room(id), [], 60);
      expect(await engine.history.position("", id)).toEqual({ seq: 0 });
      const first = await publish(id, "first");
      expect(first).toEqual({ status: "published", id: expect.any(String), seq: 1, epoch: expect.stringMatching(/^\S+$/) });
      const epoch = (first as { epoch: string }).epoch;
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => publish(id, i)));
      const seqs = outcomes.map((o) => (o as { seq: number }).seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
      expect(new Set(outcomes.map((o) => (o as { epoch: string }).epoch))).toEqual(new Set([epoch]));
      // Positions follow history order.
      const page = await engine.history.page("", id, { limit: 100 });
      expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
      expect(page.messages.every((m) => m.epoch === epoch)).toBe(true);
      expect(await engine.history.position("", id)).toEqual({ seq: 41, epoch });
      const recovery = await engine.history.since("", id, page.messages[38]!.id, 10);
      expect(recovery.messages.map((m) => [m.seq, m.epoch])).toEqual([[40, epoch], [41, epoch]]);
      expect(recovery.position).toEqual({ seq: 41, epoch });
      expect(await engine.history.message("", id, page.messages[0]!.id)).toMatchObject({ seq: 1, epoch, data: "first" });
    });

    it("reads many rooms' positions together, in the order asked, empty and unknown rooms at 0", async () => {
      const [a, b, c] = [unique("room"), unique("room"), unique("room")];
      for (const id of [a, b, c]) await engine.rooms.create(room(id), [], 60);
      const { epoch } = (await publish(a, 1)) as { epoch: string };
      await publish(a, 2);
      const { epoch: epochC } = (await publish(c, 1)) as { epoch: string };
      const asked = [c, b, a, unique("never-created")].map((id) => ({ tenant: "", room: id }));
      expect(await engine.history.positions([...asked, { tenant: "other", room: a }])).toEqual([{ seq: 1, epoch: epochC }, { seq: 0 }, { seq: 2, epoch }, { seq: 0 }, { seq: 0 }]);
      expect(await engine.history.positions([])).toEqual([]);
    });

    it("answers a duplicate publish with the first one's position", async () => {
      const id = unique("room");
      await engine.rooms.create(room(id), [], 60);
      const first = await publish(id, "pay", { clientMsgId: "c-1" });
      await publish(id, "other");
      expect(await publish(id, "pay", { clientMsgId: "c-1" })).toEqual({ status: "duplicate", id: (first as { id: string }).id, seq: 1, epoch: (first as { epoch: string }).epoch });
      expect(await engine.history.position("", id)).toMatchObject({ seq: 2 });
    });

    it("keeps apart rooms whose tenant and id spell the same text together, however often each is published into", async () => {
      const id = unique("room");
      // `acme` + `x<id>` and `acmex` + `<id>`: the same letters in a row, two rooms of two tenants.
      const rooms = [
        { tenant: "acme", room: `x${id}` },
        { tenant: "acmex", room: id },
      ];
      for (const { tenant, room: roomId } of rooms) await engine.rooms.create({ ...room(roomId), tenant }, [], 60);
      for (let round = 0; round < 3; round++) {
        for (const { tenant, room: roomId } of rooms) {
          const outcome = await engine.history.publish({
            tenant,
            room: roomId,
            message: { from: { userId: "owner" }, kind: "text", data: `${tenant}/${roomId}/${round}`, ts: Date.now(), priority: "normal" },
            historySize: 1000,
            historyTtlS: 60,
            idleTtlS: 60,
          });
          expect(outcome).toMatchObject({ status: "published", seq: round + 1 });
        }
      }
      for (const { tenant, room: roomId } of rooms) {
        const page = await engine.history.page(tenant, roomId, { limit: 10 });
        expect(page.messages.map((m) => m.data)).toEqual([0, 1, 2].map((round) => `${tenant}/${roomId}/${round}`));
      }
    });

    it("keeps a room alive while it is published into, and lets it go once idle", async () => {
      const id = unique("room");
      await engine.rooms.create(room(id), [], 1);
      const publishIdle = () =>
        engine.history.publish({ tenant: "", room: id, message: { from: { userId: "owner" }, kind: "text", data: 1, ts: Date.now(), priority: "normal" }, historySize: 1000, historyTtlS: 60, idleTtlS: 1 });
      // Six messages 300 ms apart: 1.5 s in all, past the 1 s idle TTL of the room's creation.
      for (let i = 0; i < 6; i++) {
        expect(await publishIdle()).toMatchObject({ status: "published", seq: i + 1 });
        await sleep(300);
      }
      await sleep(1100);
      expect(await publishIdle()).toEqual({ status: "missing" });
    });

    it("starts a new epoch at 1 once the room's history is gone", async () => {
      const id = unique("room");
      await engine.rooms.create(room(id), [], 60);
      await publish(id, "a", { historyTtlS: 1 });
      const before = (await publish(id, "b", { historyTtlS: 1 })) as { seq: number; epoch: string };
      expect(before.seq).toBe(2);
      await sleep(1200);
      expect(await engine.history.position("", id)).toEqual({ seq: 0 });
      const after = (await publish(id, "c")) as { seq: number; epoch: string };
      expect(after.seq).toBe(1);
      expect(after.epoch).not.toBe(before.epoch);
      expect(await engine.history.position("", id)).toEqual({ seq: 1, epoch: after.epoch });
    });
  });

  describe("rooms created per user", () => {
    const room = (id: string, createdBy: string, tenant = "") => ({ tenant, id, name: id, type: "chat", visibility: "public" as const, createdBy, createdAt: Date.now(), maxSize: 10 });

    it("refuses a create past the quota and creates nothing; only the creator's rooms under a quota count", async () => {
      const user = unique("creator");
      const [a, b, c] = [unique("room"), unique("room"), unique("room")];
      expect(await engine.rooms.create(room(a, user), [{ userId: user, joinedAt: 1 }], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(b, user), [], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(c, user), [{ userId: user, joinedAt: 1 }], 60, 2)).toBe("quota");
      expect(await engine.rooms.get("", c)).toBeUndefined();
      expect(await engine.rooms.roomsOf("", user)).toEqual([a]);
      // A taken id is `exists`, the user's own even at the quota.
      expect(await engine.rooms.create(room(a, user), [], 60, 2)).toBe("exists");
      // Rooms created without a quota (services), other users' and other tenants' rooms are not counted.
      expect(await engine.rooms.create(room(unique("room"), user), [], 60)).toBe("created");
      expect(await engine.rooms.create(room(unique("room"), unique("other")), [], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(unique("room"), user, "acme"), [], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(c, user), [], 60, 2)).toBe("quota");
      expect(await engine.rooms.create(room(c, user), [], 60, 3)).toBe("created");
    });

    it("gives a place back when a create finds the id taken by someone else", async () => {
      const user = unique("creator");
      const taken = unique("room");
      expect(await engine.rooms.create(room(taken, unique("other")), [], 60, 1)).toBe("created");
      expect(await engine.rooms.create(room(taken, user), [], 60, 1)).toBe("exists");
      expect(await engine.rooms.create(room(unique("room"), user), [], 60, 1)).toBe("created");
      expect(await engine.rooms.create(room(unique("room"), user), [], 60, 1)).toBe("quota");
    });

    it("stops counting a room once it expired, or once its id belongs to another creator", async () => {
      const user = unique("creator");
      const [a, b, c] = [unique("room"), unique("room"), unique("room")];
      expect(await engine.rooms.create(room(a, user), [], 1, 2)).toBe("created");
      expect(await engine.rooms.create(room(b, user), [], 1, 2)).toBe("created");
      expect(await engine.rooms.create(room(c, user), [], 60, 2)).toBe("quota");
      await sleep(1200);
      expect(await engine.rooms.get("", a)).toBeUndefined();
      // The user takes their own expired id again; someone else takes the other.
      expect(await engine.rooms.create(room(a, user), [], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(b, unique("other")), [], 60)).toBe("created");
      expect(await engine.rooms.create(room(c, user), [], 60, 2)).toBe("created");
      expect(await engine.rooms.create(room(unique("room"), user), [], 60, 2)).toBe("quota");
    });

    it("admits exactly the quota out of many simultaneous creates, through several nodes", async () => {
      // Two engines on one store are two nodes (the memory engine serves a single node).
      const second = name === "memory" ? engine : openEngine(backing.env);
      try {
        expect(await second.waitUntilAvailable(10000)).toBe(true);
        const user = unique("creator");
        const ids = Array.from({ length: 12 }, () => unique("room"));
        const results = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? engine : second).rooms.create(room(id, user), [], 60, 5)));
        expect(results.filter((r) => r === "created")).toHaveLength(5);
        expect(results.filter((r) => r === "quota")).toHaveLength(7);
        const stored = await Promise.all(ids.map((id) => engine.rooms.get("", id)));
        expect(stored.filter(Boolean)).toHaveLength(5);

        // The same id created many times at once: one room, counted once.
        const other = unique("creator");
        const same = unique("room");
        const races = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? engine : second).rooms.create(room(same, other), [], 60, 3)));
        expect(races.filter((r) => r === "created")).toHaveLength(1);
        expect(races.filter((r) => r === "exists")).toHaveLength(7);
        expect(await engine.rooms.create(room(unique("room"), other), [], 60, 3)).toBe("created");
        expect(await second.rooms.create(room(unique("room"), other), [], 60, 3)).toBe("created");
        expect(await engine.rooms.create(room(unique("room"), other), [], 60, 3)).toBe("quota");
      } finally {
        if (second !== engine) await second.close();
      }
    });
  });

  describe("notification queue", () => {
    /** A queue of its own (an engine on its own key prefix), so entries of other tests never mix in. */
    let own: Engine;
    let ownCounter = 0;
    beforeEach(async () => {
      own = openEngine({ ...backing.env, REDIS_KEY_PREFIX: `q${++ownCounter}-${process.pid}:` });
      expect(await own.waitUntilAvailable(10000)).toBe(true);
    });
    afterEach(async () => {
      await own.close();
    });
    const notification = (id: string, userId = "u1", tenant = ""): StoredNotification => ({
      tenant,
      id,
      userId,
      type: "peer_message",
      priority: "normal",
      title: `title ${id}`,
      body: "body",
      data: { n: 1, nested: { list: [] } },
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
    });
    const ids = (entries: NotificationEntry[]) => entries.map((e) => e.notification.id);

    it("hands each entry to one consumer, in order, with the notification intact", async () => {
      await own.notifications.enqueue(notification("n1"));
      await own.notifications.enqueue(notification("n2", "u2", "acme"));
      const first = await own.notifications.read("node-a", 10, 100);
      expect(ids(first)).toEqual(["n1", "n2"]);
      expect(first[1]!.notification).toEqual({ ...notification("n2", "u2", "acme"), createdAt: expect.any(Number), expiresAt: expect.any(Number) });
      // Nothing new for anyone.
      expect(await own.notifications.read("node-a", 10, 50)).toEqual([]);
      expect(await own.notifications.read("node-b", 10, 50)).toEqual([]);
    });

    it("delivers notifications queued before any node read (the group starts at the beginning)", async () => {
      for (const id of ["early-1", "early-2"]) await own.notifications.enqueue(notification(id));
      expect(ids(await own.notifications.read("late-node", 10, 100))).toEqual(["early-1", "early-2"]);
    });

    it("wakes a blocked read as soon as an entry arrives", async () => {
      await own.notifications.read("node-a", 1, 10); // the group exists
      const started = Date.now();
      const reading = own.notifications.read("node-a", 10, 5000);
      await sleep(100);
      await own.notifications.enqueue(notification("wake"));
      expect(ids(await reading)).toEqual(["wake"]);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it("splits entries between concurrent consumers without overlap", async () => {
      await own.notifications.read("node-a", 1, 10);
      for (let i = 0; i < 30; i++) await own.notifications.enqueue(notification(`s${i}`));
      const seen: Record<string, string[]> = { a: [], b: [], c: [] };
      await Promise.all(
        Object.keys(seen).map(async (c) => {
          for (let round = 0; round < 10; round++) seen[c]!.push(...ids(await own.notifications.read(`node-${c}`, 4, 50)));
        }),
      );
      const all = Object.values(seen).flat();
      expect(all.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `s${i}`).sort());
    });

    it("lets another consumer claim entries left idle, but not touched or acked ones", async () => {
      for (const id of ["c1", "c2", "c3"]) await own.notifications.enqueue(notification(id));
      const taken = await own.notifications.read("dead-node", 10, 100);
      expect(ids(taken)).toEqual(["c1", "c2", "c3"]);
      await own.notifications.ack([taken[0]!.entryId]);
      expect(await own.notifications.claim("rescuer", 10_000, 10)).toEqual([]);
      await sleep(250);
      await own.notifications.touch("dead-node", [taken[2]!.entryId]);
      const claimed = await own.notifications.claim("rescuer", 200, 10);
      expect(ids(claimed)).toEqual(["c2"]);
      expect(claimed[0]!.entryId).toBe(taken[1]!.entryId);
      // Now the rescuer's: not claimable until idle again, gone once acked.
      expect(await own.notifications.claim("other", 200, 10)).toEqual([]);
      await own.notifications.ack([claimed[0]!.entryId, taken[2]!.entryId]);
      await sleep(250);
      expect(await own.notifications.claim("other", 200, 10)).toEqual([]);
    });
  });

  describe("notification inbox", () => {
    const at = Date.now();
    const note = (userId: string, id: string, createdAt: number, ttlMs = 60_000, tenant = ""): StoredNotification => ({
      tenant,
      id,
      userId,
      type: "review_reminder",
      priority: "high",
      title: id,
      body: "",
      data: {},
      createdAt,
      expiresAt: Date.now() + ttlMs,
    });

    it("keeps each notification once, newest first, with read flags and unread filtering", async () => {
      const user = unique("user");
      expect(await engine.inbox.put(note(user, "a", at))).toBe(true);
      expect(await engine.inbox.put(note(user, "b", at + 1))).toBe(true);
      expect(await engine.inbox.put(note(user, "c", at + 2))).toBe(true);
      expect(await engine.inbox.put(note(user, "b", at + 1))).toBe(false);
      const list = await engine.inbox.list("", user, { unreadOnly: false, limit: 10 });
      expect(list.map((n) => n.id)).toEqual(["c", "b", "a"]);
      expect(list[0]).toEqual({ id: "c", userId: user, type: "review_reminder", priority: "high", title: "c", body: "", data: {}, createdAt: at + 2, expiresAt: expect.any(Number), read: false });

      expect(await engine.inbox.markRead("", user, "b")).toBe(true);
      expect(await engine.inbox.markRead("", user, "zzz")).toBe(false);
      expect((await engine.inbox.get("", user, "b"))?.read).toBe(true);
      expect(await engine.inbox.get("", user, "zzz")).toBeUndefined();
      expect((await engine.inbox.list("", user, { unreadOnly: true, limit: 10 })).map((n) => n.id)).toEqual(["c", "a"]);
      expect((await engine.inbox.list("", user, { unreadOnly: false, limit: 2 })).map((n) => n.id)).toEqual(["c", "b"]);
      expect((await engine.inbox.list("", user, { unreadOnly: true, limit: 1 })).map((n) => n.id)).toEqual(["c"]);
      // Another tenant's user of the same id has an inbox of their own.
      expect(await engine.inbox.list("acme", user, { unreadOnly: false, limit: 10 })).toEqual([]);
    });

    it("drops notifications at their expiry and keeps only the newest INBOX_SIZE", async () => {
      const user = unique("user");
      await engine.inbox.put(note(user, "short", at, 300));
      await engine.inbox.put(note(user, "long", at + 1, 60_000));
      await sleep(400);
      expect((await engine.inbox.list("", user, { unreadOnly: false, limit: 10 })).map((n) => n.id)).toEqual(["long"]);
      expect(await engine.inbox.markAcked("", user, "short")).toBe(false);
      // Already expired on arrival: not stored.
      expect(await engine.inbox.put(note(user, "stale", at, -1))).toBe(false);

      const crowded = unique("user");
      for (let i = 0; i < INBOX_SIZE + 5; i++) await engine.inbox.put(note(crowded, `m${String(i).padStart(4, "0")}`, at + i));
      const kept = await engine.inbox.list("", crowded, { unreadOnly: false, limit: INBOX_SIZE + 5 });
      expect(kept).toHaveLength(INBOX_SIZE);
      expect(kept[kept.length - 1]!.id).toBe("m0005");
    });

    it("tracks delivery: first emission wins, acks, and one push per device under a lease", async () => {
      const user = unique("user");
      await engine.inbox.put(note(user, "d1", at));
      expect(await engine.inbox.markEmitted("", user, "d1", 1000)).toBe(1000);
      expect(await engine.inbox.markEmitted("", user, "d1", 2000)).toBe(1000);
      expect(await engine.inbox.isAcked("", user, "d1")).toBe(false);
      expect(await engine.inbox.markAcked("", user, "d1")).toBe(true);
      expect(await engine.inbox.isAcked("", user, "d1")).toBe(true);
      expect(await engine.inbox.markAcked("", user, "unknown")).toBe(false);

      const byA = { owner: "node-a", leaseMs: 300 };
      const byB = { owner: "node-b", leaseMs: 300 };
      expect(await engine.inbox.claimPush("", user, "d1", "phone", byA)).toEqual({ status: "claimed" });
      expect(await engine.inbox.claimPush("", user, "d1", "phone", byB)).toEqual({ status: "busy", owner: "node-a" });
      expect(await engine.inbox.claimPush("", user, "d1", "laptop", byB)).toEqual({ status: "claimed" });
      await engine.inbox.pushSent("", user, "d1", "laptop");
      expect(await engine.inbox.claimPush("", user, "d1", "laptop", byA)).toEqual({ status: "sent" });
      // A lease whose owner vanished lapses; a sent push never does.
      await sleep(400);
      expect(await engine.inbox.claimPush("", user, "d1", "phone", byB)).toEqual({ status: "claimed" });
      expect(await engine.inbox.claimPush("", user, "d1", "laptop", { ...byB, takeOverFrom: "node-b" })).toEqual({ status: "sent" });
    });

    it("takes the lease of a dead owner at once, and only from that owner", async () => {
      const user = unique("user");
      await engine.inbox.put(note(user, "d2", at));
      const long = 60_000;
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-a", leaseMs: long })).toEqual({ status: "claimed" });
      // node-b found node-a dead: it takes the lease without waiting out its minute.
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-b", leaseMs: long, takeOverFrom: "node-a" })).toEqual({ status: "claimed" });
      // A second claimer that also found node-a dead loses: node-b holds the lease now.
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-c", leaseMs: long, takeOverFrom: "node-a" })).toEqual({ status: "busy", owner: "node-b" });
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-a", leaseMs: long })).toEqual({ status: "busy", owner: "node-b" });
      // node-b died too, with the push still in flight: node-c takes over from it.
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-c", leaseMs: long, takeOverFrom: "node-b" })).toEqual({ status: "claimed" });
      await engine.inbox.pushSent("", user, "d2", "phone");
      // Recorded as sent: no claim takes it again, dead owner or not.
      expect(await engine.inbox.claimPush("", user, "d2", "phone", { owner: "node-d", leaseMs: long, takeOverFrom: "node-c" })).toEqual({ status: "sent" });
      // A free lease is claimed whatever the claimer names as dead.
      expect(await engine.inbox.claimPush("", user, "d2", "laptop", { owner: "node-d", leaseMs: long, takeOverFrom: "node-x" })).toEqual({ status: "claimed" });
      expect(await engine.inbox.claimPush("", user, "d2", "laptop", { owner: "node-e", leaseMs: long })).toEqual({ status: "busy", owner: "node-d" });
    });
  });

  describe("push devices", () => {
    const fcm = (id: string, token: string, createdAt = 1): PushDeviceRecord => ({ id, platform: "fcm", token, createdAt });
    const web = (id: string, endpoint: string, createdAt = 1): PushDeviceRecord => ({
      id,
      platform: "webpush",
      subscription: { endpoint, keys: { p256dh: "BPk", auth: "a1" } },
      createdAt,
    });

    it("registers each address once, caps the count, lists oldest first and unregisters", async () => {
      const user = unique("user");
      expect(await engine.pushDevices.register("", user, fcm("p1", "tok-1", 1), 3)).toEqual({ id: "p1", created: true });
      expect(await engine.pushDevices.register("", user, fcm("p2", "tok-1", 2), 3)).toEqual({ id: "p1", created: false });
      expect(await engine.pushDevices.register("", user, { id: "p3", platform: "apns", token: "tok-1", createdAt: 3 }, 3)).toEqual({ id: "p3", created: true });
      expect(await engine.pushDevices.register("", user, web("p4", "https://push.example/1", 4), 3)).toEqual({ id: "p4", created: true });
      expect(await engine.pushDevices.register("", user, web("p5", "https://push.example/1", 5), 3)).toEqual({ id: "p4", created: false });
      expect(await engine.pushDevices.register("", user, web("p6", "https://push.example/2", 6), 3)).toBe("full");
      expect((await engine.pushDevices.list("", user)).map((d) => d.id)).toEqual(["p1", "p3", "p4"]);
      expect((await engine.pushDevices.list("", user))[2]).toEqual(web("p4", "https://push.example/1", 4));
      expect(await engine.pushDevices.list("acme", user)).toEqual([]);

      expect(await engine.pushDevices.unregister("", user, "p1")).toBe(true);
      expect(await engine.pushDevices.unregister("", user, "p1")).toBe(false);
      expect(await engine.pushDevices.register("", user, web("p6", "https://push.example/2", 6), 3)).toEqual({ id: "p6", created: true });
    });
  });

  describe("workspaces and agents", () => {
    const workspace = (id: string, tenant = "") => ({ tenant, id, name: `name of ${id}`, createdBy: "svc", createdAt: 1_700_000_000_000 });

    it("creates a workspace once per tenant, with members, and indexes it for its members and tenant", async () => {
      const id = unique("ws");
      const [alice, bob] = [unique("alice"), unique("bob")];
      expect(await engine.workspaces.create(workspace(id), [{ userId: bob, addedAt: 2 }, { userId: alice, addedAt: 1 }])).toBe(true);
      expect(await engine.workspaces.create(workspace(id), [])).toBe(false);
      expect(await engine.workspaces.get("", id)).toEqual({ ...workspace(id), memberCount: 2 });
      expect(await engine.workspaces.members("", id)).toEqual([
        { userId: alice, addedAt: 1 },
        { userId: bob, addedAt: 2 },
      ]);
      expect(await engine.workspaces.isMember("", id, alice)).toBe(true);
      expect(await engine.workspaces.isMember("", id, "stranger")).toBe(false);
      expect(await engine.workspaces.workspacesOf("", alice)).toEqual([id]);
      expect(await engine.workspaces.list("")).toContain(id);

      // Another tenant has a workspace of its own under the same id.
      expect(await engine.workspaces.get("acme", id)).toBeUndefined();
      expect(await engine.workspaces.isMember("acme", id, alice)).toBe(false);
      expect(await engine.workspaces.create(workspace(id, "acme"), [])).toBe(true);
      expect(await engine.workspaces.list("acme")).toContain(id);
      expect(await engine.workspaces.workspacesOf("acme", alice)).toEqual([]);
    });

    it("adds and removes members and keeps the user's index in step", async () => {
      const [a, b] = [unique("ws"), unique("ws")];
      const carol = unique("carol");
      await engine.workspaces.create(workspace(a), []);
      await engine.workspaces.create(workspace(b), [{ userId: carol, addedAt: 1 }]);
      expect(await engine.workspaces.addMember("", a, { userId: carol, addedAt: 5 })).toBe("added");
      expect(await engine.workspaces.addMember("", a, { userId: carol, addedAt: 6 })).toBe("present");
      expect(await engine.workspaces.addMember("", unique("missing"), { userId: carol, addedAt: 7 })).toBe("missing");
      expect(await engine.workspaces.members("", a)).toEqual([{ userId: carol, addedAt: 5 }]);
      expect(await engine.workspaces.workspacesOf("", carol)).toEqual([a, b].sort());
      expect(await engine.workspaces.removeMember("", a, carol)).toBe(true);
      expect(await engine.workspaces.removeMember("", a, carol)).toBe(false);
      expect(await engine.workspaces.workspacesOf("", carol)).toEqual([b]);
      expect((await engine.workspaces.get("", a))?.memberCount).toBe(0);
    });

    it("registers agents, moves them between workspaces and changes owner and name", async () => {
      const [w1, w2] = [unique("ws"), unique("ws")];
      const agent = unique("agent");
      const first = await engine.agents.register("", agent, { workspaceId: w1, ownerId: "owner-1", name: "Builder" });
      expect(first).toEqual({ agent: { id: agent, workspaceId: w1, ownerId: "owner-1", name: "Builder", createdAt: expect.any(Number), updatedAt: expect.any(Number) }, created: true });
      expect(Math.abs(first.agent.createdAt - Date.now())).toBeLessThan(2000);
      expect(await engine.agents.get("", agent)).toEqual(first.agent);
      expect(await engine.agents.agentsOf("", w1)).toEqual([agent]);

      await sleep(5);
      const moved = await engine.agents.register("", agent, { workspaceId: w2 });
      expect(moved.created).toBe(false);
      expect(moved.agent).toEqual({ id: agent, workspaceId: w2, createdAt: first.agent.createdAt, updatedAt: expect.any(Number) });
      expect(moved.agent.updatedAt).toBeGreaterThanOrEqual(first.agent.updatedAt);
      expect(await engine.agents.agentsOf("", w1)).toEqual([]);
      expect(await engine.agents.agentsOf("", w2)).toEqual([agent]);
      expect(await engine.agents.get("acme", agent)).toBeUndefined();
      expect(await engine.agents.get("", unique("nobody"))).toBeUndefined();
    });

    it("records an execution's lifecycle as the agent's last known state", async () => {
      const ws = unique("ws");
      const agent = unique("agent");
      expect(await engine.agents.record("", agent, "start", { executionId: "e1" })).toBeUndefined();
      expect(await engine.agents.execution("", agent)).toBeUndefined();
      await engine.agents.register("", agent, { workspaceId: ws });
      expect(await engine.agents.execution("", agent)).toBeUndefined();

      const task = { repo: "x", list: [], nested: { empty: {} }, n: 1.5 };
      const started = await engine.agents.record("", agent, "start", { executionId: "e1", task });
      expect(started).toEqual({
        state: { agentId: agent, executionId: "e1", workspaceId: ws, status: "running", progress: 0, task, startedAt: expect.any(Number), updatedAt: expect.any(Number) },
        ts: expect.any(Number),
      });
      expect(started!.state.startedAt).toBe(started!.ts);

      const progressed = await engine.agents.record("", agent, "update", { executionId: "e1", progress: 40, currentStep: "tests" });
      expect(progressed!.state).toMatchObject({ executionId: "e1", status: "running", progress: 40, currentStep: "tests", task, startedAt: started!.state.startedAt });
      const stepOnly = await engine.agents.record("", agent, "update", { executionId: "e1", status: "waiting" });
      expect(stepOnly!.state).toMatchObject({ status: "waiting", progress: 40, currentStep: "tests" });

      const done = await engine.agents.record("", agent, "complete", { executionId: "e1", result: { ok: [1, 2] } });
      expect(done!.state).toMatchObject({ status: "completed", progress: 100, result: { ok: [1, 2] }, completedAt: done!.ts });
      expect(await engine.agents.execution("", agent)).toEqual(done!.state);

      // A new execution starts over; one whose start was missed begins with its first event.
      const next = await engine.agents.record("", agent, "start", { executionId: "e2" });
      expect(next!.state).toEqual({ agentId: agent, executionId: "e2", workspaceId: ws, status: "running", progress: 0, startedAt: next!.ts, updatedAt: next!.ts });
      const failed = await engine.agents.record("", agent, "fail", { executionId: "e3", error: { code: "E_TIMEOUT", message: "took too long" } });
      expect(failed!.state).toEqual({
        agentId: agent,
        executionId: "e3",
        workspaceId: ws,
        status: "failed",
        progress: 0,
        error: { code: "E_TIMEOUT", message: "took too long" },
        startedAt: failed!.ts,
        updatedAt: failed!.ts,
        completedAt: failed!.ts,
      });
      expect(await engine.agents.execution("", agent)).toEqual(failed!.state);
      expect(await engine.agents.execution("acme", agent)).toBeUndefined();
    });
  });

  describe("leaderboards", () => {
    const board = () => unique("lb");
    const set = (tenant: string, id: string, userId: string, value: number, achievement?: { id: string; threshold?: number }) =>
      engine.leaderboards.score({ tenant, leaderboardId: id, userId, mode: "set", value, achievement });
    const inc = (tenant: string, id: string, userId: string, value: number, achievement?: { id: string; threshold?: number }) =>
      engine.leaderboards.score({ tenant, leaderboardId: id, userId, mode: "inc", value, achievement });

    it("ranks the highest score first and ties by user id, through sets and increments", async () => {
      const id = board();
      expect(await set("", id, "bob", 20)).toEqual({ score: 20, rank: 1, previous: null, unlocked: false });
      expect(await set("", id, "amy", 10)).toEqual({ score: 10, rank: 2, previous: null, unlocked: false });
      expect(await set("", id, "cat", 10)).toEqual({ score: 10, rank: 3, previous: null, unlocked: false });
      expect(await inc("", id, "cat", 15)).toEqual({ score: 25, rank: 1, previous: 10, unlocked: false });
      // An increment of a user not on the board starts from 0; scores may be negative or fractional.
      expect(await inc("", id, "dan", -1.25)).toEqual({ score: -1.25, rank: 4, previous: null, unlocked: false });
      expect(await inc("", id, "dan", 1.25)).toEqual({ score: 0, rank: 4, previous: -1.25, unlocked: false });
      expect(Object.is((await engine.leaderboards.standing("", id, "dan"))!.score, 0)).toBe(true);

      expect(await engine.leaderboards.range("", id, 1, 10)).toEqual({
        total: 4,
        entries: [
          { rank: 1, userId: "cat", score: 25 },
          { rank: 2, userId: "bob", score: 20 },
          { rank: 3, userId: "amy", score: 10 },
          { rank: 4, userId: "dan", score: 0 },
        ],
      });
      expect(await engine.leaderboards.range("", id, 2, 2)).toEqual({ total: 4, entries: [{ rank: 2, userId: "bob", score: 20 }, { rank: 3, userId: "amy", score: 10 }] });
      expect(await engine.leaderboards.standing("", id, "amy")).toEqual({ rank: 3, userId: "amy", score: 10 });
      expect(await engine.leaderboards.standing("", id, "zed")).toBeUndefined();
      // Another tenant's board of the same id is another board.
      expect(await engine.leaderboards.range("acme", id, 1, 10)).toEqual({ total: 0, entries: [] });
      expect(await set("acme", id, "amy", 1)).toMatchObject({ rank: 1 });
      expect((await engine.leaderboards.range("", id, 1, 10)).total).toBe(4);
    });

    it("computes at most one update per interval, as changes against the previous update", async () => {
      const id = board();
      const ref = { tenant: "", id };
      await set("", id, "amy", 10);
      await set("", id, "bob", 20);
      expect(await engine.leaderboards.due(1000)).toContainEqual(ref);
      expect(await engine.leaderboards.snapshot("", id, 10)).toEqual({ seq: 0, total: 0, top: [] });

      const first = await engine.leaderboards.flush(ref, 300, 2);
      expect(first).toEqual({
        status: "ok",
        update: {
          seq: 1,
          total: 2,
          ts: expect.any(Number),
          changes: [
            { rank: 1, userId: "bob", score: 20, previousRank: null },
            { rank: 2, userId: "amy", score: 10, previousRank: null },
          ],
          removed: [],
        },
      });
      expect(await engine.leaderboards.due(1000)).not.toContainEqual(ref);
      // Until it was sent, and then within the interval, nobody computes another, written to or not.
      await set("", id, "cat", 15);
      expect(await engine.leaderboards.flush(ref, 300, 2)).toEqual({ status: "busy" });
      expect(await engine.leaderboards.due(1000)).toContainEqual(ref);
      await sleep(350);
      expect(await engine.leaderboards.flush(ref, 300, 2)).toEqual({ status: "busy" });
      await engine.leaderboards.sent(ref, (first as { update: { ts: number } }).update.ts, 300);
      expect(await engine.leaderboards.flush(ref, 300, 2)).toEqual({
        status: "ok",
        update: { seq: 2, total: 3, ts: expect.any(Number), changes: [{ rank: 2, userId: "cat", score: 15, previousRank: null }], removed: ["amy"] },
      });
      expect(await engine.leaderboards.snapshot("", id, 10)).toEqual({ seq: 2, total: 3, top: [{ rank: 1, userId: "bob", score: 20 }, { rank: 2, userId: "cat", score: 15 }] });
      expect(await engine.leaderboards.snapshot("", id, 1)).toEqual({ seq: 2, total: 3, top: [{ rank: 1, userId: "bob", score: 20 }] });

      // Nothing written: nothing to send. Written without a visible change: no update either.
      await engine.leaderboards.sent(ref, Date.now() - 1000, 300);
      expect(await engine.leaderboards.flush(ref, 300, 2)).toEqual({ status: "clean" });
      await set("", id, "bob", 20);
      expect(await engine.leaderboards.flush(ref, 300, 2)).toEqual({ status: "same" });
      expect((await engine.leaderboards.snapshot("", id, 10)).seq).toBe(2);
    });

    it("gives the update of an interval to exactly one of many concurrent flushes", async () => {
      const id = board();
      await set("", id, "amy", 1);
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => engine.leaderboards.flush({ tenant: "", id }, 500, 10)));
      expect(outcomes.filter((o) => o.status === "ok")).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === "busy")).toHaveLength(7);
    });

    it("unlocks an achievement once per user, when a write takes the score across its threshold", async () => {
      const id = board();
      const gold = { id: "gold", threshold: 100 };
      expect((await set("", id, "amy", 50, gold)).unlocked).toBe(false);
      expect((await inc("", id, "amy", 60, gold)).unlocked).toBe(true);
      expect((await inc("", id, "amy", 10, gold)).unlocked).toBe(false);
      await set("", id, "amy", 0);
      expect((await set("", id, "amy", 200, gold)).unlocked).toBe(false);
      // Starting at the threshold crosses it; another user has their own.
      expect((await set("", id, "bob", 100, gold)).unlocked).toBe(true);
      // Without a threshold, the first write carrying it unlocks it.
      expect((await inc("", id, "bob", 1, { id: "first" })).unlocked).toBe(true);
      expect((await inc("", id, "bob", 1, { id: "first" })).unlocked).toBe(false);
    });
  });

  describe("live streams", () => {
    const stream = () => `metrics:${unique("st")}`;
    const points = (values: (number | null)[]) => values.map((value) => ({ data: value === null ? { note: "no value" } : { value }, value }));
    const arrival = (id: string) => Number(id.split("-")[0]);

    /** The aggregates the windows must show at `now`, from the points' arrival times. */
    function model(all: { id: string; value: number | null }[], now: number): StreamAggregates {
      const out = emptyStreamAggregates();
      for (const w of STREAM_WINDOW_NAMES) {
        const buckets = new Set(streamWindowBuckets(w, now));
        const values = all.filter((p) => p.value !== null && buckets.has(streamBucketStart(w, arrival(p.id)))).map((p) => p.value!);
        if (values.length === 0) continue;
        const sorted = [...values].sort((a, b) => a - b);
        out[w] = { count: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, min: sorted[0]!, max: sorted[sorted.length - 1]!, p50: percentileOf(sorted, 50), p95: percentileOf(sorted, 95) };
      }
      return out;
    }
    const close = (actual: StreamAggregates, expected: StreamAggregates) => {
      for (const w of STREAM_WINDOW_NAMES) {
        const { mean, ...rest } = actual[w];
        const { mean: expectedMean, ...expectedRest } = expected[w];
        expect({ w, ...rest }).toEqual({ w, ...expectedRest });
        if (expectedMean === null) expect(mean).toBeNull();
        else expect(mean).toBeCloseTo(expectedMean, 9);
      }
    };

    it("appends in order, answers the tail, and counts appends per stream", async () => {
      const name = stream();
      const ids = await engine.streams.append("", name, points([1, 2, null]), 1000);
      expect(ids).toHaveLength(3);
      expect([...ids].sort((a, b) => arrival(a) - arrival(b) || Number(a.split("-")[1]) - Number(b.split("-")[1]))).toEqual(ids);
      const tail = await engine.streams.tail("", name, 0, 10);
      expect(tail.map((p) => p.id)).toEqual(ids);
      expect(tail[0]).toEqual({ id: ids[0], ts: arrival(ids[0]!), value: 1, data: { value: 1 } });
      expect(tail[2]).toMatchObject({ value: null, data: { note: "no value" } });
      expect((await engine.streams.tail("", name, 0, 2)).map((p) => p.id)).toEqual(ids.slice(1));
      expect(await engine.streams.tail("", name, arrival(ids[2]!) + 1, 10)).toEqual([]);
      expect(await engine.streams.tail("acme", name, 0, 10)).toEqual([]);
      expect(await engine.streams.streams(1000)).toContainEqual({ tenant: "", id: name, appended: 3 });
      await engine.streams.append("", name, points([4]), 1000);
      expect(await engine.streams.streams(1000)).toContainEqual({ tenant: "", id: name, appended: 4 });
    });

    it("hands each point to one of several consumers and aggregates each exactly once", async () => {
      const name = stream();
      const ref = { tenant: "", id: name };
      const values = Array.from({ length: 30 }, (_, i) => (i * 7) % 11);
      const ids = await engine.streams.append("", name, points(values), 1000);
      const seen: Record<string, StreamPoint[]> = { a: [], b: [], c: [] };
      await Promise.all(Object.keys(seen).map(async (c) => {
        for (let round = 0; round < 6; round++) seen[c]!.push(...(await engine.streams.read(ref, `node-${c}`, 4)));
      }));
      const all = Object.values(seen).flat();
      expect(all.map((p) => p.id).sort()).toEqual([...ids].sort());
      const acked = await Promise.all(Object.values(seen).map((list) => engine.streams.aggregate(ref, list)));
      expect(acked.reduce((a, b) => a + b, 0)).toBe(30);
      // Aggregating them again counts nothing.
      expect(await engine.streams.aggregate(ref, all)).toBe(0);
      const { ts, windows } = await engine.streams.aggregates(ref);
      close(windows, model(ids.map((id, i) => ({ id, value: values[i]! })), ts));
      expect(windows["1h"].count).toBe(30);
      expect(await engine.streams.read(ref, "node-a", 10)).toEqual([]);
    });

    it("lets a consumer claim points left idle, not touched ones, and counts a point held twice once", async () => {
      const name = stream();
      const ref = { tenant: "", id: name };
      const ids = await engine.streams.append("", name, points([1, 2, 3, null]), 1000);
      const taken = await engine.streams.read(ref, "dead-node", 10);
      expect(taken.map((p) => p.id)).toEqual(ids);
      expect(await engine.streams.claim(ref, "rescuer", 10_000, 10)).toEqual([]);
      await sleep(250);
      await engine.streams.touch(ref, "dead-node", [ids[0]!]);
      const claimed = await engine.streams.claim(ref, "rescuer", 200, 10);
      expect(claimed.map((p) => p.id)).toEqual(ids.slice(1));
      expect(await engine.streams.aggregate(ref, claimed)).toBe(3);
      // The first holder comes back and aggregates everything it read: only what nobody did counts.
      expect(await engine.streams.aggregate(ref, taken)).toBe(1);
      const { windows } = await engine.streams.aggregates(ref);
      expect(windows["1m"]).toEqual({ count: 3, mean: 2, min: 1, max: 3, p50: 2, p95: 3 });
      await sleep(250);
      expect(await engine.streams.claim(ref, "other", 200, 10)).toEqual([]);
    });

    it("computes at most one update per interval, with the points since the last, and decays an idle stream", async () => {
      const name = stream();
      const ref = { tenant: "", id: name };
      const ids = await engine.streams.append("", name, points([5, 1, 3]), 1000);
      expect(await engine.streams.aggregate(ref, await engine.streams.read(ref, "n1", 10))).toBe(3);
      expect(await engine.streams.due(1000)).toContainEqual(ref);
      const first = await engine.streams.flush(ref, 300, 700);
      if (first.status !== "ok") throw new Error(`expected an update, got ${first.status}`);
      expect(first.update).toMatchObject({ seq: 1, truncated: false });
      expect(first.update.points.map((p) => p.id)).toEqual(ids);
      close(first.update.windows, model(ids.map((id, i) => ({ id, value: [5, 1, 3][i]! })), first.update.ts));
      expect(await engine.streams.flush(ref, 300, 700)).toEqual({ status: "busy" });
      await engine.streams.sent(ref, first.update.ts, 300);

      const more = await engine.streams.append("", name, points([9]), 1000);
      expect(await engine.streams.aggregate(ref, await engine.streams.read(ref, "n2", 10))).toBe(1);
      await sleep(350);
      const second = await engine.streams.flush(ref, 300, 700);
      if (second.status !== "ok") throw new Error(`expected an update, got ${second.status}`);
      expect(second.update.seq).toBe(2);
      expect(second.update.points.map((p) => p.id)).toEqual(more);
      expect(second.update.windows["1h"]).toMatchObject({ count: 4, min: 1, max: 9 });
      await engine.streams.sent(ref, second.update.ts, 300);

      // Idle, its windows still full: not before the decay time, then again with no new point.
      await sleep(350);
      expect(await engine.streams.flush(ref, 300, 700)).toEqual({ status: "clean" });
      await sleep(400);
      expect((await engine.streams.due(1000)).some((r) => r.id === name)).toBe(true);
      const decayed = await engine.streams.flush(ref, 300, 700);
      expect(decayed).toMatchObject({ status: "ok", update: { seq: 3, points: [], truncated: false } });
    });
  });

  describe("collaborative documents", () => {
    type Append = Parameters<Engine["docs"]["append"]>[0];
    const TS = 1_700_000_000_000;
    const entry = (text: string, userId = "alice", clientOpId?: string) => ({ op: [text], from: { userId }, ...(clientOpId === undefined ? {} : { clientOpId }), ts: TS });
    type Entry = Append["ops"][number]["entry"];
    /** One op by `memberRequired` (undefined: a service). */
    const append = (docId: string, version: number, e: Entry, extra: Partial<Append> & { memberRequired?: string } = {}) => {
      const { memberRequired, ...rest } = extra;
      return engine.docs.append({ tenant: "", docId, type: "text", version, ops: [{ entry: e, memberRequired }], logKeep: 1000, onceTtlS: 60, idleTtlS: 0, ...rest });
    };
    async function workspaceDoc(members: string[] = ["alice"], tenant = ""): Promise<string> {
      const ws = unique("ws");
      await engine.workspaces.create({ tenant, id: ws, name: ws, createdBy: "svc", createdAt: TS }, members.map((userId) => ({ userId, addedAt: 1 })));
      return `workspace:${ws}/notes`;
    }

    it("creates a document with its first op, and reads the ops after a version or the snapshot", async () => {
      const docId = await workspaceDoc();
      expect(await engine.docs.read("", docId)).toBeUndefined();
      expect(await append(docId, 0, entry("a"))).toEqual({ status: "appended", version: 1 });
      expect(await append(docId, 1, entry("b", "bob", "c-1"))).toEqual({ status: "appended", version: 2 });
      const first = { version: 1, op: ["a"], from: { userId: "alice" }, ts: TS };
      const second = { version: 2, op: ["b"], from: { userId: "bob" }, clientOpId: "c-1", ts: TS };
      expect(await engine.docs.read("", docId)).toEqual({ kind: "snapshot", type: "text", version: 2, snapshotVersion: 0, snapshot: undefined, entries: [first, second] });
      expect(await engine.docs.read("", docId, 0)).toEqual({ kind: "ops", type: "text", version: 2, entries: [first, second] });
      expect(await engine.docs.read("", docId, 1)).toEqual({ kind: "ops", type: "text", version: 2, entries: [second] });
      expect(await engine.docs.read("", docId, 2)).toEqual({ kind: "ops", type: "text", version: 2, entries: [] });
      // Beyond the document: the snapshot, so the caller sees how far it really is.
      expect(await engine.docs.read("", docId, 9)).toMatchObject({ kind: "snapshot", version: 2 });
      // Tenants do not share documents.
      expect(await engine.docs.read("other", docId)).toBeUndefined();
    });

    it("appends only at the current version: a writer behind gets the entries since, one off the log or ahead is stale", async () => {
      const docId = await workspaceDoc();
      await append(docId, 0, entry("a"));
      await append(docId, 1, entry("b"));
      expect(await append(docId, 1, entry("late"))).toEqual({ status: "conflict", version: 2, entries: [expect.objectContaining({ version: 2, op: ["b"] })] });
      const behind = await append(docId, 0, entry("later"));
      expect(behind).toMatchObject({ status: "conflict", version: 2 });
      expect((behind as { entries: { version: number }[] }).entries.map((e) => e.version)).toEqual([1, 2]);
      expect(await append(docId, 5, entry("ahead"))).toEqual({ status: "stale", version: 2 });
      expect(await append(docId, 2, entry("c"))).toEqual({ status: "appended", version: 3 });
    });

    it("gives the version to exactly one of many writers appending at once", async () => {
      const docId = await workspaceDoc();
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => append(docId, 0, entry(`w${i}`))));
      expect(outcomes.filter((o) => o.status === "appended")).toEqual([{ status: "appended", version: 1 }]);
      expect(outcomes.filter((o) => o.status === "conflict")).toHaveLength(7);
      expect((await engine.docs.read("", docId, 0))!.entries).toHaveLength(1);
    });

    it("applies a user's clientOpId once, whatever version it is resent with", async () => {
      const docId = await workspaceDoc(["alice", "bob"]);
      const once = await Promise.all(Array.from({ length: 5 }, () => append(docId, 0, entry("x", "alice", "op-1"))));
      expect(once.filter((o) => o.status === "appended")).toEqual([{ status: "appended", version: 1 }]);
      expect(once.filter((o) => o.status === "duplicate")).toEqual(Array.from({ length: 4 }, () => ({ status: "duplicate", index: 0, version: 1 })));
      await append(docId, 1, entry("y"));
      expect(await append(docId, 0, entry("x", "alice", "op-1"))).toEqual({ status: "duplicate", index: 0, version: 1 });
      expect(await engine.docs.opVersion("", docId, "alice", "op-1")).toBe(1);
      expect(await engine.docs.opVersion("", docId, "bob", "op-1")).toBeUndefined();
      // The id is the user's own.
      expect(await append(docId, 2, entry("z", "bob", "op-1"))).toEqual({ status: "appended", version: 3 });
    });

    it("refuses another type, a room or workspace that does not exist, and non-members", async () => {
      const docId = await workspaceDoc(["alice"]);
      await append(docId, 0, entry("a"));
      expect(await append(docId, 1, { op: null, from: { userId: "alice" }, ts: TS }, { type: "json" })).toEqual({ status: "type", type: "text" });
      expect(await append(docId, 1, entry("m", "mallory"), { memberRequired: "mallory" })).toEqual({ status: "forbidden", index: 0 });
      expect(await append(docId, 1, entry("b"), { memberRequired: "alice" })).toEqual({ status: "appended", version: 2 });
      expect(await append(`workspace:${unique("nowhere")}/notes`, 0, entry("a"))).toEqual({ status: "missing" });
      expect(await append(docId, 2, entry("a"), { tenant: "other" })).toEqual({ status: "missing" });

      const roomId = unique("room");
      await engine.rooms.create({ tenant: "", id: roomId, name: roomId, type: "chat", visibility: "public", createdBy: "alice", createdAt: TS, maxSize: 10 }, [{ userId: "alice", joinedAt: 1 }], 60);
      const roomDoc = `room:${roomId}/agenda`;
      expect(await append(roomDoc, 0, entry("a"), { memberRequired: "bob" })).toEqual({ status: "forbidden", index: 0 });
      expect(await append(roomDoc, 0, entry("a"), { memberRequired: "alice" })).toEqual({ status: "appended", version: 1 });
      expect(await append(`room:${unique("room")}/agenda`, 0, entry("a"))).toEqual({ status: "missing" });
    });

    it("keeps a snapshot with the op that asks for it and trims the log to the latest ops", async () => {
      const docId = await workspaceDoc();
      let text = "";
      for (let v = 0; v < 7; v++) {
        text += "a";
        expect(await append(docId, v, entry("a"), { logKeep: 3, snapshot: v + 1 === 5 ? { version: 5, content: text } : undefined })).toEqual({ status: "appended", version: v + 1 });
      }
      // Snapshot at 5, log from 2: ops after 2 are still there; before, the snapshot and what follows it.
      expect(await engine.docs.read("", docId, 2)).toMatchObject({ kind: "ops", version: 7, entries: [{ version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }, { version: 7 }] });
      const old = await engine.docs.read("", docId, 1);
      expect(old).toMatchObject({ kind: "snapshot", version: 7, snapshotVersion: 5, snapshot: "aaaaa" });
      expect(old!.entries.map((e) => e.version)).toEqual([6, 7]);
      expect(await engine.docs.read("", docId)).toMatchObject({ kind: "snapshot", snapshotVersion: 5, snapshot: "aaaaa" });
      expect(await append(docId, 1, entry("late"))).toEqual({ status: "stale", version: 7 });
      expect(await append(docId, 2, entry("late"))).toMatchObject({ status: "conflict", version: 7 });
    });

    it("appends several ops in one step, all or none", async () => {
      const docId = await workspaceDoc(["alice", "bob"]);
      const ops = (texts: string[], users: (string | undefined)[] = [], ids: (string | undefined)[] = []) =>
        texts.map((t, i) => ({ entry: entry(t, users[i] ?? "alice", ids[i]), memberRequired: users[i] }));
      const batch = (version: number, list: Append["ops"], extra: Partial<Append> = {}) =>
        engine.docs.append({ tenant: "", docId, type: "text", version, ops: list, logKeep: 2, onceTtlS: 60, idleTtlS: 0, ...extra });
      expect(await batch(0, ops(["a", "b", "c"], ["alice", "bob", undefined], [undefined, "b-1", undefined]), { snapshot: { version: 2, content: "ab" } })).toEqual({
        status: "appended",
        version: 3,
      });
      expect(await engine.docs.opVersion("", docId, "bob", "b-1")).toBe(2);
      expect((await engine.docs.read("", docId))!).toMatchObject({ kind: "snapshot", version: 3, snapshotVersion: 2, snapshot: "ab", entries: [{ version: 3, op: ["c"] }] });
      // The log keeps 2 ops, never past the snapshot: version 0 fell off, 1 is there.
      expect(await engine.docs.read("", docId, 0)).toMatchObject({ kind: "snapshot" });
      expect(await engine.docs.read("", docId, 1)).toMatchObject({ kind: "ops", entries: [{ version: 2 }, { version: 3 }] });
      // One op refused refuses them all, naming it.
      expect(await batch(3, ops(["d", "e"], ["alice", "mallory"]))).toEqual({ status: "forbidden", index: 1 });
      expect(await batch(3, ops(["d", "e"], ["alice", "bob"], ["a-9", "b-1"]))).toEqual({ status: "duplicate", index: 1, version: 2 });
      expect(await engine.docs.opVersion("", docId, "alice", "a-9")).toBeUndefined();
      expect(await batch(2, ops(["d"]))).toMatchObject({ status: "conflict", version: 3 });
      expect(await batch(3, ops(["d", "e"]))).toEqual({ status: "appended", version: 5 });
    });

    it("lists the documents of a room or workspace", async () => {
      const ws = unique("ws");
      await engine.workspaces.create({ tenant: "", id: ws, name: ws, createdBy: "svc", createdAt: TS }, []);
      for (const name of ["b/readme.md", "a.txt"]) await append(`workspace:${ws}/${name}`, 0, entry("x"));
      expect(await engine.docs.list("", { kind: "workspace", id: ws })).toEqual([`workspace:${ws}/a.txt`, `workspace:${ws}/b/readme.md`]);
      expect(await engine.docs.list("other", { kind: "workspace", id: ws })).toEqual([]);
    });

    it("lets a room document expire after its idle time, and keeps its room alive at least as long", async () => {
      const roomId = unique("room");
      await engine.rooms.create({ tenant: "", id: roomId, name: roomId, type: "chat", visibility: "public", createdBy: "alice", createdAt: TS, maxSize: 10 }, [], 60);
      const docId = `room:${roomId}/scratch`;
      await append(docId, 0, entry("a"), { idleTtlS: 1 });
      expect(await engine.docs.read("", docId)).toMatchObject({ version: 1 });
      await sleep(1300);
      expect(await engine.docs.read("", docId)).toBeUndefined();
      expect(await engine.docs.list("", { kind: "room", id: roomId })).toEqual([]);
      expect(await engine.rooms.get("", roomId)).toBeDefined();
    });
  });

  describe("rate limiter", () => {
    it("consumes points per key and refuses past the limit until the window passes", async () => {
      const limiter = engine.createRateLimiter({ name: unique("contract"), points: 3, durationS: 60 });
      const remaining: number[] = [];
      for (let i = 0; i < 3; i++) remaining.push((await limiter.consume("k1")).remainingPoints);
      expect(remaining).toEqual([2, 1, 0]);

      const refused = await refusal(limiter.consume("k1"));
      expect(refused.remainingPoints).toBe(0);
      expect(refused.consumedPoints).toBe(4);
      expect(refused.msBeforeNext).toBeGreaterThan(55_000);
      expect(refused.msBeforeNext).toBeLessThanOrEqual(60_000);
      await refusal(limiter.consume("k1"));

      // Another key has its own budget; so does another limiter name with the same key.
      expect((await limiter.consume("k2")).remainingPoints).toBe(2);
      const other = engine.createRateLimiter({ name: unique("contract"), points: 1, durationS: 60 });
      expect((await other.consume("k1")).remainingPoints).toBe(0);
      await refusal(other.consume("k1"));
    });

    it("gives the points back after the window", async () => {
      const limiter = engine.createRateLimiter({ name: unique("window"), points: 2, durationS: 1 });
      await limiter.consume("k");
      await limiter.consume("k");
      const refused = await refusal(limiter.consume("k"));
      expect(refused.msBeforeNext).toBeGreaterThan(0);
      expect(refused.msBeforeNext).toBeLessThanOrEqual(1000);
      await sleep(refused.msBeforeNext + 100);
      expect((await limiter.consume("k")).remainingPoints).toBe(1);
    });
  });

  if (name !== "memory") {
    describe("shared by every node on the same store", () => {
      let peer: Engine;

      beforeAll(async () => {
        peer = openEngine(backing.env);
        expect(await peer.waitUntilAvailable(10000)).toBe(true);
      });
      afterAll(async () => {
        await peer?.close();
      });

      it("sees the other node's heartbeats, devices and rate-limit budget", async () => {
        const nodeId = unique("node-peer");
        await peer.nodes.heartbeat(info(nodeId, 3));
        expect((await engine.nodes.live(60_000)).find((n) => n.nodeId === nodeId)).toMatchObject({ nodeId, connections: 3 });

        const user = unique("user");
        expect(await engine.presence.acquire(session(user, "a", "sa", "node-1"), 2)).toMatchObject({ ok: true, changed: { devices: ["a"] } });
        expect(await peer.presence.acquire(session(user, "b", "sb", nodeId), 2)).toMatchObject({ ok: true, changed: { devices: ["a", "b"] } });
        expect(await engine.presence.acquire(session(user, "c", "sc", "node-1"), 2)).toEqual({ ok: false, devices: 2 });
        expect(await engine.presence.sessionsOf(nodeId)).toEqual([session(user, "b", "sb", nodeId)]);
        await peer.presence.setStatus("", user, "in_call", undefined, 60);
        expect((await engine.presence.get("", [user]))[0]).toMatchObject({ status: "in_call", devices: ["a", "b"] });

        const limiterName = unique("shared");
        const mine = engine.createRateLimiter({ name: limiterName, points: 2, durationS: 60 });
        const theirs = peer.createRateLimiter({ name: limiterName, points: 2, durationS: 60 });
        await mine.consume("k");
        await theirs.consume("k");
        await refusal(mine.consume("k"));
      });

      function session(userId: string, deviceId: string, sessionId: string, nodeId: string): DeviceSession {
        return { tenant: "", userId, deviceId, sessionId, nodeId };
      }
    });
  }

  it("is unavailable once closed", async () => {
    await engine.close();
    expect(engine.isAvailable()).toBe(false);
  });
});
