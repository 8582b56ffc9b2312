/**
 * The client SDK against a real cluster (three child-process nodes on one Redis): the node a
 * client is on is SIGKILLed; the client reconnects to another node from its URL list, joins its
 * room again with `since`, and the app sees every room message exactly once and in order —
 * including those published during the outage.
 */
import type { Client, Message } from "@switchboard/client";
import { NodeProcess } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { closeSdkClients, collected, reach, sdkClient } from "../helpers/sdk";
import { TcpProxy } from "../helpers/tcp-proxy";

jest.setTimeout(45000);

describe("client SDK: failover to another node", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[];
  let proxy: TcpProxy;
  let teacher: Client;

  beforeAll(async () => {
    redis = await RedisServer.start();
    nodes = await Promise.all(["n1", "n2", "n3"].map((id) => NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `sdk-${id}`, LOG_LEVEL: "warn" })));
    proxy = await TcpProxy.start(nodes[1]!.port);
    teacher = await sdkClient([nodes[2]!.url], { tokenOptions: { sub: "teacher" } });
    await reach(teacher, "connected");
    await teacher.createRoom({ id: "lecture", name: "Lecture" });
    await teacher.createRoom({ id: "stream", name: "Stream" });
  });

  afterAll(async () => {
    closeSdkClients();
    await proxy.close();
    await Promise.all(nodes.map((n) => n.kill()));
    await redis.destroy();
  });

  const texts = (messages: Message[]) => messages.map((m) => (m.data as { n: number }).n);

  it("reconnects to another node and hands over every message once, in order", async () => {
    // The student's list: its node, then (through a proxy the test holds shut) a second node.
    const student = await sdkClient([nodes[0]!.url, proxy.url], { tokenOptions: { sub: "student" }, deviceId: "tablet", breaker: { threshold: 100 } });
    const room = student.room("lecture");
    const seen: Message[] = [];
    const replayed: number[] = [];
    room.on("message", (m, meta) => {
      seen.push(m);
      if (meta.replayed) replayed.push((m.data as { n: number }).n);
    });
    const gaps: unknown[] = [];
    room.on("gap", (g) => gaps.push(g));
    await room.join();
    expect(student.session!.nodeId).toBe("sdk-n1");

    const lecture = teacher.room("lecture");
    for (let n = 1; n <= 3; n++) await lecture.publish({ n });
    await collected(seen, 3);

    const lost = new Promise<string>((resolve) => student.once("disconnect", resolve));
    proxy.down();
    await nodes[0]!.kill("SIGKILL");
    expect(await lost).toBe("transport close");
    expect(["reconnecting", "failed"]).toContain(student.state);

    // Published while the student has no node at all.
    for (let n = 4; n <= 6; n++) await lecture.publish({ n });
    proxy.up();
    await reach(student, "connected");
    expect(student.session!.nodeId).toBe("sdk-n2");
    for (let n = 7; n <= 9; n++) await lecture.publish({ n });

    await collected(seen, 9);
    await sleep(200);
    expect(texts(seen)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(replayed).toEqual([4, 5, 6]);
    expect(gaps).toEqual([]);
    expect(new Set(seen.map((m) => m.id)).size).toBe(9);
    // The same ids as the room's history.
    const history = await lecture.history({ limit: 20 });
    expect(seen.map((m) => m.id)).toEqual(history.messages.map((m) => m.id));
  });

  it("survives a SIGKILL while messages keep coming, without a gap or a duplicate", async () => {
    // Both nodes reachable directly: the client picks the next one after the kill, by itself.
    const viewer = await sdkClient([nodes[1]!.url, nodes[2]!.url], { tokenOptions: { sub: "viewer" }, deviceId: "phone" });
    const seen: Message[] = [];
    viewer.room("stream").on("message", (m) => seen.push(m));
    await viewer.room("stream").join();
    expect(viewer.session!.nodeId).toBe("sdk-n2");

    const published: string[] = [];
    let running = true;
    const stream = teacher.room("stream");
    const publishing = (async () => {
      for (let n = 1; running && n < 2000; n++) {
        published.push((await stream.publish({ n })).id);
        await sleep(10);
      }
    })();
    await waitFor(() => seen.length >= 10, 10000, "10 messages before the kill");
    const sessions: string[] = [];
    viewer.on("session", (s) => sessions.push(s.nodeId));
    await nodes[1]!.kill("SIGKILL");
    await waitFor(() => sessions.length > 0, 15000, "a new session");
    const countAtReconnect = published.length;
    await waitFor(() => seen.length >= countAtReconnect + 10, 15000, "10 messages after the reconnect");
    running = false;
    await publishing;
    await waitFor(() => seen.length >= published.length, 10000, "every message");
    await sleep(200);

    expect(sessions).toEqual(["sdk-n3"]);
    expect(seen.map((m) => m.id)).toEqual(published);
  });
});
