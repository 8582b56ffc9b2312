/**
 * The key layout builds every key from its parts through one escaping helper, so different
 * parts never build the same key — the publish-once key of `a` + `b:c` is not that of `a:b` + `c`.
 */
import { compositeKey, keyLayout, keyPart, socketRooms } from "@switchboard/shared";
import { roomChannel } from "@switchboard/store";
import fc from "fast-check";

// Parts as the protocol's patterns allow them, plus the characters keys use as separators.
const part = fc.string({ unit: fc.constantFrom("a", "b", ":", "|", "{", "}", "%", "3", "A", "-"), minLength: 1, maxLength: 8 });

describe("key layout", () => {
  const keys = keyLayout("sb:");

  it("keeps ids without separators as they are", () => {
    expect(keys.roomHistory("acme", "math-101")).toBe("sb:{r:acme:math-101}:history");
    expect(keys.userDevices("", "alice@example.com")).toBe("sb:{u::alice@example.com}:devices");
  });

  it("never builds the same publish-once key from different sender and clientMsgId", () => {
    expect(keys.roomPublishOnce("t", "r", "a", "b:c")).not.toBe(keys.roomPublishOnce("t", "r", "a:b", "c"));
    fc.assert(
      fc.property(part, part, part, part, (u1, m1, u2, m2) => {
        fc.pre(u1 !== u2 || m1 !== m2);
        expect(keys.roomPublishOnce("t", "r", u1, m1)).not.toBe(keys.roomPublishOnce("t", "r", u2, m2));
      }),
      { numRuns: 2000 },
    );
  });

  it("never builds the same key for different users, rooms or documents", () => {
    fc.assert(
      fc.property(part, part, part, part, (t1, u1, t2, u2) => {
        fc.pre(t1 !== t2 || u1 !== u2);
        expect(keys.syncDocument(t1, u1, "k")).not.toBe(keys.syncDocument(t2, u2, "k"));
        expect(keys.roomMeta(t1, u1)).not.toBe(keys.roomMeta(t2, u2));
        expect(compositeKey(t1, u1)).not.toBe(compositeKey(t2, u2));
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps a hash tag whole: a part cannot open or close one", () => {
    fc.assert(
      fc.property(part, (p) => {
        expect(keyPart(p)).not.toMatch(/[{}:|]/);
      }),
    );
  });

  /** What Redis Cluster hashes of a key or channel: between its first `{` and the next `}`, unless that is empty or missing (then all of it). */
  const hashed = (name: string) => {
    const open = name.indexOf("{");
    const close = open < 0 ? -1 : name.indexOf("}", open + 1);
    return close > open + 1 ? name.slice(open + 1, close) : name;
  };
  const tenant = fc.oneof(fc.constant(""), fc.string({ unit: fc.constantFrom("a", "B", "7", "_", ".", "-"), minLength: 1, maxLength: 8 }));
  const id = fc.string({ unit: fc.constantFrom("a", "B", "7", "_", ".", "-", ":"), minLength: 1, maxLength: 12 });

  it("names a room's and a document's Socket.IO room on a Redis Cluster so its adapter channel hashes with their keys", () => {
    const onCluster = socketRooms(true);
    expect(onCluster.room("", "math-101")).toBe("{r::math-101}math-101");
    expect(onCluster.room("acme", "math-101")).toBe("{r:acme:math-101}acme/math-101");
    expect(onCluster.doc("acme", "workspace:w1/src/main.ts")).toBe("{w:acme:w1}acme/doc:workspace:w1/src/main.ts");
    fc.assert(
      fc.property(tenant, id, (t, room) => {
        expect(hashed(roomChannel(onCluster.room(t, room)))).toBe(hashed(keys.roomHistory(t, room)));
        for (const docId of [`room:${room}/notes`, `workspace:${room}/a/b`]) expect(hashed(roomChannel(onCluster.doc(t, docId)))).toBe(hashed(keys.docLog(t, docId)));
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps the plain tenant-scoped names of rooms and documents off a Redis Cluster", () => {
    const plain = socketRooms(false);
    expect(plain.room("", "math-101")).toBe("math-101");
    expect(plain.room("acme", "math-101")).toBe("acme/math-101");
    expect(plain.doc("", "room:math-101/notes")).toBe("doc:room:math-101/notes");
  });
});
