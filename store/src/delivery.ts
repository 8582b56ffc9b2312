/**
 * How what a store writes reaches the sockets: the port the Redis stores deliver through, so the
 * same store code serves a node (through its Socket.IO server) and the emitter (through Redis
 * alone). With the classic adapter a store's script PUBLISHes the adapter frame itself, in the
 * same step as the write, and the node adds only its own sockets (`local`); with the sharded
 * adapter the frame's channel lives on another slot, so the store writes first and `broadcast`s.
 */
export interface Delivery {
  /** The uid frames carry: an adapter skips frames with its own uid (its node delivers locally). */
  readonly uid: string;
  /** After a script PUBLISHed the frame: this process's own sockets of `room` (none for the emitter). */
  local(room: string, event: string, args: readonly unknown[], except?: string): void;
  /** To the sockets of `room` on every node; settles when the packet is handed over. */
  broadcast(room: string, event: string, args: readonly unknown[], except?: string): Promise<void>;
}
