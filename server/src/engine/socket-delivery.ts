/**
 * The node's side of the stores' Delivery port: its Socket.IO server. Frames carry the uid of the
 * node's own adapter, so the adapter skips them when they come back and the node adds only its
 * local sockets.
 */
import type { Delivery } from "@switchboard/store";
import type { Server } from "socket.io";

type Emit = (event: string, ...args: unknown[]) => boolean;

export class SocketIoDelivery implements Delivery {
  constructor(
    private readonly io: Server,
    private readonly killOn?: string,
  ) {}

  get uid(): string {
    const uid = (this.io.of("/").adapter as unknown as { uid?: string }).uid;
    if (!uid) throw new Error("the Socket.IO server has no Redis adapter");
    return uid;
  }

  local(room: string, event: string, args: readonly unknown[], except?: string): void {
    // Tests only (SWITCHBOARD_TEST_KILL_AFTER_STORE): a crash as soon as a store step of `event` returned.
    if (event === this.killOn) process.kill(process.pid, "SIGKILL");
    const target = this.io.local.to(room);
    ((except ? target.except(except) : target).emit as Emit)(event, ...args);
  }
}
