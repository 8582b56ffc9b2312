/**
 * The OpenAPI 3.1 document at `GET /v1/openapi.json` (README "REST"): generated from the node's
 * route registry and the joi schemas its routes validate with.
 *
 * - It is valid OpenAPI 3.1 by a real validator (@seriousme/openapi-schema-validator, an ES
 *   module, run in a child process), and it describes exactly the routes the node registered,
 *   each with every error code its auth, schemas, body and rate limit imply and its own, under
 *   the HTTP status the protocol gives the code.
 * - Real requests to every documented operation, with real tokens, get answers that the document
 *   describes: a status it lists, its content type, and a body that its JSON Schema accepts
 *   (Ajv, JSON Schema 2020-12); the requests' bodies are accepted by its request schemas too.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openApiPath, routeErrorCodes } from "@switchboard/server";
import { HTTP_STATUS } from "@switchboard/shared";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import parse from "joi-to-json";
import { clusterFixture } from "../helpers/cluster";
import { serviceToken, signToken } from "../helpers/tokens";

const ROOT = join(__dirname, "..", "..");

type Json = Record<string, unknown>;
interface Response {
  $ref?: string;
  content?: Record<string, { schema: Json }>;
}
interface Operation {
  operationId: string;
  summary: string;
  parameters?: { name: string; in: string; required: boolean; schema: Json }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, Response>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Response> };
}

/** An operation's answer for `status` (a shared error response followed), and the path of segments to it. */
function answerOf(doc: Document, path: string, method: string, status: string): { response: Response; at: string[] } | undefined {
  const response = doc.paths[path]![method]!.responses[status];
  if (!response?.$ref) return response && { response, at: ["paths", path, method, "responses", status] };
  const name = /^#\/components\/responses\/(.+)$/.exec(response.$ref)![1]!;
  return { response: doc.components.responses[name]!, at: ["components", "responses", name] };
}

