/**
 * One op must never freeze a node. ot-text-unicode walks a skip or a delete one code point at a
 * time, so an op such as `[1e15, "x"]` would keep a node's event loop busy for days. Every skip,
 * delete, embedded text edit and cursor position must lie within the document it applies to, and
 * the right to edit is checked before an op is looked at. The node runs as a child process
 * (server/dist/main.js), so a node that spins fails these tests instead of freezing the runner:
 * each refusal must arrive within a second, leave the document as it was, and leave the node
 * answering /health and taking a well-behaved editor's ops.
 */
import { DOC_COUNT_MAX, type DocType } from "@switchboard/shared";
import { closeClients, command, connect, type AckResult, type Client } from "../helpers/clients";
import { DocEditor } from "../helpers/docs";
import { NodeProcess } from "../helpers/nodes";
import { serviceToken, signToken } from "../helpers/tokens";

/** A refusal must come this fast; the requests themselves give up later, so a frozen node fails rather than hangs. */
const QUICK_MS = 1000;
const GIVE_UP_MS = 3000;

interface Hostile {
  name: string;
  type: DocType;
  op: unknown;
}

/** Ops that would spin ot-text-unicode's apply (and with it the node) for days. */
const HOSTILE: Hostile[] = [
  { name: "a text op with a huge skip", type: "text", op: [1e15, "x"] },
  { name: "a text op with a huge delete", type: "text", op: [3, { d: 1e15 }] },
  { name: "a JSON op with a huge skip in an embedded text edit", type: "json", op: ["k", { es: [1e15, "x"] }] },
];

/** Ops just past the end of the seeded documents ("abcdef", { k: "abc", n: 1 }), which the library would apply or clip. */
const JUST_PAST: Hostile[] = [
  { name: "a skip one past the end", type: "text", op: [7, "x"] },
  { name: "a delete running past the end", type: "text", op: [4, { d: 3 }] },
  { name: "an embedded text edit past the end of its string", type: "json", op: ["k", { es: [4, "x"] }] },
  { name: "an embedded text delete past the end of its string", type: "json", op: ["k", { es: [1, { d: 3 }] }] },
  { name: "a number edit of a string", type: "json", op: ["k", { ena: 1 }] },
  { name: "a number edit that is no number", type: "json", op: ["n", { ena: "1" }] },
];

let node: NodeProcess;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

interface Reply {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function rest(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Reply> {
  const token = options.token ?? (await serviceToken());
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(options.body === undefined ? {} : { "content-type": "application/json" }) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(GIVE_UP_MS),
  });
  return { status: res.status, body: (await res.json()) as Reply["body"] };
}

const docPath = (docId: string) => `/v1/docs/${encodeURIComponent(docId)}`;

/** The answer and how long it took. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

/** A socket command that must be answered quickly. */
async function quickCommand(socket: Client, event: string, payload: unknown): Promise<AckResult> {
  const { value, ms } = await timed(() => command(socket, event, payload, GIVE_UP_MS));
  expect(ms).toBeLessThan(QUICK_MS);
  return value;
}

/** A REST call that must be answered quickly. */
async function quickRest(method: string, path: string, options: { token?: string; body?: unknown }): Promise<Reply> {
  const { value, ms } = await timed(() => rest(method, path, options));
  expect(ms).toBeLessThan(QUICK_MS);
  return value;
}

/** A workspace with these members, and a document in it seeded with two ops (version 2). */
async function seededDoc(type: DocType, members: string[]): Promise<{ docId: string; snapshot: unknown }> {
  const ws = unique("ws");
  expect((await rest("POST", "/v1/workspaces", { body: { id: ws, name: ws, members } })).status).toBe(201);
  const docId = `workspace:${ws}/doc`;
  const seed = type === "text" ? [["abc"], [3, "def"]] : [["k", { i: "abc" }], ["n", { i: 1 }]];
  for (const [version, op] of seed.entries()) {
    expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version, op, type } })).toMatchObject({ status: 200, body: { version: version + 1 } });
  }
  return { docId, snapshot: type === "text" ? "abcdef" : { k: "abc", n: 1 } };
}

