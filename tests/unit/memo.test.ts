import { BoundedMemo } from "../../store/src/memo";

describe("BoundedMemo", () => {
  it("gives back what was set, and starts afresh once it holds its bound", () => {
    const memo = new BoundedMemo<number>(3);
    expect(memo.get("a")).toBeUndefined();
    expect(memo.set("a", 1)).toBe(1);
    memo.set("b", 2);
    memo.set("c", 3);
    expect([memo.get("a"), memo.get("b"), memo.get("c"), memo.size]).toEqual([1, 2, 3, 3]);
    // A fourth key: the memo never holds more than 3.
    memo.set("d", 4);
    expect([memo.get("a"), memo.get("d"), memo.size]).toEqual([undefined, 4, 1]);
    for (let i = 0; i < 100; i++) memo.set(`k${i}`, i);
    expect(memo.size).toBeLessThanOrEqual(3);
    memo.clear();
    expect(memo.size).toBe(0);
  });
});
