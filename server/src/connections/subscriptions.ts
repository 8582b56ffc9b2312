/**
 * A socket's subscriptions: every Socket.IO room a feature joins it to (rooms, documents,
 * leaderboards, streams, workspaces, agents, watched users). Features join through here, never
 * with socket.join, so one cap (MAX_SUBSCRIPTIONS_PER_SOCKET) bounds what a socket costs the
 * adapter and how many broadcasts it can draw.
 */
import { AppError, tenantRoom, tenantWideRoom, userRoom } from "@switchboard/shared";
import type { AppSocket } from "../io";

/**
 * Rooms a socket was admitted to but has not joined yet (a room join checks, then writes the
 * membership, then joins): they count, so commands running at once cannot overshoot together.
 */
const pending = new WeakMap<AppSocket, Map<string, number>>();

/** A place held for rooms until the socket joins them or gives them up. */
export interface Reservation {
  /** Joins the socket to the rooms (resolves once they are subscribed cluster-wide). */
  join(): Promise<void>;
  /** Gives the place up; harmless after join(). */
  release(): void;
}

/** The socket's subscriptions: its rooms but the ones every session has, and the pending ones. */
export function subscriptionsOf(socket: AppSocket): Set<string> {
  const held = new Set([...socket.rooms, ...(pending.get(socket)?.keys() ?? [])]);
  for (const own of sessionRooms(socket)) held.delete(own);
  return held;
}

/**
 * Holds a place for `rooms` unless the socket would then have more than `limit` subscriptions
 * (QUOTA_EXCEEDED, details `{ limit }`). Rooms the socket has or is joining already cost nothing.
 * Nothing is joined until join().
 */
export function reserve(socket: AppSocket, rooms: string | readonly string[], limit: number): Reservation {
  const wanted = [...new Set(typeof rooms === "string" ? [rooms] : rooms)];
  const held = subscriptionsOf(socket);
  const own = sessionRooms(socket);
  const added = wanted.filter((room) => !held.has(room) && !own.includes(room));
  if (held.size + added.length > limit) {
    throw new AppError("QUOTA_EXCEEDED", `a connection holds at most ${limit} subscriptions; unsubscribe from something first`, { limit });
  }
  const counts = pending.get(socket) ?? new Map<string, number>();
  pending.set(socket, counts);
  for (const room of added) counts.set(room, (counts.get(room) ?? 0) + 1);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const room of added) {
      const left = (counts.get(room) ?? 1) - 1;
      if (left > 0) counts.set(room, left);
      else counts.delete(room);
    }
  };
  return {
    async join() {
      // socket.join adds the rooms to socket.rooms at once; only the cluster subscription is awaited.
      const joined = socket.join(wanted);
      release();
      await joined;
    },
    release,
  };
}

/** Joins the socket to `rooms` within `limit` subscriptions (see reserve). */
export async function subscribe(socket: AppSocket, rooms: string | readonly string[], limit: number): Promise<void> {
  await reserve(socket, rooms, limit).join();
}

/** The socket's own room, its user's room and its tenant's room (see SessionManager.onConnection). */
function sessionRooms(socket: AppSocket): string[] {
  const { tenant, userId } = socket.data;
  return [socket.id, tenantRoom(tenant, userRoom(userId)), tenantWideRoom(tenant)];
}
