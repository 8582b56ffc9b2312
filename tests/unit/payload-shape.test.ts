/**
 * The payload shape walk (shared/src/json.ts) measures a payload before anything recursive reads
 * it; validateInput serialises a payload only when the walk's size bound exceeds the limit. The
 * bound must never be below the real JSON size, or an oversized payload would pass unmeasured.
 */
import fc from "fast-check";
import Joi from "joi";
import { inspectPayload, PAYLOAD_OPTIONS, validateInput } from "@switchboard/shared";

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "");

describe("payload shape", () => {
  it("bounds the JSON size from above, whatever the JSON value (escapes, astral characters, long numbers)", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie("array"), tie("object")),
      array: fc.array(tie("value"), { maxLength: 6 }),
      object: fc.dictionary(text, tie("value"), { maxKeys: 6 }),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const { bytesAtMost, problem } = inspectPayload(value);
        expect(problem).toBeUndefined();
        expect(bytesAtMost).toBeGreaterThanOrEqual(jsonBytes(value));
      }),
      { numRuns: 2000, seed: 20261203 },
    );
  });

  it("gives up the bound for an object that serialises itself", () => {
    expect(inspectPayload({ at: new Date(0) }).bytesAtMost).toBe(Infinity);
  });

  it("still refuses an oversized payload with its exact size, small bound or not", () => {
    const limit = 1000;
    for (const value of [{ text: "x".repeat(1200) }, { items: Array.from({ length: 300 }, () => "ab") }, { text: "\u0001".repeat(200) }]) {
      const size = jsonBytes(value);
      expect(size).toBeGreaterThan(limit);
      expect(() => validateInput(Joi.object().unknown(), value, PAYLOAD_OPTIONS, { maxBytes: limit })).toThrow(expect.objectContaining({ code: "PAYLOAD_TOO_LARGE", details: { size, limit } }));
    }
    const fits = { text: "\u0001".repeat(100) };
    expect(jsonBytes(fits)).toBeLessThanOrEqual(limit);
    expect(validateInput(Joi.object().unknown(), fits, PAYLOAD_OPTIONS, { maxBytes: limit })).toEqual(fits);
  });
});
