/**
 * The demo page in a real browser (Debian's chromium driven by playwright-core), through the
 * real nginx, on a 3-node cluster (child processes on one redis-server).
 *
 * Both pages come from 127.0.0.1, and nginx hashes on the client address, so through the public
 * listener they would always share a node. The rendered config therefore adds one listener per
 * node (a copy of the public server block whose upstream is that node alone): page A goes
 * through the public, sticky listener; page B through the listener of another node. Both go
 * through nginx, and the test checks from the pages' own status lines that their nodes differ.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { NginxProcess } from "../helpers/nginx";
import { NodeProcess } from "../helpers/nodes";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

jest.setTimeout(60000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(__dirname, "artifacts");
const SCREENSHOT = join(ARTIFACTS, "demo.png");
const ROOM = "e2e-lobby";
const UI_TIMEOUT = 10000;

const byTestId = (id: string) => `[data-testid="${id}"]`;

async function connected(page: Page, userId: string): Promise<string> {
  const status = page.locator(`${byTestId("status")}[data-state="connected"][data-user="${userId}"]`);
  await status.waitFor({ timeout: UI_TIMEOUT });
  const nodeId = await status.getAttribute("data-node");
  expect(await status.textContent()).toContain(nodeId!);
  return nodeId!;
}

async function inRoom(page: Page): Promise<void> {
  await page.locator(`${byTestId("chat-input")}:enabled`).waitFor({ timeout: UI_TIMEOUT });
}

describe("demo page in Chromium through nginx", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[] = [];
  let nginx: NginxProcess;
  let browser: Browser | undefined;

  beforeAll(async () => {
    // Fail loudly, never skip: `npm test` installs chromium (scripts/ensure-test-deps.js).
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    redis = await RedisServer.start();
    // DEV_TOKENS: the page signs in through POST /dev/token
    nodes = await Promise.all([1, 2, 3].map((i) => NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `demo-node-${i}`, LOG_LEVEL: "warn", DEV_TOKENS: "1" })));
    nginx = await NginxProcess.start({
      nodes: nodes.map((n) => ({ port: n.port })),
      extraServers: nodes.map((n) => ({ nodes: [{ port: n.port }] })),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.destroy();
  });

  it("carries chat, presence, synced state and notifications between pages on different nodes", async () => {
    const pageA = await (await browser!.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
    const pageB = await (await browser!.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
    const pageErrors: string[] = [];
    for (const page of [pageA, pageB]) page.on("pageerror", (err) => pageErrors.push(err.message));

    // Page A: through nginx's public, sticky listener; signs in at once with ?user= (development).
    await pageA.goto(`${nginx.url}/?user=alice&name=Alice&room=${ROOM}`);
    const nodeA = await connected(pageA, "alice");
    await inRoom(pageA);

    // Page B: through nginx's listener of another node; signs in with the form and joins by hand.
    const indexB = nodes.findIndex((n) => n.nodeId !== nodeA);
    const urlB = nginx.extraUrl(indexB);
    await pageB.goto(urlB);
    await pageB.fill(byTestId("user-input"), "bob");
    await pageB.fill(byTestId("name-input"), "Bob");
    await pageB.click(byTestId("sign-in"));
    const nodeB = await connected(pageB, "bob");
    expect(nodeB).toBe(nodes[indexB]!.nodeId);
    expect(nodeB).not.toBe(nodeA);
    await pageB.fill(byTestId("room-input"), ROOM);
    await pageB.click(byTestId("room-join"));
    await inRoom(pageB);

    // Presence: A sees Bob arrive; Bob turns busy on node B and A sees it on node A.
    const bobOnA = pageA.locator(`${byTestId("presence-list")} > [data-user="bob"]`);
    await bobOnA.waitFor({ timeout: UI_TIMEOUT });
    await pageA.locator(`${byTestId("presence-list")} > [data-user="bob"][data-status="online"]`).waitFor({ timeout: UI_TIMEOUT });
    await pageB.locator(`${byTestId("presence-list")} > [data-user="alice"][data-status="online"]`).waitFor({ timeout: UI_TIMEOUT });
    await pageB.selectOption(byTestId("presence-status"), "busy");
    await pageA.locator(`${byTestId("presence-list")} > [data-user="bob"][data-status="busy"]`).waitFor({ timeout: UI_TIMEOUT });
    expect(await bobOnA.textContent()).toContain("busy");

    // Chat, both ways: one child per message in chat-messages.
    await pageA.fill(byTestId("chat-input"), "hello from node A");
    await pageA.click(byTestId("chat-send"));
    await pageB.locator(`${byTestId("chat-messages")} > li`, { hasText: "hello from node A" }).waitFor({ timeout: UI_TIMEOUT });
    await pageB.fill(byTestId("chat-input"), "hi back from node B");
    await pageB.press(byTestId("chat-input"), "Enter");
    await pageA.locator(`${byTestId("chat-messages")} > li`, { hasText: "hi back from node B" }).waitFor({ timeout: UI_TIMEOUT });
    expect(await pageA.locator(`${byTestId("chat-messages")} > li[data-id]`).count()).toBe(2);

    // A notification from a backend service (REST, through nginx) reaches Bob's page.
    const notify = await fetch(`${nginx.url}/v1/notify`, {
      method: "POST",
      headers: { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ userId: "bob", type: "peer_message", title: "Alice waved", body: "from the e2e test" }),
    });
    expect(notify.status).toBe(202);
    await pageB.locator(`${byTestId("notifications")} > li`, { hasText: "Alice waved" }).waitFor({ timeout: UI_TIMEOUT });

    // Synced state is per user across devices: page B becomes Alice's second device, still on
    // node B, and the two pages share Alice's document both ways.
    await pageB.goto(`${urlB}/?user=alice`);
    expect(await connected(pageB, "alice")).toBe(nodeB);
    await pageA.fill(byTestId("sync-input"), "draft from node A");
    await pageA.press(byTestId("sync-input"), "Enter");
    await expectText(pageB, "sync-value", "draft from node A");
    await pageB.fill(byTestId("sync-input"), "edited on node B");
    await pageB.click(byTestId("sync-push"));
    await expectText(pageA, "sync-value", "edited on node B");

    mkdirSync(ARTIFACTS, { recursive: true });
    rmSync(SCREENSHOT, { force: true });
    await pageA.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10000);
    expect(pageErrors).toEqual([]);
  });
});

/** Waits until the element's whole text is `text` (evaluated in the page; the tests have no DOM types). */
async function expectText(page: Page, testId: string, text: string): Promise<void> {
  await page.waitForFunction(`document.querySelector(${JSON.stringify(byTestId(testId))})?.textContent === ${JSON.stringify(text)}`, undefined, {
    timeout: UI_TIMEOUT,
  });
}
