/**
 * How a node writes to its clients (server/src/connections/turn-writes.ts): a socket's first
 * packet of a turn of the event loop leaves at once; what follows in that turn — say the room
 * messages of a batch read from Redis — leaves in one more write instead of one per packet, over
 * WebSocket from the start and after an upgrade from long-polling; every packet arrives, in
 * order. A WebSocket upgrade's `101 Switching Protocols` and engine.io's `open` packet leave in one
 * write, and so do a handshake's answer and the `session` that follows it: the client wakes once
 * for each pair; a refused handshake's answer still leaves. The writes counted are those the
 * server's TCP socket hands to the operating system.
 */
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import type { SwitchboardNode } from "@switchboard/server";
import { connect, connectRefused, type Client } from "../helpers/clients";
import { collect } from "../helpers/cluster";
import { inProcessNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";

/** The server side's TCP socket of a client on WebSocket, its writes to the OS counted from now on. */
function countWrites(node: SwitchboardNode, client: Client): { writes: number } {
  return countTransportWrites(node.io.sockets.sockets.get(client.id!)!.conn);
}

/** The writes to the OS of an engine.io connection's WebSocket from now on. */
function countTransportWrites(conn: { transport: unknown }): { writes: number } {
  const transport = conn.transport as { name: string; socket: { _socket: TcpSocket } };
  expect(transport.name).toBe("websocket");
  return countTcpWrites(transport.socket._socket);
}

/** The writes a TCP socket hands to the OS from now on, each as the bytes it carried. */
function countTcpWrites(socket: TcpSocket): { writes: number; bytes: Buffer[] } {
  const tcp = socket as TcpSocket & Record<"_write" | "_writev", (...args: unknown[]) => void>;
  const counter = { writes: 0, bytes: [] as Buffer[] };
  const asBuffer = (chunk: unknown, encoding?: unknown): Buffer => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), (encoding as BufferEncoding) || "utf8"));
  // _write(chunk, encoding, cb) and _writev([{ chunk, encoding }], cb): one write to the OS each.
  const chunksOf = {
    _write: (args: unknown[]) => [asBuffer(args[0], args[1])],
    _writev: (args: unknown[]) => (args[0] as { chunk: unknown; encoding?: unknown }[]).map((c) => asBuffer(c.chunk, c.encoding)),
  };
  for (const method of ["_write", "_writev"] as const) {
    const original = tcp[method];
    tcp[method] = function (this: TcpSocket, ...args: unknown[]) {
      counter.writes++;
      counter.bytes.push(Buffer.concat(chunksOf[method](args)));
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

  it.each([
    ["a session it does not know", "sid=unknown-session", "Session ID unknown"],
    ["a transport it does not know", "", "Transport unknown"],
  ])("still answers an upgrade it refuses (%s) before it closes the connection", async (_, query, message) => {
    const node = inProcess();
    const transport = query ? "websocket" : "carrier-pigeon";
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(node.port, "127.0.0.1", () => {
        socket.write(
          `GET /socket.io/?EIO=4&transport=${transport}${query ? `&${query}` : ""} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
      });
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    });
    expect(answer.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
    expect(answer).toContain(message);
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

  it("answers a WebSocket upgrade with engine.io's open packet in one write, a handshake with its session in one more, at once, and a refusal at once", async () => {
    const node = inProcess();
    const counters: { writes: number; bytes: Buffer[] }[] = [];
    // The socket's writes to the OS are counted from its upgrade request on (what engine.io writes then leaves at the turn's end).
    node.http.on("upgrade", (_req: unknown, socket: TcpSocket) => counters.push(countTcpWrites(socket)));
    const writtenAtConnection: number[] = [];
    node.io.on("connection", () => writtenAtConnection.push(counters[counters.length - 1]!.writes));
    for (let n = 0; n < 3; n++) {
      const client = await connect(node.url, { tokenOptions: { sub: `writes-upgrade-${n}` } });
      expect(client.session).toMatchObject({ userId: `writes-upgrade-${n}` });
      const counter = counters[n]!;
      // 101 + open, then CONNECT + session: two writes where a write each would be four.
      expect(writtenAtConnection[n]).toBe(2);
      const first = counter.bytes[0]!.toString("latin1");
      expect(first.startsWith("HTTP/1.1 101 Switching Protocols\r\n")).toBe(true);
      const opening = first.slice(first.indexOf("\r\n\r\n") + 4);
      // One unmasked WebSocket text frame (a payload under 126 bytes): engine.io's open packet, `0{"sid":…}`.
      expect(opening.charCodeAt(0)).toBe(0x81);
      const open = JSON.parse(opening.slice(3)) as { sid: string; upgrades: string[] };
      expect(opening.slice(2, 3)).toBe("0");
      expect(open.sid).toBe(client.io.engine.id);
      expect(opening.length).toBe(2 + (opening.charCodeAt(1) & 0x7f));
      expect(counter.writes).toBe(2);
      // Held no longer than the handshake: what follows leaves at once.
      const received = collect<{ n: number }>(client, "bench:after");
      (node.io.sockets.sockets.get(client.id!)!.emit as (event: string, ...args: unknown[]) => boolean)("bench:after", { n });
      expect(counter.writes).toBe(3);
      await waitFor(() => received.length === 1, 5000, "the packet after the handshake");
    }
    const refusal = await connectRefused(node.url, { tokenOptions: { sub: "writes-refused", expiresIn: -60 } });
    expect(refusal.data?.code).toBe("TOKEN_EXPIRED");
    // 101 + open, then the refusal.
    expect(counters[3]!.writes).toBe(2);
    expect(counters[3]!.bytes[1]!.toString("latin1")).toContain("TOKEN_EXPIRED");
  });
});
