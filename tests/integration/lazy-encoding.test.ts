/**
 * A node encodes a broadcast only when it has a recipient here (server/src/engine/
 * lazy-encoding.ts): one with no socket on this node is not encoded at all; one with recipients
 * is encoded once for all of them, with and without acknowledgements, and arrives whole.
 */
import type { SwitchboardNode } from "@switchboard/server";
import { connect, nextEvent, type Client } from "../helpers/clients";
import { inProcessNode } from "../helpers/nodes";

/** Counts the packets the node's main namespace encodes from now on. */
function countEncodes(node: SwitchboardNode): { count: number; stop(): void } {
  const encoder = (node.io.of("/").adapter as unknown as { encoder: { encode(packet: unknown): unknown[] } }).encoder;
  const encode = encoder.encode;
  const counter = {
    count: 0,
    stop: () => {
      encoder.encode = encode;
    },
  };
  encoder.encode = function (this: unknown, packet: unknown) {
    counter.count++;
    return encode.call(this, packet);
  };
  return counter;
}

/** The node's broadcast to `rooms`, with events of the test's own. */
function to(node: SwitchboardNode, rooms: string | string[]) {
  return node.io.to(rooms) as unknown as {
    emit(event: string, ...args: unknown[]): boolean;
    timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown[]> };
  };
}

describe("broadcasts encoded for their recipients only", () => {
  const inProcess = inProcessNode();

  it("does not encode a broadcast none of whose rooms has a socket here", async () => {
    const node = inProcess();
    const encodes = countEncodes(node);
    try {
      to(node, "lazy-nobody").emit("room:message", { text: "unheard" });
      to(node, ["lazy-nobody", "lazy-nobody-2"]).emit("room:message", { text: "unheard" });
      expect(encodes.count).toBe(0);
    } finally {
      encodes.stop();
    }
  });

  it("encodes a broadcast once for all its recipients, who get it whole", async () => {
    const node = inProcess();
    const clients: Client[] = await Promise.all([1, 2].map((i) => connect(node.url, { tokenOptions: { sub: `lazy-${i}` } })));
    node.io.in(clients.map((c) => c.id!)).socketsJoin("lazy-room");
    const received = clients.map((c) => nextEvent(c, "lazy:event"));
    const encodes = countEncodes(node);
    try {
      to(node, "lazy-room").emit("lazy:event", { text: "héllo", n: [1, 2] });
      expect(encodes.count).toBe(1);
    } finally {
      encodes.stop();
    }
    expect(await Promise.all(received)).toEqual([
      { text: "héllo", n: [1, 2] },
      { text: "héllo", n: [1, 2] },
    ]);
  });

  it("encodes a broadcast that waits for acknowledgements once, and collects every answer", async () => {
    const node = inProcess();
    const clients: Client[] = await Promise.all([3, 4].map((i) => connect(node.url, { tokenOptions: { sub: `lazy-${i}` } })));
    clients.forEach((c, i) => c.on("lazy:ask", (n: number, ack: (answer: number) => void) => ack(n + i)));
    node.io.in(clients.map((c) => c.id!)).socketsJoin("lazy-ask");
    const encodes = countEncodes(node);
    let answers: Promise<unknown[]>;
    try {
      answers = to(node, "lazy-ask").timeout(5000).emitWithAck("lazy:ask", 10);
      expect(encodes.count).toBe(1);
    } finally {
      encodes.stop();
    }
    expect((await answers).sort()).toEqual([10, 11]);
    // Nobody here: no encoding, and the broadcast answers at once with no answers.
    const none = countEncodes(node);
    try {
      const empty = await to(node, "lazy-nobody").timeout(5000).emitWithAck("lazy:ask", 1);
      expect([none.count, empty]).toEqual([0, []]);
    } finally {
      none.stop();
    }
  });
});
