/**
 * How what a store writes reaches the sockets: the port the Redis stores deliver through, so the
 * same store code serves a node (through its Socket.IO server) and the emitter (through Redis
 * alone). A store's script publishes the adapter's frame itself, in the same step as the write
 * (PUBLISH for the classic adapter; SPUBLISH for the sharded one on a Redis Cluster, where the
 * Socket.IO room carries the hash tag of the keys: see socketRooms), so what is stored reaches
 * every node even when the writer dies right after; the writer then adds its own sockets (`local`).
 */
export interface Delivery {
  /** The uid frames carry: an adapter skips frames with its own uid (its node delivers locally). */
  readonly uid: string;
  /** After a script published the frame: this process's own sockets of `room` (none for the emitter). */
  local(room: string, event: string, args: readonly unknown[], except?: string): void;
  /** The same, with `[event, ...args]` given as the JSON text the script wrote into the frame. */
  localText(room: string, event: string, args: string, except?: string): void;
}
