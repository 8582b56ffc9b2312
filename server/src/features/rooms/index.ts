/**
 * Rooms and messages (PROTOCOL §3 "Rooms and messages", §4 room endpoints).
 */
import type { Feature, FeatureDeps } from "../types";
import { roomCommands } from "./commands";
import { roomRoutes } from "./routes";
import { RoomService } from "./service";

export function roomsFeature(deps: FeatureDeps): Feature {
  const rooms = new RoomService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  return { commands: roomCommands(rooms), routes: roomRoutes(rooms) };
}
