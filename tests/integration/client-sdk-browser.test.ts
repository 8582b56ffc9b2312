/**
 * The SDK's browser bundle in Chromium (Debian's chromium driven by playwright-core): each node
 * serves it at /sdk/switchboard-client.js beside /socket.io/socket.io.min.js; two pages on two
 * nodes chat through `Switchboard.createClient`, and a page whose connection drops gets the
 * messages it missed once it is back.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import type { SwitchboardNode } from "@switchboard/server";
import { clusterFixture } from "../helpers/cluster";
import { signToken } from "../helpers/tokens";

jest.setTimeout(45000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

interface PageState {
  state: string;
  nodeId?: string;
  messages: string[];
  deviceId?: string;
  storedDeviceId: string | null;
}

describe("client SDK bundle in Chromium", () => {
  const { nodes, beforeStop } = clusterFixture({ backing: "redis", nodes: [{ NODE_ID: "browser-1" }, { NODE_ID: "browser-2" }] });
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  });
  beforeStop(() => browser?.close());

  it("serves the bundle, a small script that does not carry socket.io-client", async () => {
    const res = await fetch(`${nodes[0]!.url}/sdk/switchboard-client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    const code = await res.text();
    expect(code).toContain("Switchboard");
    expect(code.length).toBeLessThan(40 * 1024);
    expect((await fetch(`${nodes[0]!.url}/sdk/switchboard-client.js.map`)).status).toBe(200);
  });

  /** A blank page of the node's origin that loads socket.io-client and the SDK from the node. */
  async function sdkPage(node: SwitchboardNode, userId: string, errors: string[]): Promise<Page> {
    // bypassCSP: the blank page is the test's own, written over a JSON answer of the node, whose
    // content security policy forbids scripts.
    const page = await (await browser!.newContext({ bypassCSP: true })).newPage();
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${node.url}/health`);
    await page.setContent(`<!doctype html><title>sdk</title><script src="/socket.io/socket.io.min.js"></script><script src="/sdk/switchboard-client.js"></script>`);
    await page.waitForFunction(() => typeof (globalThis as unknown as { Switchboard?: { createClient?: unknown } }).Switchboard?.createClient === "function");
    const token = await signToken({ sub: userId, name: userId });
    await page.evaluate(async (token) => {
      type Win = { Switchboard: { createClient(o: unknown): SdkClient }; client: SdkClient; seen: string[] };
      interface SdkClient {
        state: string;
        session?: { nodeId: string };
        room(id: string): { on(e: string, f: (m: { data: { text: string } }) => void): void; join(): Promise<unknown> };
        on(e: string, f: (s: string) => void): void;
      }
      const w = globalThis as unknown as Win;
      w.seen = [];
      w.client = w.Switchboard.createClient({ token });
      const room = w.client.room("browser-chat");
      room.on("message", (m) => w.seen.push(m.data.text));
      await room.join();
    }, token);
    return page;
  }

  const read = (page: Page) =>
    page.evaluate((): PageState => {
      const w = globalThis as unknown as {
        client: { state: string; deviceId?: string; session?: { nodeId: string } };
        seen: string[];
        localStorage: { getItem(key: string): string | null };
      };
      return { state: w.client.state, nodeId: w.client.session?.nodeId, messages: [...w.seen], deviceId: w.client.deviceId, storedDeviceId: w.localStorage.getItem("switchboard.deviceId") };
    });
  const publish = (page: Page, text: string) =>
    page.evaluate((text) => (globalThis as unknown as { client: { room(id: string): { publish(d: unknown): Promise<unknown> } } }).client.room("browser-chat").publish({ text }), text);
  const until = (page: Page, count: number) =>
    page.waitForFunction((count) => (globalThis as unknown as { seen: string[] }).seen.length >= count, count, { timeout: 10000 });

  it("does the chat flow between pages on two nodes, and recovers what a page missed", async () => {
    const owner = await signToken({ sub: "host" });
    const created = await fetch(`${nodes[0]!.url}/v1/rooms`, {
      method: "POST",
      headers: { authorization: `Bearer ${owner}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "browser-chat", name: "Browser chat" }),
    });
    expect(created.status).toBe(201);

    const errors: string[] = [];
    const alice = await sdkPage(nodes[0]!, "alice", errors);
    const bob = await sdkPage(nodes[1]!, "bob", errors);
    expect(await read(alice)).toMatchObject({ state: "connected", nodeId: "browser-1" });
    // The generated device id is kept in localStorage (and is the one the server knows).
    const { deviceId, storedDeviceId } = await read(alice);
    expect(deviceId).toMatch(/^web-[0-9a-f]{12}$/);
    expect(storedDeviceId).toBe(deviceId);
    expect(await read(bob)).toMatchObject({ state: "connected", nodeId: "browser-2" });

    await publish(alice, "hello from node 1");
    await until(bob, 1);
    await publish(bob, "hi from node 2");
    await until(alice, 2);
    expect((await read(alice)).messages).toEqual(["hello from node 1", "hi from node 2"]);
    expect((await read(bob)).messages).toEqual(["hello from node 1", "hi from node 2"]);

    // Bob's page loses its connection (the SDK is told to go offline), misses two messages, and
    // gets them — once, in order — when it connects again.
    await bob.evaluate(() => (globalThis as unknown as { client: { disconnect(): void } }).client.disconnect());
    await publish(alice, "while you were away 1");
    await publish(alice, "while you were away 2");
    await bob.evaluate(() => (globalThis as unknown as { client: { connect(): void } }).client.connect());
    await until(bob, 4);
    await publish(bob, "back");
    await until(alice, 5);
    await until(bob, 5);
    const expected = ["hello from node 1", "hi from node 2", "while you were away 1", "while you were away 2", "back"];
    expect((await read(bob)).messages).toEqual(expected);
    expect((await read(alice)).messages).toEqual(expected);
    expect(errors).toEqual([]);
  });
});
