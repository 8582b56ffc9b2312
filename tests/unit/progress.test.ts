/**
 * scripts/progress.js, the progress of `npm run bench`, `npm run load` and `npm run cluster`: a
 * status line rewritten in place on a terminal, plain lines without a control character anywhere
 * else. Driven with fake streams and a fake clock.
 */
import { CLEAR_LINE, createProgress, formatCount, formatDuration, type ProgressStream } from "../../scripts/progress";

interface FakeStream extends ProgressStream {
  chunks: string[];
  text(): string;
}

function fakeStream(isTTY: boolean, columns = 120): FakeStream {
  const chunks: string[] = [];
  return {
    isTTY,
    columns,
    chunks,
    write(chunk: string | Uint8Array) {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return true;
    },
    text: () => chunks.join(""),
  };
}

/** Any C0 control character but the newline, and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("progress on a pipe or a file (not a TTY)", () => {
  test("prints one plain line when a step starts and one when it ends, with its time, count and rate", () => {
    const out = fakeStream(false);
    const c = clock();
    let delivered = 0;
    const progress = createProgress({ label: "fanout", stream: out, stderr: null, env: {}, now: c.now });
    expect(progress.interactive).toBe(false);

    progress.step("switchboard 800 publishes/s", { index: 3, of: 14, count: () => delivered, unit: "deliveries" });
    c.advance(1000);
    delivered = 8000;
    progress.render();
    c.advance(1000);
    delivered = 16000;
    progress.render();
    progress.end("p99 4.2 ms");

    expect(out.text()).not.toMatch(CONTROL);
    expect(out.chunks).toEqual([
      "[fanout] switchboard 800 publishes/s (3/14): started\n",
      "[fanout] switchboard 800 publishes/s (3/14): done in 2.0 s, 16 000 deliveries, 8 000/s, p99 4.2 ms\n",
    ]);
  });

  test("counts what the counter grew by since the step started", () => {
    const out = fakeStream(false);
    const c = clock();
    let sent = 5000;
    const progress = createProgress({ label: "bench", stream: out, stderr: null, env: {}, now: c.now });
    progress.step("step 2", { count: () => sent, unit: "sent" });
    c.advance(500);
    sent = 6000;
    progress.end();
    expect(out.chunks[1]).toBe("[bench] step 2: done in 0.5 s, 1 000 sent, 2 000/s\n");
  });

  test("starting a step ends the one before; other output passes through untouched", () => {
    const out = fakeStream(false);
    const c = clock();
    const ownWrite = out.write;
    const progress = createProgress({ label: "cluster", stream: out, stderr: null, env: {}, now: c.now });
    progress.step("redis");
    expect(out.write).toBe(ownWrite);
    out.write("[redis]   a line of its own\n");
    c.advance(300);
    let ready = 0;
    progress.step("nodes", { count: () => ready, total: 3, unit: "ready", rate: false });
    c.advance(1200);
    ready = 2;
    progress.fail("node-3 exited during start");
    progress.end();

    expect(out.text()).not.toMatch(CONTROL);
    expect(out.chunks).toEqual([
      "[cluster] redis: started\n",
      "[redis]   a line of its own\n",
      "[cluster] redis: done in 0.3 s\n",
      "[cluster] nodes: started\n",
      "[cluster] nodes: failed after 1.2 s, 2/3 ready, node-3 exited during start\n",
    ]);
  });

  test("a TTY whose TERM is dumb gets plain lines too", () => {
    const out = fakeStream(true);
    const progress = createProgress({ label: "load", stream: out, stderr: null, env: { TERM: "dumb" }, now: clock().now });
    expect(progress.interactive).toBe(false);
    progress.step("rooms", { index: 1, of: 3 });
    progress.render();
    progress.end();
    expect(out.text()).not.toMatch(CONTROL);
    expect(out.chunks).toHaveLength(2);
  });
});

describe("progress on a TTY", () => {
  test("rewrites one status line in place with the step, its count and rate and the elapsed time", () => {
    const out = fakeStream(true);
    const c = clock();
    let delivered = 0;
    const progress = createProgress({ label: "fanout", stream: out, stderr: null, env: { TERM: "xterm" }, now: c.now, intervalMs: 60_000 });
    expect(progress.interactive).toBe(true);

    c.advance(5000);
    progress.step("bare 1600 publishes/s", { index: 2, of: 5, count: () => delivered, unit: "deliveries" });
    c.advance(2000);
    delivered = 32000;
    progress.render();

    const last = out.chunks[out.chunks.length - 1];
    expect(last.startsWith(CLEAR_LINE)).toBe(true);
    expect(last).not.toContain("\n");
    expect(last).toBe(`${CLEAR_LINE}[fanout] bare 1600 publishes/s (2/5) · 32 000 deliveries · 16 000/s · 2.0 s · run 7.0 s`);
    expect(progress.status()).toBe("[fanout] bare 1600 publishes/s (2/5) · 32 000 deliveries · 16 000/s · 2.0 s · run 7.0 s");

    progress.end();
    expect(out.chunks[out.chunks.length - 1]).toBe(CLEAR_LINE);
    expect(progress.status()).toBeNull();
    // nothing of the status line stays: every chunk but the clears had no newline
    expect(out.chunks.filter((ch) => ch.includes("\n"))).toEqual([]);
  });

  test("lines written meanwhile, to the stream or to stderr, land above the status line", () => {
    const out = fakeStream(true);
    const err = fakeStream(true);
    const ownWrite = out.write;
    const ownErrWrite = err.write;
    const order: string[] = [];
    out.write = (chunk: string | Uint8Array) => (order.push(`out:${String(chunk)}`), ownWrite(chunk));
    err.write = (chunk: string | Uint8Array) => (order.push(`err:${String(chunk)}`), ownErrWrite(chunk));
    const wrappedOut = out.write;
    const wrappedErr = err.write;

    const progress = createProgress({ label: "cluster", stream: out, stderr: err, env: {}, now: clock().now, intervalMs: 60_000 });
    let ready = 0;
    progress.step("nodes", { count: () => ready, total: 3, unit: "ready", rate: false });
    ready = 1;
    expect(out.write).not.toBe(wrappedOut);
    order.length = 0;

    out.write("[node-1]  listening\n");
    err.write("[node-2]  a warning\n");
    const status = `${CLEAR_LINE}[cluster] nodes · 1/3 ready · 0.0 s`;
    expect(order).toEqual([`out:${CLEAR_LINE}`, "out:[node-1]  listening\n", `out:${status}`, `out:${CLEAR_LINE}`, "err:[node-2]  a warning\n", `out:${status}`]);

    // an unfinished line is not drawn over: the status line waits for its end
    order.length = 0;
    out.write("partial ");
    progress.render();
    out.write("line\n");
    expect(order).toEqual([`out:${CLEAR_LINE}`, "out:partial ", "out:line\n", `out:${status}`]);

    progress.end();
    expect(out.write).toBe(wrappedOut);
    expect(err.write).toBe(wrappedErr);
  });

  test("the status line never wraps: it is cut to the terminal's width", () => {
    const out = fakeStream(true, 40);
    const progress = createProgress({ label: "load", stream: out, stderr: null, env: {}, now: clock().now, intervalMs: 60_000 });
    progress.step("scenario rooms, artillery run -e smoke --target http://127.0.0.1:8080", { index: 1, of: 3 });
    const drawn = out.chunks[out.chunks.length - 1].slice(CLEAR_LINE.length);
    expect([...drawn].length).toBeLessThan(40);
    expect(drawn.endsWith("…")).toBe(true);
    progress.end();
  });
});

test("durations and counts read easily", () => {
  expect(formatDuration(420)).toBe("0.4 s");
  expect(formatDuration(59_940)).toBe("59.9 s");
  expect(formatDuration(125_000)).toBe("2 m 05 s");
  expect(formatDuration(3_720_000)).toBe("1 h 02 m");
  expect(formatCount(1234567)).toBe("1 234 567");
  expect(formatCount(999)).toBe("999");
});
