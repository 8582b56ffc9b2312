/**
 * Redis going away and coming back: the nodes stay up, readiness turns 503, commands and
 * handshakes answer UNAVAILABLE, and once Redis is back (empty, as after a crash without
 * persistence) the nodes serve again by themselves: registry re-announced, device sessions
 * restored, the adapter resubscribed so cross-node emits arrive.
 */
import type { SwitchboardNode } from "@switchboard/server";
import { keyLayout } from "@switchboard/shared";
import { closeClients, command, connect, connectRefused, nextEvent } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { startNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";
import { untypedIo } from "../helpers/untyped-io";

const readyStatus = async (node: SwitchboardNode) => (await fetch(`${node.url}/health/ready`)).status;

describe("a Redis outage", () => {
  const cluster = clusterFixture({ backing: "redis", nodes: [{ NODE_ID: "outage-a" }, { NODE_ID: "outage-b" }] });
  let redis: RedisServer;
  let a: SwitchboardNode;
  let b: SwitchboardNode;

  beforeAll(() => {
    redis = cluster.redis;
    [a, b] = [cluster.node(0), cluster.node(1)];
  });

  it("degrades while Redis is down and recovers by itself when it returns", async () => {
    const alice = await connect(a.url, { tokenOptions: { sub: "alice" }, deviceId: "alice-phone" });
    const bob = await connect(b.url, { tokenOptions: { sub: "bob" }, deviceId: "bob-laptop" });
    expect([await readyStatus(a), await readyStatus(b)]).toEqual([200, 200]);

    await redis.kill();

    // Down: liveness stays, readiness turns 503 on both nodes.
    await waitFor(async () => (await readyStatus(a)) === 503 && (await readyStatus(b)) === 503, 10000, "readiness 503");
    const health = await fetch(`${a.url}/health`);
    expect(health.status).toBe(200);
    const notReady = (await (await fetch(`${a.url}/health/ready`)).json()) as { status: string; reason: string };
    expect(notReady).toMatchObject({ status: "unavailable", reason: "redis unreachable" });

    // Commands answer UNAVAILABLE; connected clients stay connected; new handshakes are refused.
    const refusedCommand = await command(alice, "system:ping", {});
    expect(refusedCommand).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    expect(alice.connected).toBe(true);
    const refusal = await connectRefused(b.url, { tokenOptions: { sub: "carol" } });
    expect(refusal.data?.code).toBe("UNAVAILABLE");

    // Back (empty: nothing was persisted): both nodes serve again without a restart.
    await redis.restart();
    await waitFor(async () => (await readyStatus(a)) === 200 && (await readyStatus(b)) === 200, 15000, "readiness 200");
    expect(await command(alice, "system:ping", {})).toMatchObject({ ok: true, nodeId: "outage-a" });

    // The registry is re-announced: both nodes are listed again.
    const auth = { authorization: `Bearer ${await serviceToken()}` };
    await waitFor(async () => {
      const body = (await (await fetch(`${a.url}/v1/status?cluster=1`, { headers: auth })).json()) as { nodes: { nodeId: string }[] };
      return body.nodes.map((n) => n.nodeId).join(",") === "outage-a,outage-b";
    }, 5000, "both nodes re-announced");

    // The device sessions the empty Redis lost are restored from what each node holds.
    const client = redis.client();
    try {
      const keys = keyLayout();
      await waitFor(async () => Object.keys(await client.hgetall(keys.userDevices("", "alice"))).length === 1, 5000, "alice's device restored");
      expect(await client.hgetall(keys.userDevices("", "alice"))).toEqual({ [`alice-phone|${alice.session!.sessionId}`]: "outage-a" });
      expect(await client.hgetall(keys.userDevices("", "bob"))).toEqual({ [`bob-laptop|${bob.session!.sessionId}`]: "outage-b" });
    } finally {
      client.disconnect();
    }

    // The adapter resubscribed: an emit on node A reaches Bob on node B, and the reverse.
    await waitFor(async () => {
      const arrived = nextEvent<{ n: number }>(bob, "note", 300).then(() => true, () => false);
      untypedIo(a).to("user:bob").emit("note", { n: 1 });
      return arrived;
    }, 10000, "cross-node emit after recovery");
    const toAlice = nextEvent<{ n: number }>(alice, "note");
    untypedIo(b).to("user:alice").emit("note", { n: 2 });
    expect(await toAlice).toEqual({ n: 2 });

    // And new handshakes are accepted again.
    const carol = await connect(b.url, { tokenOptions: { sub: "carol" } });
    expect(carol.session!.nodeId).toBe("outage-b");
  });

  it("starts without Redis and becomes ready when Redis appears", async () => {
    const late = await RedisServer.start();
    await late.stop();
    const node = await startNode({ REDIS_URL: late.url, NODE_ID: "late-node" }, { engineWaitMs: 200 });
    try {
      expect(await fetch(`${node.url}/health`).then((r) => r.status)).toBe(200);
      expect(await readyStatus(node)).toBe(503);
      await late.restart();
      await waitFor(async () => (await readyStatus(node)) === 200, 15000, "readiness after Redis appeared");
      const client = await connect(node.url, { tokenOptions: { sub: "late-user" } });
      expect(await command(client, "system:ping", {})).toMatchObject({ ok: true, nodeId: "late-node" });
    } finally {
      closeClients();
      await node.shutdown();
      await late.destroy();
    }
  });
});
