// Polls a condition in tests; resolves with the milliseconds it took (tests report them), rejects naming what it waited for.
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(what: string | (() => string), cond: () => boolean, timeoutMs: number, pollMs = 20): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(pollMs);
  }
  return Date.now() - t0;
}
