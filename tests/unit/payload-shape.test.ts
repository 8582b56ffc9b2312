/**
 * The payload shape walk (shared/src/json.ts) measures a payload before anything recursive reads
 * it; validateInput serialises a payload only when the walk's size bound exceeds the limit. The
 * bound must never be below the real JSON size, or an oversized payload would pass unmeasured.
 */
import fc from "fast-check";
import Joi from "joi";
import { inspectPayload, PAYLOAD_OPTIONS, QUERY_OPTIONS, validateInput } from "@switchboard/shared";

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

  it("validates one schema with each options object it is given, as joi does with those options", () => {
    const schema = Joi.object({ n: Joi.number().integer(), tags: Joi.array().items(Joi.string()) });
    const cases: [unknown, Joi.ValidationOptions][] = [
      [{ n: "5" }, QUERY_OPTIONS],
      [{ n: "5" }, PAYLOAD_OPTIONS],
      [{ n: 5, extra: true }, PAYLOAD_OPTIONS],
      [{ n: 5, extra: true }, { ...PAYLOAD_OPTIONS, allowUnknown: true }],
      [{ n: 1.5, tags: [1, 2] }, PAYLOAD_OPTIONS],
      [{ n: 7, tags: ["a"] }, QUERY_OPTIONS],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [value, options] of cases) {
        const direct = schema.validate(value, options);
        let ours: unknown;
        try {
          ours = { value: validateInput(schema, value, options) };
        } catch (err) {
          ours = { problems: (err as { details: { message: string }[] }).details.map((d) => d.message) };
        }
        expect(ours).toEqual(direct.error ? { problems: direct.error.details.map((d) => d.message) } : { value: direct.value });
      }
    }
  });
});