/** The document is as it was, the node answers /health, and a well-behaved editor still commits. */
async function expectUnharmed(docId: string, type: DocType, snapshot: unknown, editorName: string): Promise<void> {
  expect(await quickRest("GET", docPath(docId), {})).toMatchObject({ status: 200, body: { version: 2, snapshot } });
  const { value: health, ms } = await timed(() => fetch(`${node.url}/health`, { signal: AbortSignal.timeout(GIVE_UP_MS) }));
  expect(health.status).toBe(200);
  expect(ms).toBeLessThan(QUICK_MS);

  const editor = new DocEditor(await connect(node.url, { tokenOptions: { sub: editorName } }), docId, { type });
  await editor.open();
  editor.edit(type === "text" ? [6, "!"] : ["k", { es: [3, "!"] }]);
  await editor.settled(GIVE_UP_MS);
  expect(editor.errors).toEqual([]);
  expect(await quickRest("GET", docPath(docId), {})).toMatchObject({ status: 200, body: { version: 3, snapshot: type === "text" ? "abcdef!" : { k: "abc!", n: 1 } } });
  editor.close();
}

beforeAll(async () => {
  node = await NodeProcess.spawn({ RATE_LIMIT_POINTS: "10000", LOG_LEVEL: "warn" });
});
afterEach(() => closeClients());
afterAll(async () => {
  await node?.kill();
});

