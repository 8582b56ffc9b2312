/**
 * bench/proc.js, what `npm run bench` reads of processes from /proc: a process's CPU split into its
 * main thread and its other threads (the connections suite's "node" and "helpers" columns), read
 * from this test's own process while its main thread, then a worker thread, keeps a core busy
 * (each until it has used the CPU asked for, so a loaded machine only makes it slower).
 */
import { Worker } from "node:worker_threads";
import { cpuSeconds, rssBytes, threadCpuSeconds } from "../../bench/proc";

/** Keeps the main thread busy until it has used `seconds` of CPU (at most 10 s of wall time, on a loaded machine). */
function spinMain(seconds: number): void {
  const start = threadCpuSeconds(process.pid).main;
  const deadline = performance.now() + 10_000;
  while (threadCpuSeconds(process.pid).main - start < seconds && performance.now() < deadline) {
    const end = performance.now() + 20;
    while (performance.now() < end) {
      /* busy */
    }
  }
}

/** Waits until `check()` holds, polling every 50 ms, at most 10 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!check() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Runs a worker thread that keeps its core busy for `ms`, and resolves once it has exited. */
function spinInWorker(ms: number): Promise<void> {
  const worker = new Worker(`const end = performance.now() + ${ms}; while (performance.now() < end) {} require("node:worker_threads").parentPort.postMessage("done");`, { eval: true });
  return new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  }).finally(() => worker.terminate().then(() => undefined));
}

describe("bench/proc.js", () => {
  test("a busy main thread counts as main, not as helpers", () => {
    const before = threadCpuSeconds(process.pid);
    spinMain(0.3);
    const after = threadCpuSeconds(process.pid);
    const main = after.main - before.main;
    const helpers = after.helpers - before.helpers;
    expect(main).toBeGreaterThanOrEqual(0.3);
    expect(helpers).toBeLessThan(main / 2);
  });

  test("a busy worker thread counts as helpers, not as main", async () => {
    // Read while the worker still runs: a thread's time leaves /proc/<pid>/task when it exits.
    const worker = new Worker(`while (true) {}`, { eval: true });
    try {
      await new Promise((resolve) => worker.once("online", resolve));
      const before = threadCpuSeconds(process.pid);
      await until(() => threadCpuSeconds(process.pid).helpers - before.helpers >= 0.3);
      const after = threadCpuSeconds(process.pid);
      const main = after.main - before.main;
      const helpers = after.helpers - before.helpers;
      expect(helpers).toBeGreaterThanOrEqual(0.3);
      expect(main).toBeLessThan(helpers / 2);
    } finally {
      await worker.terminate();
    }
  });

  test("the threads' parts add up to no more than the process's total, which counts ended threads too", async () => {
    await spinInWorker(200);
    const { main, helpers } = threadCpuSeconds(process.pid);
    const total = cpuSeconds(process.pid);
    expect(main).toBeGreaterThan(0);
    expect(main + helpers).toBeLessThanOrEqual(total + 0.05);
  });

  test("a process that is gone reads as zero", () => {
    const gone = 2 ** 22 + 1; // above the kernel's pid_max
    expect(threadCpuSeconds(gone)).toEqual({ main: 0, helpers: 0 });
    expect(cpuSeconds(gone)).toBe(0);
  });

  test("the resident memory of a live process is read in bytes", () => {
    const rss = rssBytes(process.pid);
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(Math.abs(rss - process.memoryUsage().rss)).toBeLessThan(64 * 2 ** 20);
  });
});
