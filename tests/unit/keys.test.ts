/**
 * The key layout builds every key from its parts through one escaping helper, so different
 * parts never build the same key — the publish-once key of `a` + `b:c` is not that of `a:b` + `c`.
 */
import { compositeKey, keyLayout, keyPart } from "@switchboard/shared";
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
});
