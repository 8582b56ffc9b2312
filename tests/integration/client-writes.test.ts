/**
 * How a node writes to its clients (server/src/connections/turn-writes.ts): a socket's first
 * packet of a turn of the event loop leaves at once; what follows in that turn — say the room
 * messages of a batch read from Redis — leaves in one more write instead of one per packet, over
 * WebSocket from the start and after an upgrade from long-polling; every packet arrives, in
 * order. A handshake's answer and the `session` that follows it leave in one write, so the client
 * wakes once for both; a refused handshake's answer still leaves. The writes counted are those the
 * server's TCP socket hands to the operating system.
 */
import type { Socket as TcpSocket } from "node:net";
import type { SwitchboardNode } from "@switchboard/server";
import { connect, connectRefused, type Client } from "../helpers/clients";
import { collect } from "../helpers/cluster";
import { inProcessNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";

/** The server side's TCP socket of a client on WebSocket, its writes to the OS counted. */
function countWrites(node: SwitchboardNode, client: Client): { writes: number } {
  return countTransportWrites(node.io.sockets.sockets.get(client.id!)!.conn);
}

/** The writes to the OS of an engine.io connection's WebSocket from now on. */
function countTransportWrites(conn: { transport: unknown }): { writes: number } {
  const transport = conn.transport as { name: string; socket: { _socket: TcpSocket } };
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

  it("sends a handshake's answer and its session in one write, at once, and a refusal at once", async () => {
    const node = inProcess();
    // engine.io's `connection` comes after its open packet and before Socket.IO's handshake.
    const counters: { writes: number }[] = [];
    node.io.engine.on("connection", (conn: { transport: unknown }) => counters.push(countTransportWrites(conn)));
    // A listener after the node's own: the answer and `session` are written by then, not at the end of the turn.
    const writtenAtConnection: number[] = [];
    node.io.on("connection", () => writtenAtConnection.push(counters[counters.length - 1]!.writes));
    for (let n = 0; n < 3; n++) {
      const client = await connect(node.url, { tokenOptions: { sub: `writes-handshake-${n}` } });
      expect(client.connected).toBe(true);
      expect(client.session).toMatchObject({ userId: `writes-handshake-${n}`, nodeId: node.nodeId });
      expect(writtenAtConnection[n]).toBe(1);
      expect(counters[n]!.writes).toBe(1);
      // Held no longer than the handshake: what follows leaves at once.
      const received = collect<{ n: number }>(client, "bench:after");
      (node.io.sockets.sockets.get(client.id!)!.emit as (event: string, ...args: unknown[]) => boolean)("bench:after", { n });
      expect(counters[n]!.writes).toBe(2);
      await waitFor(() => received.length === 1, 5000, "the packet after the handshake");
    }
    const refusal = await connectRefused(node.url, { tokenOptions: { sub: "writes-refused", expiresIn: -60 } });
    expect(refusal.data?.code).toBe("TOKEN_EXPIRED");
    expect(counters[3]!.writes).toBe(1);
  });
});
