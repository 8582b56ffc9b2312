/**
 * The wait between a poller's looks (the streams registry): its shortest while looks find work,
 * doubling up to its longest while they find none, so an idle cluster does not keep asking Redis
 * dozens of times a second. wake() — this node has just written something a look will find — ends
 * the current wait and starts over from the shortest.
 */
export class IdleBackoff {
  private delay: number;
  private pending?: () => void;

  constructor(
    private readonly shortestMs: number,
    private readonly longestMs: number,
  ) {
    this.delay = shortestMs;
  }

  /** After a look: whether it found work. */
  found(work: boolean): void {
    this.delay = work ? this.shortestMs : Math.min(this.longestMs, this.delay * 2);
  }

  /** Waits the current delay, or until wake(). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.pending === done) this.pending = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.delay);
      timer.unref();
      this.pending = done;
    });
  }

  wake(): void {
    this.delay = this.shortestMs;
    this.pending?.();
  }
}
