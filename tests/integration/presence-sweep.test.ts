/**
 * Node death: a node killed with SIGKILL says no goodbye. Its devices must become offline
 * cluster-wide within 2 x HEARTBEAT_TIMEOUT_MS, swept by exactly one live node, with one
 * presence:update per user, to watchers and room co-members on the other nodes.
 */
import type { Presence } from "@switchboard/shared";
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, command, connect, type Client } from "../helpers/clients";
import { NodeProcess, startNode } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
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
