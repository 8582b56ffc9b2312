/**
 * clientRoomOf reads a Socket.IO room name back as the tenant and client room it carries (the
 * inverse of tenantRoom), and tells apart the rooms the server manages: a node sends
 * `room:position` for client rooms only. An engine's socketRooms does the same for its own names
 * (plain, or with the keys' hash tag on a Redis Cluster).
 */
import { agentRoom, clientRoomOf, docRoom, presenceRoom, socketRooms, TENANT_WIDE_ROOM, tenantRoom, tenantWideRoom, userRoom, workspaceRoom } from "@switchboard/shared";
import fc from "fast-check";

const chars = (extra: string[]) => fc.constantFrom("a", "Z", "0", "_", ".", "-", ...extra);
const tenant = fc.oneof(fc.constant(""), fc.string({ unit: chars([]), minLength: 1, maxLength: 64 }));
const room = fc.string({ unit: chars([":"]), minLength: 1, maxLength: 128 }).filter((id) => !/^(user|workspace|agent|presence|leaderboard|stream|doc):/.test(id));

describe("clientRoomOf", () => {
  it("reads back the tenant and room of every client room", () => {
    fc.assert(
      fc.property(tenant, room, (t, r) => {
        expect(clientRoomOf(tenantRoom(t, r))).toEqual({ tenant: t, room: r });
      }),
      { numRuns: 2000 },
    );
  });

  it("passes over the rooms the server manages and names that are no room", () => {
    for (const t of ["", "acme"]) {
      for (const managed of [userRoom("alice"), workspaceRoom("w1"), agentRoom("a1"), presenceRoom("bob"), docRoom("d1"), "leaderboard:weekly", "stream:cpu"]) {
        expect(clientRoomOf(tenantRoom(t, managed))).toBeUndefined();
      }
      expect(clientRoomOf(tenantWideRoom(t))).toBeUndefined();
    }
    for (const name of [TENANT_WIDE_ROOM, "", "a/b/c", "bad tenant/room", "/room", "acme/", "acme/a b"]) expect(clientRoomOf(name)).toBeUndefined();
  });
});

describe.each([false, true])("socketRooms(onCluster: %s).roomOf", (onCluster) => {
  const names = socketRooms(onCluster);

  it("reads back the tenant and room of every room name it makes", () => {
    fc.assert(
      fc.property(tenant, room, (t, r) => {
        expect(names.roomOf(names.room(t, r))).toEqual({ tenant: t, room: r });
      }),
      { numRuns: 1000 },
    );
  });

  it("passes over documents' rooms, the rooms the server manages, and the other naming's names", () => {
    const other = socketRooms(!onCluster);
    for (const t of ["", "acme"]) {
      expect(names.roomOf(names.doc(t, "room:math/notes"))).toBeUndefined();
      expect(names.roomOf(tenantRoom(t, userRoom("alice")))).toBeUndefined();
      expect(names.roomOf(tenantWideRoom(t))).toBeUndefined();
      expect(names.roomOf(other.room(t, "math"))).toBeUndefined();
    }
    // A tag that is not the room's own.
    if (onCluster) expect(names.roomOf(`{r::other}math`)).toBeUndefined();
  });
});
