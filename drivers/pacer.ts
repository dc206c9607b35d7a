// Free-run pacing for in-process sources: ticks at a fixed rate without drift, never overlapping a slow tick.
export class Pacer {
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private running = false;

  constructor(private readonly fps: number, private readonly tick: () => Promise<void>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.next = Date.now();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.running) return;
    const now = Date.now();
    // After a long pause (slow consumer, suspended process) restart the schedule instead of bursting.
    if (this.next < now - 1000) this.next = now;
    this.timer = setTimeout(() => {
      // tick() reports its own failures (state, lastError); pacing goes on either way.
      const again = (): void => {
        this.next += 1000 / this.fps;
        this.schedule();
      };
      this.tick().then(again, again);
    }, Math.max(0, this.next - now));
  }
}
