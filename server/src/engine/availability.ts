import { EventEmitter } from "node:events";

/** Tracks whether an engine's backing connections are usable and tells listeners on change. */
export class Availability {
  private readonly events = new EventEmitter();
  private state: boolean;

  constructor(initial: boolean) {
    this.state = initial;
  }

  get available(): boolean {
    return this.state;
  }

  set(next: boolean): void {
    if (next === this.state) return;
    this.state = next;
    this.events.emit("change", next);
  }

  onChange(listener: (available: boolean) => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }

  waitUntilAvailable(timeoutMs: number): Promise<boolean> {
    if (this.state) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.onChange((available) => {
        if (!available) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }
}
