/**
 * Rooms and messages (PROTOCOL §3 "Rooms and messages", §4 room endpoints), and `room:position`
 * when the node's subscription to the other nodes came back.
 */
import type { Feature, FeatureDeps } from "../types";
import { roomCommands } from "./commands";
import { roomRoutes } from "./routes";
import { RoomService } from "./service";

export function roomsFeature(deps: FeatureDeps): Feature {
  const rooms = new RoomService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  let stopTelling: (() => void) | undefined;
  // Every room message a socket of this node is handed, published here or on another node
  // (broadcasts reach outgoing listeners too): the deliveries beside the publishes.
  deps.io.on("connection", (socket) => {
    socket.onAnyOutgoing((event: string) => {
      if (event === "room:message") deps.metrics.messagesDelivered.inc();
    });
  });
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

async function tellPositions({ logger }: FeatureDeps, rooms: RoomService): Promise<void> {
  try {
    const told = await rooms.tellPositions();
    logger.info("subscription back: told local sockets where their rooms stand", { event: "resubscribe", rooms: told });
  } catch (err) {
    logger.warn("subscription back, but the rooms' positions could not be read", { event: "resubscribe", error: (err as Error).message });
  }
}
