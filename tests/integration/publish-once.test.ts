/**
 * Idempotent publishes are remembered per sender and clientMsgId; both may hold `:`, so the two
 * must never run together: `a` sending `b:c` and `a:b` sending `c` are two messages, on both engines.
 */
import { closeClients, command, connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";

describe.each(["memory", "redis"] as const)("publish once (%s engine)", (name) => {
  const { node } = clusterFixture({ backing: name });
  afterEach(() => closeClients());

  it("keeps the messages of senders whose ids and clientMsgIds join alike", async () => {
    const a = await connect(node().url, { tokenOptions: { sub: "a" }, deviceId: "a1" });
    const ab = await connect(node().url, { tokenOptions: { sub: "a:b" }, deviceId: "ab1" });
    expect((await command(a, "room:create", { id: "colliding", name: "Colliding" })).ok).toBe(true);
    expect((await command(a, "room:join", { room: "colliding" })).ok).toBe(true);
    expect((await command(ab, "room:join", { room: "colliding" })).ok).toBe(true);
    const first = await command(a, "room:publish", { room: "colliding", data: { from: "a" }, clientMsgId: "b:c" });
    const second = await command(ab, "room:publish", { room: "colliding", data: { from: "a:b" }, clientMsgId: "c" });
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: true });
    expect(second.duplicate).toBeUndefined();
    expect(second.id).not.toBe(first.id);
    // A real retry is still recognised.
    expect(await command(ab, "room:publish", { room: "colliding", data: { from: "a:b" }, clientMsgId: "c" })).toMatchObject({ id: second.id, duplicate: true });
    const history = await command(a, "room:history", { room: "colliding" });
    expect((history.messages as { data: { from: string } }[]).map((m) => m.data.from).sort()).toEqual(["a", "a:b"]);
  });
});
