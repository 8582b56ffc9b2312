import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { NodeProcess } from "../helpers/nodes";
import { sleep } from "../helpers/ports";
import { signToken } from "../helpers/tokens";

describe.each(["memory", "redis"] as const)("command pipeline (%s engine)", (name) => {
  const { node, unique } = clusterFixture({ backing: name, env: { RATE_LIMIT_POINTS: "5", RATE_LIMIT_DURATION_S: "60", MAX_MESSAGE_BYTES: "1024" } });
  const nextDevice = () => unique("dev");
  afterEach(() => closeClients());

  it("answers a valid command with the ok envelope", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 42 });
    expect(ack).toEqual({ ok: true, serverTime: expect.any(Number), nodeId: node().nodeId, clientTime: 42 });
  });

  it("refuses a payload of the wrong type with every problem listed", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: "soon" });
    expect(ack.ok).toBe(false);
    expect(ack.error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "clientTime", type: "number.base" }] });
  });

  it("rejects unknown keys instead of ignoring them", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 1, admin: true });
    expect(ack.error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "admin", type: "object.unknown" }] });
  });

  it("refuses a payload that is not an object, and extra arguments", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    expect((await command(client, "system:ping", "hello")).error?.code).toBe("VALIDATION_FAILED");
    expect((await command(client, "system:ping", [1, 2])).error?.code).toBe("VALIDATION_FAILED");
    const extra = (await client.timeout(5000).emitWithAck("system:ping", {}, {})) as { error?: { code: string } };
    expect(extra.error?.code).toBe("VALIDATION_FAILED");
  });

  it("refuses an oversized payload with PAYLOAD_TOO_LARGE and keeps the connection", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 1, pad: "x".repeat(1500) });
    expect(ack.error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", details: { limit: 1024 } });
    expect(client.connected).toBe(true);
    expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("sends command:error when the client gave no ack", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const error = nextEvent<{ event: string; error: { code: string } }>(client, "command:error");
    client.emit("system:ping", { clientTime: -1 });
    await expect(error).resolves.toMatchObject({ event: "system:ping", error: { code: "VALIDATION_FAILED" } });
  });

  it("answers an unknown command with NOT_FOUND", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    expect((await command(client, "room:explode", {})).error?.code).toBe("NOT_FOUND");
    const error = nextEvent<{ event: string; error: { code: string } }>(client, "command:error");
    client.emit("room:explode", {});
    await expect(error).resolves.toMatchObject({ event: "room:explode", error: { code: "NOT_FOUND" } });
  });

  it("answers an event named by a number with NOT_FOUND and keeps serving", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    const error = nextEvent<{ event: string; error: { code: string } }>(client, "command:error");
    // socket.io-client and the wire format allow numeric event names; they name no command.
    (client.emit as (ev: unknown, ...args: unknown[]) => void)(42, {});
    await expect(error).resolves.toMatchObject({ event: "42", error: { code: "NOT_FOUND" } });
    const acked = (await client.timeout(5000).emitWithAck(7 as unknown as string, {})) as { ok: boolean; error?: { code: string } };
    expect(acked).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect((await fetch(`${node().url}/health`)).status).toBe(200);
    expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("answers a payload nested thousands deep with VALIDATION_FAILED, on sockets and REST", async () => {
    const client = await connect(node().url, { deviceId: nextDevice() });
    // Written as text: the client's own JSON.stringify cannot nest this deep, a hostile client's
    // writer can. Within this node's transport limit (2 x MAX_MESSAGE_BYTES + 16 KiB).
    const nested = (depth: number, open: string, close: string) => `${open.repeat(depth)}1${close.repeat(depth)}`;
    for (const deep of [nested(2500, '{"d":', "}"), nested(6000, "[", "]")]) {
      const error = nextEvent<{ event: string; error: { code: string; details?: unknown } }>(client, "command:error");
      // An engine.io message carrying a Socket.IO EVENT packet (type 2).
      (client.io.engine as unknown as { write(data: string): void }).write(`2["system:ping",{"clientTime":1,"deep":${deep}}]`);
      await expect(error).resolves.toMatchObject({ event: "system:ping", error: { code: "VALIDATION_FAILED", details: { limit: 64 } } });
    }
    const token = await signToken({ sub: "deep-rest", roles: ["service"] });
    const res = await fetch(`${node().url}/v1/notify`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      // Within this node's 1024-byte body limit.
      body: `{"userId":"u1","type":"t","title":"x","data":{"a":${nested(450, "[", "]")}}}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "VALIDATION_FAILED", details: { limit: 64 } });
    expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("counts unknown, oversized and malformed commands against the rate limit", async () => {
    const client = await connect(node().url, { deviceId: nextDevice(), tokenOptions: { sub: "junk-sender" } });
    const codes: (string | undefined)[] = [];
    codes.push((await command(client, "no:such", {})).error?.code);
    codes.push((await command(client, "system:ping", { pad: "x".repeat(1500) })).error?.code);
    codes.push(((await client.timeout(5000).emitWithAck("system:ping", {}, {})) as { error?: { code: string } }).error?.code);
    codes.push((await command(client, "system:ping", "not an object")).error?.code);
    codes.push((await command(client, "no:such", {})).error?.code);
    // The budget (5 per 60 s) is spent: the next command is refused, even a valid one.
    codes.push((await command(client, "system:ping", {})).error?.code);
    codes.push((await command(client, "no:such", {})).error?.code);
    expect(codes).toEqual(["NOT_FOUND", "PAYLOAD_TOO_LARGE", "VALIDATION_FAILED", "VALIDATION_FAILED", "NOT_FOUND", "RATE_LIMITED", "RATE_LIMITED"]);
  });

  it("rate-limits per device with RATE_LIMITED, across reconnects", async () => {
    const deviceId = nextDevice();
    const first = await connect(node().url, { deviceId, tokenOptions: { sub: "limited" } });
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) outcomes.push((await command(first, "system:ping", {})).error?.code);
    first.close();
    // A new socket of the same device keeps the same budget (5 per 60 s).
    const second = await connect(node().url, { deviceId, tokenOptions: { sub: "limited" } });
    for (let i = 0; i < 4; i++) outcomes.push((await command(second, "system:ping", {})).error?.code);
    expect(outcomes).toEqual([undefined, undefined, undefined, undefined, undefined, "RATE_LIMITED", "RATE_LIMITED"]);
    const limited = await command(second, "system:ping", {});
    expect((limited.error?.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    // Another device of the same user has its own budget.
    const other = await connect(node().url, { deviceId: nextDevice(), tokenOptions: { sub: "limited" } });
    expect((await command(other, "system:ping", {})).ok).toBe(true);
  });

  it("exempts service tokens from the rate limit", async () => {
    const client = await connect(node().url, { deviceId: nextDevice(), tokenOptions: { sub: "svc", roles: ["service"] } });
    for (let i = 0; i < 8; i++) expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("counts commands and their latency by outcome", async () => {
    const text = await scrape(node().url);
    const ping = (outcome: string) => ({ command: "system:ping", outcome });
    expect(metricValue(text, "switchboard_commands_total", ping("ok"))).toBeGreaterThanOrEqual(10);
    expect(metricValue(text, "switchboard_commands_total", ping("RATE_LIMITED"))).toBe(4);
    expect(metricValue(text, "switchboard_commands_total", ping("PAYLOAD_TOO_LARGE"))).toBe(2);
    expect(metricValue(text, "switchboard_commands_total", { command: "unknown", outcome: "NOT_FOUND" })).toBe(6);
    expect(metricValue(text, "switchboard_commands_total", { command: "unknown", outcome: "RATE_LIMITED" })).toBe(1);
    expect(metricValue(text, "switchboard_command_duration_seconds_count", ping("ok"))).toBe(metricValue(text, "switchboard_commands_total", ping("ok")));
  });
});

describe("refusal logging", () => {
  let node: NodeProcess;

  beforeAll(async () => {
    node = await NodeProcess.spawn({ RATE_LIMIT_POINTS: "100", RATE_LIMIT_DURATION_S: "60" });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await node.kill("SIGTERM");
  });

  it("answers 1000 junk commands but logs only the first few refusals of the device", async () => {
    const client = await connect(node.url, { deviceId: "junk-device", tokenOptions: { sub: "junk-logger" } });
    const before = node.lines.length;
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => command(client, `junk:${i}`, { i }, 15000)));
    const codes = new Map<string, number>();
    for (const a of answers) codes.set(a.error!.code, (codes.get(a.error!.code) ?? 0) + 1);
    expect(Object.fromEntries(codes)).toEqual({ NOT_FOUND: 100, RATE_LIMITED: 900 });
    await sleep(200);
    const refusals = node.lines.slice(before).filter((line) => line.includes('"event":"command"'));
    // The budget (10 lines a minute per device), then one line saying the rest go unlogged.
    expect(refusals.length).toBe(11);
    expect(refusals.at(-1)).toContain("not logged");
    const metrics = await scrape(node.url);
    expect(metricValue(metrics, "switchboard_log_lines_suppressed_total", { event: "command" })).toBe(990);
  });
});

describe("command logging by level", () => {
  afterEach(() => closeClients());

  it.each([
    ["debug", 3, 1],
    ["info", 0, 1],
    ["warn", 0, 0],
  ] as const)("at LOG_LEVEL=%s logs %d lines for 3 answered commands and %d for the connect", async (level, lines, connects) => {
    const node = await NodeProcess.spawn({ LOG_LEVEL: level });
    try {
      const client = await connect(node.url, { deviceId: "log-device" });
      for (let i = 0; i < 3; i++) expect((await command(client, "system:ping", {})).ok).toBe(true);
      await sleep(200);
      const logged = node.logs().filter((line) => line.event === "command" && line.outcome === "ok");
      expect(logged.length).toBe(lines);
      if (lines > 0) expect(logged[0]).toMatchObject({ level: "debug", command: "system:ping", deviceId: "log-device" });
      const connected = node.logs().filter((line) => line.event === "connect");
      expect(connected.length).toBe(connects);
      if (connects > 0) expect(connected[0]).toMatchObject({ level: "info", message: "connected", deviceId: "log-device", nodeId: expect.any(String) });
    } finally {
      await node.kill("SIGTERM");
    }
  });
});

describe("rate limit budgets on two nodes sharing Redis", () => {
  const { url, unique, rest } = clusterFixture({ backing: "redis", nodes: 2, env: { RATE_LIMIT_POINTS: "3", RATE_LIMIT_DURATION_S: "60" } });
  afterEach(() => closeClients());

  it("keeps a device's command budget in its node's memory and a user's REST budget across the cluster", async () => {
    const deviceId = unique("dev");
    const tokenOptions = { sub: unique("user") };
    const codes = async (client: Awaited<ReturnType<typeof connect>>, n: number) => {
      const out: (string | undefined)[] = [];
      for (let i = 0; i < n; i++) out.push((await command(client, "system:ping", {})).error?.code);
      return out;
    };
    const onFirst = await connect(url(0), { deviceId, tokenOptions });
    expect(await codes(onFirst, 4)).toEqual([undefined, undefined, undefined, "RATE_LIMITED"]);
    // The same device on the other node: that node's own budget.
    const onSecond = await connect(url(1), { deviceId, tokenOptions });
    expect(await codes(onSecond, 4)).toEqual([undefined, undefined, undefined, "RATE_LIMITED"]);

    // REST: three calls spread over both nodes spend one budget; the fourth, anywhere, is refused.
    const token = await signToken(tokenOptions);
    const statuses: number[] = [];
    for (const node of [0, 1, 0, 1]) statuses.push((await rest("GET", "/v1/rooms/no-such-room", { token, node })).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
  });
});
