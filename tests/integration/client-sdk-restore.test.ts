/**
 * The client SDK restores every subscription after a reconnect — to another node: presence
 * watches (with what changed meanwhile), a synced document (remote writes pulled, local offline
 * changes pushed), notifications that arrived while offline (handed over and acknowledged),
 * workspace and agent subscriptions (joined again, the agent's last execution reported).
 */
import type { AgentStatus, Client, Notification, PresenceInfo } from "@switchboard/client";
import { connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { startNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { closeSdkClients, collected, reach, sdkClient } from "../helpers/sdk";
import { TcpProxy } from "../helpers/tcp-proxy";
import { serviceToken } from "../helpers/tokens";

jest.setTimeout(30000);

describe("client SDK: subscriptions restored after a reconnect", () => {
  const { nodes, beforeStop } = clusterFixture({ backing: "redis", nodes: [{ NODE_ID: "restore-1" }, { NODE_ID: "restore-2" }], env: { NOTIFY_ACK_GRACE_MS: "1000" } });
  let proxy: TcpProxy;
  let service: string;

  beforeAll(async () => {
    proxy = await TcpProxy.start(nodes[0]!.port);
    service = await serviceToken();
  });

  beforeStop(async () => {
    closeSdkClients();
    await proxy.close();
  });

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${nodes[1]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${service}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("restores presence, sync, notifications, workspaces and agents on another node", async () => {
    expect((await rest("POST", "/v1/workspaces", { id: "ws-restore", name: "Team", members: ["alice"] })).status).toBe(201);
    expect((await rest("POST", "/v1/agents", { id: "agent-restore", workspaceId: "ws-restore", ownerId: "alice" })).status).toBe(201);

    const alice: Client = await sdkClient([proxy.url], { tokenOptions: { sub: "alice" }, deviceId: "alice-phone" });
    const presence: PresenceInfo[] = [];
    alice.presence.on("update", (p) => presence.push(p));
    expect((await alice.presence.watch(["bob"])).bob).toMatchObject({ online: false });

    const doc = alice.sync("settings");
    await doc.ready;
    doc.set({ theme: "dark" });
    await waitFor(() => doc.clock !== undefined && doc.state.theme === "dark" && alice.queued === 0, 5000, "the first push");

    const notifications: [Notification, boolean][] = [];
    alice.notifications.on("notification", (n, meta) => notifications.push([n, meta.replayed]));

    const workspace = alice.workspace("ws-restore");
    const updates: unknown[] = [];
    workspace.on("update", (u) => updates.push(u));
    const rejoined: unknown[] = [];
    workspace.on("joined", (r) => rejoined.push(r));
    expect(await workspace.join()).toMatchObject({ workspace: { id: "ws-restore" } });

    const agent = alice.agent("agent-restore");
    const states: AgentStatus[] = [];
    agent.on("state", (s) => states.push(s));
    const progress: unknown[] = [];
    agent.on("execution_update", (e) => progress.push(e));
    await agent.subscribe();

    // Live before the outage.
    await rest("POST", "/v1/notify", { userId: "alice", type: "peer_message", title: "before", body: "" });
    await collected(notifications, 1);
    expect(notifications[0]).toEqual([expect.objectContaining({ title: "before" }), false]);

    // The outage: alice's connection is cut, and when it comes back it leads to the other node.
    const lost = new Promise<string>((resolve) => alice.once("disconnect", resolve));
    proxy.down();
    await lost;
    proxy.targetPort = nodes[1]!.port;

    const bob = await connect(nodes[1]!.url, { tokenOptions: { sub: "bob" }, deviceId: "bob-1" });
    expect((await rest("POST", "/v1/sync/alice/settings", { state: { fontSize: 14 }, deviceId: "alice-laptop" })).status).toBe(200);
    doc.set({ language: "fr" });
    expect(doc.state).toEqual({ theme: "dark", language: "fr" });
    await rest("POST", "/v1/notify", { userId: "alice", type: "peer_message", title: "while away", body: "" });
    await rest("POST", "/v1/agents/agent-restore/started", { executionId: "run-1", task: { goal: "ship" } });
    await rest("POST", "/v1/agents/agent-restore/progress", { executionId: "run-1", progress: 40, currentStep: "tests" });

    proxy.up();
    await reach(alice, "reconnecting");
    await reach(alice, "connected");
    expect(alice.session!.nodeId).toBe("restore-2");

    // Presence: bob came online meanwhile.
    await waitFor(() => presence.some((p) => p.userId === "bob" && p.online), 5000, "bob online");
    expect(alice.presence.get("bob")).toMatchObject({ online: true, devices: ["bob-1"] });
    // Sync: the other device's write pulled, the offline change pushed.
    await waitFor(() => alice.queued === 0 && doc.state.fontSize === 14 && doc.get("language") === "fr", 5000, "the merged document");
    const stored = await rest("GET", "/v1/sync/alice/settings");
    expect(stored.body.state).toEqual({ fontSize: 14, language: "fr", theme: "dark" });
    expect(doc.state).toEqual({ fontSize: 14, language: "fr", theme: "dark" });
    // Notifications: the one sent while away, once.
    await collected(notifications, 2);
    expect(notifications[1]).toEqual([expect.objectContaining({ title: "while away" }), true]);
    // Agents: the answer of the new subscription carries the execution that ran meanwhile.
    await waitFor(() => states.length === 2, 5000, "the agent's state");
    expect(states[1]).toMatchObject({ agent: { id: "agent-restore" }, execution: { executionId: "run-1", progress: 40, currentStep: "tests" } });
    // Workspace and agent rooms joined again on the new node: live events arrive there.
    expect(rejoined).toHaveLength(2);
    await rest("POST", "/v1/workspaces/ws-restore/updates", { updateType: "renamed", data: { name: "Team 2" } });
    await rest("POST", "/v1/agents/agent-restore/progress", { executionId: "run-1", progress: 80 });
    await collected(updates, 1);
    expect(updates[0]).toMatchObject({ workspaceId: "ws-restore", updateType: "renamed", name: "Team 2" });
    await waitFor(() => progress.some((p) => (p as { progress: number }).progress === 80), 5000, "live agent progress");
    // A later live notification is still handed over once.
    await rest("POST", "/v1/notify", { userId: "alice", type: "peer_message", title: "after", body: "" });
    await collected(notifications, 3);
    expect(notifications.map(([n]) => n.title)).toEqual(["before", "while away", "after"]);
    // The notifications sent while alice was online were acknowledged in time (no push fallback).
    const count = async (outcome: string) =>
      (await Promise.all(nodes.map(async (n) => metricValue(await scrape(n.url), "switchboard_notifications_total", { channel: "socket", outcome }) || 0))).reduce((a, b) => a + b, 0);
    await waitFor(async () => (await count("acked")) >= 2, 5000, "two acks");
    bob.close();
  });

  it("syncs a document between two devices and exposes the conflict of concurrent offline edits (vector clocks)", async () => {
    const node = await startNode({ CONFLICT_STRATEGY: "vector_clock" });
    const proxies = await Promise.all([TcpProxy.start(node.port), TcpProxy.start(node.port)]);
    try {
      const [phone, laptop] = await Promise.all(proxies.map((p, i) => sdkClient([p.url], { tokenOptions: { sub: "carol" }, deviceId: `carol-${i}` })));
      const [onPhone, onLaptop] = [phone!.sync("notes"), laptop!.sync("notes")];
      await Promise.all([onPhone.ready, onLaptop.ready]);
      expect(onPhone.strategy).toBe("vector_clock");

      // A change on one device shows on the other (sync:state).
      onPhone.set({ title: "draft" });
      await waitFor(() => onLaptop.state.title === "draft", 5000, "the phone's change on the laptop");

      // Both devices offline, each edits the same field.
      for (const [client, proxy] of [[phone!, proxies[0]!], [laptop!, proxies[1]!]] as const) {
        const lost = new Promise((resolve) => client.once("disconnect", resolve));
        proxy.down();
        await lost;
      }
      onPhone.set({ title: "from the phone" });
      onLaptop.set({ title: "from the laptop", pages: 3 });
      for (const proxy of proxies) proxy.up();
      await Promise.all([reach(phone!, "connected"), reach(laptop!, "connected")]);
      await waitFor(() => onPhone.conflicts.includes("title") && onLaptop.conflicts.includes("title") && phone!.queued + laptop!.queued === 0, 5000, "the conflict on both");
      expect(onPhone.state).toEqual(onLaptop.state);
      expect(onPhone.state.pages).toBe(3);

      // A write that has seen both values resolves it everywhere.
      onPhone.set({ title: "merged" });
      await waitFor(() => onLaptop.state.title === "merged" && onLaptop.conflicts.length === 0 && onPhone.conflicts.length === 0, 5000, "the resolution");
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      await node.shutdown();
    }
  });
});
