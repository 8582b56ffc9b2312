/**
 * The node's side of the stores' Delivery port: its Socket.IO server. Frames carry the uid of the
 * node's own adapter, so the adapter skips them when they come back and the node adds only its
 * local sockets.
 */
import type { Delivery } from "@switchboard/store";
import type { Server } from "socket.io";
import { broadcastText } from "./encoded-packets";

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
    this.killAfter(event);
    const target = this.io.local.to(room);
    ((except ? target.except(except) : target).emit as Emit)(event, ...args);
  }

  /** The arguments as text go to the sockets as they are (see encoded-packets.ts). */
  localText(room: string, event: string, args: string, except?: string): void {
    this.killAfter(event);
    broadcastText(this.io.of("/").adapter, args, { rooms: new Set([room]), except: new Set(except === undefined ? [] : [except]), flags: {} });
  }

  /** Tests only (SWITCHBOARD_TEST_KILL_AFTER_STORE): a crash as soon as a store step of `event` returned. */
  private killAfter(event: string): void {
    if (event === this.killOn) process.kill(process.pid, "SIGKILL");
  }
}
