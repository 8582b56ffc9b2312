/**
 * Recovery after a node dies: a client whose node was killed with SIGKILL reconnects to another
 * node and joins with `since`; it gets every message it missed, in order, with the same ids.
 */
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { NodeProcess } from "../helpers/nodes";
import { RedisServer } from "../helpers/redis";

describe("room recovery after SIGKILL of a node", () => {
  let redis: RedisServer;
  let doomed: NodeProcess;
  let survivor: NodeProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    [doomed, survivor] = await Promise.all([
      NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: "doomed" }),
      NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: "survivor" }),
    ]);
  });
  afterAll(async () => {
    closeClients();
    await Promise.all([doomed.kill(), survivor.kill("SIGTERM")]);
    await redis.destroy();
  });

  it("delivers everything missed to the client that reconnects elsewhere", async () => {
    const publisher = await connect(survivor.url, { tokenOptions: { sub: "teacher" } });
    await command(publisher, "room:create", { id: "lecture", name: "Lecture" });
    const student = await connect(doomed.url, { tokenOptions: { sub: "student" }, deviceId: "tablet" });
    await command(student, "room:join", { room: "lecture" });

    const seen = nextEvent<{ id: string; data: string }>(student, "room:message");
    const first = await command(publisher, "room:publish", { room: "lecture", data: "slide 1" });
    expect(await seen).toMatchObject({ id: first.id, data: "slide 1" });

    const lost = nextEvent<string>(student, "disconnect", 5000);
    await doomed.kill("SIGKILL");
    expect(await lost).toBe("transport close");

    const missed: string[] = [];
    for (const slide of ["slide 2", "slide 3", "slide 4"]) missed.push(String((await command(publisher, "room:publish", { room: "lecture", data: slide })).id));

    const back = await connect(survivor.url, { tokenOptions: { sub: "student" }, deviceId: "tablet" });
    const join = await command(back, "room:join", { room: "lecture", since: first.id });
    expect(join).toMatchObject({ ok: true, recovered: true, seq: 4, epoch: first.epoch });
    expect(join.missed).toEqual(
      ["slide 2", "slide 3", "slide 4"].map((data, i) => ({ id: missed[i], seq: i + 2, epoch: first.epoch, room: "lecture", from: { userId: "teacher", deviceId: publisher.session!.deviceId }, kind: "text", data, ts: expect.any(Number), priority: "normal" })),
    );
    // And live delivery continues on the new node.
    const live = nextEvent<{ data: string }>(back, "room:message");
    await command(publisher, "room:publish", { room: "lecture", data: "slide 5" });
    expect(await live).toMatchObject({ data: "slide 5" });
  });
});
