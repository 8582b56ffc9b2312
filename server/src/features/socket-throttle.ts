/**
 * Per-socket throttling of volatile events (room typing and cursors, document cursors): at most
 * one event per interval for each socket and key; a change of state (typing) always passes.
 */
export class SocketThrottle {
  private readonly last = new WeakMap<object, Map<string, { at: number; state?: unknown }>>();

  constructor(private readonly intervalMs: number) {}

  /** True when the event may go out now (and records it). */
  allow(socket: object, key: string, state?: unknown, now = Date.now()): boolean {
    let seen = this.last.get(socket);
    if (!seen) this.last.set(socket, (seen = new Map()));
    const previous = seen.get(key);
    if (previous && now - previous.at < this.intervalMs && previous.state === state) return false;
    seen.set(key, { at: now, state });
    return true;
  }
}
