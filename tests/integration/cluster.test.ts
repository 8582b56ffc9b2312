/**
 * Three Redis-mode nodes as separate processes: every node accepts clients, every node sees
 * the whole cluster in its registry, and the device limit holds across nodes without races.
 */
import { closeClients, command, connect, connectRefused, type Client } from "../helpers/clients";
import { NodeProcess } from "../helpers/nodes";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

describe("a three-node cluster", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    nodes = await Promise.all([1, 2, 3].map((i) => NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `node-${i}`, MAX_DEVICES_PER_USER: "2" })));
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill("SIGTERM")));
    await redis.destroy();
  });

  it("accepts clients on every node", async () => {
    const clients: Client[] = [];
    for (const [i, node] of nodes.entries()) {
      const client = await connect(node.url, { tokenOptions: { sub: `user-${i}` } });
      expect(client.session!.nodeId).toBe(node.nodeId);
      expect((await command(client, "system:ping", {})).nodeId).toBe(node.nodeId);
      clients.push(client);
    }
    expect(clients).toHaveLength(3);
  });

  it("lists every live node in /v1/status?cluster=1 on any node", async () => {
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    for (const node of nodes) {
      const res = await fetch(`${node.url}/v1/status?cluster=1`, { headers: auth });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { nodeId: string; version: string; nodes: { nodeId: string; lastHeartbeat: number }[] };
      expect(body.nodeId).toBe(node.nodeId);
      expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(body.nodes.map((n) => n.nodeId)).toEqual(["node-1", "node-2", "node-3"]);
      for (const n of body.nodes) expect(Date.now() - n.lastHeartbeat).toBeLessThan(5000);
    }
  });

  it("counts connections per node in /v1/connections", async () => {
    await connect(nodes[0]!.url, { tokenOptions: { sub: "counted-a" } });
    await connect(nodes[2]!.url, { tokenOptions: { sub: "counted-b" } });
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    // Counts travel with heartbeats (every HEARTBEAT_TIMEOUT_MS / 3).
    await new Promise((r) => setTimeout(r, 800));
    const body = (await (await fetch(`${nodes[1]!.url}/v1/connections`, { headers: auth })).json()) as { total: number; nodes: { nodeId: string; connections: number }[] };
    expect(body.nodes).toEqual([
      { nodeId: "node-1", connections: 1 },
      { nodeId: "node-2", connections: 0 },
      { nodeId: "node-3", connections: 1 },
    ]);
    expect(body.total).toBe(2);
  });

  it("refuses a third device of one user across nodes with DEVICE_LIMIT", async () => {
    const token = await signToken({ sub: "multi" });
    await connect(nodes[0]!.url, { token, deviceId: "phone" });
    const laptop = await connect(nodes[1]!.url, { token, deviceId: "laptop" });
    const refusal = await connectRefused(nodes[2]!.url, { token, deviceId: "tablet" });
    expect(refusal.data).toMatchObject({ code: "DEVICE_LIMIT" });
    // The same device again (a second tab, a reconnect) is not a new device.
    await connect(nodes[2]!.url, { token, deviceId: "phone" });
    // Once a device leaves, another may come.
    laptop.close();
    await new Promise((r) => setTimeout(r, 300));
    await connect(nodes[2]!.url, { token, deviceId: "tablet" });
  });

  it("lets exactly MAX_DEVICES_PER_USER of many simultaneous devices in, across two nodes", async () => {
    const token = await signToken({ sub: "racer" });
    const attempts = Array.from({ length: 16 }, (_, i) =>
      connect(nodes[i % 2]!.url, { token, deviceId: `racer-${i}` }).then(
        () => "ok",
        (err: { data?: { code: string } }) => err.data?.code ?? "error",
      ),
    );
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(2);
    expect(outcomes.filter((o) => o === "DEVICE_LIMIT")).toHaveLength(14);
    const client = redis.client();
    try {
      const stored = await client.hkeys("sb:{u::racer}:devices");
      expect(new Set(stored.map((f) => f.split("|")[0])).size).toBe(2);
    } finally {
      client.disconnect();
    }
  });

  it("writes JSON log lines with the node id and never a token", async () => {
    const token = await signToken({ sub: "logged" });
    const client = await connect(nodes[0]!.url, { token });
    await command(client, "system:ping", { clientTime: 1 });
    await fetch(`${nodes[0]!.url}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((r) => setTimeout(r, 200));
    const logs = nodes[0]!.logs();
    expect(logs.length).toBeGreaterThan(3);
    for (const line of logs) expect(line.nodeId).toBe("node-1");
    expect(logs.some((l) => l.event === "connect" && l.userId === "logged")).toBe(true);
    expect(nodes[0]!.lines.join("\n")).not.toContain(token);
    expect(nodes[0]!.lines.join("\n")).not.toContain(token.split(".")[2]);
  });
});
