/**
 * Node death: a node killed with SIGKILL says no goodbye. Its devices must become offline
 * cluster-wide within 2 x HEARTBEAT_TIMEOUT_MS, swept by exactly one live node, with one
 * presence:update per user, to watchers and room co-members on the other nodes.
 */
import type { Presence } from "@switchboard/shared";
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, command, connect, type Client } from "../helpers/clients";
import { NodeProcess, startNode } from "../helpers/nodes";
import { freePort, sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

const HEARTBEAT_TIMEOUT_MS = 1500;

function updates(client: Client): Presence[] {
  const seen: Presence[] = [];
  client.on("presence:update", (p: Presence) => seen.push(p));
  return seen;
}

describe("presence when a node dies (SIGKILL)", () => {
  let redis: RedisServer;
  let live: SwitchboardNode[] = [];
  let doomed: NodeProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS) };
    [live, doomed] = await Promise.all([Promise.all([startNode(env), startNode(env)]), NodeProcess.spawn({ ...env, LOG_LEVEL: "error" })]);
  });
  afterAll(async () => {
    closeClients();
    await doomed?.kill();
    await Promise.all(live.map((n) => n.shutdown()));
    await redis?.destroy();
  });

  it("marks the dead node's devices offline within 2 x the heartbeat timeout, one update per user", async () => {
    // alice: two devices on the doomed node and one on a live node; bob: only on the doomed node.
    const alicePhone = await connect(doomed.url, { tokenOptions: { sub: "alice" }, deviceId: "phone" });
    await connect(doomed.url, { tokenOptions: { sub: "alice" }, deviceId: "tablet" });
    await connect(live[0]!.url, { tokenOptions: { sub: "alice" }, deviceId: "laptop" });
    const bobPhone = await connect(doomed.url, { tokenOptions: { sub: "bob" }, deviceId: "phone" });

    // A watcher of both on one live node; a co-member of bob's room on the other.
    const watcher = await connect(live[1]!.url, { tokenOptions: { sub: "watcher" } });
    const carol = await connect(live[0]!.url, { tokenOptions: { sub: "carol" } });
    expect((await command(alicePhone, "room:create", { id: "lab", name: "Lab" })).ok).toBe(true);
    expect((await command(bobPhone, "room:join", { room: "lab" })).ok).toBe(true);
    expect((await command(carol, "room:join", { room: "lab" })).ok).toBe(true);
    const watched = await command(watcher, "presence:watch", { userIds: ["alice", "bob"] });
    expect(watched).toMatchObject({
      presence: { alice: { online: true, devices: ["laptop", "phone", "tablet"] }, bob: { online: true, devices: ["phone"] } },
    });
    const [watcherSeen, carolSeen] = [watcher, carol].map(updates);

    const killedAt = Date.now();
    expect((await doomed.kill("SIGKILL")).signal).toBe("SIGKILL");
    const byUser = (seen: Presence[], userId: string) => seen.filter((p) => p.userId === userId);
    await waitFor(() => byUser(watcherSeen, "alice").length > 0 && byUser(watcherSeen, "bob").length > 0, 4 * HEARTBEAT_TIMEOUT_MS, "sweep updates");
    const elapsed = Date.now() - killedAt;
    expect(elapsed).toBeLessThan(2 * HEARTBEAT_TIMEOUT_MS);

    // Give a second sweeper (the other live node) every chance to announce again: it must not.
    await sleep(HEARTBEAT_TIMEOUT_MS);
    expect(byUser(watcherSeen, "alice")).toEqual([expect.objectContaining({ status: "online", online: true, devices: ["laptop"] })]);
    expect(byUser(watcherSeen, "bob")).toEqual([expect.objectContaining({ status: "offline", online: false, devices: [] })]);
    expect(byUser(carolSeen, "bob")).toEqual(byUser(watcherSeen, "bob"));

    // Every node and the REST API agree.
    const token = await serviceToken();
    for (const node of live) {
      const bob = (await (await fetch(`${node.url}/v1/presence/bob`, { headers: { authorization: `Bearer ${token}` } })).json()) as Presence;
      expect(bob).toMatchObject({ status: "offline", devices: [] });
    }
    const status = (await (await fetch(`${live[0]!.url}/v1/status?cluster=1`, { headers: { authorization: `Bearer ${token}` } })).json()) as { nodes: { nodeId: string }[] };
    expect(status.nodes.map((n) => n.nodeId)).not.toContain(doomed.nodeId);
    // The freed slots are usable again: bob reconnects on a live node and is online once more.
    await connect(live[1]!.url, { tokenOptions: { sub: "bob" }, deviceId: "phone" });
    await waitFor(() => byUser(watcherSeen, "bob").length === 2, 3000, "bob back");
    expect(byUser(watcherSeen, "bob")[1]).toMatchObject({ online: true, devices: ["phone"] });
  });
});

describe("presence when a node is killed and started again at once with its NODE_ID", () => {
  // A supervisor restarts a crashed node within a second, with the same NODE_ID: its heartbeat is
  // back long before the timeout, so no sweep ever sees the dead process expired.
  const TIMEOUT_MS = 5000;
  let redis: RedisServer;
  let live: SwitchboardNode;
  let node: NodeProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    live = await startNode({ REDIS_URL: redis.url, HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS) });
  });
  afterAll(async () => {
    closeClients();
    await node?.kill();
    await live?.shutdown();
    await redis?.destroy();
  });

  it("releases the dead process's sessions when the new one starts: the user is offline at once, the device not refused", async () => {
    const env = { REDIS_URL: redis.url, HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS), LOG_LEVEL: "error", NODE_ID: "restarted", PORT: String(await freePort()) };
    node = await NodeProcess.spawn(env);
    const watcher = await connect(live.url, { tokenOptions: { sub: "watcher" } });
    expect(await command(watcher, "presence:watch", { userIds: ["dana"] })).toMatchObject({ presence: { dana: { online: false } } });
    const seen = updates(watcher);
    // One more round than MAX_CONNECTIONS_PER_DEVICE (4): sessions left behind would refuse the device.
    for (let round = 1; round <= 5; round++) {
      const phone = await connect(node.url, { tokenOptions: { sub: "dana" }, deviceId: "phone" });
      await waitFor(() => seen.at(-1)?.online === true, 2000, `dana online (round ${round})`);
      const killedAt = Date.now();
      expect((await node.kill("SIGKILL")).signal).toBe("SIGKILL");
      phone.close();
      node = await NodeProcess.spawn(env);
      await waitFor(() => seen.at(-1)?.online === false, TIMEOUT_MS, `dana offline after the restart (round ${round})`);
      expect(Date.now() - killedAt).toBeLessThan(TIMEOUT_MS);
    }
    const token = await serviceToken();
    const dana = (await (await fetch(`${live.url}/v1/presence/dana`, { headers: { authorization: `Bearer ${token}` } })).json()) as Presence;
    expect(dana).toMatchObject({ online: false, devices: [] });
  }, 60_000);
});
