/**
 * Collaborative documents survive a node crash: two editors edit one document through two nodes
 * (one a child process of server/dist/main.js), and the child is killed with SIGKILL in the middle
 * of the editing. Every op acknowledged before the kill is in the document right after it; the
 * editor of the dead node moves to the other node, catches up from its version and resends the op
 * that was in flight with its clientOpId; in the end every edit of both editors is in the document
 * exactly once, and both editors hold the server's snapshot.
 */
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, connect } from "../helpers/clients";
import { DocEditor } from "../helpers/docs";
import { NodeProcess, startNode } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken } from "../helpers/tokens";

let redis: RedisServer;
let victim: NodeProcess;
let survivor: SwitchboardNode;

beforeAll(async () => {
  redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, RATE_LIMIT_POINTS: "10000" };
  [victim, survivor] = await Promise.all([NodeProcess.spawn({ ...env, LOG_LEVEL: "warn" }), startNode(env)]);
});
afterAll(async () => {
  closeClients();
  await victim?.kill();
  await survivor?.shutdown();
  await redis?.destroy();
});

async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${survivor.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await serviceToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Inserts a token where one token ends and another begins, so concurrent inserts never split one. */
function insertToken(editor: DocEditor, token: string): string {
  const text = editor.text;
  const boundaries = [...text].flatMap((c, i) => (c === "<" ? [i] : [])).concat(text.length);
  const at = boundaries[Math.floor(Math.random() * boundaries.length)]!;
  return editor.edit(at === 0 ? [token] : [at, token]);
}

it("loses no acknowledged op when a node is killed with SIGKILL mid-editing, and applies the resent op once", async () => {
  expect((await rest("POST", "/v1/workspaces", { id: "ws-crash", name: "crash", members: ["ann", "ben"] })).status).toBe(201);
  const docId = "workspace:ws-crash/story.txt";
  const docPath = `/v1/docs/${encodeURIComponent(docId)}`;
  const ann = new DocEditor(await connect(victim.url, { tokenOptions: { sub: "ann" }, deviceId: "ann-laptop" }), docId, { name: "A" });
  const ben = new DocEditor(await connect(survivor.url, { tokenOptions: { sub: "ben" }, deviceId: "ben-phone" }), docId, { name: "B" });
  await ann.open();
  await ben.open();

  /** token -> the clientOpId of the op carrying it. */
  const carriedBy = new Map<string, string>();
  let stop = false;
  const typist = async (editor: DocEditor, prefix: string) => {
    for (let n = 0; !stop; n++) {
      const token = `<${prefix}${n}>`;
      carriedBy.set(token, insertToken(editor, token));
      await sleep(Math.random() * 12);
    }
  };
  const typing = Promise.all([typist(ann, "a"), typist(ben, "b")]);

  await waitFor(() => ann.acked.size >= 40 && ben.acked.size >= 40, 20000, "both editors acknowledged 40 ops");
  const annSocketGone = new Promise<void>((resolve) => (ann as unknown as { socket: { once(e: string, f: () => void): void } }).socket.once("disconnect", () => resolve()));
  // Killed while one of Ann's ops is in flight (sent, not yet acknowledged): the op is read and
  // SIGKILL sent in the same tick. Ann sends her next op a few ms after the last ack, so one is
  // in flight most of the time, not always.
  let killed: Promise<unknown> | undefined;
  const inFlightAtKill: string | undefined = await waitFor(
    () => {
      const id = ann.inFlight;
      if (id !== undefined) killed = victim.kill("SIGKILL");
      return id;
    },
    10000,
    "an op of Ann's in flight",
    1,
  );
  await killed;
  const ackedBeforeKill = new Set([...ann.acked.keys(), ...ben.acked.keys()]);
  await annSocketGone;

  // Right after the crash, every acknowledged op is in the document.
  const afterKill = (await rest("GET", docPath)).body;
  const mustHave = [...carriedBy].filter(([, id]) => ackedBeforeKill.has(id)).map(([token]) => token);
  expect(mustHave.length).toBeGreaterThanOrEqual(80);
  for (const token of mustHave) expect(afterKill.snapshot as string).toContain(token);

  // Ann moves to the surviving node; she keeps typing meanwhile.
  await ann.reconnect(await connect(survivor.url, { tokenOptions: { sub: "ann" }, deviceId: "ann-laptop" }));
  await sleep(800);
  stop = true;
  await typing;
  await Promise.all([ann.settled(15000), ben.settled(15000)]);

  const final = (await rest("GET", docPath)).body;
  const version = final.version as number;
  await waitFor(() => ann.version === version && ben.version === version, 10000, `editors at version ${version}`);
  expect(ann.errors).toEqual([]);
  expect(ben.errors).toEqual([]);
  expect(ann.text).toBe(final.snapshot);
  expect(ben.text).toBe(final.snapshot);
  // The op in flight on the dead node was applied, once (either before the crash or on resend).
  expect(inFlightAtKill).toBeDefined();
  expect(ann.acked.has(inFlightAtKill!)).toBe(true);
  // Past a snapshot (every 100 ops), and every edit of both editors exactly once.
  expect(version).toBeGreaterThan(100);
  const text = final.snapshot as string;
  for (const token of carriedBy.keys()) expect(text.split(token)).toHaveLength(2);
  expect(text.length).toBe([...carriedBy.keys()].join("").length);
}, 90000);
