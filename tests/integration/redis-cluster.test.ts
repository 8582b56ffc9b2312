/**
 * Redis Cluster mode (REDIS_CLUSTER_NODES, no REDIS_URL): three in-process nodes on a real
 * three-master Redis Cluster. Clients connect on every node, every node sees the whole cluster,
 * emits cross nodes through the sharded pub/sub adapter, the device limit's Lua script holds
 * across nodes (its keys share a hash tag), and rooms store and deliver across nodes.
 *
 * A room message and a document op are stored and SPUBLISHed by one script: a node killed
 * (SIGKILL, by the test-only hook SWITCHBOARD_TEST_KILL_AFTER_STORE) as soon as its store step
 * returns, before it does anything else, has still delivered them to the other nodes' clients.
 */
import { socketRooms, type DocOpEvent } from "@switchboard/shared";
import { closeClients, command, connect, connectRefused, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { NodeProcess } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { serviceToken, signToken } from "../helpers/tokens";
import { untypedIo } from "../helpers/untyped-io";

const NODE_IDS = ["rc-a", "rc-b", "rc-c"];

describe("nodes on a Redis Cluster", () => {
  const { nodes } = clusterFixture({
    backing: "redis-cluster",
    nodes: NODE_IDS.map((id) => ({ NODE_ID: id })),
    env: { MAX_DEVICES_PER_USER: "2", RATE_LIMIT_POINTS: "1000" },
  });
  afterEach(() => closeClients());

  /** Waits until `client` is subscribed on its node; cross-node delivery to a fresh socket is only certain then. */
  async function received<T>(client: Client, event: string, send: () => void): Promise<T> {
    const got = nextEvent<T>(client, event, 5000);
    send();
    return got;
  }

  it("runs the redis-cluster engine and is ready on every node", async () => {
    for (const node of nodes) {
      expect(node.engine.kind).toBe("redis-cluster");
      const res = await fetch(`${node.url}/health/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ready", nodeId: node.nodeId, engine: "redis-cluster" });
    }
  });

  it("accepts clients on every node", async () => {
    for (const [i, node] of nodes.entries()) {
      const client = await connect(node.url, { tokenOptions: { sub: `rc-user-${i}` }, deviceId: `dev-${i}` });
      expect(client.session).toMatchObject({ userId: `rc-user-${i}`, deviceId: `dev-${i}`, nodeId: node.nodeId });
      expect(await command(client, "system:ping", {})).toEqual({ ok: true, serverTime: expect.any(Number), nodeId: node.nodeId });
    }
  });

  it("lists every node in /v1/status?cluster=1 on any node", async () => {
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    for (const node of nodes) {
      const res = await fetch(`${node.url}/v1/status?cluster=1`, { headers: auth });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { nodeId: string; engine: string; nodes: { nodeId: string; lastHeartbeat: number }[] };
      expect(body.nodeId).toBe(node.nodeId);
      expect(body.engine).toBe("redis-cluster");
      expect(body.nodes.map((n) => n.nodeId)).toEqual(NODE_IDS);
      for (const n of body.nodes) expect(Date.now() - n.lastHeartbeat).toBeLessThan(1500);
    }
  });

  it("counts connections of every node in /v1/connections", async () => {
    await connect(nodes[0]!.url, { tokenOptions: { sub: "count-a" } });
    await connect(nodes[2]!.url, { tokenOptions: { sub: "count-c1" } });
    await connect(nodes[2]!.url, { tokenOptions: { sub: "count-c2" } });
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    // Other nodes' counts travel with their heartbeats (every 500 ms here).
    const body = await waitFor(
      async () => {
        const reply = (await (await fetch(`${nodes[1]!.url}/v1/connections`, { headers: auth })).json()) as { total: number; nodes: { nodeId: string; connections: number }[] };
        return reply.total === 3 ? reply : undefined;
      },
      3000,
      "three connections",
    );
    expect(body.nodes).toEqual([
      { nodeId: "rc-a", connections: 1 },
      { nodeId: "rc-b", connections: 0 },
      { nodeId: "rc-c", connections: 2 },
    ]);
  });

  it("delivers io.to('user:<id>') from one node to that user's devices on the others (sharded adapter)", async () => {
    const bobPhone = await connect(nodes[1]!.url, { tokenOptions: { sub: "bob" }, deviceId: "phone" });
    const bobLaptop = await connect(nodes[2]!.url, { tokenOptions: { sub: "bob" }, deviceId: "laptop" });
    const carol = await connect(nodes[1]!.url, { tokenOptions: { sub: "carol" } });
    const carolGot: unknown[] = [];
    carol.on("custom:event", (v: unknown) => carolGot.push(v));

    const both = Promise.all([nextEvent(bobPhone, "custom:event"), nextEvent(bobLaptop, "custom:event")]);
    untypedIo(nodes[0]!).to("user:bob").emit("custom:event", { n: 1, from: "rc-a" });
    expect(await both).toEqual([
      { n: 1, from: "rc-a" },
      { n: 1, from: "rc-a" },
    ]);

    // And back the other way, from a node that also holds one of the user's sockets.
    const again = await received(bobPhone, "custom:event", () => untypedIo(nodes[2]!).to("user:bob").emit("custom:event", { n: 2, from: "rc-c" }));
    expect(again).toEqual({ n: 2, from: "rc-c" });
    expect(carolGot).toEqual([]);
  });

  it("delivers a broadcast to every node's clients", async () => {
    const clients = await Promise.all(nodes.map((node, i) => connect(node.url, { tokenOptions: { sub: `bc-${i}` } })));
    const all = Promise.all(clients.map((c) => nextEvent(c, "maintenance")));
    untypedIo(nodes[1]!).emit("maintenance", { at: "22:00" });
    expect(await all).toEqual([{ at: "22:00" }, { at: "22:00" }, { at: "22:00" }]);
  });

  it("holds MAX_DEVICES_PER_USER across nodes", async () => {
    const token = await signToken({ sub: "multi" });
    await connect(nodes[0]!.url, { token, deviceId: "phone" });
    const laptop = await connect(nodes[1]!.url, { token, deviceId: "laptop" });
    const refusal = await connectRefused(nodes[2]!.url, { token, deviceId: "tablet" });
    expect(refusal.message).toBe("DEVICE_LIMIT");
    expect(refusal.data).toMatchObject({ code: "DEVICE_LIMIT" });
    // The same device on another node (a second tab) does not take a slot.
    await connect(nodes[2]!.url, { token, deviceId: "phone" });
    expect(await nodes[2]!.engine.presence.devices("", "multi")).toEqual(["laptop", "phone"]);

    laptop.close();
    await waitFor(async () => (await nodes[0]!.engine.presence.devices("", "multi")).length === 1, 3000, "laptop released");
    const tablet = await connect(nodes[2]!.url, { token, deviceId: "tablet" });
    expect(tablet.session!.nodeId).toBe("rc-c");
    expect(await nodes[1]!.engine.presence.devices("", "multi")).toEqual(["phone", "tablet"]);
  });

  it("lets exactly MAX_DEVICES_PER_USER of many simultaneous devices in, across three nodes", async () => {
    const token = await signToken({ sub: "racer" });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        connect(nodes[i % 3]!.url, { token, deviceId: `racer-${i}` }).then(
          () => "ok",
          (err: { data?: { code: string } }) => err.data?.code ?? "error",
        ),
      ),
    );
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(2);
    expect(outcomes.filter((o) => o === "DEVICE_LIMIT")).toHaveLength(10);
    expect(await nodes[0]!.engine.presence.devices("", "racer")).toHaveLength(2);
  });

  it("stores a room message and delivers it with the stored id to members on other nodes", async () => {
    const alice = await connect(nodes[0]!.url, { tokenOptions: { sub: "alice" } });
    const bob = await connect(nodes[1]!.url, { tokenOptions: { sub: "bob-rooms" } });
    const created = await command(alice, "room:create", { id: "rc-room", name: "Cluster room" });
    expect(created.ok).toBe(true);
    expect((await command(bob, "room:join", { room: "rc-room" })).ok).toBe(true);

    const delivered = nextEvent<{ id: string; room: string; data: unknown; from: { userId: string } }>(bob, "room:message");
    const published = await command(alice, "room:publish", { room: "rc-room", data: { text: "hello" } });
    expect(published).toEqual({ ok: true, id: expect.stringMatching(/^\d+-\d+$/), ts: expect.any(Number), seq: 1, epoch: expect.any(String) });
    const message = await delivered;
    expect(message).toMatchObject({ room: "rc-room", id: published.id, seq: 1, epoch: published.epoch, data: { text: "hello" }, from: { userId: "alice" } });

    // History read through a third node holds the same message.
    const reader = await connect(nodes[2]!.url, { tokenOptions: { sub: "alice" }, deviceId: "reader" });
    const history = await command(reader, "room:history", { room: "rc-room" });
    expect((history.messages as { id: string }[]).map((m) => m.id)).toEqual([published.id]);
  });

  it("carries a room whose Socket.IO name is 20 characters long, which the adapter itself sends on its main channel", async () => {
    const tenant = "ab";
    expect(socketRooms(true).room(tenant, "cdefg")).toHaveLength(20);
    const alice = await connect(nodes[0]!.url, { tokenOptions: { sub: "alice", tenant } });
    const bob = await connect(nodes[1]!.url, { tokenOptions: { sub: "bob", tenant } });
    expect((await command(alice, "room:create", { id: "cdefg", name: "Twenty" })).ok).toBe(true);
    for (const member of [alice, bob]) expect((await command(member, "room:join", { room: "cdefg" })).ok).toBe(true);

    // Published by the script on the room's own channel…
    const delivered = nextEvent<{ id: string }>(bob, "room:message");
    const published = await command(alice, "room:publish", { room: "cdefg", data: "twenty" });
    expect(await delivered).toMatchObject({ id: published.id, data: "twenty" });
    // …and sent by the adapter on its main channel.
    const typing = nextEvent(bob, "room:typing");
    expect(await command(alice, "room:typing", { room: "cdefg", typing: true })).toEqual({ ok: true });
    expect(await typing).toEqual({ room: "cdefg", userId: "alice", typing: true });
  });

  it("drops a node that shuts down from the cluster list at once", async () => {
    await nodes[2]!.shutdown();
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    const body = (await (await fetch(`${nodes[0]!.url}/v1/status?cluster=1`, { headers: auth })).json()) as { nodes: { nodeId: string }[] };
    expect(body.nodes.map((n) => n.nodeId)).toEqual(["rc-a", "rc-b"]);
  });
});

describe("a node on a Redis Cluster killed right after its store step", () => {
  const cluster = clusterFixture({ backing: "redis-cluster", nodes: 2, env: { RATE_LIMIT_POINTS: "1000" } });
  const { nodes, rest } = cluster;
  let victim: NodeProcess | undefined;
  afterEach(async () => {
    closeClients();
    await victim?.kill();
    victim = undefined;
  });

  /** A third node, in a child process, that kills itself (SIGKILL) as soon as a store step of `event` returns. */
  async function victimKilledAfterStoring(event: "room:message" | "doc:op"): Promise<NodeProcess> {
    victim = await NodeProcess.spawn({ ...cluster.backing.env, SWITCHBOARD_TEST_KILL_AFTER_STORE: event, LOG_LEVEL: "warn" });
    return victim;
  }

  it("delivers a room message to the other nodes' members when its node is killed right after storing it", async () => {
    const node = await victimKilledAfterStoring("room:message");
    expect((await rest("POST", "/v1/rooms", { body: { id: "rc-crash", name: "Crash room", members: ["ann", "ben"] } })).status).toBe(201);
    const ann = await connect(node.url, { tokenOptions: { sub: "ann" } });
    const ben = await connect(nodes[1]!.url, { tokenOptions: { sub: "ben" } });
    const carol = await connect(nodes[0]!.url, { tokenOptions: { sub: "carol" } });
    for (const member of [ann, ben, carol]) expect((await command(member, "room:join", { room: "rc-crash" })).ok).toBe(true);

    const delivered = Promise.all([ben, carol].map((c) => nextEvent<{ id: string; seq: number; data: unknown; from: { userId: string } }>(c, "room:message")));
    // The ack never comes: the node dies first.
    ann.emit("room:publish", { room: "rc-crash", data: { text: "last words" }, clientMsgId: "ann-1" });
    expect(await node.exited).toEqual({ code: null, signal: "SIGKILL" });
    const [toBen, toCarol] = await delivered;
    expect(toBen).toMatchObject({ room: "rc-crash", seq: 1, data: { text: "last words" }, from: { userId: "ann" } });
    expect(toCarol).toEqual(toBen);

    const history = await command(ben, "room:history", { room: "rc-crash" });
    expect(history).toMatchObject({ ok: true, messages: [{ id: toBen.id, seq: 1, data: { text: "last words" } }] });
    // Ann never got her ack; her retry through another node finds the message stored.
    const annAgain = await connect(nodes[0]!.url, { tokenOptions: { sub: "ann" } });
    const retried = await command(annAgain, "room:publish", { room: "rc-crash", data: { text: "last words" }, clientMsgId: "ann-1" });
    expect(retried).toMatchObject({ ok: true, id: toBen.id, seq: 1, duplicate: true });
  });

  it("delivers a document op to the other nodes' editors when its node is killed right after storing it", async () => {
    const node = await victimKilledAfterStoring("doc:op");
    expect((await rest("POST", "/v1/rooms", { body: { id: "rc-crash-doc", name: "Crash doc", members: ["ann", "ben"] } })).status).toBe(201);
    const docId = "room:rc-crash-doc/notes";
    const ann = await connect(node.url, { tokenOptions: { sub: "ann" } });
    const ben = await connect(nodes[1]!.url, { tokenOptions: { sub: "ben" } });
    expect(await command(ann, "doc:open", { docId })).toMatchObject({ ok: true, version: 0 });
    expect(await command(ben, "doc:open", { docId })).toMatchObject({ ok: true, version: 0 });

    const delivered = nextEvent<DocOpEvent>(ben, "doc:op");
    ann.emit("doc:op", { docId, version: 0, op: ["written as the node died"], clientOpId: "ann-1" });
    expect(await node.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(await delivered).toMatchObject({ docId, version: 1, op: ["written as the node died"], clientOpId: "ann-1", from: { userId: "ann" } });

    const stored = await rest("GET", `/v1/docs/${encodeURIComponent(docId)}`);
    expect(stored.body).toMatchObject({ docId, version: 1, snapshot: "written as the node died" });
  });
});
