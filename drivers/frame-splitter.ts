// Cuts a byte stream into exact frame-sized buffers. Never yields a partial or mis-sized frame: leftovers are
// reported by flush(), and data that arrives before the frame size is known is held back, not guessed at.

export class FrameSplitter {
  private frameBytes = 0;
  private current: Buffer | undefined;
  private filled = 0;
  private startedAt = 0;
  private pending: { chunk: Buffer; at: number }[] = [];

  /** `startedAt`: epoch ms when the chunk holding the frame's first byte was pushed (the software-trigger latch needs it). */
  constructor(private readonly onFrame: (frame: Buffer, startedAt: number) => void) {}

  get size(): number {
    return this.frameBytes;
  }

  /** Sets the frame size; data held back so far is replayed. Changing the size drops a frame in progress. */
  setFrameBytes(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes <= 0) throw new Error(`frame size must be a positive integer, got ${bytes}`);
    const dropped = this.frameBytes !== bytes ? this.filled : 0;
    if (this.frameBytes !== bytes) {
      this.current = undefined;
      this.filled = 0;
    }
    this.frameBytes = bytes;
    const held = this.pending;
    this.pending = [];
    for (const { chunk, at } of held) this.push(chunk, at);
    return dropped;
  }

  push(chunk: Buffer, at = Date.now()): void {
    if (this.frameBytes === 0) {
      this.pending.push({ chunk, at });
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      // One copy per frame: pipe chunks (64 KiB) never hold a whole frame, so the frame is assembled once.
      if (!this.current) {
        this.current = Buffer.allocUnsafe(this.frameBytes);
        this.startedAt = at;
      }
      const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      chunk.copy(this.current, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.frameBytes) {
        const frame = this.current;
        this.current = undefined;
        this.filled = 0;
        this.onFrame(frame, this.startedAt);
      }
    }
  }

  /** Ends the stream: returns how many bytes of an incomplete frame were discarded (0 when it ended cleanly). */
  flush(): number {
    const leftover = this.filled + this.pending.reduce((s, p) => s + p.chunk.length, 0);
    this.current = undefined;
    this.filled = 0;
    this.pending = [];
    return leftover;
  }
}
