/**
 * The emitter (PROTOCOL §5) as a backend service uses it: a separate `node` process that has
 * installed only @switchboard/emitter and @switchboard/shared (packed from this build) and
 * their runtime dependencies, publishing through one Redis into three in-process nodes.
 * Clients on the three nodes cannot tell its room messages from a node's (same id as history,
 * recoverable with `since`); user emits, broadcasts, workspace updates, agent executions and
 * notifications reach them. Invalid payloads throw before anything is sent (in-process emitter).
 */
import type { SwitchboardNode } from "@switchboard/server";
import { EmitterError, SwitchboardEmitter } from "@switchboard/emitter";
import type { Redis } from "ioredis";
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { EmitterProcess, installEmitterPackage, type EmitterCallError } from "../helpers/emitter-package";
import { startNode } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

interface Msg {
  id: string;
  seq: number;
  epoch: string;
  room: string;
  from: { userId: string; name?: string };
  kind: string;
  data: unknown;
  ts: number;
  priority: string;
}

async function rejection(promise: Promise<unknown>): Promise<Error & Partial<EmitterCallError>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Partial<EmitterCallError>;
  }
  throw new Error("the call succeeded");
}

describe("emitter from a separate process", () => {
  let installDir: string;
  // Before the nodes start: the install blocks the event loop the nodes' heartbeats run on.
  beforeAll(() => {
    installDir = installEmitterPackage().dir;
  }, 60000);
  const cluster = clusterFixture({ backing: "redis", nodes: 3, env: { RATE_LIMIT_POINTS: "10000" } });
  const { nodes, unique } = cluster;
  let child: EmitterProcess;
  const user = (sub: string, i: number, tenant?: string) => connect(nodes[i]!.url, { tokenOptions: { sub, name: sub.toUpperCase(), tenant } });

  async function rest(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${nodes[0]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token ?? (await serviceToken())}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(() => {
    child = EmitterProcess.start(installDir, { redis: cluster.redis.url, sender: { userId: "backend", name: "Backend" } });
  });
  cluster.beforeStop(() => child?.close());
  afterEach(() => closeClients());

  it("runs from an install of only the emitter package and its runtime dependencies", async () => {
    const probe = await child.call<{ emitter: string; server: boolean; socketIo: boolean; jest: boolean }>(null, "probe");
    expect(probe.emitter.startsWith(installDir)).toBe(true);
    expect(probe).toMatchObject({ server: false, socketIo: false, jest: false });
  });

  it("publishes into a room's history and to its members on all three nodes, recoverable with since", async () => {
    const room = unique("lesson");
    expect((await rest("POST", "/v1/rooms", { id: room, name: "Lesson" })).status).toBe(201);
    const clients = await Promise.all(["ann", "bea", "cid"].map((sub, i) => user(sub, i)));
    for (const c of clients) expect((await command(c, "room:join", { room })).ok).toBe(true);
    const inboxes = clients.map((c) => collect<Msg>(c, "room:message"));

    const published = await child.call<{ id: string; ts: number; seq: number; epoch: string }>(["room", room], "publish", { text: "Session starts" }, { kind: "system", priority: "high" });
    expect(published).toEqual({ id: expect.stringMatching(/^\d+-\d+$/), ts: expect.any(Number), seq: 1, epoch: expect.any(String) });
    const expected: Msg = { id: published.id, seq: 1, epoch: published.epoch, room, from: { userId: "backend", name: "Backend" }, kind: "system", data: { text: "Session starts" }, ts: published.ts, priority: "high" };
    await waitFor(() => inboxes.every((inbox) => inbox.length === 1), 5000, "room:message on three nodes");
    for (const inbox of inboxes) expect(inbox).toEqual([expected]);
    expect(await command(clients[1]!, "room:history", { room })).toEqual({ ok: true, messages: [expected], hasMore: false });

    // A retried publish with the same clientMsgId is stored and delivered once.
    const first = await child.call<{ id: string }>(["room", room], "publish", { n: 1 }, { clientMsgId: "job-7" });
    const again = await child.call<{ id: string; duplicate?: boolean }>(["room", room], "publish", { n: 1 }, { clientMsgId: "job-7" });
    expect(again).toEqual({ id: first.id, ts: expect.any(Number), seq: 2, epoch: published.epoch, duplicate: true });

    // A client that was away recovers what the emitter published meanwhile, on another node.
    const ann = clients[0]!;
    const lastSeen = first.id;
    ann.close();
    const missed = [await child.call<{ id: string }>(["room", room], "publish", "while away 1"), await child.call<{ id: string }>(["room", room], "publish", "while away 2")];
    const back = await user("ann", 2);
    const rejoin = await command(back, "room:join", { room, since: lastSeen });
    expect(rejoin).toMatchObject({ ok: true, recovered: true });
    expect((rejoin.missed as Msg[]).map((m) => [m.id, m.seq, m.data])).toEqual([
      [missed[0]!.id, 3, "while away 1"],
      [missed[1]!.id, 4, "while away 2"],
    ]);
    await sleep(100);
    expect(inboxes[1]!.map((m) => m.id)).toEqual([published.id, first.id, missed[0]!.id, missed[1]!.id]);

    const unknown = await rejection(child.call(["room", unique("nope")], "publish", "x"));
    expect(unknown).toMatchObject({ name: "EmitterError", code: "NOT_FOUND" });
  });

  it("emits to every device of a user on every node, and broadcasts to the tenant only", async () => {
    const [phone, laptop, other] = await Promise.all([user("uma", 0), user("uma", 2), user("vic", 1)]);
    const acme = await user("uma", 1, "acme");
    const umaEvents = [phone, laptop].map((c) => nextEvent(c, "score:changed"));
    const vicEvents = collect(other, "score:changed");
    const acmeEvents = collect(acme, "score:changed");
    await child.call(["user", "uma"], "emit", "score:changed", { score: 42 }, "second-arg");
    expect(await Promise.all(umaEvents)).toEqual([{ score: 42 }, { score: 42 }]);

    const broadcasts = [phone, laptop, other].map((c) => nextEvent(c, "maintenance"));
    const acmeBroadcasts = collect(acme, "maintenance");
    await child.call(null, "broadcast", "maintenance", { at: "22:00" });
    expect(await Promise.all(broadcasts)).toEqual([{ at: "22:00" }, { at: "22:00" }, { at: "22:00" }]);
    await sleep(150);
    expect(vicEvents).toEqual([]);
    expect(acmeEvents).toEqual([]);
    expect(acmeBroadcasts).toEqual([]);
  });

  it("sends workspace updates to the workspace's members on every node", async () => {
    const ws = unique("ws");
    expect((await rest("POST", "/v1/workspaces", { id: ws, name: "Team", members: ["wes", "wil", "wyn"] })).status).toBe(201);
    const members = await Promise.all(["wes", "wil", "wyn"].map((sub, i) => user(sub, i)));
    for (const c of members) expect((await command(c, "workspace:join", { workspaceId: ws })).ok).toBe(true);
    const updates = members.map((c) => nextEvent(c, "workspace:update"));
    const sent = await child.call(["workspace", ws], "update", "agent_added", { agentId: "a1" });
    expect(sent).toEqual({ workspaceId: ws, updateType: "agent_added", agentId: "a1", ts: expect.any(Number) });
    for (const got of await Promise.all(updates)) expect(got).toEqual(sent);
    expect(await rejection(child.call(["workspace", unique("nope")], "update", "x"))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("registers an agent and reports its executions to subscribers on every node; late subscribers and REST see the state", async () => {
    const ws = unique("ws");
    await rest("POST", "/v1/workspaces", { id: ws, name: "Agents", members: ["mo", "mel"] });
    const agentId = unique("agent");
    const registered = await child.call<{ agent: object; created: boolean }>(["agent", agentId], "register", { workspaceId: ws, ownerId: "oz", name: "Coder" });
    expect(registered).toEqual({ agent: { id: agentId, workspaceId: ws, ownerId: "oz", name: "Coder", createdAt: expect.any(Number), updatedAt: expect.any(Number) }, created: true });
    expect((await rest("GET", `/v1/agents/${agentId}`)).body).toEqual({ agent: registered.agent });

    const [mo, oz, stranger] = await Promise.all([user("mo", 0), user("oz", 1), user("sam", 2)]);
    const subscribers = [mo, oz];
    for (const c of subscribers) expect(await command(c, "agent:subscribe", { agentId })).toEqual({ ok: true, agent: registered.agent });
    expect(await command(stranger, "agent:subscribe", { agentId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    const starts = subscribers.map((c) => nextEvent(c, "agent:execution_start"));
    const started = await child.call<{ startedAt: number }>(["agent", agentId], "started", { executionId: "e-1", task: "fix the build" });
    expect(started).toMatchObject({ agentId, executionId: "e-1", workspaceId: ws, status: "running", progress: 0, task: "fix the build" });
    for (const got of await Promise.all(starts)) {
      expect(got).toEqual({ agentId, executionId: "e-1", workspaceId: ws, status: "running", progress: 0, task: "fix the build", ts: started.startedAt });
    }
    const updates = subscribers.map((c) => nextEvent(c, "agent:execution_update"));
    await child.call(["agent", agentId], "progress", { executionId: "e-1", progress: 40, currentStep: "tests", status: "running" });
    for (const got of await Promise.all(updates)) expect(got).toMatchObject({ executionId: "e-1", status: "running", progress: 40, currentStep: "tests" });

    // Late subscriber on the third node: the ack holds the current state.
    const mel = await user("mel", 2);
    expect(await command(mel, "agent:subscribe", { agentId })).toEqual({
      ok: true,
      agent: registered.agent,
      execution: { agentId, executionId: "e-1", workspaceId: ws, status: "running", progress: 40, currentStep: "tests", task: "fix the build", startedAt: started.startedAt, updatedAt: expect.any(Number) },
    });
    const completes = [mo, oz, mel].map((c) => nextEvent(c, "agent:execution_complete"));
    await child.call(["agent", agentId], "completed", { executionId: "e-1", result: { pr: 17 } });
    for (const got of await Promise.all(completes)) expect(got).toMatchObject({ executionId: "e-1", status: "completed", progress: 100, result: { pr: 17 } });
    const status = await rest("GET", `/v1/agents/${agentId}/status`, undefined, await signToken({ sub: "mel" }));
    expect(status).toMatchObject({ status: 200, body: { agent: registered.agent, execution: { executionId: "e-1", status: "completed", progress: 100, result: { pr: 17 }, completedAt: expect.any(Number) } } });

    const failures = [mo, oz, mel].map((c) => nextEvent(c, "agent:execution_failed"));
    await child.call(["agent", agentId], "started", { executionId: "e-2" });
    await child.call(["agent", agentId], "failed", { executionId: "e-2", error: { code: "E_OOM", message: "out of memory" } });
    for (const got of await Promise.all(failures)) expect(got).toMatchObject({ executionId: "e-2", status: "failed", error: { code: "E_OOM", message: "out of memory" } });
    expect((await rest("GET", `/v1/agents/${agentId}/status`)).body).toMatchObject({ execution: { executionId: "e-2", status: "failed" } });

    expect(await rejection(child.call(["agent", unique("unregistered")], "started", { executionId: "e" }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await rejection(child.call(["agent", agentId], "register", { workspaceId: unique("nope") }))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("notifies through the nodes' notification path: inbox, and the event to an online device", async () => {
    const online = await user("nia", 1);
    const arrived = nextEvent<{ id: string; title: string }>(online, "notification", 10000);
    const sent = await child.call<{ id: string; delivery: string }>(null, "notify", "nia", { type: "milestone_achieved", title: "Chapter 1", body: "Done", priority: "high", data: { chapter: 1 } });
    expect(sent).toEqual({ id: expect.any(String), delivery: "socket" });
    expect(await arrived).toMatchObject({ id: sent.id, userId: "nia", type: "milestone_achieved", title: "Chapter 1", body: "Done", priority: "high", data: { chapter: 1 }, read: false });
    expect(await command(online, "notification:ack", { id: sent.id })).toEqual({ ok: true });

    // A user with no device online finds it in the inbox when they come.
    const queued = await child.call<{ id: string; delivery: string }>(null, "notify", "noor", { type: "review_reminder", title: "Review", body: "" });
    expect(queued.delivery).toBe("inbox");
    const later = await user("noor", 2);
    const listed = await command(later, "notification:list", {});
    expect(listed).toMatchObject({ ok: true, notifications: [{ id: queued.id, type: "review_reminder", priority: "normal", read: false }] });
  });

  it("queues notifications durably: a node that starts later picks up what was sent while none was listening", async () => {
    const quiet = await RedisServer.start();
    const early = new SwitchboardEmitter({ redis: quiet.url });
    const probe = quiet.client();
    let late: SwitchboardNode | undefined;
    try {
      const sent = await early.notify("lena", { type: "peer_message", title: "While no node ran", body: "hi", ttl: 600, clientNotifyId: "hi-lena" });
      expect(sent.delivery).toBe("inbox");
      // Sent again (an answer the service did not get): the same notification, not a second one.
      expect(await early.notify("lena", { type: "peer_message", title: "While no node ran", body: "hi", ttl: 600, clientNotifyId: "hi-lena" })).toEqual({ ...sent, duplicate: true });
      late = await startNode({ REDIS_URL: quiet.url });
      // The node's consumer group reads the entry written before it existed, and acks it when done.
      await waitFor(
        async () => {
          const groups = (await probe.xinfo("GROUPS", early.keys.notificationQueue())) as unknown[][];
          const info = Object.fromEntries(Array.from({ length: groups[0]!.length / 2 }, (_, i) => [groups[0]![2 * i], groups[0]![2 * i + 1]]));
          return info.pending === 0 && info["entries-read"] === 1;
        },
        10000,
        "the late node to take and ack the notification",
      );
      const lena = await connect(late.url, { tokenOptions: { sub: "lena" } });
      expect(await command(lena, "notification:list", {})).toMatchObject({ ok: true, notifications: [{ id: sent.id, title: "While no node ran" }] });
    } finally {
      closeClients();
      await early.close();
      probe.disconnect();
      await late?.shutdown();
      await quiet.destroy();
    }
  });

  describe("invalid payloads (in-process emitter)", () => {
    let emitter: SwitchboardEmitter;
    let probe: Redis;
    let subscriber: Redis;
    const published: string[] = [];

    beforeAll(async () => {
      emitter = new SwitchboardEmitter({ redis: cluster.redis.url });
      probe = cluster.redis.client();
      subscriber = cluster.redis.client();
      await subscriber.psubscribe("socket.io*");
      subscriber.on("pmessage", (_pattern: string, channel: string) => published.push(channel));
    });
    afterAll(async () => {
      await emitter.close();
      probe.disconnect();
      subscriber.disconnect();
    });

    it("throws a clear error and sends nothing", async () => {
      const room = unique("guarded");
      await rest("POST", "/v1/rooms", { id: room, name: "Guarded" });
      const ws = unique("ws");
      await rest("POST", "/v1/workspaces", { id: ws, name: "W" });
      const agentId = unique("agent");
      await emitter.agent(agentId).register({ workspaceId: ws });
      const keys = emitter.keys;
      const lengths = async () => ({
        history: await probe.xlen(keys.roomHistory("", room)),
        queue: await probe.exists(keys.notificationQueue()).then((e) => (e ? probe.xlen(keys.notificationQueue()) : 0)),
        inbox: await probe.hlen(keys.inbox("", "victim")),
        execution: await probe.hlen(keys.agentExecution("", agentId)),
        agent: await probe.hgetall(keys.agent("", agentId)),
      });
      const before = await lengths();
      await sleep(100);
      published.length = 0;

      const big = "x".repeat(70_000);
      // Within maxMessageBytes, beyond the nodes' nesting (64) and entry (10,000) bounds.
      const deep = Array.from({ length: 70 }).reduce<unknown>((inner) => [inner], 1);
      const wide = new Array<number>(10_001).fill(0);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const invalid: [string, () => unknown, string][] = [
        ["publish without data", () => emitter.room(room).publish(undefined), "VALIDATION_FAILED"],
        ["publish null", () => emitter.room(room).publish(null), "VALIDATION_FAILED"],
        ["publish a function", () => emitter.room(room).publish({ f: () => 1 }), "VALIDATION_FAILED"],
        ["publish a cycle", () => emitter.room(room).publish(cyclic), "VALIDATION_FAILED"],
        ["publish too large", () => emitter.room(room).publish(big), "PAYLOAD_TOO_LARGE"],
        ["publish nested too deep", () => emitter.room(room).publish(deep), "VALIDATION_FAILED"],
        ["publish too many entries", () => emitter.room(room).publish(wide), "VALIDATION_FAILED"],
        ["publish unknown option", () => emitter.room(room).publish("x", { colour: "red" } as never), "VALIDATION_FAILED"],
        ["publish bad kind", () => emitter.room(room).publish("x", { kind: "no spaces" }), "VALIDATION_FAILED"],
        ["publish bad priority", () => emitter.room(room).publish("x", { priority: "extreme" as never }), "VALIDATION_FAILED"],
        ["publish reserved room", () => emitter.room("user:alice").publish("x"), "FORBIDDEN"],
        ["bad room id", () => emitter.room("has space"), "VALIDATION_FAILED"],
        ["notify without title", () => emitter.notify("victim", { type: "x", body: "b" } as never), "VALIDATION_FAILED"],
        ["notify bad priority", () => emitter.notify("victim", { type: "x", title: "t", body: "b", priority: "loud" as never }), "VALIDATION_FAILED"],
        ["notify unknown field", () => emitter.notify("victim", { type: "x", title: "t", body: "b", colour: 1 } as never), "VALIDATION_FAILED"],
        ["notify bad ttl", () => emitter.notify("victim", { type: "x", title: "t", body: "b", ttl: 0 }), "VALIDATION_FAILED"],
        ["notify bad user", () => emitter.notify("bad user", { type: "x", title: "t", body: "b" }), "VALIDATION_FAILED"],
        ["emit protocol event", () => emitter.user("victim").emit("room:message", { fake: true }), "VALIDATION_FAILED"],
        ["emit socket.io event", () => emitter.user("victim").emit("disconnect"), "VALIDATION_FAILED"],
        ["emit bad name", () => emitter.user("victim").emit("has space", 1), "VALIDATION_FAILED"],
        ["emit function", () => emitter.user("victim").emit("custom", () => 1), "VALIDATION_FAILED"],
        ["broadcast notification", () => emitter.broadcast("notification", {}), "VALIDATION_FAILED"],
        ["broadcast too large", () => emitter.broadcast("custom", big), "PAYLOAD_TOO_LARGE"],
        ["update bad type", () => emitter.workspace(ws).update("bad type!"), "VALIDATION_FAILED"],
        ["update reserved field", () => emitter.workspace(ws).update("x", { workspaceId: "other" }), "VALIDATION_FAILED"],
        ["update non-JSON", () => emitter.workspace(ws).update("x", { when: new Date() }), "VALIDATION_FAILED"],
        ["register unknown field", () => emitter.agent(agentId).register({ workspaceId: ws, team: "x" } as never), "VALIDATION_FAILED"],
        ["register bad owner", () => emitter.agent(agentId).register({ workspaceId: ws, ownerId: "a b" }), "VALIDATION_FAILED"],
        ["started without execution", () => emitter.agent(agentId).started({} as never), "VALIDATION_FAILED"],
        ["progress out of range", () => emitter.agent(agentId).progress({ executionId: "e", progress: 101 }), "VALIDATION_FAILED"],
        ["progress with nothing", () => emitter.agent(agentId).progress({ executionId: "e" }), "VALIDATION_FAILED"],
        ["progress as completed", () => emitter.agent(agentId).progress({ executionId: "e", status: "completed" }), "VALIDATION_FAILED"],
        ["completed non-JSON", () => emitter.agent(agentId).completed({ executionId: "e", result: Symbol("x") }), "VALIDATION_FAILED"],
        ["failed without message", () => emitter.agent(agentId).failed({ executionId: "e", error: { code: "E" } } as never), "VALIDATION_FAILED"],
        ["bad agent id", () => emitter.agent(""), "VALIDATION_FAILED"],
      ];
      for (const [what, call, code] of invalid) {
        let error: unknown;
        try {
          await call();
        } catch (err) {
          error = err;
        }
        expect({ what, error: error instanceof EmitterError ? error.code : String(error) }).toEqual({ what, error: code });
        expect((error as Error).message.length).toBeGreaterThan(10);
      }
      await sleep(200);
      // Nothing on the channels of what was targeted (other tests' clients may still be leaving).
      const targeted = [`#${room}#`, "#user:victim#", `#workspace:${ws}#`, `#agent:${agentId}#`, "#*#"];
      expect(published.filter((channel) => targeted.some((t) => channel.endsWith(t)))).toEqual([]);
      expect(await lengths()).toEqual(before);

      // The check above would have seen a send: a valid one shows up on its channel.
      emitter.user("victim").emit("custom", 1);
      await waitFor(() => published.some((channel) => channel.endsWith("#user:victim#")), 2000, "the control publish");
    });

    it("stores what was published just before close(), whose own answer still comes", async () => {
      const room = unique("last-words");
      await rest("POST", "/v1/rooms", { id: room, name: "Last words" });
      const leaving = new SwitchboardEmitter({ redis: cluster.redis.url });
      // Not awaited: the publishes of a turn leave together after the turn, and close() waits for their answers.
      const sent = [leaving.room(room).publish({ n: 1 }), leaving.room(room).publish({ n: 2 })];
      await leaving.close();
      const results = await Promise.all(sent);
      expect(results.map((r) => r.seq)).toEqual([1, 2]);
      const history = await rest("GET", `/v1/rooms/${room}/messages`);
      expect((history.body.messages as Msg[]).map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }]);

      // With a client of the caller's, which the caller closes as soon as close() resolves.
      const own = cluster.redis.client();
      expect(await own.ping()).toBe("PONG");
      const borrowing = new SwitchboardEmitter({ redis: own });
      const third = borrowing.room(room).publish({ n: 3 });
      await borrowing.close();
      await own.quit();
      expect((await third).seq).toBe(3);
    });

    it("refuses bad options and use after close", async () => {
      expect(() => new SwitchboardEmitter({})).toThrow(/SwitchboardEmitter options/);
      expect(() => new SwitchboardEmitter({ redis: cluster.redis.url, redisClusterNodes: "127.0.0.1:1" })).toThrow(EmitterError);
      expect(() => new SwitchboardEmitter({ redis: cluster.redis.url, tenant: "bad/tenant" })).toThrow(EmitterError);
      const closing = new SwitchboardEmitter({ redis: cluster.redis.url });
      await closing.close();
      await expect(closing.notify("u", { type: "x", title: "t", body: "b" })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    });
  });
});
