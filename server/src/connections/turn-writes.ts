/**
 * Fewer system calls per turn of the event loop. What a node sends one connection in one turn —
 * a Redis connection's commands, a client's acks and the room messages of one batch read from
 * Redis — would otherwise leave in a write each. A corked socket keeps its writes until it is
 * uncorked after the turn's I/O callbacks (setImmediate), then sends them in one writev. The bytes
 * and their order are unchanged.
 *
 * - A Redis connection is corked at its first write of a turn: its commands leave together.
 * - A client on WebSocket is corked only from its second send in a turn: under light load a packet
 *   leaves at once, as it would without batching; under load (engine.io sends a socket the
 *   packets that arrived while its previous write was in flight all at once) they leave together.
 * - A WebSocket upgrade's `101 Switching Protocols` and engine.io's `open` packet, written in the
 *   same turn, leave together (upgradeInOneWrite).
 * - A handshake's answer (Socket.IO's CONNECT packet) and the `session` that follows it are held
 *   and leave together (holdClientPackets): one write, and one wake-up of the client, not two.
 * - Work that gathers what several sockets' callbacks asked for runs just before the writes leave
 *   (beforeTurnWritesLeave), so its commands leave with them.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { transports, type Socket as EngineSocket } from "engine.io";

/**
 * The sockets corked in this turn, and the WebSocket connections that sent in it: new sets each
 * turn. V8 allocates a Set's next table (after `clear()`, or to grow) where its table lives, so a
 * long-lived set cleared every turn would, once its table had outlived two minor GCs, put every
 * later one in the old generation, garbage that only a full GC takes away.
 */
let corked = new Set<Socket>();
let sent = new Set<Socket>();
let turnEnding = false;
/** What runs at the end of the turn before its writes leave (beforeTurnWritesLeave). */
let beforeLeaving: (() => void)[] = [];

function endTurn(): void {
  // Run while the turn is still ending: what they write is corked with the rest and leaves below.
  while (beforeLeaving.length > 0) {
    const tasks = beforeLeaving;
    beforeLeaving = [];
    for (const task of tasks) task();
  }
  turnEnding = false;
  for (const socket of corked) socket.uncork();
  corked = new Set();
  sent = new Set();
}

function corkUntilTurnEnds(socket: Socket): void {
  if (corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  untilTurnEnds();
}

function untilTurnEnds(): void {
  if (turnEnding) return;
  turnEnding = true;
  setImmediate(endTurn);
}

/**
 * Runs `task` at the end of this turn, once its I/O callbacks are done and before its writes
 * leave: what the callbacks of several sockets asked for can go out as one command (the
 * handshakes' presence, see RedisPresenceRegistry) in the same write as the rest of the turn.
 */
export function beforeTurnWritesLeave(task: () => void): void {
  beforeLeaving.push(task);
  untilTurnEnds();
}

/** A Redis connection's write: one function for every connection, no closure each. */
function writeInTurn(this: Socket, ...args: Parameters<Socket["write"]>): boolean {
  corkUntilTurnEnds(this);
  return (Object.getPrototypeOf(this) as Socket).write.apply(this, args);
}

/** Sends a Redis connection's commands of each turn in one write (a socket whose `write` something else replaced is left as it is). */
export function writeOncePerTurn(socket: Socket): void {
  if (!Object.prototype.hasOwnProperty.call(socket, "write")) socket.write = writeInTurn as Socket["write"];
}

/** engine.io's WebSocket transport: `socket` is the `ws` connection on its TCP socket. */
interface WebSocketTransport {
  socket?: { _socket?: Socket };
  send(packets: unknown[]): void;
}

let batchingClients = false;

/**
 * Batches what every client on WebSocket is sent after its first send of a turn (from the start
 * or after upgrading from long-polling, whose HTTP responses are written once each already).
 * engine.io's WebSocket transport is shared by every engine.io server of the process, so this
 * applies to all of them, once.
 */
export function batchClientWrites(): void {
  if (batchingClients) return;
  batchingClients = true;
  const prototype = (transports as unknown as { websocket: { prototype: WebSocketTransport } }).websocket.prototype;
  const send = prototype.send;
  prototype.send = function (this: WebSocketTransport, packets: unknown[]) {
    const tcp = this.socket?._socket;
    if (tcp) {
      if (sent.has(tcp) || packets.length > 1) corkUntilTurnEnds(tcp);
      else {
        sent.add(tcp);
        untilTurnEnds();
      }
    }
    send.call(this, packets);
  };
}

/**
 * Sends a WebSocket upgrade's answer (`101 Switching Protocols`) and engine.io's `open` packet,
 * written in the same turn, in one write: the client wakes up once for both. The socket is corked
 * when the upgrade is accepted (engine.io's `headers`, emitted just before the 101 is written) until
 * the turn ends. A refused upgrade is answered before that event, by a write and then a
 * `destroy()` that would drop whatever a cork still held, so it is left as it is.
 */
export function upgradeInOneWrite(engine: { on(event: "headers", listener: (headers: unknown, req: IncomingMessage) => void): unknown }): void {
  engine.on("headers", (_headers, req) => {
    if (req.headers.upgrade !== undefined) corkUntilTurnEnds(req.socket);
  });
}

const nothingHeld = (): void => undefined;

/**
 * Holds what engine.io sends a client on WebSocket until the returned function is called, and at
 * the latest until the end of the turn: its packets wait in engine.io's buffer, as they do while
 * a write is in flight, and then leave at once, in one write. Nothing is held on long-polling or
 * while a write is already in flight. Calling the function again does nothing.
 */
export function holdClientPackets(conn: EngineSocket): () => void {
  const transport = conn.transport;
  if (transport.name !== "websocket" || !transport.writable) return nothingHeld;
  transport.writable = false;
  let held = true;
  const letGo = (): void => {
    if (!held) return;
    held = false;
    // Something else took over in between (an upgrade, the transport's own write): leave it be.
    if (conn.transport !== transport || transport.writable) return;
    transport.writable = true;
    (conn as unknown as { flush(): void }).flush();
    // Sent as a batch, the packets were corked until the turn ends: they have waited enough.
    const tcp = (transport as unknown as WebSocketTransport).socket?._socket;
    if (tcp && corked.delete(tcp)) tcp.uncork();
  };
  setImmediate(letGo);
  return letGo;
}
