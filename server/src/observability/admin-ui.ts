/**
 * The Socket.IO Admin UI (@socket.io/admin-ui) on the namespace `/admin`, when ADMIN_UI=1: basic
 * authentication against a bcrypt hash (none only outside production), this node's id as its
 * server id. Its namespace runs on the node's adapter like `/`, so an Admin UI connected to one
 * node gets every node's stats, and in development mode lists the sockets of every node
 * (fetchSockets) and can disconnect them or make them join and leave rooms (README "Admin UI").
 */
import { instrument } from "@socket.io/admin-ui";
import type { Server } from "socket.io";
import type { AdminUiConfig } from "../config";

export const ADMIN_UI_NAMESPACE = "/admin";

/** Instruments `io`; answers a function that stops what it started (its stats timer). */
export function instrumentAdminUi(io: Server, serverId: string, settings: AdminUiConfig): () => void {
  // instrument() starts one timer, sending this node's stats every 2 s, and never clears it: it is
  // caught here so that shutdown can.
  const timers: ReturnType<typeof setInterval>[] = [];
  const original = globalThis.setInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const timer = original(...args);
    timers.push(timer);
    return timer;
  }) as typeof setInterval;
  try {
    instrument(io, {
      namespaceName: ADMIN_UI_NAMESPACE,
      auth: settings.passwordHash === undefined ? false : { type: "basic", username: settings.username, password: settings.passwordHash },
      mode: settings.mode,
      readonly: settings.readonly,
      serverId,
    });
  } finally {
    globalThis.setInterval = original;
  }
  return () => {
    for (const timer of timers.splice(0)) clearInterval(timer);
  };
}
