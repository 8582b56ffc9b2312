/**
 * A local TCP proxy in front of a node (or a Redis), for network-failure tests: cut every
 * connection, refuse new ones for a while, swallow the node's answers (so a command is executed but
 * its ack never arrives), or point it at another node. It counts the bytes the target sends back,
 * and can record every chunk each way in the order it passed.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private refusing = false;
  private swallowing = false;
  private swallowingRequests = false;
  /** Connections tried so far, refused ones included. */
  attempts = 0;
  /** Bytes the target sent back to the clients so far. */
  bytesToClients = 0;
  /** The chunks that passed since record(), in order: `request` from a client, `reply` from the target. */
  readonly recorded: { way: "request" | "reply"; data: Buffer }[] = [];
  private recording = false;

  private constructor(
    private readonly server: Server,
    public targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on("connection", (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Cuts every open connection (both sides see it closed). */
  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Cuts every connection and refuses new ones until `up()`. */
  down(): void {
    this.refusing = true;
    this.cut();
  }

  up(): void {
    this.refusing = false;
    this.swallowing = false;
    this.swallowingRequests = false;
  }

  /** From now on the node's bytes are dropped on the way back (its acks never arrive). */
  swallowReplies(): void {
    this.swallowing = true;
  }

  /** From now on the client's bytes are dropped on the way to the node (its commands never arrive). */
  swallowRequests(): void {
    this.swallowingRequests = true;
  }

  /** From now on every chunk is kept in `recorded` (cleared here). */
  record(): void {
    this.recorded.length = 0;
    this.recording = true;
  }

  close(): Promise<void> {
    this.down();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.attempts++;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(this.targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk: Buffer) => {
      if (this.recording) this.recorded.push({ way: "request", data: chunk });
      if (!this.swallowingRequests) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      this.bytesToClients += chunk.length;
      if (this.recording) this.recorded.push({ way: "reply", data: chunk });
      if (!this.swallowing) client.write(chunk);
    });
    for (const socket of pair) {
      socket.on("error", end);
      socket.on("close", end);
    }
  }
}
