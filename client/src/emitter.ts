/** A tiny typed event emitter (the SDK ships no Node `events` to browsers). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listener maps are checked per event by the `E` type
type Listener = (...args: any[]) => void;

export type EventMap<E> = { [K in keyof E]: Listener };

export class Emitter<E extends EventMap<E>> {
  private listeners: { [K in keyof E]?: E[K][] } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    (this.listeners[event] ??= []).push(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const off = this.on(event, ((...args: Parameters<E[K]>) => {
      off();
      listener(...args);
    }) as E[K]);
    return off;
  }

  off<K extends keyof E>(event: K, listener?: E[K]): void {
    const list = this.listeners[event];
    if (!list) return;
    if (listener) list.splice(list.indexOf(listener) >>> 0, 1);
    else list.length = 0;
  }

  /** How many listeners an event has. */
  listenerCount(event: keyof E): number {
    return this.listeners[event]?.length ?? 0;
  }

  /** Calls every listener; one that throws does not stop the others (its error is rethrown asynchronously). */
  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    for (const listener of [...(this.listeners[event] ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
