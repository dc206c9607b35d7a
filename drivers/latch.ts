// Latched software trigger for streaming sources (rtsp, ffmpeg, gige with `trigger: software`): the stream keeps
// running and is supervised as usual, but a frame is passed on only to answer a trigger.
//
// The rule, exact at the agent's boundary: trigger N, accepted at time T (epoch ms), is answered by the first
// complete, size-validated frame whose first byte reached the agent at a millisecond strictly later than
// T + triggerDelayMs. A frame already arriving at T (or earlier) is never used. Triggers are served in order,
// one frame each: two triggers inside one frame period get two consecutive frames. Camera exposure, encoding,
// network and decoder latency happen before the first byte reaches the agent and are invisible to it; set
// triggerDelayMs to at least that latency (and any conveyor travel) when the part must be in front of the lens.

export interface LatchOptions {
  /** Extra wait after the trigger before a frame may answer it (conveyor travel, pipeline latency). */
  delayMs: number;
  /** How long after the window opens (trigger + delayMs) a frame may take before the trigger is rejected. */
  timeoutMs: number;
  /** e.g. "camera cam1 (rtsp://***@host/path)". */
  describe: () => string;
  /** The source's state for the error text, e.g. "offline since 1.2 s: ffmpeg exited (code 1)". */
  stateText: () => string;
}

/** The latch options of a streaming camera config, or undefined when it is not software-triggered. */
export function softwareTriggerOf(config: { trigger: string; triggerDelayMs: number; triggerTimeoutMs: number }): { delayMs: number; timeoutMs: number } | undefined {
  return config.trigger === 'software' ? { delayMs: config.triggerDelayMs, timeoutMs: config.triggerTimeoutMs } : undefined;
}

interface Pending {
  triggerId: number;
  opensAt: number;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A frame claimed for a trigger: emit it tagged with triggerId, then call done(). */
export interface Claim {
  triggerId: number;
  done: () => void;
}

export class TriggerLatch {
  private readonly queue: Pending[] = [];

  constructor(private readonly options: LatchOptions) {}

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once the answering frame was emitted; rejects after the timeout, or when the source stops. */
  arm(triggerId: number, now = Date.now()): Promise<void> {
    const { delayMs, timeoutMs, describe } = this.options;
    if (this.queue.some((p) => p.triggerId === triggerId)) {
      return Promise.reject(new Error(`${describe()}: trigger ${triggerId} is already waiting for a frame; use a new trigger id`));
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        triggerId,
        opensAt: now + delayMs,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(entry);
          const delay = delayMs > 0 ? ` (+${delayMs} ms trigger delay)` : '';
          reject(new Error(`${describe()}: no frame for trigger ${triggerId} within ${timeoutMs} ms${delay}; camera ${this.options.stateText()}`));
        }, delayMs + timeoutMs),
      };
      this.queue.push(entry);
    });
  }

  /** Offers a frame by the time its first byte arrived; returns the trigger it answers, or undefined (frame not wanted). */
  claim(startedAt: number): Claim | undefined {
    const head = this.queue[0];
    // opensAt never decreases along the queue (same delay, arrival order), so only the head can match.
    if (!head || startedAt <= head.opensAt) return undefined;
    this.queue.shift();
    clearTimeout(head.timer);
    return { triggerId: head.triggerId, done: head.resolve };
  }

  /** Rejects every waiting trigger (source stopped). */
  rejectAll(reason: string): void {
    for (const entry of this.queue.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(new Error(`${this.options.describe()}: ${reason} before trigger ${entry.triggerId} got a frame`));
    }
  }

  private remove(entry: Pending): void {
    const i = this.queue.indexOf(entry);
    if (i >= 0) this.queue.splice(i, 1);
  }
}
