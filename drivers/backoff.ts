// Exponential restart backoff with jitter, reset by the first good frame (RELIABILITY.md: 1 s → 60 s cap).

export class Backoff {
  private failures = 0;

  constructor(private readonly initialMs: number, private readonly maxMs: number, private readonly random: () => number = Math.random) {}

  /** Delay before the next attempt; each call counts one more consecutive failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // ±20 % jitter so cameras that died together do not reconnect in lockstep; never above the cap.
    return Math.round(Math.min(this.maxMs, base * (0.8 + 0.4 * this.random())));
  }

  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
