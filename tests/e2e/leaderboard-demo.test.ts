/**
 * The demo page's live leaderboard in a real browser (Debian's chromium driven by playwright-core):
 * the page follows a leaderboard on one node while a service writes scores through another; the
 * top 10 and the user's own rank follow, also through a burst of writes coalesced into a few
 * updates, and end equal to the live top.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { clusterFixture } from "../helpers/cluster";
import { serviceToken } from "../helpers/tokens";

jest.setTimeout(60000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const UI_TIMEOUT = 10000;
const BOARD = "e2e-weekly";

const byTestId = (id: string) => `[data-testid="${id}"]`;

/** The rows the page shows, as "rank:user:score". */
async function rows(page: Page): Promise<string[]> {
  return page.$$eval(`${byTestId("leaderboard-rows")} > ${byTestId("leaderboard-row")}`, (items) =>
    items.map((li) => ["data-rank", "data-user", "data-score"].map((name) => li.getAttribute(name)).join(":")),
  );
}

async function showsRows(page: Page, expected: string[]): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await rows(page);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`the leaderboard shows ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
}

describe("demo page: live leaderboard in Chromium", () => {
  // DEV_TOKENS: the page signs in through POST /dev/token
  const { nodes, beforeStop } = clusterFixture({
    backing: "redis",
    nodes: 2,
    sequential: true,
    env: { NODE_ENV: "development", DEV_TOKENS: "1", LEADERBOARD_UPDATE_INTERVAL_MS: "200" },
  });
  let browser: Browser | undefined;
  let service: string;

  const score = async (body: Record<string, unknown>, id = BOARD) => {
    const res = await fetch(`${nodes[1]!.url}/v1/leaderboards/${id}/scores`, {
      method: "POST",
      headers: { authorization: `Bearer ${service}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    service = await serviceToken();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  });
  beforeStop(() => browser?.close());

  it("follows a leaderboard: the top and the user's rank change as scores arrive on another node", async () => {
    const page = await (await browser!.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${nodes[0]!.url}/?user=alice&leaderboard=${BOARD}`);
    await page.locator(`${byTestId("status")}[data-state="connected"][data-user="alice"]`).waitFor({ timeout: UI_TIMEOUT });
    const section = page.locator(byTestId("leaderboard"));
    await section.waitFor({ state: "visible", timeout: UI_TIMEOUT });
    await page.locator(byTestId("leaderboard-me"), { hasText: "not on this leaderboard" }).waitFor({ timeout: UI_TIMEOUT });

    await score({ userId: "alice", value: 50 });
    await score({ userId: "bob", value: 70 });
    await score({ userId: "carol", value: 60 });
    await showsRows(page, ["1:bob:70", "2:carol:60", "3:alice:50"]);
    expect(await page.locator(byTestId("leaderboard-me")).textContent()).toBe("You: #3 with 50");

    await score({ userId: "alice", inc: 30 });
    await showsRows(page, ["1:alice:80", "2:bob:70", "3:carol:60"]);
    expect(await page.locator(byTestId("leaderboard-me")).textContent()).toBe("You: #1 with 80");
    expect(await page.locator(`${byTestId("leaderboard-row")}[data-user="alice"]`).textContent()).toContain("(you)");

    // A burst of 200 writes: a handful of updates, and the page ends on the live top 10.
    const seqBefore = Number(await section.getAttribute("data-seq"));
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 50; i++) await score({ userId: `p${(i * 3 + w) % 15}`, inc: 1 + (i % 7) });
    }));
    const live = (await (await fetch(`${nodes[0]!.url}/v1/leaderboards/${BOARD}?top=10`, { headers: { authorization: `Bearer ${service}` } })).json()) as {
      top: { rank: number; userId: string; score: number }[];
    };
    await showsRows(page, live.top.map((e) => `${e.rank}:${e.userId}:${e.score}`));
    const updates = Number(await section.getAttribute("data-seq")) - seqBefore;
    expect(updates).toBeGreaterThan(0);
    expect(updates).toBeLessThan(200 / 5);

    // Following another leaderboard by hand.
    await score({ userId: "dave", value: 1 }, `${BOARD}-2`);
    await page.fill(byTestId("leaderboard-input"), `${BOARD}-2`);
    await page.click(byTestId("leaderboard-follow"));
    await showsRows(page, ["1:dave:1"]);
    expect(errors).toEqual([]);
  });
});
