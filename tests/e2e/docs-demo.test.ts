/**
 * The demo page's shared text editor in a real browser (Debian's chromium driven by
 * playwright-core): two pages on two nodes (child processes on one redis-server) edit one room
 * document (`room:<room>/notes`) with the ot-text-unicode build each node serves. What one page
 * types shows up in the other, concurrent typing converges to the server's snapshot (emoji
 * included: positions travel as code points), and a selection shows up as the other's cursor.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { NodeProcess } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

jest.setTimeout(60000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOM = "e2e-docs";
const DOC = `room:${ROOM}/notes`;
const UI_TIMEOUT = 10000;
const byTestId = (id: string) => `[data-testid="${id}"]`;

async function openEditor(page: Page, url: string, user: string): Promise<void> {
  await page.goto(`${url}/?user=${user}&room=${ROOM}&doc=${encodeURIComponent(DOC)}`);
  await page.locator(`${byTestId("status")}[data-state="connected"][data-user="${user}"]`).waitFor({ timeout: UI_TIMEOUT });
  await page.locator(`${byTestId("chat-input")}:enabled`).waitFor({ timeout: UI_TIMEOUT });
  await page.locator(`${byTestId("doc-editor")}:enabled`).waitFor({ timeout: UI_TIMEOUT });
}

const editorText = (page: Page) => page.inputValue(byTestId("doc-editor"));

describe("shared text editor of the demo page", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[] = [];
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    redis = await RedisServer.start();
    // DEV_TOKENS: the page signs in through POST /dev/token
    nodes = await Promise.all([1, 2].map((i) => NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `docs-demo-${i}`, LOG_LEVEL: "warn", DEV_TOKENS: "1" })));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.destroy();
  });

  it("edits one document from two pages on two nodes", async () => {
    const pageA = await (await browser!.newContext()).newPage();
    const pageB = await (await browser!.newContext()).newPage();
    const pageErrors: string[] = [];
    for (const page of [pageA, pageB]) page.on("pageerror", (err) => pageErrors.push(err.message));

    await openEditor(pageA, nodes[0]!.url, "alice");
    await openEditor(pageB, nodes[1]!.url, "bob");

    await pageA.click(byTestId("doc-editor"));
    await pageA.keyboard.type("Hello from A.");
    await waitFor(async () => (await editorText(pageB)) === "Hello from A.", UI_TIMEOUT, "B shows A's text");

    await pageB.click(byTestId("doc-editor"));
    await pageB.keyboard.press("End");
    await pageB.keyboard.type(" B was here 😀");
    await waitFor(async () => (await editorText(pageA)) === "Hello from A. B was here 😀", UI_TIMEOUT, "A shows B's text");

    // Both type at once, A at the start, B at the end.
    await pageA.keyboard.press("Control+Home");
    await Promise.all([pageA.keyboard.type("[A1][A2]", { delay: 15 }), pageB.keyboard.type("[B1][B2]", { delay: 15 })]);
    const expected = "[A1][A2]Hello from A. B was here 😀[B1][B2]";
    await waitFor(async () => (await editorText(pageA)) === expected && (await editorText(pageB)) === expected, UI_TIMEOUT, "both pages converge");
    const res = await fetch(`${nodes[0]!.url}/v1/docs/${encodeURIComponent(DOC)}`, { headers: { authorization: `Bearer ${await serviceToken()}` } });
    expect(await res.json()).toMatchObject({ docId: DOC, type: "text", snapshot: expected });

    // B selects "Hello": A lists Bob's selection, in code points.
    await pageB.evaluate((selector) => {
      const area = (globalThis as unknown as { document: { querySelector(s: string): { setSelectionRange(a: number, b: number): void; dispatchEvent(e: unknown): void } } }).document.querySelector(selector);
      area.setSelectionRange(8, 13);
      area.dispatchEvent(new (globalThis as unknown as { Event: new (type: string) => unknown }).Event("select"));
    }, byTestId("doc-editor"));
    await pageA.locator(`${byTestId("doc-cursors")} > [data-user="bob"]`, { hasText: "8–13" }).waitFor({ timeout: UI_TIMEOUT });
    expect(pageErrors).toEqual([]);
  });
});