async function fetchDocument(url: string): Promise<Document> {
  const res = await fetch(`${url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Document;
}

/** Every operation of the document, as `METHOD path`. */
const operationsOf = (doc: Document) => Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));

describe("the OpenAPI document", () => {
  const { node, url } = clusterFixture({ backing: "memory", env: { DEV_TOKENS: "1" } });
  let doc: Document;

  beforeAll(async () => {
    doc = await fetchDocument(url());
  });

  it("is valid OpenAPI 3.1", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-openapi-"));
    try {
      writeFileSync(join(dir, "openapi.json"), JSON.stringify(doc));
      const program = `import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";
const validator = new Validator();
const result = await validator.validate(JSON.parse(readFileSync(process.argv[1], "utf8")));
console.log(JSON.stringify({ ...result, version: validator.version }));`;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", program, join(dir, "openapi.json")], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
      expect(JSON.parse(run.stdout)).toEqual({ valid: true, version: "3.1" });
      expect(doc.openapi).toBe("3.1.0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describes exactly the routes the node registered, the document's own and /dev/token included", () => {
    const registered = node().routes.map((route) => `${route.method.toUpperCase()} ${openApiPath(route.path)}`);
    expect(registered).toEqual(expect.arrayContaining(["GET /v1/openapi.json", "POST /dev/token", "POST /v1/rooms", "GET /health"]));
    expect(operationsOf(doc).sort()).toEqual([...registered].sort());
    expect(new Set(registered).size).toBe(registered.length);
  });

  it("takes each route's parameters, query and body from the joi schemas it validates with", () => {
    const convert = (schema: Parameters<typeof parse>[0]) => {
      const { schemas: _named, ...rest } = parse(schema, "open-api-3.1") as Json;
      return rest;
    };
    for (const route of node().routes) {
      const op = doc.paths[openApiPath(route.path)]![route.method]!;
      const where = `${route.method.toUpperCase()} ${route.path}`;
      expect([where, op.summary.length > 0]).toEqual([where, true]);
      expect([where, op.requestBody?.content["application/json"]?.schema]).toEqual([where, route.body ? convert(route.body) : undefined]);
      for (const [location, schema] of [["path", route.params], ["query", route.query]] as const) {
        const properties = (schema ? (convert(schema).properties as Record<string, Json> | undefined) : undefined) ?? {};
        const documented = Object.fromEntries((op.parameters ?? []).filter((p) => p.in === location && p.name !== "query").map((p) => [p.name, p.schema]));
        expect([where, location, documented]).toEqual([where, location, properties]);
      }
    }
  });

  it("lists every error code a route answers, under the code's HTTP status", () => {
    for (const route of node().routes) {
      const listed = (status: number): string[] => {
        const answer = answerOf(doc, openApiPath(route.path), route.method, String(status));
        const code = ((answer?.response.content?.["application/json"]?.schema.properties as Json | undefined)?.error as Json | undefined)?.properties as
          | { code: { enum?: string[]; const?: string } }
          | undefined;
        return code?.code.enum ?? (code?.code.const ? [code.code.const] : []);
      };
      const codes = routeErrorCodes(route);
      expect(codes).toEqual(expect.arrayContaining(["VALIDATION_FAILED", "INTERNAL"]));
      if (route.auth !== "public") expect(codes).toEqual(expect.arrayContaining(["UNAUTHORIZED", "TOKEN_EXPIRED"]));
      for (const code of codes) expect([route.path, code, listed(HTTP_STATUS[code])]).toEqual([route.path, code, expect.arrayContaining([code])]);
    }
  });
});

describe("real answers against the document", () => {
  const { url } = clusterFixture({ backing: "memory", env: { RATE_LIMIT_POINTS: "10000" } });
  let doc: Document;
  let ajv: Ajv2020;
  const exercised = new Set<string>();
  const templates: { method: string; path: string; pattern: RegExp }[] = [];

  beforeAll(async () => {
    doc = await fetchDocument(url());
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc as unknown as Json, "openapi.json");
    for (const [path, item] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`);
      for (const method of Object.keys(item)) templates.push({ method, path, pattern });
    }
  });

  /** A JSON Pointer to the document's `segments`. */
  const pointer = (...segments: string[]) => `openapi.json#/${segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;
  const check = (ref: string, value: unknown, what: string) => {
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    const ok = validate(value);
    expect({ what, errors: ok ? null : validate.errors }).toEqual({ what, errors: null });
  };

  /** Calls the node; checks the request and the answer against the operation the document has for them. */
  async function call(method: string, path: string, options: { token?: string; body?: unknown; raw?: string; status: number }): Promise<Json> {
    const pathname = path.split("?")[0]!;
    const template = templates.find((t) => t.method === method.toLowerCase() && t.pattern.test(pathname));
    if (!template) throw new Error(`the document has no operation for ${method} ${pathname}`);
    const what = `${method} ${path} → ${options.status}`;
    if (options.body !== undefined) check(pointer("paths", template.path, template.method, "requestBody", "content", "application/json", "schema"), options.body, `${what} (request)`);

    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined || options.raw !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${url()}${path}`, { method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
    const text = await res.text();
    expect({ what, status: res.status }).toEqual({ what, status: options.status });
    const documented = answerOf(doc, template.path, template.method, String(res.status));
    expect({ what, documented: documented !== undefined }).toEqual({ what, documented: true });
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    const content = Object.keys(documented!.response.content ?? {}).find((type) => type.split(";")[0]!.trim() === mediaType);
    expect({ what, mediaType, documented: content !== undefined }).toEqual({ what, mediaType, documented: true });
    exercised.add(`${template.method.toUpperCase()} ${template.path}`);
    if (mediaType !== "application/json") return {};
    const body = JSON.parse(text) as Json;
    check(pointer(...documented!.at, "content", content!, "schema"), body, what);
    return body;
  }

  it("answers every documented operation as the document says", async () => {
    const svc = await serviceToken();
    const alice = await signToken({ sub: "alice" });
    const enc = encodeURIComponent;

    // The node itself.
    await call("GET", "/health", { status: 200 });
    await call("GET", "/health/ready", { status: 200 });
    await call("GET", "/metrics", { status: 200 });
    await call("GET", "/v1/openapi.json", { status: 200 });
    await call("GET", "/v1/status?cluster=1", { token: svc, status: 200 });
    await call("GET", "/v1/status", { token: alice, status: 403 });
    await call("GET", "/v1/connections", { status: 401 });
    await call("GET", "/v1/connections", { token: svc, status: 200 });
    for (const path of ["/", "/?user=alice&room=lobby", "/demo/app.js", "/demo/leaderboard.js", "/demo/docs.js", "/demo/style.css", "/demo/ot-text-unicode.js", "/sdk/switchboard-client.js", "/sdk/switchboard-client.js.map"]) {
      await call("GET", path, { status: 200 });
    }

    // Rooms.
    await call("POST", "/v1/rooms", { token: alice, body: { id: "api-room", name: "API" }, status: 201 });
    await call("POST", "/v1/rooms", { token: alice, body: { id: "api-room", name: "API" }, status: 409 });
    await call("POST", "/v1/rooms", { token: alice, raw: JSON.stringify({ name: "x".repeat(70_000) }), status: 413 });
    await call("GET", "/v1/rooms/api-room", { token: alice, status: 200 });
    await call("GET", "/v1/rooms/no-such-room", { token: alice, status: 404 });
    await call("POST", "/v1/rooms/api-room/members", { token: svc, body: { userId: "bob", name: "Bob" }, status: 201 });
    await call("POST", "/v1/rooms/api-room/members", { token: svc, body: { userId: "bob" }, status: 200 });
    await call("POST", "/v1/rooms/api-room/messages", { token: svc, body: { data: { text: "hi" }, clientMsgId: "c-1" }, status: 202 });
    await call("POST", "/v1/rooms/api-room/messages", { token: svc, body: { data: { text: "hi" }, clientMsgId: "c-1" }, status: 202 });
    const page = await call("GET", "/v1/rooms/api-room/messages?limit=10", { token: alice, status: 200 });
    expect(page.messages).toHaveLength(1);
    await call("GET", "/v1/rooms/api-room/messages?limit=0", { token: alice, status: 400 });
    await call("GET", "/v1/rooms/api-room/presence", { token: alice, status: 200 });
    await call("DELETE", "/v1/rooms/api-room/members/bob", { token: svc, status: 200 });

    // Presence and sync.
    await call("GET", "/v1/presence/alice", { token: alice, status: 200 });
    await call("POST", "/v1/sync/alice/prefs", { token: alice, body: { state: { theme: "dark" } }, status: 200 });
    await call("GET", "/v1/sync/alice/prefs", { token: alice, status: 200 });
    await call("GET", "/v1/sync/bob/prefs", { token: alice, status: 403 });

    // Notifications and push devices.
    const notified = await call("POST", "/v1/notify", { token: svc, body: { userId: "alice", type: "peer_message", title: "Hi", body: "there", data: { roomId: "api-room" } }, status: 202 });
    await call("POST", "/v1/notify", { token: alice, body: { userId: "alice", type: "peer_message", title: "Hi", body: "there" }, status: 403 });
    await call("GET", "/v1/notifications?unreadOnly=true&limit=5", { token: alice, status: 200 });
    await call("POST", `/v1/notifications/${String(notified.id)}/read`, { token: alice, status: 200 });
    await call("POST", "/v1/notifications/nope/read", { token: alice, status: 404 });
    await call("POST", "/v1/push/devices", { token: alice, body: { platform: "fcm", token: "fcm-token-1" }, status: 201 });
    const device = await call("POST", "/v1/push/devices", { token: alice, body: { platform: "fcm", token: "fcm-token-1" }, status: 200 });
    await call("DELETE", `/v1/push/devices/${String(device.id)}`, { token: alice, status: 200 });

    // Workspaces and agents.
    await call("POST", "/v1/workspaces", { token: svc, body: { id: "api-ws", name: "API", members: ["alice"] }, status: 201 });
    await call("GET", "/v1/workspaces", { token: alice, status: 200 });
    await call("GET", "/v1/workspaces/api-ws", { token: alice, status: 200 });
    await call("GET", "/v1/workspaces/api-ws/users", { token: alice, status: 200 });
    await call("POST", "/v1/workspaces/api-ws/members", { token: svc, body: { userId: "bob" }, status: 201 });
    await call("POST", "/v1/workspaces/api-ws/updates", { token: svc, body: { updateType: "note", data: { text: "x" } }, status: 202 });
    await call("DELETE", "/v1/workspaces/api-ws/members/bob", { token: svc, status: 200 });
    await call("POST", "/v1/agents", { token: svc, body: { id: "api-agent", workspaceId: "api-ws", ownerId: "alice", name: "Agent" }, status: 201 });
    await call("POST", "/v1/agents", { token: svc, body: { id: "api-agent", workspaceId: "api-ws" }, status: 200 });
    await call("GET", "/v1/agents/api-agent", { token: alice, status: 200 });
    await call("GET", "/v1/agents/api-agent/status", { token: alice, status: 200 });
    await call("POST", "/v1/agents/api-agent/started", { token: svc, body: { executionId: "run-1", task: { goal: "tests" } }, status: 202 });
    await call("POST", "/v1/agents/api-agent/progress", { token: svc, body: { executionId: "run-1", progress: 40, currentStep: "lint" }, status: 202 });
    await call("POST", "/v1/agents/api-agent/completed", { token: svc, body: { executionId: "run-1", result: { passed: 12 } }, status: 202 });
    await call("POST", "/v1/agents/api-agent/failed", { token: svc, body: { executionId: "run-2", error: { code: "E1", message: "boom" } }, status: 202 });
    const status = await call("GET", "/v1/agents/api-agent/status", { token: alice, status: 200 });
    expect(status.execution).toMatchObject({ executionId: "run-2", status: "failed" });
    await call("GET", "/v1/agents/no-agent", { token: alice, status: 404 });

    // Documents, leaderboards, streams.
    const docPath = `/v1/docs/${enc("workspace:api-ws/notes.md")}`;
    await call("POST", `${docPath}/ops`, { token: svc, body: { version: 0, op: ["hello"] }, status: 200 });
    await call("GET", docPath, { token: alice, status: 200 });
    await call("GET", `/v1/docs/${enc("workspace:api-ws/none.md")}`, { token: alice, status: 404 });
    await call("POST", "/v1/leaderboards/api-board/scores", { token: svc, body: { userId: "alice", value: 10 }, status: 200 });
    await call("GET", "/v1/leaderboards/api-board?around=true&top=5", { token: alice, status: 200 });
    await call("POST", "/v1/streams/metrics:latency/points", { token: svc, body: { points: [{ value: 12 }, { value: 15, unit: "ms" }] }, status: 202 });
    await call("GET", "/v1/streams/metrics:latency?window=1m", { token: alice, status: 200 });

    // Every operation of the document was driven.
    expect(operationsOf(doc).filter((op) => !exercised.has(op)).sort()).toEqual([]);
  });
});
