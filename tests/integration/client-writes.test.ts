/**
 * How a node writes to its clients (server/src/connections/turn-writes.ts): a socket's first
 * packet of a turn of the event loop leaves at once; what follows in that turn — say the room
 * messages of a batch read from Redis — leaves in one more write instead of one per packet, over
 * WebSocket from the start and after an upgrade from long-polling; every packet arrives, in
 * order. The writes counted are those the server's TCP socket hands to the operating system.
 */
import type { Socket as TcpSocket } from "node:net";
import type { SwitchboardNode } from "@switchboard/server";
import { connect, type Client } from "../helpers/clients";
import { collect } from "../helpers/cluster";
import { inProcessNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";

/** The server side's TCP socket of a client on WebSocket, its writes to the OS counted. */
function countWrites(node: SwitchboardNode, client: Client): { writes: number } {
  const server = node.io.sockets.sockets.get(client.id!)!;
  const transport = server.conn.transport as unknown as { name: string; socket: { _socket: TcpSocket } };
  expect(transport.name).toBe("websocket");
  const tcp = transport.socket._socket as TcpSocket & Record<"_write" | "_writev", (...args: unknown[]) => void>;
  const counter = { writes: 0 };
  for (const method of ["_write", "_writev"] as const) {
    const original = tcp[method];
    tcp[method] = function (this: TcpSocket, ...args: unknown[]) {
      counter.writes++;
      return original.apply(this, args);
    };
  }
  return counter;
}

describe("a node's writes to its clients", () => {
  const inProcess = inProcessNode();

  it.each([
    ["WebSocket", ["websocket"] as const],
    ["long-polling upgraded to WebSocket", ["polling", "websocket"] as const],
  ])("sends a socket the packets of one turn in at most two writes, all of them in order (%s)", async (_, transports) => {
    const node = inProcess();
    const client = await connect(node.url, { tokenOptions: { sub: `writes-${transports.length}` }, transports: [...transports] });
    await waitFor(() => node.io.sockets.sockets.get(client.id!)?.conn.transport.name === "websocket", 5000, "the WebSocket transport");
    const counter = countWrites(node, client);
    const received = collect<{ n: number }>(client, "bench:burst");
    const server = node.io.sockets.sockets.get(client.id!)!;
    // 100 packets in one turn: engine.io writes the first at once and the rest once it is written.
    for (let n = 0; n < 100; n++) (server.emit as (event: string, ...args: unknown[]) => boolean)("bench:burst", { n });
    await waitFor(() => received.length === 100, 5000, "the 100 packets");
    expect(received.map((p) => p.n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(counter.writes).toBeGreaterThan(0);
    expect(counter.writes).toBeLessThanOrEqual(2);
  });

  it("sends a lone packet at once, not at the end of the turn", async () => {
    const node = inProcess();
    const client = await connect(node.url, { tokenOptions: { sub: "writes-lone" } });
    const counter = countWrites(node, client);
    const received = collect<{ n: number }>(client, "bench:lone");
    const server = node.io.sockets.sockets.get(client.id!)!;
    for (let n = 0; n < 3; n++) {
      const before = counter.writes;
      (server.emit as (event: string, ...args: unknown[]) => boolean)("bench:lone", { n });
      // Handed to the operating system within the emit, before this turn ends.
      expect(counter.writes).toBe(before + 1);
      await waitFor(() => received.length === n + 1, 5000, `packet ${n}`);
    }
  });
});
