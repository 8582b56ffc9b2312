/**
 * The nodes run the sharded Redis adapter on one Redis too (PROTOCOL §2): a node subscribes the
 * shard channel of each room it has sockets in, so it hears from Redis only what it delivers — the
 * classic adapter sent every publish to every node. Each node here reaches Redis through a proxy
 * that counts the bytes Redis sends it. Services written against the classic adapter's format
 * (`@socket.io/redis-emitter`) still reach every node's sockets.
 */
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";
import type { SwitchboardNode } from "@switchboard/server";
import { closeClients, command, connect, connectRefused, nextEvent, type Client } from "../helpers/clients";
import { startNode } from "../helpers/nodes";
import { sleep, waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { TcpProxy } from "../helpers/tcp-proxy";

jest.setTimeout(30000);

describe("per-room channels on one Redis", () => {
  let redis: RedisServer;
  const proxies: TcpProxy[] = [];
  const nodes: SwitchboardNode[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    for (let i = 0; i < 2; i++) {
      const proxy = await TcpProxy.start(redis.port);
      proxies.push(proxy);
      nodes.push(await startNode({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, NODE_ID: `channels-${i}`, RATE_LIMIT_POINTS: "100000" }));
    }
  });
  afterAll(async () => {
    closeClients();
    await Promise.all(nodes.map((n) => n.shutdown()));
    await Promise.all(proxies.map((p) => p.close()));
    await redis?.stop();
  });
  afterEach(() => closeClients());

  const url = (i: number) => nodes[i]!.url;

  async function member(i: number, user: string, room: string, create = false): Promise<Client> {
    const client = await connect(url(i), { tokenOptions: { sub: user } });
    if (create) expect((await command(client, "room:create", { id: room, name: room })).ok).toBe(true);
    expect((await command(client, "room:join", { room })).ok).toBe(true);
    return client;
  }

  /** Publishes `count` messages of about 1 KiB from `from`, each acked; resolves when `to` has them all. */
  async function publishMany(from: Client, to: Client, room: string, count: number): Promise<void> {
    let received = 0;
    to.on("room:message", () => received++);
    for (let i = 0; i < count; i++) expect((await command(from, "room:publish", { room, data: { i, text: "x".repeat(1000) } })).ok).toBe(true);
    await waitFor(() => received >= count, 10000, `${count} messages at the receiver`);
  }

  it("sends a room's messages only to the nodes with sockets in it", async () => {
    const room = "channels-local";
    const alice = await member(0, "alice", room, true);
    const bob = await member(0, "bob", room);
    await sleep(300);

    const before = proxies.map((p) => p.bytesToClients);
    await publishMany(alice, bob, room, 100);
    await sleep(300);
    const [toFirst, toSecond] = proxies.map((p, i) => p.bytesToClients - before[i]!);
    // Node 0 stored 100 messages of ~1 KiB: its replies alone are small, but it hears nothing it
    // does not deliver; node 1, with no socket in the room, heard none of them (its heartbeats
    // and sweeps answer a few hundred bytes a second).
    expect(toSecond).toBeLessThan(20_000);

    // A member on node 1: node 1 now hears the room's traffic.
    const carol = await member(1, "carol", room);
    const middle = proxies.map((p) => p.bytesToClients);
    await publishMany(alice, carol, room, 100);
    await sleep(300);
    const heardBySecond = proxies[1]!.bytesToClients - middle[1]!;
    expect(heardBySecond).toBeGreaterThan(100_000);
    expect(toSecond).toBeLessThan(heardBySecond / 5);
    expect(toFirst).toBeGreaterThan(0);
  });

  it("keeps a user's channel subscribed only for accepted handshakes: a refused one leaves it again", async () => {
    // The node subscribes the user's room while it checks the device limit (PROTOCOL §2).
    const channel = "socket.io#/#user:frank#";
    const probe = new Redis(redis.port, "127.0.0.1");
    const subscribers = async () => Number(((await probe.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number])[1]);
    try {
      const devices: Client[] = [];
      for (let d = 0; d < 5; d++) devices.push(await connect(url(0), { tokenOptions: { sub: "frank" }, deviceId: `frank-${d}` }));
      expect(await subscribers()).toBe(1);
      for (let attempt = 0; attempt < 3; attempt++) {
        const refusal = await connectRefused(url(1), { tokenOptions: { sub: "frank" }, deviceId: "frank-extra" });
        expect(refusal.data?.code).toBe("DEVICE_LIMIT");
      }
      await sleep(200);
      expect(await subscribers()).toBe(1);

      // An accepted handshake on node 1 has the channel subscribed when its `session` arrives.
      devices[0]!.close();
      let accepted: Client | undefined;
      await waitFor(
        async () => (accepted = await connect(url(1), { tokenOptions: { sub: "frank" }, deviceId: "frank-extra" }).catch(() => undefined)) !== undefined,
        5000,
        "a free device slot",
      );
      expect(accepted!.session?.nodeId).toBe("channels-1");
      expect(await subscribers()).toBe(2);
      closeClients();
      await waitFor(async () => (await subscribers()) === 0, 5000, "the channel unsubscribed by both nodes");
    } finally {
      probe.disconnect();
    }
  });

  it("delivers what @socket.io/redis-emitter sends, on every node, to the rooms it names", async () => {
    const publisher = new Redis(redis.port, "127.0.0.1");
    try {
      const emitter = new Emitter(publisher);
      const dana = await connect(url(0), { tokenOptions: { sub: "dana" } });
      const erin = await connect(url(1), { tokenOptions: { sub: "erin" } });
      const toDana = nextEvent<{ hello: string }>(dana, "custom:hello");
      emitter.to("user:dana").emit("custom:hello", { hello: "dana" });
      expect(await toDana).toEqual({ hello: "dana" });
      const toErin = nextEvent<{ hello: string }>(erin, "custom:hello");
      emitter.to("user:erin").emit("custom:hello", { hello: "erin" });
      expect(await toErin).toEqual({ hello: "erin" });
      // Not to a user it does not name.
      let stray = 0;
      dana.on("custom:only", () => stray++);
      const onlyErin = nextEvent(erin, "custom:only");
      emitter.to("user:erin").emit("custom:only", 1);
      await onlyErin;
      await sleep(200);
      expect(stray).toBe(0);
    } finally {
      publisher.disconnect();
    }
  });
});
