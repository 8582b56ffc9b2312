/**
 * The session of a socket: `session:refresh` hands a connected socket a newer token of the same
 * user, so it outlives the token it connected with without reconnecting. A socket whose token
 * expires unrefreshed is ended by the SessionManager (`session:expired`). When the node's
 * subscription to the other nodes comes back after a drop, every local socket hears
 * `session:resync`: notifications and synced-document changes have no position to show a gap, so
 * the client reads them again.
 */
import { commandSchemas, type SessionRefreshPayload, type SessionRefreshResult } from "@switchboard/shared";
import { defineCommand } from "../../commands";
import type { Feature, FeatureDeps } from "../types";

export function sessionFeature(deps: FeatureDeps): Feature {
  const refresh = defineCommand<SessionRefreshPayload, SessionRefreshResult>(
    "session:refresh",
    commandSchemas["session:refresh"],
    ({ socket }, payload) => deps.sessions.refresh(socket, payload.token),
    // A token is checked with this node's keys alone: no shared store needed.
    { needsEngine: false },
  );
  let stopTelling: (() => void) | undefined;
  return {
    commands: [refresh],
    start() {
      stopTelling = deps.engine.onResubscribed(() => {
        deps.io.local.emit("session:resync", { at: Date.now() });
        deps.logger.info("subscription back: told local sockets to resync", { event: "resubscribe", sockets: deps.sessions.connections });
      });
    },
    async stop() {
      stopTelling?.();
    },
  };
}

