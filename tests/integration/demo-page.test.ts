/**
 * The demo page's HTTP side (PROTOCOL §7): `/` serves the page with every test hook, its script
 * and stylesheet, and the socket.io browser client from the node itself; token minting exists
 * only with DEV_TOKENS=1. Without it (and always in production) the page is still served but
 * `POST /dev/token` is 404, so the page cannot sign anybody in by itself (it accepts a pasted token).
 */
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, connect } from "../helpers/clients";
import { startNode } from "../helpers/nodes";
import { TEST_SECRET } from "../helpers/tokens";

const HOOKS = ["status", "room-input", "room-join", "chat-input", "chat-send", "chat-messages", "presence-list", "notifications", "sync-input", "sync-value"];

async function mint(node: SwitchboardNode, userId: string): Promise<Response> {
  return fetch(`${node.url}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId }) });
}

describe("demo page", () => {
  const nodes: SwitchboardNode[] = [];
  afterEach(async () => {
    closeClients();
    await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  });

  it("serves the page, its assets and the socket.io client, with a strict content policy; mints tokens with DEV_TOKENS=1", async () => {
    const node = await startNode({ NODE_ENV: "development", DEV_TOKENS: "1" });
    nodes.push(node);
    const page = await fetch(`${node.url}/?user=alice&room=lobby&anything=else`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await page.text();
    for (const hook of HOOKS) expect([hook, html.includes(`data-testid="${hook}"`)]).toEqual([hook, true]);
    // Everything the page loads comes from the node itself.
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    // (Other features add their own scripts to the page; each must be a same-origin path.)
    for (const source of sources) expect([source, /^\/[^/]/.test(source)]).toEqual([source, true]);
    expect(sources).toEqual(expect.arrayContaining(["/demo/app.js", "/demo/style.css", "/socket.io/socket.io.min.js"]));
    for (const [path, type] of [
      ["/demo/app.js", /^text\/javascript/],
      ["/demo/style.css", /^text\/css/],
      ["/socket.io/socket.io.min.js", /javascript/],
      ["/sdk/switchboard-client.js", /^text\/javascript/],
    ] as const) {
      const asset = await fetch(`${node.url}${path}`);
      expect([path, asset.status]).toEqual([path, 200]);
      expect(asset.headers.get("content-type")).toMatch(type);
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
    expect((await fetch(`${node.url}/demo/other.js`)).status).toBe(404);

    const minted = await mint(node, "alice");
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    const socket = await connect(node.url, { token });
    expect(socket.session).toMatchObject({ userId: "alice", nodeId: node.nodeId });
  });

  it("serves the page in production but cannot mint tokens there", async () => {
    const node = await startNode({ NODE_ENV: "production", JWT_SECRET: TEST_SECRET });
    nodes.push(node);
    expect((await fetch(`${node.url}/`)).status).toBe(200);
    const minted = await mint(node, "intruder");
    expect(minted.status).toBe(404);
    // The page explains what to do instead: paste a token.
    const script = await (await fetch(`${node.url}/demo/app.js`)).text();
    expect(script).toContain("does not mint tokens");
  });
});
