/**
 * Collaborative documents (PROTOCOL §9 "Collaborative documents") on both engines: one node on the
 * memory engine, three nodes on one Redis. Opening and editing with ops transformed against the
 * log by the server, late joiners, catch-up and snapshots, cursors moved through the text, resends
 * applied once, access through the document's room or workspace, the limits, REST, the emitter,
 * and a property test: three editors on three nodes making random concurrent edits with random
 * network delays all end with the server's snapshot.
 */
import { SwitchboardEmitter } from "@switchboard/emitter";
import { DOC_LOG_KEEP, DOC_MAX_BYTES, DOC_OP_MAX_BYTES, DOC_OPS_PER_SECOND, type DocOpEvent } from "@switchboard/shared";
import fc from "fast-check";
import { insertOp as jsonInsert, replaceOp as jsonReplace } from "ot-json1";
import { insert, remove } from "ot-text-unicode";
import { closeClients, command, connect, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture, collect, type RestReply } from "../helpers/cluster";
import { codePoints, DocEditor } from "../helpers/docs";
import { sleep, waitFor } from "../helpers/ports";
import { serviceToken, signToken } from "../helpers/tokens";

const docPath = (docId: string) => `/v1/docs/${encodeURIComponent(docId)}`;

describe.each(["memory", "redis"] as const)("collaborative documents (%s engine)", (name) => {
  const cluster = clusterFixture({ backing: name, nodes: name === "redis" ? 3 : 1, env: { RATE_LIMIT_POINTS: "10000" } });
  const { nodes, url, rest, unique } = cluster;
  const user = (sub: string, i = 0, tenant?: string) => connect(url(i), { tokenOptions: { sub, tenant }, deviceId: unique("dev") });

  async function workspace(members: string[], tenant?: string): Promise<string> {
    const id = unique("ws");
    expect((await rest("POST", "/v1/workspaces", { body: { id, name: id, members }, token: await serviceToken({ tenant }) })).status).toBe(201);
    return id;
  }

  async function room(visibility: "public" | "private", members: string[]): Promise<string> {
    const id = unique("room");
    expect((await rest("POST", "/v1/rooms", { body: { id, name: id, visibility, members } })).status).toBe(201);
    return id;
  }

  /** A fresh workspace document with these members. */
  async function wsDoc(members: string[], docName = "notes"): Promise<string> {
    return `workspace:${await workspace(members)}/${docName}`;
  }

  afterEach(() => closeClients());

  describe("editing", () => {
    it("opens a new document empty, and delivers each op to the other subscribers on every node, not to its author", async () => {
      const docId = await wsDoc(["alice", "bob"]);
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      expect(await command(alice, "doc:open", { docId })).toEqual({ ok: true, docId, type: "text", version: 0, snapshot: "" });
      expect(await command(bob, "doc:open", { docId, type: "text" })).toMatchObject({ ok: true, version: 0, snapshot: "" });
      const aliceSees = collect<DocOpEvent>(alice, "doc:op");
      const bobSees = nextEvent<DocOpEvent>(bob, "doc:op");

      expect(await command(alice, "doc:op", { docId, version: 0, op: ["hello"], clientOpId: "a-1" })).toEqual({ ok: true, version: 1 });
      expect(await bobSees).toEqual({ docId, version: 1, op: ["hello"], from: { userId: "alice", deviceId: alice.session!.deviceId }, clientOpId: "a-1", ts: expect.any(Number) });
      expect(await rest("GET", docPath(docId), { node: 2 })).toEqual({ status: 200, body: { docId, type: "text", version: 1, snapshot: "hello" } });
      await sleep(100);
      expect(aliceSees).toEqual([]);
    });

    it("transforms an op made against an older version against the ops since, and applies it", async () => {
      const docId = await wsDoc(["alice", "bob"]);
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      await command(alice, "doc:open", { docId });
      await command(bob, "doc:open", { docId });
      expect(await command(alice, "doc:op", { docId, version: 0, op: ["hello world"] })).toMatchObject({ version: 1 });
      expect(await command(alice, "doc:op", { docId, version: 1, op: ["¡"] })).toMatchObject({ version: 2 });
      // Bob made his edits on version 1, before seeing alice's "¡".
      expect(await command(bob, "doc:op", { docId, version: 1, op: [5, ","] })).toMatchObject({ ok: true, version: 3 });
      expect(await command(bob, "doc:op", { docId, version: 1, op: [11, "!"] })).toMatchObject({ ok: true, version: 4 });
      const got = await rest("GET", docPath(docId));
      expect(got.body).toMatchObject({ version: 4, snapshot: "¡hello, world!" });
    });

    it("brings a late joiner the snapshot and version, and a returning client the ops since its version", async () => {
      const docId = await wsDoc(["alice", "carol"]);
      const alice = await user("alice", 0);
      await command(alice, "doc:open", { docId });
      for (let v = 0; v < 5; v++) await command(alice, "doc:op", { docId, version: v, op: v === 0 ? ["x"] : [v, String(v)] });
      const carol = await user("carol", 1);
      expect(await command(carol, "doc:open", { docId })).toMatchObject({ ok: true, version: 5, snapshot: "x1234" });
      const since = await command(carol, "doc:open", { docId, version: 3 });
      expect(since).toMatchObject({ ok: true, version: 5, ops: [expect.objectContaining({ version: 4, op: [3, "3"] }), expect.objectContaining({ version: 5, op: [4, "4"] })] });
      expect(since.snapshot).toBeUndefined();
      expect(await command(carol, "doc:open", { docId, version: 5 })).toMatchObject({ ok: true, version: 5, ops: [] });
    });

    it("applies a resent op once, whenever it is resent", async () => {
      const docId = await wsDoc(["alice", "bob"]);
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      await command(alice, "doc:open", { docId });
      await command(bob, "doc:open", { docId });
      const op = { docId, version: 0, op: ["once "], clientOpId: "resend-1" };
      const [first, second] = await Promise.all([command(alice, "doc:op", op), command(alice, "doc:op", op)]);
      expect([first, second].map((a) => a.version)).toEqual([1, 1]);
      expect([first, second].filter((a) => a.duplicate)).toHaveLength(1);
      await command(bob, "doc:op", { docId, version: 1, op: [5, "more"] });
      // Much later, from an old version, through another node: still the first version.
      const third = await connect(url(2), { tokenOptions: { sub: "alice" } });
      await command(third, "doc:open", { docId });
      expect(await command(third, "doc:op", op)).toEqual({ ok: true, version: 1, duplicate: true });
      // The id is the user's: another user's op with the same id applies.
      expect(await command(bob, "doc:op", { ...op, version: 2 })).toEqual({ ok: true, version: 3 });
      expect((await rest("GET", docPath(docId))).body).toMatchObject({ version: 3, snapshot: "once once more" });
    });

    it("keeps one linear history when every node accepts ops on one document at the same moment", async () => {
      const docId = await wsDoc(["u0", "u1", "u2", "u3", "u4", "u5"]);
      const clients = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => user(`u${i}`, i)));
      await Promise.all(clients.map((c) => command(c, "doc:open", { docId })));
      const acks = await Promise.all(clients.flatMap((c, i) => [0, 1, 2].map((k) => command(c, "doc:op", { docId, version: 0, op: [`<${i}.${k}>`] }))));
      expect(acks.every((a) => a.ok)).toBe(true);
      expect(acks.map((a) => a.version as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
      const { snapshot } = (await rest("GET", docPath(docId))).body as { snapshot: string };
      for (let i = 0; i < 6; i++) for (let k = 0; k < 3; k++) expect(snapshot).toContain(`<${i}.${k}>`);
      expect(snapshot).toHaveLength(18 * 5);
    });

    it("edits JSON documents with ot-json1", async () => {
      const docId = await wsDoc(["alice", "bob"], "config.json");
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      expect(await command(alice, "doc:open", { docId, type: "json" })).toMatchObject({ type: "json", version: 0, snapshot: {} });
      await command(bob, "doc:open", { docId, type: "json" });
      expect(await command(alice, "doc:op", { docId, version: 0, op: jsonInsert(["tags"], ["a"]) })).toMatchObject({ version: 1 });
      // Concurrent: bob sets a title on version 0, alice appends a tag on version 1.
      expect(await command(bob, "doc:op", { docId, version: 0, op: jsonInsert(["title"], "Plan") })).toMatchObject({ version: 2 });
      expect(await command(alice, "doc:op", { docId, version: 1, op: jsonInsert(["tags", 1], "b") })).toMatchObject({ version: 3 });
      expect(await command(bob, "doc:op", { docId, version: 2, op: jsonReplace(["title"], "Plan", "Plan B") })).toMatchObject({ version: 4 });
      expect((await rest("GET", docPath(docId))).body).toMatchObject({ type: "json", version: 4, snapshot: { tags: ["a", "b"], title: "Plan B" } });
      // Opening it as text is a conflict.
      const carol = await user("alice", 2);
      expect(await command(carol, "doc:open", { docId, type: "text" })).toMatchObject({ ok: false, error: { code: "CONFLICT", details: { type: "json" } } });
    });

    it("closes: no more ops for the socket, and no edits until it opens again", async () => {
      const docId = await wsDoc(["alice", "bob"]);
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      await command(alice, "doc:open", { docId });
      await command(bob, "doc:open", { docId });
      expect(await command(bob, "doc:close", { docId })).toEqual({ ok: true });
      const bobSees = collect<DocOpEvent>(bob, "doc:op");
      await command(alice, "doc:op", { docId, version: 0, op: ["hi"] });
      await sleep(150);
      expect(bobSees).toEqual([]);
      expect(await command(bob, "doc:op", { docId, version: 1, op: ["x"] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    });
  });

  describe("cursors", () => {
    it("moves a selection made on an older version through the ops since, for the other subscribers", async () => {
      const docId = await wsDoc(["alice", "bob", "carol"]);
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      const carol = await user("carol", 2);
      for (const c of [alice, bob, carol]) await command(c, "doc:open", { docId });
      await command(alice, "doc:op", { docId, version: 0, op: ["The quick fox"] });
      // Bob inserts before alice's selection, then deletes before it.
      await command(bob, "doc:op", { docId, version: 1, op: ["Oh, "] });
      await command(bob, "doc:op", { docId, version: 2, op: [4, { d: 3 }] });

      const seen = nextEvent<Record<string, unknown>>(carol, "doc:cursor");
      // Alice's selection of "quick" ([4, 9]) and its cursor, both on version 1.
      expect(await command(alice, "doc:cursor", { docId, version: 1, selection: [4, 9] })).toEqual({ ok: true });
      expect(await seen).toEqual({ docId, userId: "alice", deviceId: alice.session!.deviceId, selection: [5, 10], version: 3 });
      const text = (await rest("GET", docPath(docId))).body.snapshot as string;
      expect(text.slice(5, 10)).toBe("quick");

      await sleep(60);
      const deleted = nextEvent<Record<string, unknown>>(bob, "doc:cursor");
      // A position inside deleted text lands where the deletion was; emoji count as one code point.
      await command(carol, "doc:op", { docId, version: 3, op: ["😀"] });
      await command(carol, "doc:cursor", { docId, version: 3, selection: 2 });
      expect(await deleted).toMatchObject({ selection: 3, version: 4 });
    });

    it("throttles a socket's cursor updates and refuses them before the document is opened", async () => {
      const docId = await wsDoc(["alice", "bob"]);
      const alice = await user("alice", 0);
      expect(await command(alice, "doc:cursor", { docId, version: 0, selection: 0 })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      await command(alice, "doc:open", { docId });
      expect(await command(alice, "doc:cursor", { docId, version: 0, selection: 0 })).toEqual({ ok: true });
      expect(await command(alice, "doc:cursor", { docId, version: 0, selection: 0 })).toEqual({ ok: true, throttled: true });
      expect(await command(alice, "doc:cursor", { docId, version: 0, selection: ["a"] })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    });

    it("moves JSON paths, and reports null for a removed item", async () => {
      const docId = await wsDoc(["alice", "bob"], "list.json");
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      await command(alice, "doc:open", { docId, type: "json" });
      await command(bob, "doc:open", { docId, type: "json" });
      await command(alice, "doc:op", { docId, version: 0, op: jsonInsert(["items"], ["a", "b"]) });
      await command(alice, "doc:op", { docId, version: 1, op: jsonInsert(["items", 0], "z") });
      const seen = nextEvent<Record<string, unknown>>(bob, "doc:cursor");
      await command(alice, "doc:cursor", { docId, version: 1, selection: ["items", 1] });
      expect(await seen).toMatchObject({ selection: ["items", 2], version: 2 });
    });
  });

  describe("access", () => {
    it("lets members of a workspace open its documents, and nobody else", async () => {
      const docId = await wsDoc(["alice"]);
      const mallory = await user("mallory", 0);
      expect(await command(mallory, "doc:open", { docId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await command(mallory, "doc:op", { docId, version: 0, op: ["x"] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      // Another tenant does not see the workspace at all.
      const other = await user("alice", 1, "acme");
      expect(await command(other, "doc:open", { docId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect((await rest("GET", docPath(docId), { token: await signToken({ sub: "mallory" }) })).status).toBe(403);
      expect(await command(mallory, "doc:open", { docId: "workspace:nope/notes" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    });

    it("lets anyone read a public room's documents but only members edit them; private rooms are for members", async () => {
      const pub = await room("public", ["alice"]);
      const priv = await room("private", ["alice"]);
      const alice = await user("alice", 0);
      const eve = await user("eve", 1);
      const pubDoc = `room:${pub}/notes`;
      await command(alice, "doc:open", { docId: pubDoc });
      await command(alice, "doc:op", { docId: pubDoc, version: 0, op: ["agenda"] });
      expect(await command(eve, "doc:open", { docId: pubDoc })).toMatchObject({ ok: true, version: 1, snapshot: "agenda" });
      expect(await command(eve, "doc:op", { docId: pubDoc, version: 1, op: ["x"] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await command(eve, "doc:open", { docId: `room:${priv}/notes` })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await command(alice, "doc:open", { docId: `room:${priv}/notes` })).toMatchObject({ ok: true });
      // Joining the public room makes eve a member: now she edits.
      await command(eve, "room:join", { room: pub });
      expect(await command(eve, "doc:op", { docId: pubDoc, version: 1, op: [6, "!"] })).toEqual({ ok: true, version: 2 });
    });

    it("unsubscribes a member removed from the workspace, or who left the room, on every node", async () => {
      const ws = await workspace(["alice", "bob"]);
      const docId = `workspace:${ws}/notes`;
      const alice = await user("alice", 0);
      const bob = await user("bob", 1);
      await command(alice, "doc:open", { docId });
      await command(bob, "doc:open", { docId });
      expect((await rest("DELETE", `/v1/workspaces/${ws}/members/bob`, { node: 2 })).status).toBe(200);
      await sleep(100);
      const bobSees = collect<DocOpEvent>(bob, "doc:op");
      await command(alice, "doc:op", { docId, version: 0, op: ["secret"] });
      await sleep(150);
      expect(bobSees).toEqual([]);
      expect(await command(bob, "doc:op", { docId, version: 1, op: ["x"] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await command(bob, "doc:open", { docId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

      const priv = await room("private", ["alice", "bob"]);
      const roomDoc = `room:${priv}/notes`;
      await command(alice, "doc:open", { docId: roomDoc });
      await command(alice, "doc:op", { docId: roomDoc, version: 0, op: ["a"] });
      await command(bob, "doc:open", { docId: roomDoc });
      expect(await command(bob, "room:leave", { room: priv })).toEqual({ ok: true, removed: true });
      await sleep(100);
      const bobSeesRoom = collect<DocOpEvent>(bob, "doc:op");
      await command(alice, "doc:op", { docId: roomDoc, version: 1, op: ["b"] });
      await sleep(150);
      expect(bobSeesRoom).toEqual([]);
    });

    it("refuses malformed ids and the reserved room prefix", async () => {
      const alice = await user("alice", 0);
      for (const docId of ["notes", "room:r1", "room:r1/", "team:r1/notes", "room:r1//x", "room:a b/notes"]) {
        expect(await command(alice, "doc:open", { docId })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      }
      expect(await command(alice, "room:create", { id: "doc:x", name: "x" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    });
  });

  describe("limits", () => {
    it("refuses an op over the op size limit and an op that would make the document too large", async () => {
      const docId = await wsDoc(["alice"]);
      const alice = await user("alice", 0);
      await command(alice, "doc:open", { docId });
      const big = await command(alice, "doc:op", { docId, version: 0, op: ["x".repeat(DOC_OP_MAX_BYTES)] });
      expect(big).toMatchObject({ ok: false, error: { code: "PAYLOAD_TOO_LARGE", details: { limit: DOC_OP_MAX_BYTES } } });

      // A service fills a document through REST up to the document limit.
      const chunk = "y".repeat(DOC_OP_MAX_BYTES - 64);
      let version = 0;
      let refused: RestReply | undefined;
      while (!refused) {
        const reply = await rest("POST", `${docPath(docId)}/ops`, { body: { version, op: [chunk] } });
        if (reply.status !== 200) refused = reply;
        else version = reply.body.version as number;
      }
      expect(refused).toMatchObject({ status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE", details: { limit: DOC_MAX_BYTES } } } });
      expect(version * chunk.length).toBeLessThanOrEqual(DOC_MAX_BYTES);
      expect((version + 1) * chunk.length).toBeGreaterThan(DOC_MAX_BYTES);
    });

    it("limits ops per second per socket with RATE_LIMITED and the time to wait", async () => {
      const docId = await wsDoc(["alice"]);
      const alice = await user("alice", 0);
      await command(alice, "doc:open", { docId });
      const acks = await Promise.all(Array.from({ length: DOC_OPS_PER_SECOND + 10 }, (_, i) => command(alice, "doc:op", { docId, version: 0, op: [`${i % 10}`] })));
      const limited = acks.filter((a) => !a.ok);
      expect(acks.filter((a) => a.ok)).toHaveLength(DOC_OPS_PER_SECOND);
      expect(limited).toHaveLength(10);
      for (const a of limited) {
        expect(a.error).toMatchObject({ code: "RATE_LIMITED" });
        const { retryAfterMs } = a.error!.details as { retryAfterMs: number };
        expect(retryAfterMs).toBeGreaterThan(0);
        expect(retryAfterMs).toBeLessThanOrEqual(1000);
      }
      // A service is not limited.
      const svc = await connect(url(0), { token: await serviceToken() });
      await command(svc, "doc:open", { docId });
      const serviceAcks = await Promise.all(Array.from({ length: DOC_OPS_PER_SECOND + 10 }, () => command(svc, "doc:op", { docId, version: 0, op: ["s"] })));
      expect(serviceAcks.every((a) => a.ok)).toBe(true);
    });

    it("refuses malformed ops, ops that do not fit, versions beyond the document and a type change", async () => {
      const docId = await wsDoc(["alice"]);
      const alice = await user("alice", 0);
      await command(alice, "doc:open", { docId });
      await command(alice, "doc:op", { docId, version: 0, op: ["abc"] });
      for (const op of [[0, "x"], [{ d: 0 }], "text", [1, 1], { i: 1 }, [true], [2], [1.5, "x"], [{ d: 1, x: 1 }], [""]]) {
        expect(await command(alice, "doc:op", { docId, version: 1, op })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      }
      expect(await command(alice, "doc:op", { docId, version: 1, op: [10, "x"] })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      expect(await command(alice, "doc:op", { docId, version: 7, op: ["x"] })).toMatchObject({ ok: false, error: { code: "CONFLICT", details: { version: 1, reason: "ahead" } } });
      expect(await command(alice, "doc:op", { docId, version: 1, op: ["x"], extra: 1 })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
      expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 1, op: null, type: "json" } })).toMatchObject({ status: 409, body: { error: { code: "CONFLICT" } } });
      expect((await rest("GET", docPath(docId))).body).toMatchObject({ version: 1, snapshot: "abc" });
    });
  });

  describe("snapshots and the op log", () => {
    it("keeps snapshots and trims the log: a client whose version fell off the log gets a fresh snapshot", async () => {
      const docId = await wsDoc(["alice"]);
      const total = DOC_LOG_KEEP + 150;
      // A service socket (not rate limited) writes the ops.
      const svc = await connect(url(0), { token: await serviceToken() });
      await command(svc, "doc:open", { docId });
      let version = 0;
      for (let i = 0; i < total; i++) {
        const ack = await command(svc, "doc:op", { docId, version, op: [String(i % 10)], clientOpId: `bulk-${i}` });
        expect(ack.ok).toBe(true);
        version = ack.version as number;
      }
      expect(version).toBe(total);
      const alice = await user("alice", 1);
      const fresh = await command(alice, "doc:open", { docId, version: 5 });
      expect(fresh).toMatchObject({ ok: true, version: total });
      expect(fresh.ops).toBeUndefined();
      expect((fresh.snapshot as string).length).toBe(total);
      // Recent versions are still answered with ops.
      const recent = await command(alice, "doc:open", { docId, version: total - 3 });
      expect((recent.ops as unknown[]).length).toBe(3);
      // An op made on a version that fell off the log cannot be transformed any more.
      expect(await command(alice, "doc:op", { docId, version: 5, op: ["z"] })).toMatchObject({ ok: false, error: { code: "CONFLICT", details: { reason: "stale" } } });
      // …unless it is a resend of an op already applied.
      expect(await command(svc, "doc:op", { docId, version: 0, op: ["0"], clientOpId: "bulk-0" })).toEqual({ ok: true, version: 1, duplicate: true });
    }, 60000);
  });

  describe("REST and the emitter", () => {
    it("reads snapshots and takes ops from services, creating the document with its type", async () => {
      const ws = await workspace(["alice"]);
      const docId = `workspace:${ws}/src/main.ts`;
      expect(await rest("GET", docPath(docId))).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
      expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 0, op: ["export {};\n"], clientOpId: "agent-1" } })).toEqual({ status: 200, body: { version: 1 } });
      expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 0, op: ["export {};\n"], clientOpId: "agent-1" } })).toEqual({ status: 200, body: { version: 1, duplicate: true } });
      const alice = await user("alice", 1);
      const seen = nextEvent<DocOpEvent>(alice, "doc:op");
      await command(alice, "doc:open", { docId });
      expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 1, op: [11, "// agent\n"] }, node: 2 })).toEqual({ status: 200, body: { version: 2 } });
      expect(await seen).toMatchObject({ docId, version: 2, from: { userId: "svc" } });
      expect(await rest("GET", docPath(docId), { token: await signToken({ sub: "alice" }) })).toEqual({
        status: 200,
        body: { docId, type: "text", version: 2, snapshot: "export {};\n// agent\n" },
      });
      // A member may use REST too; a non-member may not.
      expect((await rest("POST", `${docPath(docId)}/ops`, { body: { version: 2, op: ["!"] }, token: await signToken({ sub: "alice" }) })).status).toBe(200);
      expect(await rest("POST", `${docPath(docId)}/ops`, { body: { version: 3, op: ["!"] }, token: await signToken({ sub: "bob" }) })).toMatchObject({ status: 403 });
      expect(await rest("GET", "/v1/docs/not-a-doc")).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
      const metrics = await (await fetch(`${url(0)}/metrics`)).text();
      expect(metrics).toMatch(/switchboard_doc_ops_total\{[^}]*type="text"[^}]*outcome="applied"[^}]*\} [1-9]/);
    });

    if (name === "redis") {
      it("submits through the emitter with the nodes' script, transformed like a node's op", async () => {
        const ws = await workspace(["alice"]);
        const docId = `workspace:${ws}/plan.md`;
        const emitter = new SwitchboardEmitter({ redis: cluster.redis.url });
        try {
          const alice = await user("alice", 1);
          await command(alice, "doc:open", { docId });
          const seen = nextEvent<DocOpEvent>(alice, "doc:op");
          expect(await emitter.doc(docId).submit(["# Plan\n"], { version: 0, clientOpId: "e-1" })).toEqual({ version: 1 });
          expect(await seen).toMatchObject({ docId, version: 1, op: ["# Plan\n"], from: { userId: "emitter" }, clientOpId: "e-1" });
          await command(alice, "doc:op", { docId, version: 1, op: [7, "- step\n"] });
          // Made against version 1: moved past alice's line.
          expect(await emitter.doc(docId).submit([7, "- first\n"], { version: 1 })).toEqual({ version: 3 });
          expect(await emitter.doc(docId).submit(["# Plan\n"], { version: 0, clientOpId: "e-1" })).toEqual({ version: 1, duplicate: true });
          // The later op goes first at the same place, as a node orders it.
          expect(await emitter.doc(docId).get()).toEqual({ docId, type: "text", version: 3, snapshot: "# Plan\n- first\n- step\n" });
          await expect(emitter.doc(docId).submit([100, "x"], { version: 3 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
          await expect(emitter.doc(docId).submit(["x"], { version: 9 })).rejects.toMatchObject({ code: "CONFLICT" });
          await expect(emitter.doc("workspace:missing/x").submit(["x"], { version: 0 })).rejects.toMatchObject({ code: "NOT_FOUND" });
          expect(() => emitter.doc("nope")).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
          await waitFor(async () => ((await rest("GET", docPath(docId), { node: 2 })).body.version as number) === 3, 5000, "node sees version 3");
        } finally {
          await emitter.close();
        }
      });
    }
  });

  describe("convergence", () => {
    type Edit = { editor: number; insert: boolean; at: number; text: string; length: number; pause: number };
    const edit = fc.record({
      editor: fc.integer({ min: 0, max: 2 }),
      insert: fc.boolean(),
      /** Where in the editor's text, in thousandths of its length. */
      at: fc.integer({ min: 0, max: 1000 }),
      text: fc.constantFrom("a", "bc", "DEF", "é", "😀", "x y", "\n", "🙂🙃"),
      length: fc.integer({ min: 1, max: 4 }),
      pause: fc.integer({ min: 0, max: 12 }),
    });

    async function run(edits: Edit[], delays: number[], sockets: Client[]): Promise<void> {
      const runId = unique("run");
      const docId = `workspace:${convergenceWs}/p-${runId}`;
      let tick = 0;
      const delay = () => delays[tick++ % delays.length]!;
      const editors = sockets.map((s, i) => new DocEditor(s, docId, { delay, name: `e${i}-${runId}` }));
      try {
        await Promise.all(editors.map((e) => e.open()));
        await Promise.all(
          editors.map(async (editor, i) => {
            for (const e of edits.filter((x) => x.editor === i)) {
              await sleep(e.pause);
              const length = codePoints(editor.text);
              const at = Math.min(length, Math.floor((e.at / 1000) * (length + 1)));
              if (e.insert || length === 0) editor.edit(insert(at, e.text));
              else editor.edit(remove(Math.min(at, length - 1), Math.min(e.length, length - Math.min(at, length - 1))));
            }
          }),
        );
        await Promise.all(editors.map((e) => e.settled()));
        const server = await rest("GET", docPath(docId));
        const version = server.body.version as number;
        await waitFor(() => editors.every((e) => e.version === version && !e.busy), 10000, `editors at version ${version}`);
        for (const e of editors) {
          expect(e.errors).toEqual([]);
          expect(e.text).toBe(server.body.snapshot);
        }
        // Every node's copy agrees too.
        for (let n = 0; n < nodes.length; n++) expect((await rest("GET", docPath(docId), { node: n })).body).toEqual(server.body);
      } finally {
        editors.forEach((e) => e.close());
      }
    }

    let convergenceWs = "";
    it("converges: three editors on three nodes with random concurrent edits and network delays end with the server's snapshot", async () => {
      convergenceWs = await workspace(["e0", "e1", "e2"]);
      const sockets = await Promise.all([0, 1, 2].map((i) => user(`e${i}`, i)));
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 20 }), (edits, delays) =>
          run(edits, delays, sockets),
        ),
        { numRuns: name === "redis" ? 15 : 8, endOnFailure: true },
      );
    }, 120000);
  });
});

describe("collaborative documents on a Redis Cluster", () => {
  const cluster = clusterFixture({ backing: "redis-cluster", nodes: 2, env: { RATE_LIMIT_POINTS: "10000" } });
  const { nodes } = cluster;

  afterEach(() => closeClients());

  it("stores and SPUBLISHes ops in one step for the sharded adapter, from nodes and the emitter, and converges", async () => {
    const token = await serviceToken();
    const created = await fetch(`${nodes[0]!.url}/v1/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "ws-cluster", name: "cluster", members: ["alice", "bob"] }),
    });
    expect(created.status).toBe(201);
    const docId = "workspace:ws-cluster/notes";
    const alice = new DocEditor(await connect(nodes[0]!.url, { tokenOptions: { sub: "alice" } }), docId, { name: "ca" });
    const bob = new DocEditor(await connect(nodes[1]!.url, { tokenOptions: { sub: "bob" } }), docId, { name: "cb" });
    await alice.open();
    await bob.open();
    for (let i = 0; i < 10; i++) {
      alice.edit(insert(0, "a"));
      bob.edit(insert(codePoints(bob.text), "b"));
      await sleep(3);
    }
    const emitter = new SwitchboardEmitter({ redisClusterNodes: cluster.redisCluster.nodesList });
    try {
      await Promise.all([alice.settled(), bob.settled()]);
      const { version } = await emitter.doc(docId).get();
      expect(await emitter.doc(docId).submit(["<svc>"], { version, clientOpId: "svc-1" })).toEqual({ version: version + 1 });
      expect(await emitter.doc(docId).submit(["<svc>"], { version: 0, clientOpId: "svc-1" })).toEqual({ version: version + 1, duplicate: true });
      const last = version + 1;
      await waitFor(() => alice.version === last && bob.version === last, 10000, `both editors at version ${last}`);
      const server = await emitter.doc(docId).get();
      expect(alice.text).toBe(server.snapshot);
      expect(bob.text).toBe(server.snapshot);
      const snapshot = server.snapshot as string;
      expect(snapshot.startsWith("<svc>")).toBe(true);
      expect([...snapshot.slice(5)].sort().join("")).toBe("a".repeat(10) + "b".repeat(10));
    } finally {
      alice.close();
      bob.close();
      await emitter.close();
    }
  });
});
