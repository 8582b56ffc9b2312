/**
 * The REST surface's auth and envelopes (PROTOCOL §4) on both engines: who may call
 * /v1/status and /v1/connections, the error envelope for every refusal (401/403/404/400/413/429),
 * the public health endpoints, query validation, and the HTTP metrics by route and status.
 */
import { VERSION } from "@switchboard/server";
import { closeClients, connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { waitFor } from "../helpers/ports";
import { serviceToken, signToken, type TokenOptions } from "../helpers/tokens";

interface Reply {
  status: number;
  body: unknown;
  headers: Headers;
}

interface ErrorEnvelope {
  error: { code: string; message: string; details?: unknown };
}

interface StatusBody {
  nodeId: string;
  version: string;
  uptime: number;
  connections: number;
  rooms: number;
  engine: string;
  nodes?: { nodeId: string; connections: number; lastHeartbeat: number; version: string }[];
}

const MAX_BYTES = 1024;
const RATE_POINTS = 5;

describe.each(["memory", "redis"] as const)("REST auth and envelopes (%s engine)", (name) => {
  const { node } = clusterFixture({
    backing: name,
    env: { MAX_MESSAGE_BYTES: String(MAX_BYTES), RATE_LIMIT_POINTS: String(RATE_POINTS), RATE_LIMIT_DURATION_S: "60" },
  });
  afterEach(() => closeClients());

  async function call(method: string, path: string, options: { token?: string; authorization?: string; body?: string; contentType?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.authorization) headers.authorization = options.authorization;
    if (options.body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
    const res = await fetch(`${node().url}${path}`, { method, headers, body: options.body });
    const text = await res.text();
    const isJson = (res.headers.get("content-type") ?? "").startsWith("application/json");
    return { status: res.status, body: isJson ? (JSON.parse(text) as unknown) : text, headers: res.headers };
  }

  const token = (options: TokenOptions) => signToken(options);

  /** The protocol's error envelope, exactly: nothing but `error: { code, message[, details] }`. */
  function expectEnvelope(reply: Reply, status: number, code: string, details?: unknown): ErrorEnvelope["error"] {
    expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
    expect({ status: reply.status, code: (reply.body as ErrorEnvelope).error?.code }).toEqual({ status, code });
    const error = (reply.body as ErrorEnvelope).error;
    expect(Object.keys(reply.body as object)).toEqual(["error"]);
    expect(typeof error.message).toBe("string");
    expect(error.message.length).toBeGreaterThan(0);
    if (details === undefined) expect(Object.keys(error).sort()).toEqual(["code", "message"]);
    else expect(error.details).toEqual(details);
    return error;
  }

  it("serves /health and /health/ready without a token", async () => {
    const health = await call("GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok", nodeId: node().nodeId, uptime: expect.any(Number) });
    const ready = await call("GET", "/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", nodeId: node().nodeId, engine: name });
  });

  it("serves /metrics as Prometheus text without a token", async () => {
    const reply = await call("GET", "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(metricValue(reply.body as string, "switchboard_node_info", { version: VERSION, node_id: node().nodeId })).toBe(1);
  });

  it.each([
    ["no Authorization header", async () => ({}), "UNAUTHORIZED"],
    ["a Basic Authorization header", async () => ({ authorization: "Basic dTE6cGFzcw==" }), "UNAUTHORIZED"],
    ["a bearer that is not a JWT", async () => ({ token: "not.a.jwt" }), "UNAUTHORIZED"],
    ["an expired service token", async () => ({ token: await serviceToken({ expiresIn: -30 }) }), "TOKEN_EXPIRED"],
    ["a service token signed with another secret", async () => ({ token: await serviceToken({ secret: "another-secret-another-secret-0123" }) }), "UNAUTHORIZED"],
  ] as const)("answers /v1/status with %s: 401", async (_what, auth, code) => {
    expectEnvelope(await call("GET", "/v1/status", await auth()), 401, code);
    expectEnvelope(await call("GET", "/v1/connections", await auth()), 401, code);
  });

  it.each([
    ["a plain user token", { sub: "plain-user" }],
    ["a token with other roles", { sub: "moderator", roles: ["moderator", "Service", "ADMIN"] }],
  ] as const)("answers /v1/status with %s: 403 FORBIDDEN", async (_what, options) => {
    const userToken = await token(options);
    const error = expectEnvelope(await call("GET", "/v1/status", { token: userToken }), 403, "FORBIDDEN");
    expect(error.message).toMatch(/service, admin/);
    expectEnvelope(await call("GET", "/v1/status?cluster=1", { token: userToken }), 403, "FORBIDDEN");
    expectEnvelope(await call("GET", "/v1/connections", { token: userToken }), 403, "FORBIDDEN");
    // Authorization comes before validation: a bad query tells a forbidden caller nothing.
    expectEnvelope(await call("GET", "/v1/status?cluster=maybe", { token: userToken }), 403, "FORBIDDEN");
  });

  it.each([
    ["a service token", () => serviceToken()],
    ["an admin token", () => token({ sub: "root", roles: ["admin"] })],
    ["a token holding admin among other roles", () => token({ sub: "ops", roles: ["moderator", "admin"] })],
  ] as const)("answers /v1/status to %s: 200 with this node's status", async (_what, makeToken) => {
    const auth = { token: await makeToken() };
    await waitFor(() => node().sessions.connections === 0, 5000, "no connections");
    const idle = await call("GET", "/v1/status", auth);
    expect(idle.status).toBe(200);
    expect(idle.body).toEqual({ nodeId: node().nodeId, version: VERSION, uptime: expect.any(Number), connections: 0, rooms: 0, engine: name });
    expect((idle.body as StatusBody).uptime).toBeGreaterThanOrEqual(0);
    expect((idle.body as StatusBody).uptime).toBeLessThan(120);

    // A connected client counts, and so does its private user room.
    await connect(node().url, { tokenOptions: { sub: "status-viewer" }, deviceId: "status-dev" });
    const busy = (await call("GET", "/v1/status", auth)).body as StatusBody;
    expect({ connections: busy.connections, rooms: busy.rooms }).toEqual({ connections: 1, rooms: 1 });
  });

  it("lists this single node in /v1/status?cluster=1 and /v1/connections", async () => {
    const auth = { token: await serviceToken() };
    await waitFor(() => node().sessions.connections === 0, 5000, "no connections");
    await connect(node().url, { tokenOptions: { sub: "cluster-viewer" }, deviceId: "cluster-dev" });
    const before = Date.now();
    const reply = await call("GET", "/v1/status?cluster=1", auth);
    expect(reply.status).toBe(200);
    const body = reply.body as StatusBody;
    expect(body.nodeId).toBe(node().nodeId);
    expect(body.nodes).toEqual([{ nodeId: node().nodeId, connections: 1, lastHeartbeat: expect.any(Number), version: VERSION }]);
    // Heartbeats run every HEARTBEAT_TIMEOUT_MS / 3 (500 ms here); the entry is fresh.
    expect(before - body.nodes![0]!.lastHeartbeat).toBeLessThan(1500);
    expect(body.nodes![0]!.lastHeartbeat).toBeLessThanOrEqual(Date.now() + 50);

    for (const query of ["?cluster=true", "?cluster=1"]) {
      expect(((await call("GET", `/v1/status${query}`, auth)).body as StatusBody).nodes?.map((n) => n.nodeId)).toEqual([node().nodeId]);
    }
    for (const query of ["", "?cluster=0", "?cluster=false"]) {
      const plain = (await call("GET", `/v1/status${query}`, auth)).body as StatusBody;
      expect(plain.nodeId).toBe(node().nodeId);
      expect(plain).not.toHaveProperty("nodes");
    }

    const connections = await call("GET", "/v1/connections", auth);
    expect(connections.status).toBe(200);
    expect(connections.body).toEqual({ total: 1, nodes: [{ nodeId: node().nodeId, connections: 1 }] });
  });

  it("refuses an invalid or unknown query parameter with 400 VALIDATION_FAILED and its details", async () => {
    const auth = { token: await serviceToken() };
    expectEnvelope(await call("GET", "/v1/status?cluster=maybe", auth), 400, "VALIDATION_FAILED", [
      { path: "cluster", type: "boolean.base", message: expect.any(String) },
    ]);
    expectEnvelope(await call("GET", "/v1/status?cluster=1&verbose=yes", auth), 400, "VALIDATION_FAILED", [
      { path: "verbose", type: "object.unknown", message: expect.any(String) },
    ]);
    expectEnvelope(await call("GET", "/v1/status?cluster=1&cluster=0", auth), 400, "VALIDATION_FAILED", [
      { path: "cluster", type: "boolean.base", message: expect.any(String) },
    ]);
    // A route that takes no query refuses one instead of ignoring it.
    expectEnvelope(await call("GET", "/v1/connections?all=1", auth), 400, "VALIDATION_FAILED");
  });

  it("answers an unknown path or method with 404 NOT_FOUND", async () => {
    const auth = { token: await serviceToken() };
    const unknown = expectEnvelope(await call("GET", "/v1/nope-xyz", auth), 404, "NOT_FOUND");
    expect(unknown.message).toBe("no route for GET /v1/nope-xyz");
    expectEnvelope(await call("GET", "/v1/nope-xyz"), 404, "NOT_FOUND");
    expectEnvelope(await call("DELETE", "/v1/status", auth), 404, "NOT_FOUND");
    expectEnvelope(await call("POST", "/health", { body: "{}" }), 404, "NOT_FOUND");
  });

  it("answers a body that is not valid JSON with 400 VALIDATION_FAILED, on a route or not", async () => {
    const userToken = await token({ sub: "json-sender" });
    const broken = expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: '{"name": "General"' }), 400, "VALIDATION_FAILED");
    expect(broken.message).toMatch(/not valid JSON/);
    expectEnvelope(await call("POST", "/v1/nope-xyz", { token: userToken, body: "{oops}" }), 400, "VALIDATION_FAILED");
    // Strict JSON: a bare primitive is not a body.
    expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: '"General"' }), 400, "VALIDATION_FAILED");
  });

  it("validates bodies like socket payloads: unknown fields and wrong types are refused with details", async () => {
    const userToken = await token({ sub: "body-sender" });
    expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: JSON.stringify({ name: "General", admin: true }) }), 400, "VALIDATION_FAILED", [
      { path: "admin", type: "object.unknown", message: expect.any(String) },
    ]);
    expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: JSON.stringify([{ name: "General" }]) }), 400, "VALIDATION_FAILED", [
      { path: "", type: "object.base", message: expect.any(String) },
    ]);
    const created = await call("POST", "/v1/rooms", { token: userToken, body: JSON.stringify({ name: "General" }) });
    expect(created.status).toBe(201);
    expect((created.body as { room: { name: string; createdBy: string } }).room).toMatchObject({ name: "General", createdBy: "body-sender" });
  });

  it("answers a body over MAX_MESSAGE_BYTES with 413 PAYLOAD_TOO_LARGE", async () => {
    const userToken = await token({ sub: "big-sender" });
    const big = JSON.stringify({ name: "x".repeat(MAX_BYTES + 100) });
    const error = expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: big }), 413, "PAYLOAD_TOO_LARGE", { limit: MAX_BYTES });
    expect(error.message).toContain(String(MAX_BYTES));
    // The limit applies before routing and before auth.
    expectEnvelope(await call("POST", "/v1/nope-xyz", { body: big }), 413, "PAYLOAD_TOO_LARGE", { limit: MAX_BYTES });
    // Just under the limit the body is read and validated instead.
    const under = JSON.stringify({ name: "x".repeat(MAX_BYTES - 20) });
    expect(Buffer.byteLength(under)).toBeLessThanOrEqual(MAX_BYTES);
    expectEnvelope(await call("POST", "/v1/rooms", { token: userToken, body: under }), 400, "VALIDATION_FAILED", [
      { path: "name", type: "string.max", message: expect.any(String) },
    ]);
  });

  it("rate-limits a user's REST calls with 429 RATE_LIMITED and Retry-After; service tokens are exempt", async () => {
    const userToken = await token({ sub: "rest-limited" });
    const statuses: number[] = [];
    for (let i = 0; i < RATE_POINTS + 2; i++) statuses.push((await call("GET", "/v1/rooms/no-such-room", { token: userToken })).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
    const limited = await call("GET", "/v1/rooms/no-such-room", { token: userToken });
    const error = expectEnvelope(limited, 429, "RATE_LIMITED", { retryAfterMs: expect.any(Number) });
    const retryAfterMs = (error.details as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(Number(limited.headers.get("retry-after"))).toBe(Math.ceil(retryAfterMs / 1000));
    // Another user has a budget of their own.
    expect((await call("GET", "/v1/rooms/no-such-room", { token: await token({ sub: "rest-other" }) })).status).toBe(404);
    // A service token is never limited.
    const svc = await serviceToken();
    for (let i = 0; i < RATE_POINTS + 3; i++) expect((await call("GET", "/v1/rooms/no-such-room", { token: svc })).status).toBe(404);
  });

  it("counts REST requests by route, method and status, without a series per unknown path", async () => {
    const count = (text: string, route: string, status: string) => metricValue(text, "switchboard_http_requests_total", { route, method: "GET", status }) || 0;
    const durations = (text: string, route: string) => metricValue(text, "switchboard_http_request_duration_seconds_count", { route, method: "GET" }) || 0;
    const before = await scrape(node().url);

    const svc = await serviceToken();
    await call("GET", "/v1/status");
    await call("GET", "/v1/status", { token: await serviceToken({ expiresIn: -5 }) });
    await call("GET", "/v1/status", { token: await token({ sub: "metrics-user" }) });
    await call("GET", "/v1/status", { token: svc });
    await call("GET", "/v1/status?cluster=1", { token: svc });
    await call("GET", "/v1/status?cluster=maybe", { token: svc });
    await call("GET", "/health");
    await call("GET", "/v1/nope-metrics-path");

    const after = await scrape(node().url);
    const delta = (route: string, status: string) => count(after, route, status) - count(before, route, status);
    expect({
      "401": delta("/v1/status", "401"),
      "403": delta("/v1/status", "403"),
      "200": delta("/v1/status", "200"),
      "400": delta("/v1/status", "400"),
      health: delta("/health", "200"),
      // The scrape before this one is counted once it answered.
      metrics: delta("/metrics", "200"),
    }).toEqual({ "401": 2, "403": 1, "200": 2, "400": 1, health: 1, metrics: 1 });
    expect(durations(after, "/v1/status") - durations(before, "/v1/status")).toBe(6);
    expect(metricValue(after, "switchboard_http_requests_total", { route: "/v1/nope-metrics-path" })).toBeNaN();
    expect(after).not.toContain("nope-metrics-path");
  });
});
