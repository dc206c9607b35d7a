// The last N stderr lines of a child, with credentials scrubbed, for the offline event and the log.

/** Removes user:password from URLs and values of password-like parameters. */
export function scrubCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@')
    .replace(/((?:pass(?:word)?|pwd|token|secret|key)=)[^\s&]+/gi, '$1***');
}

export class StderrTail {
  private lines: string[] = [];
  private partial = '';

  constructor(private readonly max: number, private readonly onLine?: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const raw of parts) this.add(raw);
  }

  /** Call when the stream ends so a last line without newline is kept. */
  end(): void {
    if (this.partial) this.add(this.partial);
    this.partial = '';
  }

  get(): string[] {
    return [...this.lines];
  }

  private add(raw: string): void {
    const line = scrubCredentials(raw.trimEnd());
    if (!line) return;
    this.onLine?.(line);
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
}
