/**
 * The client SDK through a local TCP proxy that cuts its connection (two nodes on one Redis):
 * publishes cut off mid-flight or queued while offline are delivered exactly once and in order;
 * the offline queue is bounded; an expired token is refreshed; the circuit breaker bounds the
 * handshakes a failing client makes.
 */
import { SwitchboardError, type Client, type Message } from "@switchboard/client";
import type { SwitchboardNode } from "@switchboard/server";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { sleep, waitFor } from "../helpers/ports";
import { closeSdkClients, collected, reach, sdkClient } from "../helpers/sdk";
import { TcpProxy } from "../helpers/tcp-proxy";
import { signToken } from "../helpers/tokens";

jest.setTimeout(30000);

describe("client SDK: cut connections, the offline queue, tokens and the breaker", () => {
  const cluster = clusterFixture({ backing: "redis", nodes: [{}, { MAX_DEVICES_PER_USER: "1" }] });
  let node: SwitchboardNode;
  let strict: SwitchboardNode;
  let proxy: TcpProxy;
  let owner: Client;

  beforeAll(async () => {
    [node, strict] = [cluster.node(0), cluster.node(1)];
    owner = await sdkClient([node.url], { tokenOptions: { sub: "owner" } });
    await reach(owner, "connected");
    for (const id of ["chat", "bounded", "tokens"]) await owner.createRoom({ id, name: id });
  });

  beforeEach(async () => {
    proxy = await TcpProxy.start(node.port);
  });
  afterEach(async () => {
    await proxy.close();
  });

  cluster.beforeStop(() => closeSdkClients());

  const rejected = async (url: string, code: string) => metricValue(await scrape(url), "switchboard_rejected_handshakes_total", { code }) || 0;
  const numbers = (messages: Message[]) => messages.map((m) => (m.data as { n: number }).n);
  const newSession = (client: Client) => new Promise<void>((resolve) => client.once("session", () => resolve()));

  it("delivers every publish once, in order, when the connection is cut mid-publish", async () => {
    const observer = await sdkClient([node.url], { tokenOptions: { sub: "observer" } });
    const seen: Message[] = [];
    observer.room("chat").on("message", (m) => seen.push(m));
    await observer.room("chat").join();

    const writer = await sdkClient([proxy.url], { tokenOptions: { sub: "writer" }, deviceId: "w1", heartbeatIntervalMs: 0 });
    const chat = writer.room("chat");
    await chat.join();
    expect(writer.latency).toEqual(expect.any(Number));

    // 1 reaches the node and is stored, but its ack is lost on the way back; 2–3 wait behind it
    // (a room's publishes are answered one after another).
    proxy.swallowReplies();
    const results = [1, 2, 3].map((n) => chat.publish({ n }));
    await collected(seen, 1);
    await sleep(100);
    let lost = new Promise<string>((resolve) => writer.once("disconnect", resolve));
    proxy.down();
    await lost;
    // 4–5 are issued while disconnected: queued behind the others.
    results.push(...[4, 5].map((n) => chat.publish({ n })));
    expect(writer.queued).toBe(5);
    expect(writer.state).not.toBe("connected");
    proxy.up();
    const first = await Promise.all(results);
    expect(first.map((a) => a.duplicate ?? false)).toEqual([true, false, false, false, false]);

    // 6 is sent and never reaches the node; the retry is stored once.
    await reach(writer, "connected");
    proxy.swallowRequests();
    const sixth = chat.publish({ n: 6 });
    await sleep(150);
    lost = new Promise<string>((resolve) => writer.once("disconnect", resolve));
    proxy.down();
    await lost;
    proxy.up();
    const acks = [...first, await sixth];
    expect(acks[5]!.duplicate).toBeUndefined();

    await collected(seen, 6);
    await sleep(200);
    expect(numbers(seen)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen.map((m) => m.id)).toEqual(acks.map((a) => a.id));
    const history = await observer.room("chat").history({ limit: 50 });
    expect(numbers(history.messages)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("takes a silent connection for lost when an answer does not come, and sends again", async () => {
    const writer = await sdkClient([proxy.url], { tokenOptions: { sub: "writer3" }, ackTimeoutMs: 800, heartbeatIntervalMs: 0 });
    const chat = writer.room("chat");
    await chat.join();
    // A half-open connection: nothing gets through either way, and nothing closes.
    proxy.swallowRequests();
    proxy.swallowReplies();
    const lost = new Promise<string>((resolve) => writer.once("disconnect", resolve));
    const sent = chat.publish({ n: "silent" });
    expect(await lost).toBe("ack timeout");
    proxy.up();
    const ack = await sent;
    const { messages } = await chat.history({ limit: 5 });
    expect(messages.filter((m) => m.id === ack.id)).toHaveLength(1);
    expect(messages.filter((m) => (m.data as { n: unknown }).n === "silent")).toHaveLength(1);
  });

  it("bounds the offline queue, dropping the oldest with an event", async () => {
    const writer = await sdkClient([proxy.url], { tokenOptions: { sub: "writer2" }, queue: { maxSize: 5 } });
    const room = writer.room("bounded");
    await room.join();
    const dropped: unknown[] = [];
    writer.on("dropped", (command, error) => dropped.push([command.event, (command.payload as { data: { n: number } }).data.n, error.code]));
    proxy.down();
    await reach(writer, "reconnecting");
    const results = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => room.publish({ n }).then((r) => r.id, (e: SwitchboardError) => e.code));
    expect(dropped).toEqual([
      ["room:publish", 1, "QUEUE_OVERFLOW"],
      ["room:publish", 2, "QUEUE_OVERFLOW"],
      ["room:publish", 3, "QUEUE_OVERFLOW"],
    ]);
    expect(writer.queued).toBe(5);
    proxy.up();
    const outcomes = await Promise.all(results);
    expect(outcomes.slice(0, 3)).toEqual(["QUEUE_OVERFLOW", "QUEUE_OVERFLOW", "QUEUE_OVERFLOW"]);
    const history = await room.history();
    expect(numbers(history.messages)).toEqual([4, 5, 6, 7, 8]);
    expect(history.messages.map((m) => m.id)).toEqual(outcomes.slice(3));
  });

  it("asks getToken again on TOKEN_EXPIRED before reconnecting", async () => {
    const issued: number[] = [];
    const getToken = async () => {
      issued.push(Date.now());
      // The first token expires within a second and its refresh fails, so the node ends the
      // session; the token after that lasts.
      if (issued.length === 2) throw new Error("token service unavailable");
      return signToken({ sub: "expiring", expiresIn: issued.length === 1 ? 1 : 3600 });
    };
    const client = await sdkClient([proxy.url], { getToken });
    const reasons: string[] = [];
    client.on("disconnect", (reason) => reasons.push(reason));
    const room = client.room("tokens");
    await room.join();
    await waitFor(() => issued.length === 3 && client.state === "connected", 10000, "a session with the third token");
    expect(reasons).toEqual(["io server disconnect"]);
    await expect(room.publish({ n: 1 })).resolves.toMatchObject({ id: expect.any(String) });
    // A stale token from before is refused at the handshake with TOKEN_EXPIRED, which also asks getToken.
    const before = await rejected(node.url, "TOKEN_EXPIRED");
    client.setToken(await signToken({ sub: "expiring", expiresIn: -5 }));
    const back = newSession(client);
    proxy.cut();
    await back;
    expect(issued).toHaveLength(4);
    expect((await rejected(node.url, "TOKEN_EXPIRED")) - before).toBe(1);
  });

  it("refreshes the session's token before it expires, without reconnecting", async () => {
    let issued = 0;
    const getToken = async () => signToken({ sub: "refreshing", expiresIn: ++issued === 1 ? 2 : 3600 });
    const client = await sdkClient([node.url], { getToken });
    await reach(client, "connected");
    const sessionId = client.session!.sessionId;
    const disconnects: string[] = [];
    client.on("disconnect", (reason) => disconnects.push(reason));
    await sleep(3000);
    expect(issued).toBe(2);
    expect(disconnects).toEqual([]);
    expect(client.session?.sessionId).toBe(sessionId);
    await expect(client.request("system:ping", {})).resolves.toMatchObject({ ok: true });
  });

  it("never retries UNAUTHORIZED: the breaker opens at once and handshakes stay bounded", async () => {
    const before = await rejected(node.url, "UNAUTHORIZED");
    let asked = 0;
    const bad = () => {
      asked++;
      return signToken({ sub: "mallory", secret: "not-the-cluster-secret-0123456789abcdef" });
    };
    const client = await sdkClient([node.url], { getToken: bad, breaker: { threshold: 3, cooldownMs: 300 } });
    const failures: string[] = [];
    client.on("failed", (code) => failures.push(code));
    await reach(client, "failed");
    expect(client.lastError).toBe("UNAUTHORIZED");
    // Longer than any back-off or cool-down: still one handshake.
    await sleep(1500);
    expect(client.state).toBe("failed");
    expect((await rejected(node.url, "UNAUTHORIZED")) - before).toBe(1);

    // The app may ask again (a fresh token each time): one handshake per ask, never more.
    for (let i = 0; i < 3; i++) {
      const failed = new Promise<void>((resolve) => client.once("failed", () => resolve()));
      client.retryNow();
      await failed;
    }
    await sleep(1000);
    expect(failures).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED"]);
    expect((await rejected(node.url, "UNAUTHORIZED")) - before).toBe(4);
    expect(asked).toBe(4);
  });

  it("opens the breaker after repeated failed connects, half-opens after the cool-down, closes on retryNow", async () => {
    proxy.down();
    const client = await sdkClient([proxy.url], { tokenOptions: { sub: "breaker" }, reconnect: { minDelayMs: 20, maxDelayMs: 50 }, breaker: { threshold: 4, windowMs: 10000, cooldownMs: 1000 } });
    await reach(client, "failed");
    expect(client.lastError).toBe("NETWORK");
    expect(proxy.attempts).toBe(4);
    await sleep(500);
    expect(proxy.attempts).toBe(4);
    // After the cool-down one probe, which fails: open again.
    await waitFor(() => proxy.attempts === 5, 3000, "the half-open probe");
    await sleep(300);
    expect(client.state).toBe("failed");
    expect(proxy.attempts).toBe(5);

    proxy.up();
    client.retryNow();
    await reach(client, "connected");
    expect(client.lastError).toBeUndefined();
  });

  it("bounds the handshakes of a token source that keeps giving expired tokens", async () => {
    const before = await rejected(node.url, "TOKEN_EXPIRED");
    let asked = 0;
    const expired = () => {
      asked++;
      return signToken({ sub: "stale", expiresIn: -60 });
    };
    const client = await sdkClient([node.url], { getToken: expired, breaker: { threshold: 3, cooldownMs: 60000 } });
    await reach(client, "failed");
    await sleep(500);
    expect(client.lastError).toBe("TOKEN_EXPIRED");
    expect(asked).toBe(3);
    expect((await rejected(node.url, "TOKEN_EXPIRED")) - before).toBe(3);
  });

  it("backs off longer on DEVICE_LIMIT", async () => {
    const first = await sdkClient([strict.url], { tokenOptions: { sub: "limited" }, deviceId: "laptop" });
    await reach(first, "connected");
    const before = await rejected(strict.url, "DEVICE_LIMIT");
    const second = await sdkClient([strict.url], { tokenOptions: { sub: "limited" }, deviceId: "phone", reconnect: { minDelayMs: 50, maxDelayMs: 100, slowDelayMs: 3000 } });
    await waitFor(async () => (await rejected(strict.url, "DEVICE_LIMIT")) - before === 1, 5000, "the first refusal");
    expect(second.lastError).toBe("DEVICE_LIMIT");
    await sleep(1000);
    // A plain failure would have been retried within 100 ms.
    expect((await rejected(strict.url, "DEVICE_LIMIT")) - before).toBe(1);
    first.close();
    await reach(second, "connected", 10000);
  });

  it("rejects a refused command with its protocol error", async () => {
    const client = await sdkClient([node.url], { tokenOptions: { sub: "nobody" } });
    const error = await client
      .room("no-such-room")
      .publish({ n: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchboardError);
    expect((error as SwitchboardError).code).toMatch(/NOT_FOUND|FORBIDDEN/);
  });
});
