/**
 * A plain socket.io-client following the recipe of PROTOCOL §3 "Rooms and messages" for one
 * room: it keeps the last seq and epoch it took, handles `room:message` (and `room:position`) one
 * at a time, reads what was lost in delivery from history, and drops what it already took.
 */
import type { Message, RoomPositionEvent } from "@switchboard/shared";
import { command, type AckResult, type Client } from "./clients";

export interface FollowedRoom {
  /** The messages taken, in order. */
  got: Message[];
  /** How many of them were read from history. */
  fromHistory: number;
  /** The epochs that made the client reload (the room's history was lost). */
  reloads: (string | undefined)[];
  /** History reads that failed. */
  errors: Error[];
}

/**
 * Follows `room` from the `room:join` answer `join`. Without `positions`, `room:position` is
 * ignored, as by a client written before it existed: only a later message's seq shows a loss.
 */
export function followRoom(socket: Client, room: string, join: AckResult, { positions = true } = {}): FollowedRoom {
  const last = { seq: join.seq as number, epoch: join.epoch as string | undefined };
  const followed: FollowedRoom = { got: [], fromHistory: 0, reloads: [], errors: [] };
  const take = (m: Message, fromHistory: boolean) => {
    followed.got.push(m);
    if (fromHistory) followed.fromHistory++;
    last.seq = m.seq!;
  };
  /** Steps 3 and 6: another epoch means the room's history was lost; its new one is followed from its start. */
  const follow = (epoch: string | undefined) => {
    if (last.epoch !== undefined && epoch !== last.epoch) {
      followed.reloads.push(epoch);
      last.seq = 0;
    }
    last.epoch = epoch;
  };
  /** The messages of `epoch` after `last.seq`, read back from `before` (or from the newest), oldest first. */
  const readBack = async (epoch: string, before: string | undefined, limit: number): Promise<Message[]> => {
    const found: Message[] = [];
    for (;;) {
      const page = await command(socket, "room:history", { room, ...(before === undefined ? {} : { before }), limit: Math.min(limit, 500) });
      if (!page.ok) throw new Error(`room:history: ${page.error?.code}`);
      const messages = page.messages as Message[];
      found.unshift(...messages.filter((m) => m.epoch === epoch && m.seq! > last.seq));
      const oldest = messages[0];
      if (!page.hasMore || !oldest || oldest.epoch !== epoch || oldest.seq! <= last.seq + 1) return found;
      before = oldest.id;
      limit = oldest.seq! - last.seq - 1;
    }
  };
  const onMessage = async (m: Message) => {
    follow(m.epoch);
    if (m.seq! <= last.seq) return; // step 5: taken already
    if (m.seq! > last.seq + 1) for (const missed of await readBack(m.epoch!, m.id, m.seq! - last.seq - 1)) take(missed, true); // step 4
    take(m, false);
  };
  const onPosition = async (p: RoomPositionEvent) => {
    follow(p.epoch);
    if (p.epoch !== undefined && p.seq > last.seq) for (const missed of await readBack(p.epoch, undefined, p.seq - last.seq)) take(missed, true); // step 6
  };
  let queue = Promise.resolve();
  const enqueue = (handle: () => Promise<void>) => {
    queue = queue.then(handle).catch((err: Error) => void followed.errors.push(err));
  };
  socket.on("room:message", (m: Message) => m.room === room && enqueue(() => onMessage(m)));
  if (positions) socket.on("room:position", (p: RoomPositionEvent) => p.room === room && enqueue(() => onPosition(p)));
  return followed;
}
