/**
 * Security headers (helmet) on every answer of the REST app: JSON routes, error envelopes, health,
 * metrics, CORS preflights, the demo page and the scripts the node serves. JSON answers carry a
 * policy that allows nothing; the demo page keeps its own; the SDK bundle may be loaded from other
 * origins. CORS behaves as before.
 */
import type { SwitchboardNode } from "@switchboard/server";
import { startNode } from "../helpers/nodes";
import { serviceToken } from "../helpers/tokens";

const ORIGIN = "https://app.example";
const API_POLICY = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** What every answer of the REST app carries. */
const COMMON = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
};

let node: SwitchboardNode;
beforeAll(async () => {
  node = await startNode({ CORS_ORIGINS: ORIGIN });
});
afterAll(async () => {
  await node?.shutdown();
});

function headersOf(res: Response): Record<string, string> {
  return Object.fromEntries(res.headers.entries());
}

describe("security headers", () => {
  it.each([
    ["a JSON route", "GET", "/v1/status", 200, true],
    ["an error envelope (unknown path)", "GET", "/no/such/route", 404, false],
    ["an error envelope (no token)", "GET", "/v1/status", 401, false],
    ["an error envelope (bad JSON)", "POST", "/v1/notify", 400, true],
    ["/health", "GET", "/health", 200, false],
    ["/health/ready", "GET", "/health/ready", 200, false],
    ["/metrics", "GET", "/metrics", 200, false],
  ] as const)("on %s: nosniff, a policy that allows nothing, same-origin resources", async (_what, method, path, status, authorized) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (authorized) headers.authorization = `Bearer ${await serviceToken()}`;
    const res = await fetch(`${node.url}${path}`, { method, headers, body: method === "POST" ? "{not json" : undefined });
    expect(res.status).toBe(status);
    expect(headersOf(res)).toMatchObject({ ...COMMON, "content-security-policy": API_POLICY, "cross-origin-resource-policy": "same-origin" });
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("x-powered-by")).toBeNull();
  });

  it("keeps the demo page's own content policy", async () => {
    const res = await fetch(`${node.url}/`);
    expect(res.status).toBe(200);
    expect(headersOf(res)).toMatchObject({ ...COMMON, "cross-origin-resource-policy": "same-origin" });
    expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'self'; script-src 'self';.*connect-src 'self'/);
    const script = await fetch(`${node.url}/demo/app.js`);
    expect(headersOf(script)).toMatchObject({ "x-content-type-options": "nosniff", "content-type": "text/javascript; charset=utf-8" });
  });

  it("lets pages on other origins load the SDK bundle", async () => {
    const res = await fetch(`${node.url}/sdk/switchboard-client.js`);
    expect(res.status).toBe(200);
    expect(headersOf(res)).toMatchObject({ ...COMMON, "cross-origin-resource-policy": "cross-origin" });
  });

  it("leaves CORS as configured, preflights included", async () => {
    const preflight = await fetch(`${node.url}/v1/notify`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(headersOf(preflight)).toMatchObject({
      ...COMMON,
      "access-control-allow-origin": ORIGIN,
      "access-control-allow-credentials": "true",
      "access-control-allow-headers": "authorization,content-type",
    });
    const allowed = await fetch(`${node.url}/health`, { headers: { origin: ORIGIN } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const other = await fetch(`${node.url}/health`, { headers: { origin: "https://elsewhere.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(other.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
