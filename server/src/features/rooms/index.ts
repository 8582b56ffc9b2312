/**
 * Rooms and messages (PROTOCOL §3 "Rooms and messages", §4 room endpoints), and `room:position`
 * when the node's subscription to the other nodes came back.
 */
import { packetEvent } from "../../engine";
import type { Feature, FeatureDeps } from "../types";
import { roomCommands } from "./commands";
import { roomRoutes } from "./routes";
import { RoomService } from "./service";

export function roomsFeature(deps: FeatureDeps): Feature {
  const rooms = new RoomService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  let stopTelling: (() => void) | undefined;
  // Every room message a socket of this node is handed, published here or on another node: the
  // deliveries beside the publishes.
  countBroadcasts(deps.io.of("/").adapter as unknown as CountedAdapter, "room:message", (sockets) => deps.metrics.messagesDelivered.inc(sockets));
  return {
    commands: roomCommands(rooms),
    routes: roomRoutes(rooms),
    // Messages other nodes sent while this node's subscription was down never reached its sockets.
    start() {
      stopTelling = deps.engine.onResubscribed(() => void tellPositions(deps, rooms));
    },
    async stop() {
      stopTelling?.();
    },
  };
}

/** The two steps of Socket.IO's in-memory adapter that every broadcast on this node runs through. */
interface CountedAdapter {
  _encode(packet: { data?: unknown[] }, options: unknown): unknown;
  apply(options: unknown, callback: (socket: unknown) => void): void;
}

/**
 * Counts the sockets of this node that broadcasts of `event` reach, without a listener per socket.
 * Every broadcast here — a local emit, or a frame from another node — is encoded once by the
 * namespace's adapter (`_encode`) and then handed to each recipient (`apply`), in that order.
 */
function countBroadcasts(adapter: CountedAdapter, event: string, count: (sockets: number) => void): void {
  const encode = adapter._encode.bind(adapter);
  const apply = adapter.apply.bind(adapter);
  let counting = false;
  adapter._encode = (packet, options) => {
    counting = packetEvent(packet) === event;
    return encode(packet, options);
  };
  adapter.apply = (options, callback) => {
    if (!counting) return apply(options, callback);
    counting = false;
    let sockets = 0;
    apply(options, (socket) => {
      sockets++;
      callback(socket);
    });
    if (sockets > 0) count(sockets);
  };
}

async function tellPositions({ logger }: FeatureDeps, rooms: RoomService): Promise<void> {
  try {
    const told = await rooms.tellPositions();
    logger.info("subscription back: told local sockets where their rooms stand", { event: "resubscribe", rooms: told });
  } catch (err) {
    logger.warn("subscription back, but the rooms' positions could not be read", { event: "resubscribe", error: (err as Error).message });
  }
}
