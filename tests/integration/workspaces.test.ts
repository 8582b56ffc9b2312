/**
 * Workspaces and agents (PROTOCOL §3 "Workspaces and agents", §4 workspace and agent endpoints)
 * on both engines: one node on the memory engine, three nodes on one Redis. Membership through
 * REST, the workspace room for members only with its events on every node, the agent registry,
 * who may follow an agent, execution events reaching subscribers on every node, the state a late
 * subscriber starts from, and validation.
 */
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { sleep } from "../helpers/ports";
import { serviceToken, signToken } from "../helpers/tokens";

describe.each(["memory", "redis"] as const)("workspaces and agents (%s engine)", (name) => {
  const { url, rest, unique } = clusterFixture({ backing: name, nodes: name === "redis" ? 3 : 1, env: { RATE_LIMIT_POINTS: "10000" } });
  const user = (sub: string, i: number, tenant?: string) => connect(url(i), { tokenOptions: { sub, name: sub.toUpperCase(), tenant } });

  const userToken = (sub: string, tenant?: string) => signToken({ sub, tenant });

  async function createWorkspace(members: string[], tenant?: string): Promise<string> {
    const id = unique("ws");
    const created = await rest("POST", "/v1/workspaces", { body: { id, name: `Workspace ${id}`, members }, token: await serviceToken({ tenant }) });
    expect(created.status).toBe(201);
    return id;
  }

  afterEach(() => closeClients());

  describe("REST", () => {
    it("creates workspaces (services only), with a generated id when none is given, once per id", async () => {
      const id = unique("ws");
      const created = await rest("POST", "/v1/workspaces", { body: { id, name: "Team A", members: ["alice", "bob"] } });
      expect(created).toEqual({ status: 201, body: { workspace: { id, name: "Team A", createdBy: "svc", createdAt: expect.any(Number), memberCount: 2 } } });
      expect(Math.abs((created.body.workspace as { createdAt: number }).createdAt - Date.now())).toBeLessThan(5000);

      expect(await rest("POST", "/v1/workspaces", { body: { id, name: "Again" }, node: 1 })).toMatchObject({ status: 409, body: { error: { code: "CONFLICT" } } });
      const generated = await rest("POST", "/v1/workspaces", { body: { name: "No id" } });
      expect(generated).toMatchObject({ status: 201, body: { workspace: { id: expect.stringMatching(/^ws-/), memberCount: 0 } } });
      expect(await rest("POST", "/v1/workspaces", { body: { name: "Mine" }, token: await userToken("alice") })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
      // The same id is free in another tenant.
      expect((await rest("POST", "/v1/workspaces", { body: { id, name: "Other tenant" }, token: await serviceToken({ tenant: "acme" }) })).status).toBe(201);
    });

    it("lists the caller's workspaces, and every workspace of the tenant for a service", async () => {
      const mine = await createWorkspace(["lister"]);
      const other = await createWorkspace(["someone-else"]);
      const listed = await rest("GET", "/v1/workspaces", { token: await userToken("lister"), node: 2 });
      expect(listed.status).toBe(200);
      expect((listed.body.workspaces as { id: string }[]).map((w) => w.id)).toEqual([mine]);
      expect(listed.body.workspaces).toEqual([{ id: mine, name: `Workspace ${mine}`, createdBy: "svc", createdAt: expect.any(Number), memberCount: 1 }]);

      const all = (await rest("GET", "/v1/workspaces")).body.workspaces as { id: string }[];
      expect(all.map((w) => w.id)).toEqual(expect.arrayContaining([mine, other]));
      expect(((await rest("GET", "/v1/workspaces?userId=lister")).body.workspaces as { id: string }[]).map((w) => w.id)).toEqual([mine]);
      expect((await rest("GET", "/v1/workspaces?userId=lister", { token: await userToken("intruder") })).status).toBe(403);
      expect((await rest("GET", "/v1/workspaces", { token: await serviceToken({ tenant: "acme" }) })).body.workspaces).not.toContainEqual(expect.objectContaining({ id: other }));
    });

    it("shows a workspace and its users with presence to members and services only", async () => {
      const id = await createWorkspace(["wanda", "walt"]);
      const wanda = await user("wanda", 1);
      expect(wanda.session).toBeDefined();
      const info = await rest("GET", `/v1/workspaces/${id}`, { token: await userToken("wanda") });
      expect(info).toEqual({ status: 200, body: { workspace: { id, name: `Workspace ${id}`, createdBy: "svc", createdAt: expect.any(Number), memberCount: 2 } } });
      const users = await rest("GET", `/v1/workspaces/${id}/users`, { token: await userToken("walt"), node: 2 });
      expect(users).toEqual({ status: 200, body: { users: [{ userId: "walt", online: false }, { userId: "wanda", online: true }] } });
      expect((await rest("GET", `/v1/workspaces/${id}/users`)).status).toBe(200);

      expect(await rest("GET", `/v1/workspaces/${id}`, { token: await userToken("stranger") })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
      expect(await rest("GET", `/v1/workspaces/${id}/users`, { token: await userToken("stranger") })).toMatchObject({ status: 403 });
      expect(await rest("GET", `/v1/workspaces/${id}`, { token: await userToken("wanda", "acme") })).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
      expect(await rest("GET", `/v1/workspaces/${unique("nope")}`)).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
    });

    it("adds and removes members (services; a member may remove themself)", async () => {
      const id = await createWorkspace([]);
      expect(await rest("POST", `/v1/workspaces/${id}/members`, { body: { userId: "mia" } })).toEqual({
        status: 201,
        body: { workspace: expect.objectContaining({ id, memberCount: 1 }), added: true },
      });
      expect(await rest("POST", `/v1/workspaces/${id}/members`, { body: { userId: "mia" }, node: 1 })).toMatchObject({ status: 200, body: { added: false, workspace: { memberCount: 1 } } });
      expect(await rest("POST", `/v1/workspaces/${id}/members`, { body: { userId: "max" }, token: await userToken("mia") })).toMatchObject({ status: 403 });
      expect(await rest("POST", `/v1/workspaces/${unique("nope")}/members`, { body: { userId: "max" } })).toMatchObject({ status: 404 });
      await rest("POST", `/v1/workspaces/${id}/members`, { body: { userId: "max" } });
      expect(((await rest("GET", `/v1/workspaces/${id}/users`)).body.users as { userId: string }[]).map((u) => u.userId)).toEqual(["max", "mia"]);

      expect(await rest("DELETE", `/v1/workspaces/${id}/members/max`, { token: await userToken("mia") })).toMatchObject({ status: 403 });
      expect(await rest("DELETE", `/v1/workspaces/${id}/members/mia`, { token: await userToken("mia") })).toEqual({ status: 200, body: { removed: true } });
      expect(await rest("DELETE", `/v1/workspaces/${id}/members/max`, { node: 2 })).toEqual({ status: 200, body: { removed: true } });
      expect(await rest("DELETE", `/v1/workspaces/${id}/members/max`)).toEqual({ status: 200, body: { removed: false } });
      expect((await rest("GET", `/v1/workspaces/${id}`)).body.workspace).toMatchObject({ memberCount: 0 });
      expect((await rest("GET", "/v1/workspaces", { token: await userToken("mia") })).body.workspaces).toEqual([]);
    });

    it("refuses malformed bodies, ids and queries with VALIDATION_FAILED", async () => {
      const id = await createWorkspace([]);
      for (const [method, path, body] of [
        ["POST", "/v1/workspaces", { name: "x", extra: 1 }],
        ["POST", "/v1/workspaces", { id: "bad id", name: "x" }],
        ["POST", "/v1/workspaces", { name: "" }],
        ["POST", "/v1/workspaces", { name: "x", members: ["a", "a"] }],
        ["POST", `/v1/workspaces/${id}/members`, { userId: "has space" }],
        ["POST", `/v1/workspaces/${id}/updates`, { updateType: "x", data: { ts: 1 } }],
        ["POST", `/v1/workspaces/${id}/updates`, { updateType: "bad type!" }],
        ["POST", `/v1/workspaces/${id}/updates`, { updateType: "x", data: [1] }],
        ["POST", "/v1/agents", { id: "a", workspaceId: id, unknown: true }],
        ["POST", "/v1/agents", { workspaceId: id }],
        ["GET", "/v1/workspaces?limit=3", undefined],
      ] as const) {
        const reply = await rest(method, path, { body });
        expect({ path, body, status: reply.status, code: reply.body.error?.code }).toEqual({ path, body, status: 400, code: "VALIDATION_FAILED" });
      }
    });
  });

  describe("workspace room", () => {
    it("admits members only and tells the room who joined, left and what changed, on every node", async () => {
      const id = await createWorkspace(["alice", "bob"]);
      const [alice, bob, carol] = await Promise.all([user("alice", 0), user("bob", 1), user("carol", 2)]);

      const joined = await command(alice, "workspace:join", { workspaceId: id });
      expect(joined).toEqual({
        ok: true,
        workspace: { id, name: `Workspace ${id}`, createdBy: "svc", createdAt: expect.any(Number), memberCount: 2 },
        users: [
          { userId: "alice", online: true },
          { userId: "bob", online: true },
        ],
      });
      const bobJoined = nextEvent(alice, "workspace:user_joined");
      const bobSelf = collect<{ userId: string }>(bob, "workspace:user_joined");
      expect((await command(bob, "workspace:join", { workspaceId: id })).ok).toBe(true);
      expect(await bobJoined).toEqual({ workspaceId: id, userId: "bob", name: "BOB", deviceId: bob.session!.deviceId, ts: expect.any(Number) });
      // Joining again is a no-op.
      expect((await command(bob, "workspace:join", { workspaceId: id })).ok).toBe(true);

      // Non-members are refused, other tenants do not see it, unknown ids are unknown.
      expect(await command(carol, "workspace:join", { workspaceId: id })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      const outsider = await user("alice", 2, "acme");
      expect(await command(outsider, "workspace:join", { workspaceId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await command(alice, "workspace:join", { workspaceId: unique("nope") })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      for (const bad of [{}, { workspaceId: 5 }, { workspaceId: "a b" }, { workspaceId: id, extra: true }]) {
        expect(await command(alice, "workspace:join", bad)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      }

      // An update from REST (a service) reaches the members in the room on every node, not others.
      const carolUpdates = collect(carol, "workspace:update");
      const outsiderUpdates = collect(outsider, "workspace:update");
      const updates = [alice, bob].map((c) => nextEvent(c, "workspace:update"));
      const sent = await rest("POST", `/v1/workspaces/${id}/updates`, { body: { updateType: "agent_added", data: { agentId: "a1", list: [1, { x: null }] } }, node: 2 });
      expect(sent).toEqual({ status: 202, body: { event: { workspaceId: id, updateType: "agent_added", agentId: "a1", list: [1, { x: null }], ts: expect.any(Number) } } });
      for (const got of await Promise.all(updates)) expect(got).toEqual(sent.body.event);
      expect(await rest("POST", `/v1/workspaces/${id}/updates`, { body: { updateType: "x" }, token: await userToken("alice") })).toMatchObject({ status: 403 });

      // A member added by a service is announced, and may join from then on.
      const added = nextEvent(bob, "workspace:update");
      await rest("POST", `/v1/workspaces/${id}/members`, { body: { userId: "carol" } });
      expect(await added).toEqual({ workspaceId: id, updateType: "member_added", userId: "carol", ts: expect.any(Number) });
      const carolJoined = [alice, bob].map((c) => nextEvent(c, "workspace:user_joined"));
      expect(await command(carol, "workspace:join", { workspaceId: id })).toMatchObject({ ok: true, workspace: { memberCount: 3 } });
      for (const got of await Promise.all(carolJoined)) expect(got).toMatchObject({ workspaceId: id, userId: "carol" });

      // Leaving (command or disconnect) is announced to those still in the room.
      const bobLeft = nextEvent(alice, "workspace:user_left");
      expect(await command(bob, "workspace:leave", { workspaceId: id })).toEqual({ ok: true });
      expect(await bobLeft).toEqual({ workspaceId: id, userId: "bob", name: "BOB", deviceId: bob.session!.deviceId, ts: expect.any(Number) });
      expect(await command(bob, "workspace:leave", { workspaceId: id })).toEqual({ ok: true });
      expect(await command(bob, "workspace:leave", { workspaceId: unique("nope") })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      const carolLeft = nextEvent(alice, "workspace:user_left");
      carol.close();
      expect(await carolLeft).toMatchObject({ workspaceId: id, userId: "carol", deviceId: carol.session!.deviceId });

      await sleep(150);
      // A joining socket is not told about itself.
      expect(bobSelf.filter((e) => e.userId === "bob")).toEqual([]);
      expect(carolUpdates).toEqual([]);
      expect(outsiderUpdates).toEqual([]);
    });

    it("takes a removed member out of the room on every node", async () => {
      const id = await createWorkspace(["rita", "rob"]);
      const [rita, rob] = await Promise.all([user("rita", 1), user("rob", 2)]);
      await command(rita, "workspace:join", { workspaceId: id });
      await command(rob, "workspace:join", { workspaceId: id });
      const ritaUpdates = collect<{ updateType: string }>(rita, "workspace:update");
      const removedSeen = [rita, rob].map((c) => nextEvent(c, "workspace:user_left"));
      expect(await rest("DELETE", `/v1/workspaces/${id}/members/rita`)).toEqual({ status: 200, body: { removed: true } });
      for (const got of await Promise.all(removedSeen)) expect(got).toEqual({ workspaceId: id, userId: "rita", removed: true, ts: expect.any(Number) });

      await sleep(150);
      const later = nextEvent<{ updateType: string }>(rob, "workspace:update");
      await rest("POST", `/v1/workspaces/${id}/updates`, { body: { updateType: "after_removal" } });
      expect((await later).updateType).toBe("after_removal");
      await sleep(150);
      expect(ritaUpdates.map((u) => u.updateType)).toEqual(["member_removed"]);
      expect(await command(rita, "workspace:join", { workspaceId: id })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    });
  });

  describe("agents", () => {
    it("registers agents in a workspace (services only) and shows them to the owner and members", async () => {
      const ws = await createWorkspace(["member-1"]);
      const id = unique("agent");
      const registered = await rest("POST", "/v1/agents", { body: { id, workspaceId: ws, ownerId: "owner-1", name: "Builder" } });
      expect(registered).toEqual({
        status: 201,
        body: { agent: { id, workspaceId: ws, ownerId: "owner-1", name: "Builder", createdAt: expect.any(Number), updatedAt: expect.any(Number) }, created: true },
      });
      expect(await rest("POST", "/v1/agents", { body: { id, workspaceId: ws, ownerId: "owner-1", name: "Builder 2" }, node: 1 })).toMatchObject({
        status: 200,
        body: { created: false, agent: { name: "Builder 2" } },
      });
      expect(await rest("POST", "/v1/agents", { body: { id: unique("agent"), workspaceId: unique("nope") } })).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
      expect(await rest("POST", "/v1/agents", { body: { id: unique("agent"), workspaceId: ws }, token: await userToken("member-1") })).toMatchObject({ status: 403 });

      for (const sub of ["owner-1", "member-1"]) {
        expect(await rest("GET", `/v1/agents/${id}`, { token: await userToken(sub), node: 2 })).toMatchObject({ status: 200, body: { agent: { id, workspaceId: ws } } });
      }
      expect(await rest("GET", `/v1/agents/${id}`, { token: await userToken("stranger") })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
      expect(await rest("GET", `/v1/agents/${id}`, { token: await userToken("owner-1", "acme") })).toMatchObject({ status: 404 });
      expect(await rest("GET", `/v1/agents/${id}/status`)).toEqual({ status: 200, body: { agent: expect.objectContaining({ id }) } });
    });

    it("lets only the owner and workspace members subscribe, delivers execution events on every node, and starts late subscribers from the state", async () => {
      const ws = await createWorkspace(["amy", "ben"]);
      const id = unique("agent");
      await rest("POST", "/v1/agents", { body: { id, workspaceId: ws, ownerId: "olga" } });
      const [amy, olga, ben, carl] = await Promise.all([user("amy", 0), user("olga", 2), user("ben", 1), user("carl", 1)]);
      const outsider = await user("amy", 1, "acme");

      expect(await command(amy, "agent:subscribe", { agentId: id })).toEqual({
        ok: true,
        agent: { id, workspaceId: ws, ownerId: "olga", createdAt: expect.any(Number), updatedAt: expect.any(Number) },
      });
      expect((await command(olga, "agent:subscribe", { agentId: id })).ok).toBe(true);
      expect(await command(carl, "agent:subscribe", { agentId: id })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await command(outsider, "agent:subscribe", { agentId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await command(amy, "agent:subscribe", { agentId: unique("nope") })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      for (const bad of [{}, { agentId: 1 }, { agentId: id, extra: 1 }]) {
        expect(await command(amy, "agent:subscribe", bad)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      }
      const carlEvents = collect(carl, "agent:execution_start");

      const starts = [amy, olga].map((c) => nextEvent(c, "agent:execution_start"));
      const started = await rest("POST", `/v1/agents/${id}/started`, { body: { executionId: "run-1", task: { goal: "ship" } }, node: 1 });
      expect(started).toMatchObject({ status: 202, body: { execution: { agentId: id, executionId: "run-1", status: "running", progress: 0 } } });
      for (const got of await Promise.all(starts)) {
        expect(got).toEqual({ agentId: id, executionId: "run-1", workspaceId: ws, status: "running", progress: 0, task: { goal: "ship" }, ts: expect.any(Number) });
      }
      const updates = [amy, olga].map((c) => nextEvent(c, "agent:execution_update"));
      await rest("POST", `/v1/agents/${id}/progress`, { body: { executionId: "run-1", progress: 40, currentStep: "tests", status: "running" } });
      for (const got of await Promise.all(updates)) {
        expect(got).toEqual({ agentId: id, executionId: "run-1", workspaceId: ws, status: "running", progress: 40, currentStep: "tests", ts: expect.any(Number) });
      }

      // A late subscriber starts from the current state, then gets what follows.
      const late = await command(ben, "agent:subscribe", { agentId: id });
      expect(late).toEqual({
        ok: true,
        agent: expect.objectContaining({ id }),
        execution: {
          agentId: id,
          executionId: "run-1",
          workspaceId: ws,
          status: "running",
          progress: 40,
          currentStep: "tests",
          task: { goal: "ship" },
          startedAt: expect.any(Number),
          updatedAt: expect.any(Number),
        },
      });
      const completes = [amy, olga, ben].map((c) => nextEvent(c, "agent:execution_complete"));
      await rest("POST", `/v1/agents/${id}/completed`, { body: { executionId: "run-1", result: { pr: 12 } }, node: 2 });
      for (const got of await Promise.all(completes)) expect(got).toMatchObject({ executionId: "run-1", status: "completed", progress: 100, result: { pr: 12 } });

      const status = await rest("GET", `/v1/agents/${id}/status`, { token: await userToken("ben"), node: 2 });
      expect(status).toMatchObject({ status: 200, body: { agent: { id }, execution: { executionId: "run-1", status: "completed", progress: 100, result: { pr: 12 }, completedAt: expect.any(Number) } } });
      expect(await rest("GET", `/v1/agents/${id}/status`, { token: await userToken("carl") })).toMatchObject({ status: 403 });

      // Unsubscribed sockets hear nothing more; a failure reaches those still subscribed.
      expect(await command(ben, "agent:unsubscribe", { agentId: id })).toEqual({ ok: true });
      const benFailed = collect(ben, "agent:execution_failed");
      const failed = nextEvent(amy, "agent:execution_failed");
      await rest("POST", `/v1/agents/${id}/failed`, { body: { executionId: "run-2", error: { code: "E_CRASH", message: "boom" } } });
      expect(await failed).toMatchObject({ executionId: "run-2", status: "failed", error: { code: "E_CRASH", message: "boom" } });

      for (const body of [{ executionId: "run-1", progress: 150 }, { executionId: "run-1" }, { executionId: "bad id!", progress: 1 }, { executionId: "r", status: "completed" }]) {
        expect(await rest("POST", `/v1/agents/${id}/progress`, { body })).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
      }
      expect(await rest("POST", `/v1/agents/${id}/failed`, { body: { executionId: "r", error: {} } })).toMatchObject({ status: 400 });
      expect(await rest("POST", `/v1/agents/${unique("nope")}/started`, { body: { executionId: "r" } })).toMatchObject({ status: 404 });
      expect(await rest("POST", `/v1/agents/${id}/started`, { body: { executionId: "r" }, token: await userToken("olga") })).toMatchObject({ status: 403 });

      await sleep(150);
      expect(carlEvents).toEqual([]);
      expect(benFailed).toEqual([]);
    });

    it("stops a removed member's agent subscriptions but keeps the owner's", async () => {
      const ws = await createWorkspace(["una", "olaf"]);
      const id = unique("agent");
      await rest("POST", "/v1/agents", { body: { id, workspaceId: ws, ownerId: "olaf" } });
      const [una, olaf] = await Promise.all([user("una", 2), user("olaf", 0)]);
      await command(una, "agent:subscribe", { agentId: id });
      await command(olaf, "agent:subscribe", { agentId: id });
      await rest("DELETE", `/v1/workspaces/${ws}/members/una`);
      await rest("DELETE", `/v1/workspaces/${ws}/members/olaf`);
      await sleep(150);
      const unaEvents = collect(una, "agent:execution_start");
      const olafStart = nextEvent(olaf, "agent:execution_start");
      await rest("POST", `/v1/agents/${id}/started`, { body: { executionId: "x1" } });
      expect(await olafStart).toMatchObject({ executionId: "x1" });
      await sleep(150);
      expect(unaEvents).toEqual([]);
      expect(await command(una, "agent:subscribe", { agentId: id })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    });
  });
});
