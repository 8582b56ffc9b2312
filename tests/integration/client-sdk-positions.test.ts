/**
 * Live room messages lost in delivery (PROTOCOL §3 "Rooms and messages", §10): the Socket.IO
 * Redis adapter is at-most-once, so a node whose pub/sub connection drops misses what is
 * published meanwhile while its clients stay connected. Here the nodes' pub/sub connections are
 * killed (CLIENT KILL TYPE pubsub) and a message is published before they come back: the client
 * on the other node never gets it live. The SDK sees the loss (the node's `room:position` once
 * its subscription is back, or the next message's `seq` jump) and hands the app every message
 * once, in order, the lost one read from history; a plain socket.io-client following the PROTOCOL
 * recipe without `room:position` does the same at the jump. A room whose history was lost raises
 * `gap`. (room-resubscribe.test.ts: a loss no message follows, and a publisher running.)
 */
import type { Message } from "@switchboard/client";
import { keyLayout } from "@switchboard/shared";
import type { Redis } from "ioredis";
import { closeClients, command, connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { waitFor } from "../helpers/ports";
import { followRoom } from "../helpers/recipe";
import { closeSdkClients, collected, sdkClient } from "../helpers/sdk";

jest.setTimeout(30000);

describe("room messages lost in delivery", () => {
  const cluster = clusterFixture({ backing: "redis", nodes: [{ NODE_ID: "positions-1" }, { NODE_ID: "positions-2" }], env: { RATE_LIMIT_POINTS: "10000" } });
  const { url, unique, rest } = cluster;
  let probe: Redis;

  beforeAll(() => {
    probe = cluster.redis.client();
  });
  afterAll(() => probe?.disconnect());
  afterEach(() => {
    closeSdkClients();
    closeClients();
  });

  /** A service's publish through node 0 (whose own sockets get it locally; the others through pub/sub). */
  async function publish(room: string, data: unknown): Promise<{ id: string; seq: number; epoch: string }> {
    const reply = await rest("POST", `/v1/rooms/${room}/messages`, { body: { data } });
    expect(reply.status).toBe(202);
    return reply.body as unknown as { id: string; seq: number; epoch: string };
  }

  const pubsubClients = async () => String(await probe.call("CLIENT", "LIST", "TYPE", "pubsub")).split("\n").filter(Boolean).length;

  /** Publishes while every node's pub/sub connection is down: no other node delivers it. */
  async function publishLost(room: string, data: unknown): Promise<void> {
    const subscribed = await pubsubClients();
    expect(subscribed).toBeGreaterThan(0);
    await probe.call("CLIENT", "KILL", "TYPE", "pubsub");
    await publish(room, data);
    // The nodes reconnect (after their retry delay) and subscribe again.
    await waitFor(async () => (await pubsubClients()) >= subscribed, 10000, "the nodes subscribed again");
  }

  async function openRoom(): Promise<string> {
    const room = unique("lossy");
    expect((await rest("POST", "/v1/rooms", { body: { id: room, name: "Lossy" } })).status).toBe(201);
    return room;
  }

  it("SDK: hands the app every message once and in order, the one lost in delivery read from history", async () => {
    const room = await openRoom();
    const alice = await sdkClient(url(1), { tokenOptions: { sub: "alice" } });
    const got: [unknown, number | undefined, boolean][] = [];
    const gaps: unknown[] = [];
    const handle = alice.room(room);
    handle.on("message", (m: Message, meta) => got.push([m.data, m.seq, meta.replayed]));
    handle.on("gap", (info) => gaps.push(info));
    expect(await handle.join()).toMatchObject({ seq: 0 });

    await publish(room, "one");
    await collected(got, 1);
    await publishLost(room, "two");
    await publish(room, "three");
    await publish(room, "four");
    await collected(got, 4);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // "two" came from history (replayed): it was lost live.
    expect(got).toEqual([
      ["one", 1, false],
      ["two", 2, true],
      ["three", 3, false],
      ["four", 4, false],
    ]);
    expect(gaps).toEqual([]);
    expect([handle.seq, handle.epoch]).toEqual([4, expect.any(String)]);
  });

  it("SDK: raises gap with the new epoch when the room's history was lost, and follows the new epoch", async () => {
    const room = await openRoom();
    const alice = await sdkClient(url(1), { tokenOptions: { sub: "alice" } });
    const got: [unknown, number | undefined][] = [];
    const gaps: { room: string; lastId: string; epoch?: string }[] = [];
    const handle = alice.room(room);
    handle.on("message", (m: Message) => got.push([m.data, m.seq]));
    handle.on("gap", (info) => gaps.push(info));
    await handle.join();
    const first = await publish(room, "old");
    await collected(got, 1);
    expect(await probe.del(keyLayout().roomHistory("", room))).toBe(1);
    const next = await publish(room, "new");
    await collected(got, 2);
    expect(next.epoch).not.toBe(first.epoch);
    expect(gaps).toEqual([{ room, lastId: first.id, epoch: next.epoch }]);
    expect(got).toEqual([
      ["old", 1],
      ["new", 1],
    ]);
    expect(handle.epoch).toBe(next.epoch);
  });

  it("plain socket.io-client: the PROTOCOL recipe recovers the lost message from history", async () => {
    const room = await openRoom();
    const socket = await connect(url(1), { tokenOptions: { sub: "bob" } });
    // The recipe without room:position: only the next message's seq jump shows the loss.
    const followed = followRoom(socket, room, await command(socket, "room:join", { room }), { positions: false });

    await publish(room, 1);
    await collected(followed.got, 1);
    await publishLost(room, 2);
    await publishLost(room, 3);
    await publish(room, 4);
    await publish(room, 5);
    await collected(followed.got, 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(followed.got.map((m) => [m.data, m.seq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect([followed.fromHistory, followed.reloads, followed.errors]).toEqual([2, [], []]);
  });
});
