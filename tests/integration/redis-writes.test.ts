/**
 * How a node writes to Redis: the commands of one event-loop turn leave in one write, and the
 * next turn's commands leave at once, without waiting for the replies to the previous ones
 * (server/src/engine/redis/clients.ts). A proxy between the clients and Redis records every chunk
 * each way, in order.
 */
import type { Socket } from "node:net";
import { createRedisClients, type RedisClients } from "../../server/src/engine/redis/clients";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { TcpProxy } from "../helpers/tcp-proxy";

jest.setTimeout(30000);

describe("a node's writes to Redis", () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let clients: RedisClients;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await TcpProxy.start(redis.port);
    clients = createRedisClients({ url: `redis://127.0.0.1:${proxy.port}` }, () => undefined);
    await waitFor(() => clients.all().every((client) => client.status === "ready"), 5000, "the clients ready");
  });
  afterAll(async () => {
    for (const client of clients.all()) client.disconnect();
    await proxy.close();
    await redis.stop();
  });

  const requests = () => proxy.recorded.filter((c) => c.way === "request");

  it("sends the commands of one turn in one write, in order, each answered", async () => {
    // The writes the connection's socket hands to the operating system.
    const socket = (clients.data as unknown as { stream: Socket }).stream as Socket & Record<"_write" | "_writev", (...args: unknown[]) => void>;
    let writes = 0;
    for (const method of ["_write", "_writev"] as const) {
      const original = socket[method];
      socket[method] = function (this: Socket, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => clients.data.incrby("writes:counter", i + 1)));
    // Each reply is the running total: Redis ran them in the order they were issued.
    expect(replies).toEqual(Array.from({ length: 300 }, (_, i) => ((i + 1) * (i + 2)) / 2));
    expect(writes).toBe(1);
  });

  it("sends the next turn's commands without waiting for the replies to the previous ones", async () => {
    proxy.record();
    // Holds Redis (and so every reply) for 300 ms.
    const slow = clients.data.eval("local s = redis.call('TIME') repeat local n = redis.call('TIME') until (n[1] - s[1]) * 1000000 + n[2] - s[2] > 300000 return 1", 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ping = clients.data.echo("next-turn");
    await waitFor(() => requests().some((c) => c.data.includes("next-turn")), 1000, "the next command at Redis");
    // It reached Redis's side while the first was still running: no reply had come back yet.
    const sent = proxy.recorded.findIndex((c) => c.way === "request" && c.data.includes("next-turn"));
    const firstReply = proxy.recorded.findIndex((c) => c.way === "reply");
    expect(firstReply === -1 || sent < firstReply).toBe(true);
    expect(await slow).toBe(1);
    expect(await ping).toBe("next-turn");
  });
});
