/**
 * A node's life as a process: starting with no configuration, graceful shutdown on SIGTERM and
 * SIGINT (clients told to reconnect elsewhere, node deregistered, devices freed, exit 0 within
 * 10 s), a crash (SIGKILL) swept by a surviving node, and the per-node connection cap.
 */
import { keyLayout } from "@switchboard/shared";
import { closeClients, command, connect, connectRefused, nextEvent } from "../helpers/clients";
import { NodeProcess, startNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

const HEARTBEAT_TIMEOUT_MS = 1500;

async function clusterNodes(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/status?cluster=1`, { headers: { authorization: `Bearer ${await serviceToken()}` } });
  const body = (await res.json()) as { nodes: { nodeId: string }[] };
  return body.nodes.map((n) => n.nodeId);
}

describe("a node process", () => {
  afterEach(() => closeClients());

  it("starts with no configuration but npm start's DEV_TOKENS=1: memory engine, generated secret, a warning", async () => {
    const node = await NodeProcess.spawn({ NODE_ENV: undefined, JWT_SECRET: undefined, HEARTBEAT_INTERVAL_MS: undefined, HEARTBEAT_TIMEOUT_MS: undefined, DEV_TOKENS: "1" });
    try {
      const health = await fetch(`${node.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", nodeId: node.nodeId });
      expect(await (await fetch(`${node.url}/health/ready`)).json()).toMatchObject({ status: "ready", engine: "memory" });
      const warning = node.logs().find((l) => l.level === "warn" && /JWT_SECRET is not set/.test(String(l.message)));
      expect(warning).toMatchObject({ nodeId: node.nodeId, event: "config" });
      // The generated secret is not the test secret: our tokens are refused…
      const refusal = await connectRefused(node.url);
      expect(refusal.data?.code).toBe("UNAUTHORIZED");
      // …while a development token minted by the node itself is accepted.
      const minted = await fetch(`${node.url}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "newcomer", name: "New" }) });
      expect(minted.status).toBe(200);
      const { token, expiresIn } = (await minted.json()) as { token: string; expiresIn: number };
      expect(expiresIn).toBe(3600);
      const client = await connect(node.url, { token });
      expect(client.session).toMatchObject({ userId: "newcomer", nodeId: node.nodeId });
      expect(await command(client, "system:ping", {})).toMatchObject({ ok: true, nodeId: node.nodeId });
      const bad = await fetch(`${node.url}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "no spaces" }) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    } finally {
      await node.kill("SIGTERM");
    }
  });

  it("has no /dev/token in production", async () => {
    const node = await NodeProcess.spawn({ NODE_ENV: "production" });
    try {
      const res = await fetch(`${node.url}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "intruder" }) });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    } finally {
      await node.kill("SIGTERM");
    }
  });
});

describe("shutdown and crashes in a Redis cluster", () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await redis.destroy();
  });

  const devicesOf = async (userId: string) => {
    const client = redis.client();
    try {
      return await client.hgetall(keyLayout().userDevices("", userId));
    } finally {
      client.disconnect();
    }
  };

  it.each(["SIGTERM", "SIGINT"] as const)("leaves gracefully on %s: clients reconnect elsewhere, node deregistered, exit 0", async (signal) => {
    const leaving = await NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `leaving-${signal}` });
    const staying = await NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `staying-${signal}` });
    try {
      const user = `user-${signal}`;
      const client = await connect(leaving.url, { tokenOptions: { sub: user }, deviceId: "phone" });
      expect(Object.values(await devicesOf(user))).toEqual([leaving.nodeId]);
      expect((await clusterNodes(staying.url)).sort()).toEqual([leaving.nodeId, staying.nodeId].sort());

      const disconnected = nextEvent<string>(client, "disconnect", 10000);
      const started = Date.now();
      await leaving.kill(signal);
      const exit = await leaving.exited;
      const tookMs = Date.now() - started;

      expect(exit).toEqual({ code: 0, signal: null });
      expect(tookMs).toBeLessThan(10000);
      // "transport close" is a reason socket.io-client reconnects after (unlike "io server disconnect").
      expect(await disconnected).toBe("transport close");
      // Deregistered at once (no waiting for the heartbeat to expire), the device freed.
      expect(await clusterNodes(staying.url)).toEqual([staying.nodeId]);
      expect(await devicesOf(user)).toEqual({});
      const events = leaving.logs().map((l) => l.message);
      expect(events).toEqual(expect.arrayContaining(["shutting down", "stopped"]));
      expect(events.indexOf("shutting down")).toBeLessThan(events.indexOf("stopped"));
    } finally {
      await leaving.kill();
      await staying.kill("SIGTERM");
    }
  });

  it("exits 0 within 10 s on SIGTERM while Redis is unreachable", async () => {
    const own = await RedisServer.start();
    const node = await NodeProcess.spawn({ REDIS_URL: own.url, NODE_ID: "orphan" });
    try {
      await connect(node.url, { tokenOptions: { sub: "orphan-user" } });
      await own.kill();
      await waitFor(async () => (await fetch(`${node.url}/health/ready`)).status === 503, 10000, "readiness 503");
      const started = Date.now();
      await node.kill("SIGTERM");
      expect(await node.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(10000);
    } finally {
      await node.kill();
      await own.destroy();
    }
  });

  it("sweeps a crashed node within 2 x HEARTBEAT_TIMEOUT_MS: listed no more, its devices freed", async () => {
    const env = { REDIS_URL: redis.url, HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), MAX_DEVICES_PER_USER: "1" };
    const crashing = await NodeProcess.spawn({ ...env, NODE_ID: "crashing" });
    const survivor = await NodeProcess.spawn({ ...env, NODE_ID: "survivor" });
    try {
      await connect(crashing.url, { tokenOptions: { sub: "dana" }, deviceId: "tablet" });
      // One device allowed: a second one is refused while the first is held.
      expect((await connectRefused(survivor.url, { tokenOptions: { sub: "dana" }, deviceId: "phone" })).data?.code).toBe("DEVICE_LIMIT");

      await crashing.kill("SIGKILL");
      const crashedAt = Date.now();
      await waitFor(async () => Object.keys(await devicesOf("dana")).length === 0, 4 * HEARTBEAT_TIMEOUT_MS, "dana's device freed");
      const sweptAfterMs = Date.now() - crashedAt;
      expect(sweptAfterMs).toBeLessThanOrEqual(2 * HEARTBEAT_TIMEOUT_MS + 500);
      expect(await clusterNodes(survivor.url)).toEqual(["survivor"]);
      expect(survivor.logs().find((l) => l.event === "sweep")).toMatchObject({ deadNodeId: "crashing", sessions: 1 });

      // The freed slot is usable again.
      const phone = await connect(survivor.url, { tokenOptions: { sub: "dana" }, deviceId: "phone" });
      expect(phone.session!.deviceId).toBe("phone");
    } finally {
      await crashing.kill();
      await survivor.kill("SIGTERM");
    }
  });
});

describe("MAX_CONNECTIONS", () => {
  afterEach(() => closeClients());

  it("refuses handshakes beyond the cap with SERVER_FULL and accepts again when one leaves", async () => {
    const node = await startNode({ MAX_CONNECTIONS: "2" });
    try {
      const first = await connect(node.url, { tokenOptions: { sub: "u1" } });
      await connect(node.url, { tokenOptions: { sub: "u2" } });
      // Several at once: none gets past the cap.
      const refusals = await Promise.all([1, 2, 3].map((i) => connectRefused(node.url, { tokenOptions: { sub: `extra-${i}` } })));
      expect(refusals.map((r) => r.data?.code)).toEqual(["SERVER_FULL", "SERVER_FULL", "SERVER_FULL"]);
      expect(node.sessions.connections).toBe(2);

      first.close();
      await waitFor(() => node.sessions.connections === 1, 5000, "the first client gone");
      const next = await connect(node.url, { tokenOptions: { sub: "u3" } });
      expect(next.session!.userId).toBe("u3");
    } finally {
      closeClients();
      await node.shutdown();
    }
  });
});
