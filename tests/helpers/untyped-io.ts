/**
 * A node's Socket.IO server seen without the protocol's event maps. `node.io` emits protocol
 * events only; tests that check how the adapter carries an arbitrary event (as a service's custom
 * event is carried) send it through this view of the same server.
 */
import type { SwitchboardNode } from "@switchboard/server";
import type { Server } from "socket.io";

export function untypedIo(node: SwitchboardNode): Server {
  return node.io;
}