describe("an op out of bounds never freezes a node", () => {
  it.each(HOSTILE.map((h) => [h.name, h] as const))("refuses %s over doc:op within a second, at the latest and at an older version, and changes nothing", async (_, { type, op }) => {
    const { docId, snapshot } = await seededDoc(type, ["alice", "bob"]);
    const alice = await connect(node.url, { tokenOptions: { sub: "alice" } });
    expect(await command(alice, "doc:open", { docId, type })).toMatchObject({ ok: true, version: 2 });
    // Version 2 applies as it is; version 1 is first transformed against the log's op 2.
    for (const version of [2, 1]) {
      expect(await quickCommand(alice, "doc:op", { docId, version, op })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED", message: expect.stringMatching(/skip or delete count/) } });
    }
    await expectUnharmed(docId, type, snapshot, "bob");
  });

  it.each(HOSTILE.map((h) => [h.name, h] as const))("refuses %s over POST /v1/docs/:id/ops with a user token within a second, and changes nothing", async (_, { type, op }) => {
    const { docId, snapshot } = await seededDoc(type, ["alice", "bob"]);
    const token = await signToken({ sub: "alice" });
    for (const version of [2, 1]) {
      expect(await quickRest("POST", `${docPath(docId)}/ops`, { token, body: { version, op } })).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    }
    await expectUnharmed(docId, type, snapshot, "bob");
  });

  it.each(JUST_PAST.map((h) => [h.name, h] as const))("refuses %s, which the library alone would apply or clip", async (_, { type, op }) => {
    const { docId, snapshot } = await seededDoc(type, ["alice", "bob"]);
    const alice = await connect(node.url, { tokenOptions: { sub: "alice" } });
    await command(alice, "doc:open", { docId, type });
    expect(await quickCommand(alice, "doc:op", { docId, version: 2, op })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect(await quickRest("POST", `${docPath(docId)}/ops`, { token: await signToken({ sub: "alice" }), body: { version: 2, op } })).toMatchObject({ status: 400 });
    await expectUnharmed(docId, type, snapshot, "bob");
  });

  it("measures an op made against an older version against that version, before it is transformed", async () => {
    const { docId } = await seededDoc("text", ["alice"]);
    const token = await signToken({ sub: "alice" });
    // Version 1 was "abc": a skip of 4 reaches past it, though it would fit today's "abcdef".
    expect(await quickRest("POST", `${docPath(docId)}/ops`, { token, body: { version: 1, op: [4, "x"] } })).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_FAILED", message: expect.stringMatching(/made against has 3/) } },
    });
    expect(await quickRest("POST", `${docPath(docId)}/ops`, { token, body: { version: 1, op: [3, "x"] } })).toEqual({ status: 200, body: { version: 3 } });
    expect((await rest("GET", docPath(docId))).body).toMatchObject({ version: 3, snapshot: "abcxdef" });
  });

  it("refuses a doc:cursor position beyond the document within a second, at the latest and at an older version", async () => {
    const { docId, snapshot } = await seededDoc("text", ["alice", "bob"]);
    const alice = await connect(node.url, { tokenOptions: { sub: "alice" } });
    const bob = await connect(node.url, { tokenOptions: { sub: "bob" } });
    await command(alice, "doc:open", { docId });
    await command(bob, "doc:open", { docId });
    const bobSees: unknown[] = [];
    bob.on("doc:cursor", (event: unknown) => bobSees.push(event));
    for (const [version, selection] of [
      [2, 1e15],
      [2, [0, 1e15]],
      [1, 1e15],
      [2, 7],
      // Version 1 was "abc": position 4 was beyond it.
      [1, 4],
    ] as const) {
      // Each refusal passes the throttle; a refused cursor reaches nobody.
      await new Promise((resolve) => setTimeout(resolve, 60));
      const ack = await quickCommand(alice, "doc:cursor", { docId, version, selection });
      expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED", message: expect.stringMatching(/beyond the end of the text/) } });
    }
    await new Promise((resolve) => setTimeout(resolve, 60));
    // The end of the text is a position: version 1's end, moved past op 2's insert at it, then today's end.
    expect(await quickCommand(alice, "doc:cursor", { docId, version: 1, selection: [1, 3] })).toEqual({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await quickCommand(alice, "doc:cursor", { docId, version: 2, selection: 6 })).toEqual({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bobSees).toEqual([expect.objectContaining({ selection: [1, 3], version: 2 }), expect.objectContaining({ selection: 6, version: 2 })]);

    const jsonDoc = await seededDoc("json", ["alice"]);
    await command(alice, "doc:open", { docId: jsonDoc.docId, type: "json" });
    const path = ["k", DOC_COUNT_MAX + 1];
    expect(await quickCommand(alice, "doc:cursor", { docId: jsonDoc.docId, version: 2, selection: path })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    await expectUnharmed(docId, "text", snapshot, "bob");
  });

  it("answers an op for a document of a room that does not exist at once, without looking at the op", async () => {
    const docId = `room:${unique("nowhere")}/notes`;
    const token = await signToken({ sub: "alice" });
    for (const { op } of HOSTILE) {
      expect(await quickRest("POST", `${docPath(docId)}/ops`, { token, body: { version: 0, op } })).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
      expect(await quickRest("POST", `${docPath(docId)}/ops`, { token: await serviceToken(), body: { version: 0, op } })).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
    }
    const alice = await connect(node.url, { tokenOptions: { sub: "alice" } });
    expect(await quickCommand(alice, "doc:open", { docId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await quickCommand(alice, "doc:op", { docId, version: 0, op: HOSTILE[0]!.op })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect((await rest("GET", docPath(docId))).status).toBe(404);
  });

  it("refuses the op of someone who may read but not edit before looking at it", async () => {
    const room = unique("room");
    expect((await rest("POST", "/v1/rooms", { body: { id: room, name: room, visibility: "public", members: ["alice"] } })).status).toBe(201);
    const docId = `room:${room}/notes`;
    expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 0, op: ["abc"] } })).toMatchObject({ status: 200 });
    // Eve is no member of the public room: she may open and read, not edit.
    const eve = await connect(node.url, { tokenOptions: { sub: "eve" } });
    expect(await command(eve, "doc:open", { docId })).toMatchObject({ ok: true, version: 1, snapshot: "abc" });
    const token = await signToken({ sub: "eve" });
    for (const { op } of HOSTILE) {
      expect(await quickCommand(eve, "doc:op", { docId, version: 1, op })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await quickRest("POST", `${docPath(docId)}/ops`, { token, body: { version: 1, op } })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    }
    // Refused for who she is, not for the op: a harmless op gets the same answer.
    expect(await quickCommand(eve, "doc:op", { docId, version: 1, op: ["x"] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect((await rest("GET", docPath(docId))).body).toMatchObject({ version: 1, snapshot: "abc" });
  });
});
