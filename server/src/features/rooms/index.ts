/**
 * Rooms and messages (PROTOCOL §3 "Rooms and messages", §4 room endpoints), and `room:position`
 * when the node's subscription to the other nodes came back.
 */
import { packetEvent, type BroadcastSteps } from "../../engine";
import type { Feature, FeatureDeps } from "../types";
import { roomCommands } from "./commands";
import { roomRoutes } from "./routes";
import { RoomService } from "./service";

export function roomsFeature(deps: FeatureDeps): Feature {
  const rooms = new RoomService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  let stopTelling: (() => void) | undefined;
  // Every room message a socket of this node is handed, published here or on another node: the
  // deliveries beside the publishes.
  countBroadcasts(deps.io.of("/").adapter as unknown as BroadcastSteps, "room:message", (sockets) => deps.metrics.messagesDelivered.inc(sockets));
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

/**
 * Counts the sockets of this node that broadcasts of `event` reach, without a listener per socket.
 * Every broadcast here — a local emit, or a frame from another node — goes through the
 * namespace adapter's `_encode` and then `apply`, which hands it to each recipient (and encodes it
 * at the first, see engine/lazy-encoding.ts), in that order.
 */
function countBroadcasts(adapter: BroadcastSteps, event: string, count: (sockets: number) => void): void {
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
