/**
 * Ops per second per socket: a one-second window per socket; past the limit an op is refused
 * with the time until the window ends.
 */
export class SocketRate {
  private readonly windows = new WeakMap<object, { start: number; count: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly windowMs = 1000,
  ) {}

  /** 0 when the op may go now (and counts it), else the ms until it may. */
  take(socket: object, now = Date.now()): number {
    let window = this.windows.get(socket);
    if (!window || now - window.start >= this.windowMs) this.windows.set(socket, (window = { start: now, count: 0 }));
    if (window.count >= this.perSecond) return window.start + this.windowMs - now;
    window.count += 1;
    return 0;
  }
}
