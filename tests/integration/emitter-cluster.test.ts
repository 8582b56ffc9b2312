/**
 * The emitter against a Redis Cluster (PROTOCOL §5 "Works against … a Redis Cluster"): three
 * in-process nodes with REDIS_CLUSTER_NODES (sharded pub/sub adapter) and an emitter given the
 * same cluster. Room messages land in history and reach members on every node, user emits,
 * broadcasts, workspace updates and agent events cross the sharded adapter (SPUBLISH of its own
 * message format), and notifications enter the nodes' queue and inbox.
 */
import { SwitchboardEmitter } from "@switchboard/emitter";
import { socketRooms } from "@switchboard/shared";
import { Cluster } from "ioredis";
import { closeClients, command, connect, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { sleep, waitFor } from "../helpers/ports";
import { serviceToken } from "../helpers/tokens";

describe("emitter on a Redis Cluster", () => {
  const cluster = clusterFixture({ backing: "redis-cluster", nodes: 3, env: { RATE_LIMIT_POINTS: "10000" } });
  const { nodes, unique } = cluster;
  let emitter: SwitchboardEmitter;
  const user = (sub: string, i: number, tenant?: string) => connect(nodes[i]!.url, { tokenOptions: { sub, tenant } });

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${nodes[0]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Subscribers of a sharded channel across the cluster (each master reports its own). */
  async function shardSubscribers(channel: string): Promise<number> {
    let total = 0;
    for (const server of cluster.redisCluster.servers) {
      const client = server.client();
      try {
        const reply = (await client.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number];
        total += Number(reply[1]);
      } finally {
        client.disconnect();
      }
    }
    return total;
  }

  beforeAll(() => {
    emitter = new SwitchboardEmitter({ redisClusterNodes: cluster.redisCluster.nodesList });
  });
  cluster.beforeStop(() => emitter?.close());
  afterEach(() => closeClients());

  it("speaks sharded pub/sub", () => {
    expect(emitter.sharded).toBe(true);
    expect(nodes.map((n) => n.engine.kind)).toEqual(["redis-cluster", "redis-cluster", "redis-cluster"]);
  });

  it("publishes into a room's history and to its members on every node", async () => {
    const room = unique("cluster-room");
    expect((await rest("POST", "/v1/rooms", { id: room, name: "Cluster room" })).status).toBe(201);
    const clients = await Promise.all([0, 1, 2].map((i) => user(`member-${i}`, i)));
    for (const c of clients) expect((await command(c, "room:join", { room })).ok).toBe(true);
    // The room's Socket.IO name on a Redis Cluster carries the hash tag of its keys.
    const socketRoom = socketRooms(true).room("", room);
    expect(socketRoom).toBe(`{r::${room}}${room}`);
    await waitFor(async () => (await shardSubscribers(`socket.io#/#${socketRoom}#`)) === 3, 5000, "three nodes subscribed to the room");

    const received = clients.map((c) => nextEvent<{ id: string; data: unknown; from: unknown }>(c, "room:message"));
    const published = await emitter.room(room).publish({ text: "sharded" }, { kind: "system" });
    for (const message of await Promise.all(received)) {
      expect(message).toEqual({ id: published.id, seq: 1, epoch: published.epoch, room, from: { userId: "emitter" }, kind: "system", data: { text: "sharded" }, ts: published.ts, priority: "normal" });
    }
    const history = await command(clients[2]!, "room:history", { room });
    expect(history).toMatchObject({ ok: true, messages: [{ id: published.id, data: { text: "sharded" } }] });
    const next = await emitter.room(room).publish("second");
    const recovery = await command(clients[1]!, "room:join", { room, since: published.id });
    expect(next).toMatchObject({ seq: 2, epoch: published.epoch });
    expect(recovery).toMatchObject({ ok: true, recovered: true, seq: 2, epoch: published.epoch, missed: [{ id: next.id, seq: 2, data: "second" }] });
  });

  it("emits to a user's devices and broadcasts to the tenant on every node", async () => {
    const devices = await Promise.all([user("cu", 0), user("cu", 2)]);
    const others = await Promise.all([user("cv", 1), user("cw", 2)]);
    const acme = await user("cu", 1, "acme");
    const acmeSeen: unknown[] = [];
    acme.on("ping:custom", (v: unknown) => acmeSeen.push(v));
    acme.on("maintenance", (v: unknown) => acmeSeen.push(v));

    const emitted = devices.map((c) => nextEvent(c, "ping:custom"));
    emitter.user("cu").emit("ping:custom", { n: 1 });
    expect(await Promise.all(emitted)).toEqual([{ n: 1 }, { n: 1 }]);

    const broadcasts = [...devices, ...others].map((c) => nextEvent(c, "maintenance"));
    emitter.broadcast("maintenance", { at: "22:00" });
    expect(await Promise.all(broadcasts)).toEqual(Array.from({ length: 4 }, () => ({ at: "22:00" })));
    await sleep(150);
    expect(acmeSeen).toEqual([]);
  });

  it("sends workspace updates and agent executions to subscribers on every node", async () => {
    const ws = unique("ws");
    await rest("POST", "/v1/workspaces", { id: ws, name: "Cluster team", members: ["m0", "m1", "m2"] });
    const agentId = unique("agent");
    await emitter.agent(agentId).register({ workspaceId: ws, ownerId: "m0" });
    const members: Client[] = await Promise.all([0, 1, 2].map((i) => user(`m${i}`, i)));
    for (const c of members) {
      expect((await command(c, "workspace:join", { workspaceId: ws })).ok).toBe(true);
      expect((await command(c, "agent:subscribe", { agentId })).ok).toBe(true);
    }
    const updates = members.map((c) => nextEvent(c, "workspace:update"));
    const update = await emitter.workspace(ws).update("agent_added", { agentId });
    for (const got of await Promise.all(updates)) expect(got).toEqual(update);

    const starts = members.map((c) => nextEvent(c, "agent:execution_start"));
    const state = await emitter.agent(agentId).started({ executionId: "c-1", task: { step: 1 } });
    for (const got of await Promise.all(starts)) expect(got).toEqual({ agentId, executionId: "c-1", workspaceId: ws, status: "running", progress: 0, task: { step: 1 }, ts: state.startedAt });
    const completes = members.map((c) => nextEvent(c, "agent:execution_complete"));
    await emitter.agent(agentId).completed({ executionId: "c-1" });
    for (const got of await Promise.all(completes)) expect(got).toMatchObject({ executionId: "c-1", status: "completed", progress: 100 });

    const late = await user("m1", 0);
    expect(await command(late, "agent:subscribe", { agentId })).toMatchObject({ ok: true, execution: { executionId: "c-1", status: "completed", task: { step: 1 } } });
  });

  it("notifies through the nodes' queue and inbox", async () => {
    const online = await user("cn", 2);
    const arrived = nextEvent<{ id: string }>(online, "notification", 10000);
    const sent = await emitter.notify("cn", { type: "achievement_unlocked", title: "Badge", body: "You did it" });
    expect(sent.delivery).toBe("socket");
    expect(await arrived).toMatchObject({ id: sent.id, type: "achievement_unlocked", title: "Badge" });
    expect(await command(online, "notification:list", {})).toMatchObject({ ok: true, notifications: [{ id: sent.id }] });
  });

  it("takes an ioredis Cluster the caller owns and leaves it open", async () => {
    const client = new Cluster(cluster.redisCluster.servers.map((s) => ({ host: "127.0.0.1", port: s.port })));
    const borrowed = new SwitchboardEmitter({ redis: client });
    expect(borrowed.sharded).toBe(true);
    const room = unique("borrowed");
    await rest("POST", "/v1/rooms", { id: room, name: "Borrowed" });
    const { id } = await borrowed.room(room).publish("via a borrowed client");
    await borrowed.close();
    expect(await client.xlen(borrowed.keys.roomHistory("", room))).toBe(1);
    expect(id).toMatch(/^\d+-\d+$/);
    await client.quit();
  });
});
