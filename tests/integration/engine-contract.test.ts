/**
 * One contract for every engine implementation, run against the engines directly (no node):
 * the memory engine, the Redis engine on a single redis-server, and the Redis engine on a
 * three-master Redis Cluster (every script must keep its keys on one slot). Node registry,
 * device registry and rate limiter must behave identically, so features cannot tell them apart.
 */
import { createEngine, loadConfig, type DeviceSession, type Engine, type NodeInfo } from "@switchboard/server";
import { sleep } from "../helpers/ports";
import { RedisClusterServers, RedisServer } from "../helpers/redis";
import { TEST_SECRET } from "../helpers/tokens";

type EngineName = "memory" | "redis" | "redis-cluster";

interface Backing {
  env: Record<string, string>;
  destroy(): Promise<void>;
}

async function startBacking(name: EngineName): Promise<Backing> {
  if (name === "redis") {
    const redis = await RedisServer.start();
    return { env: { REDIS_URL: redis.url }, destroy: () => redis.destroy() };
  }
  if (name === "redis-cluster") {
    const cluster = await RedisClusterServers.start(3);
    return { env: { REDIS_CLUSTER_NODES: cluster.nodesList }, destroy: () => cluster.destroy() };
  }
  return { env: {}, destroy: async () => undefined };
}

function openEngine(env: Record<string, string>): Engine {
  return createEngine(loadConfig({ NODE_ENV: "test", JWT_SECRET: TEST_SECRET, ...env }));
}

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

  describe("device registry", () => {
    const session = (userId: string, deviceId: string, sessionId: string, nodeId: string, tenant = ""): DeviceSession => ({ tenant, userId, deviceId, sessionId, nodeId });

    it("admits distinct devices up to the limit and refuses the next one with the count", async () => {
      const user = unique("user");
      const node = unique("node-devices");
      const phone = session(user, "phone", "s1", node);
      const laptop = session(user, "laptop", "s2", node);
      const tablet = session(user, "tablet", "s3", node);
      expect(await engine.devices.acquire(phone, 2)).toEqual({ ok: true });
      expect(await engine.devices.acquire(laptop, 2)).toEqual({ ok: true });
      expect(await engine.devices.acquire(tablet, 2)).toEqual({ ok: false, devices: 2 });
      expect(await engine.devices.devices("", user)).toEqual(["laptop", "phone"]);
      // A refused session is not stored anywhere, not even in its node's list.
      expect((await engine.devices.sessionsOf(node)).sort(byId)).toEqual([phone, laptop]);
    });

    it("never counts a device twice: more sessions of a connected device are admitted at the limit", async () => {
      const user = unique("user");
      const node = unique("node-tabs");
      const tab1 = session(user, "phone", "tab-1", node);
      const tab2 = session(user, "phone", "tab-2", node);
      const tab3 = session(user, "phone", "tab-3", node);
      expect(await engine.devices.acquire(tab1, 1)).toEqual({ ok: true });
      expect(await engine.devices.acquire(tab2, 1)).toEqual({ ok: true });
      expect(await engine.devices.acquire(tab3, 1)).toEqual({ ok: true });
      // The same session again (a retried acquire) is not a second one either.
      expect(await engine.devices.acquire(tab1, 1)).toEqual({ ok: true });
      expect(await engine.devices.devices("", user)).toEqual(["phone"]);
      expect(await engine.devices.acquire(session(user, "laptop", "tab-4", node), 1)).toEqual({ ok: false, devices: 1 });
      expect((await engine.devices.sessionsOf(node)).sort(byId)).toEqual([tab1, tab2, tab3]);
    });

    it("frees a slot on release, and a device only when its last session goes", async () => {
      const user = unique("user");
      const node = unique("node-release");
      const phone1 = session(user, "phone", "p1", node);
      const phone2 = session(user, "phone", "p2", node);
      const laptop = session(user, "laptop", "l1", node);
      const tablet = session(user, "tablet", "t1", node);
      await engine.devices.acquire(phone1, 2);
      await engine.devices.acquire(phone2, 2);
      await engine.devices.acquire(laptop, 2);
      expect(await engine.devices.acquire(tablet, 2)).toEqual({ ok: false, devices: 2 });

      expect(await engine.devices.release(laptop)).toBe(true);
      expect(await engine.devices.release(laptop)).toBe(false);
      expect(await engine.devices.devices("", user)).toEqual(["phone"]);
      expect(await engine.devices.acquire(tablet, 2)).toEqual({ ok: true });

      // One of two phone sessions leaves: the phone is still connected and still counts.
      expect(await engine.devices.release(phone1)).toBe(true);
      expect(await engine.devices.devices("", user)).toEqual(["phone", "tablet"]);
      expect(await engine.devices.acquire(laptop, 2)).toEqual({ ok: false, devices: 2 });
      expect((await engine.devices.sessionsOf(node)).sort(byId)).toEqual([phone2, tablet]);

      expect(await engine.devices.release(phone2)).toBe(true);
      expect(await engine.devices.release(tablet)).toBe(true);
      expect(await engine.devices.devices("", user)).toEqual([]);
      expect(await engine.devices.sessionsOf(node)).toEqual([]);
      // A session that was never acquired is not released.
      expect(await engine.devices.release(session(user, "ghost", "g1", node))).toBe(false);
    });

    it("keeps users of different tenants apart and lists sessions per node", async () => {
      const user = unique("user");
      const nodeA = unique("node-a");
      const nodeB = unique("node-b");
      const plain = session(user, "d1", "a1", nodeA);
      const acme = session(user, "d2", "a2", nodeA, "acme");
      const acmeOnB = session(user, "d3", "b1", nodeB, "acme");
      expect(await engine.devices.acquire(plain, 1)).toEqual({ ok: true });
      // The same user id in another tenant is another user with its own limit.
      expect(await engine.devices.acquire(acme, 1)).toEqual({ ok: true });
      expect(await engine.devices.acquire(acmeOnB, 1)).toEqual({ ok: false, devices: 1 });
      expect(await engine.devices.acquire(acmeOnB, 2)).toEqual({ ok: true });

      expect(await engine.devices.devices("", user)).toEqual(["d1"]);
      expect(await engine.devices.devices("acme", user)).toEqual(["d2", "d3"]);
      expect(await engine.devices.devices("other", user)).toEqual([]);
      expect((await engine.devices.sessionsOf(nodeA)).sort(byId)).toEqual([plain, acme]);
      expect(await engine.devices.sessionsOf(nodeB)).toEqual([acmeOnB]);
      expect(await engine.devices.sessionsOf(unique("node-empty"))).toEqual([]);
    });

    it("admits exactly `limit` devices out of many simultaneous acquires", async () => {
      const user = unique("user");
      const node = unique("node-race");
      const attempts = Array.from({ length: 12 }, (_, i) => engine.devices.acquire(session(user, `dev-${i}`, `race-${i}`, node), 3));
      const results = await Promise.all(attempts);
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 9 }, () => ({ ok: false, devices: 3 })));
      expect(await engine.devices.devices("", user)).toHaveLength(3);
      expect(await engine.devices.sessionsOf(node)).toHaveLength(3);
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
        expect(await engine.devices.acquire(session(user, "a", "sa", "node-1"), 2)).toEqual({ ok: true });
        expect(await peer.devices.acquire(session(user, "b", "sb", nodeId), 2)).toEqual({ ok: true });
        expect(await engine.devices.acquire(session(user, "c", "sc", "node-1"), 2)).toEqual({ ok: false, devices: 2 });
        expect(await engine.devices.sessionsOf(nodeId)).toEqual([session(user, "b", "sb", nodeId)]);

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
