/**
 * The session of a socket: `session:refresh` hands a connected socket a newer token of the same
 * user, so it outlives the token it connected with without reconnecting. A socket whose token
 * expires unrefreshed is ended by the SessionManager (`session:expired`).
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
  return { commands: [refresh] };
}
