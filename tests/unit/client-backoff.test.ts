/**
 * The SDK's reconnect schedule with a fake socket.io and fake timers: exponential back-off with
 * full jitter, the longer wait of DEVICE_LIMIT/SERVER_FULL, URL rotation, the circuit breaker
 * (threshold within a window, cool-down, one half-open probe) and UNAUTHORIZED never retried.
 */
import { Client, type ClientOptions, type IoFactory } from "@switchboard/client";
import type { Socket } from "socket.io-client";

class FakeSocket {
  private readonly handlers = new Map<string, (...args: unknown[]) => void>();
  connected = false;
  constructor(readonly url: string | undefined) {}
  on(event: string, fn: (...args: unknown[]) => void) {
    this.handlers.set(event, fn);
    return this;
  }
  onAny() {
    return this;
  }
  offAny() {
    return this;
  }
  removeAllListeners() {
    this.handlers.clear();
    return this;
  }
  disconnect() {
    return this;
  }
  timeout() {
    return { emit: () => undefined };
  }
  refuse(code: string) {
    this.handlers.get("connect_error")?.(Object.assign(new Error(code), { data: { code, message: code } }));
  }
}

describe("client SDK reconnect schedule", () => {
  let sockets: FakeSocket[];
  const io: IoFactory = (url) => {
    const socket = new FakeSocket(url);
    sockets.push(socket);
    return socket as unknown as Socket;
  };
  const last = () => sockets[sockets.length - 1]!;
  const client = (options: Partial<ClientOptions> = {}) => new Client(io, { url: ["ws://a", "ws://b", "ws://c"], token: "t", storage: null, heartbeatIntervalMs: 0, ...options });

  /** The wait before the next connect attempt, to the millisecond. */
  function nextDelay(limitMs = 200000): number {
    const before = sockets.length;
    for (let waited = 0; waited <= limitMs; waited++) {
      jest.advanceTimersByTime(waited === 0 ? 0 : 1);
      if (sockets.length > before) return waited;
    }
    throw new Error("no further attempt");
  }

  beforeEach(() => {
    sockets = [];
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it("backs off exponentially up to the maximum, with full jitter, rotating through the URLs", () => {
    jest.spyOn(Math, "random").mockReturnValue(0.999);
    const c = client({ reconnect: { minDelayMs: 100, maxDelayMs: 1000, factor: 2 }, breaker: { threshold: 100 } });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      last().refuse("UNAVAILABLE");
      delays.push(nextDelay());
    }
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
    expect(sockets.map((s) => s.url)).toEqual(["ws://a", "ws://b", "ws://c", "ws://a", "ws://b", "ws://c", "ws://a"]);
    expect(c.state).toBe("connecting");
    expect(c.lastError).toBe("UNAVAILABLE");

    // Jitter is full: the wait may be anything from zero to the cap.
    (Math.random as jest.Mock).mockReturnValue(0);
    last().refuse("UNAVAILABLE");
    expect(nextDelay()).toBe(0);
    c.close();
  });

  it("waits longer after DEVICE_LIMIT and SERVER_FULL", () => {
    jest.spyOn(Math, "random").mockReturnValue(0.5);
    const c = client({ reconnect: { minDelayMs: 100, slowDelayMs: 5000 } });
    last().refuse("SERVER_FULL");
    expect(nextDelay()).toBe(5050);
    last().refuse("DEVICE_LIMIT");
    expect(nextDelay()).toBe(5100);
    c.close();
  });

  it("opens the breaker after the threshold, probes once after the cool-down, and retryNow closes it", () => {
    jest.spyOn(Math, "random").mockReturnValue(0.5);
    const c = client({ reconnect: { minDelayMs: 10, maxDelayMs: 10 }, breaker: { threshold: 3, windowMs: 10000, cooldownMs: 5000 } });
    const failed: string[] = [];
    c.on("failed", (code) => failed.push(code));
    last().refuse("UNAVAILABLE");
    nextDelay();
    last().refuse("UNAVAILABLE");
    nextDelay();
    last().refuse("UNAVAILABLE");
    expect(c.state).toBe("failed");
    expect(failed).toEqual(["UNAVAILABLE"]);
    expect(sockets).toHaveLength(3);
    // Open: nothing until the cool-down, then one probe; its failure opens it again at once.
    expect(nextDelay()).toBe(5000);
    expect(sockets).toHaveLength(4);
    last().refuse("UNAVAILABLE");
    expect(c.state).toBe("failed");
    expect(failed).toEqual(["UNAVAILABLE", "UNAVAILABLE"]);
    c.retryNow();
    expect(sockets).toHaveLength(5);
    expect(c.state).toBe("connecting");
    c.close();
  });

  it("never retries UNAUTHORIZED", () => {
    const c = client({ breaker: { cooldownMs: 1000 } });
    last().refuse("UNAUTHORIZED");
    expect(c.state).toBe("failed");
    expect(c.lastError).toBe("UNAUTHORIZED");
    jest.advanceTimersByTime(600000);
    expect(sockets).toHaveLength(1);
    c.close();
  });
});
