/**
 * TurnBatches: the calls of one turn grouped by key, each group run once, in the order the calls
 * came, each call answered with its own answer or its group's error; settled() waits for them all.
 * With a schedule of its own (a node's end of turn), the groups wait for it; handOver() runs the
 * waiting groups at once (one batcher's before another's).
 */
import { TurnBatches } from "@switchboard/store";

/** A batcher that records each group it runs and answers every item with `item * 10`. */
function recording(maxSize = 100) {
  const runs: { key: string; items: number[] }[] = [];
  const batches = new TurnBatches<number, number>(async (key, items) => {
    runs.push({ key, items: [...items] });
    return items.map((i) => i * 10);
  }, maxSize);
  return { batches, runs };
}

describe("TurnBatches", () => {
  it("runs the calls of one turn once per key, in the order they came, and answers each", async () => {
    const { batches, runs } = recording();
    const answers = Promise.all([batches.add("a", 1), batches.add("b", 2), batches.add("a", 3), batches.add("a", 4)]);
    expect(runs).toEqual([]); // nothing runs before the turn's callbacks are done
    expect(await answers).toEqual([10, 20, 30, 40]);
    expect(runs).toEqual([
      { key: "a", items: [1, 3, 4] },
      { key: "b", items: [2] },
    ]);
  });

  it("groups calls made from promise callbacks of the same turn", async () => {
    const { batches, runs } = recording();
    const answers = Promise.all([1, 2, 3].map(async (i) => {
      await Promise.resolve();
      await Promise.resolve();
      return batches.add("a", i);
    }));
    expect(await answers).toEqual([10, 20, 30]);
    expect(runs).toEqual([{ key: "a", items: [1, 2, 3] }]);
  });

  it("runs the calls of later turns as groups of their own", async () => {
    const { batches, runs } = recording();
    expect(await batches.add("a", 1)).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await batches.add("a", 2)).toBe(20);
    expect(runs).toEqual([
      { key: "a", items: [1] },
      { key: "a", items: [2] },
    ]);
  });

  it("hands a full group over at once and starts another, keeping the order", async () => {
    const { batches, runs } = recording(3);
    const answers = Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => batches.add("a", i)));
    // The first two groups were full: they ran without waiting for the turn to end.
    expect(runs).toEqual([
      { key: "a", items: [1, 2, 3] },
      { key: "a", items: [4, 5, 6] },
    ]);
    expect(await answers).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(runs[2]).toEqual({ key: "a", items: [7] });
  });

  it("fails every call of a group whose run fails, and only those", async () => {
    const batches = new TurnBatches<number, number>(async (key, items) => {
      if (key === "bad") throw new Error("store unreachable");
      return items.map((i) => i);
    }, 10);
    const bad = [batches.add("bad", 1), batches.add("bad", 2)];
    const good = batches.add("good", 3);
    for (const call of bad) await expect(call).rejects.toThrow("store unreachable");
    await expect(good).resolves.toBe(3);
  });

  it("fails every call of a group whose run throws before it returns a promise", async () => {
    const batches = new TurnBatches<number, number>(() => {
      throw new Error("bad arguments");
    }, 10);
    await expect(Promise.all([batches.add("a", 1), batches.add("a", 2)])).rejects.toThrow("bad arguments");
  });

  it("settles once every call made so far has its answer, waiting or running, failed or not", async () => {
    const release: (() => void)[] = [];
    const batches = new TurnBatches<number, number>(
      (key, items) =>
        new Promise((resolve, reject) => release.push(() => (key === "bad" ? reject(new Error("down")) : resolve(items.map((i) => i))))),
      2,
    );
    const calls = [batches.add("a", 1), batches.add("a", 2), batches.add("bad", 3), batches.add("b", 4)];
    for (const call of calls) call.catch(() => undefined);
    let settled = false;
    const settling = batches.settled().then(() => (settled = true));
    // "a" was full and ran at once; "bad" and "b" run at the end of the turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(release).toHaveLength(3);
    expect(settled).toBe(false);
    release[0]!();
    release[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release[2]!();
    await settling;
    expect(settled).toBe(true);
    await expect(Promise.allSettled(calls)).resolves.toEqual([
      { status: "fulfilled", value: 1 },
      { status: "fulfilled", value: 2 },
      { status: "rejected", reason: new Error("down") },
      { status: "fulfilled", value: 4 },
    ]);
    await expect(new TurnBatches<number, number>(async () => [], 2).settled()).resolves.toBeUndefined();
  });

  it("with a schedule of its own, groups the calls of several callbacks until it flushes, and settles after", async () => {
    const runs: number[][] = [];
    const flushes: (() => void)[] = [];
    const batches = new TurnBatches<number, number>(
      async (_key, items) => {
        runs.push([...items]);
        return items.map((i) => i + 1);
      },
      10,
      (flush) => flushes.push(flush),
    );
    // Three callbacks of their own (each followed by its process.nextTick queue), one flush.
    const answers = await new Promise<Promise<number>[]>((resolve) => {
      const made: Promise<number>[] = [];
      for (const i of [1, 2, 3]) setImmediate(() => made.push(batches.add("a", i)));
      setImmediate(() => resolve(made));
    });
    expect(flushes).toHaveLength(1); // scheduled once, by the first call
    expect(runs).toEqual([]);
    let settled = false;
    const settling = batches.settled().then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false); // the calls are still waiting for the flush
    flushes[0]!();
    expect(await Promise.all(answers)).toEqual([2, 3, 4]);
    await settling;
    expect(runs).toEqual([[1, 2, 3]]);
    // The next call schedules again.
    const next = batches.add("a", 9);
    expect(flushes).toHaveLength(2);
    flushes[1]!();
    expect(await next).toBe(10);
  });

  it("hands its waiting groups over when asked, before another batcher's of the same turn, and its own flush then finds nothing", async () => {
    const order: string[] = [];
    const first = new TurnBatches<number, number>(async (key, items) => {
      order.push(`first ${key}:${items.join(",")}`);
      return items;
    }, 10);
    const second = new TurnBatches<number, number>(
      async (key, items) => {
        order.push(`second ${key}:${items.join(",")}`);
        return items;
      },
      10,
      (flush) =>
        process.nextTick(() => {
          first.handOver();
          flush();
        }),
    );
    // the second batcher's calls come first in the turn, yet the first's groups run before them
    const answers = Promise.all([second.add("s", 1), first.add("f", 2), first.add("g", 3), second.add("s", 4)]);
    expect(await answers).toEqual([1, 2, 3, 4]);
    expect(order).toEqual(["first f:2", "first g:3", "second s:1,4"]);
    await first.settled();
    expect(order).toHaveLength(3);
    first.handOver(); // nothing waiting: nothing runs
    expect(order).toHaveLength(3);
  });

  it("fails the calls a run left without an answer", async () => {
    const batches = new TurnBatches<number, number>(async () => [1], 10);
    const first = batches.add("a", 1);
    const second = batches.add("a", 2);
    await expect(first).resolves.toBe(1);
    await expect(second).rejects.toThrow("a batch of 2 got 1 answers");
  });
});
