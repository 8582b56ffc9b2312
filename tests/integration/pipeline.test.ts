import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { engineFixtures } from "../helpers/engines";
import { metricValue, scrape } from "../helpers/metrics";
import { startNode } from "../helpers/nodes";

const fixtures = engineFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))("command pipeline (%s engine)", (_name, fixture) => {
  let node: SwitchboardNode;
  let device = 0;
  const nextDevice = () => `dev-${++device}`;

  beforeAll(async () => {
    node = await startNode({ ...fixture.env(), RATE_LIMIT_POINTS: "5", RATE_LIMIT_DURATION_S: "60", MAX_MESSAGE_BYTES: "1024" });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await node.shutdown();
  });

  it("answers a valid command with the ok envelope", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 42 });
    expect(ack).toEqual({ ok: true, serverTime: expect.any(Number), nodeId: node.nodeId, clientTime: 42 });
  });

  it("refuses a payload of the wrong type with every problem listed", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: "soon" });
    expect(ack.ok).toBe(false);
    expect(ack.error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "clientTime", type: "number.base" }] });
  });

  it("rejects unknown keys instead of ignoring them", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 1, admin: true });
    expect(ack.error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "admin", type: "object.unknown" }] });
  });

  it("refuses a payload that is not an object, and extra arguments", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    expect((await command(client, "system:ping", "hello")).error?.code).toBe("VALIDATION_FAILED");
    expect((await command(client, "system:ping", [1, 2])).error?.code).toBe("VALIDATION_FAILED");
    const extra = (await client.timeout(5000).emitWithAck("system:ping", {}, {})) as { error?: { code: string } };
    expect(extra.error?.code).toBe("VALIDATION_FAILED");
  });

  it("refuses an oversized payload with PAYLOAD_TOO_LARGE and keeps the connection", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    const ack = await command(client, "system:ping", { clientTime: 1, pad: "x".repeat(1500) });
    expect(ack.error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", details: { limit: 1024 } });
    expect(client.connected).toBe(true);
    expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("sends command:error when the client gave no ack", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    const error = nextEvent<{ event: string; error: { code: string } }>(client, "command:error");
    client.emit("system:ping", { clientTime: -1 });
    await expect(error).resolves.toMatchObject({ event: "system:ping", error: { code: "VALIDATION_FAILED" } });
  });

  it("answers an unknown command with NOT_FOUND", async () => {
    const client = await connect(node.url, { deviceId: nextDevice() });
    expect((await command(client, "room:explode", {})).error?.code).toBe("NOT_FOUND");
    const error = nextEvent<{ event: string; error: { code: string } }>(client, "command:error");
    client.emit("room:explode", {});
    await expect(error).resolves.toMatchObject({ event: "room:explode", error: { code: "NOT_FOUND" } });
  });

  it("rate-limits per device with RATE_LIMITED, across reconnects", async () => {
    const deviceId = nextDevice();
    const first = await connect(node.url, { deviceId, tokenOptions: { sub: "limited" } });
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) outcomes.push((await command(first, "system:ping", {})).error?.code);
    first.close();
    // A new socket of the same device keeps the same budget (5 per 60 s).
    const second = await connect(node.url, { deviceId, tokenOptions: { sub: "limited" } });
    for (let i = 0; i < 4; i++) outcomes.push((await command(second, "system:ping", {})).error?.code);
    expect(outcomes).toEqual([undefined, undefined, undefined, undefined, undefined, "RATE_LIMITED", "RATE_LIMITED"]);
    const limited = await command(second, "system:ping", {});
    expect((limited.error?.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    // Another device of the same user has its own budget.
    const other = await connect(node.url, { deviceId: nextDevice(), tokenOptions: { sub: "limited" } });
    expect((await command(other, "system:ping", {})).ok).toBe(true);
  });

  it("exempts service tokens from the rate limit", async () => {
    const client = await connect(node.url, { deviceId: nextDevice(), tokenOptions: { sub: "svc", roles: ["service"] } });
    for (let i = 0; i < 8; i++) expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("counts commands and their latency by outcome", async () => {
    const text = await scrape(node.url);
    const ping = (outcome: string) => ({ command: "system:ping", outcome });
    expect(metricValue(text, "switchboard_commands_total", ping("ok"))).toBeGreaterThanOrEqual(10);
    expect(metricValue(text, "switchboard_commands_total", ping("RATE_LIMITED"))).toBe(3);
    expect(metricValue(text, "switchboard_commands_total", ping("PAYLOAD_TOO_LARGE"))).toBe(1);
    expect(metricValue(text, "switchboard_commands_total", { command: "unknown", outcome: "NOT_FOUND" })).toBe(2);
    expect(metricValue(text, "switchboard_command_duration_seconds_count", ping("ok"))).toBe(metricValue(text, "switchboard_commands_total", ping("ok")));
  });
});
