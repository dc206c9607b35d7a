// A bounded FIFO with an explicit overflow policy. push() hands back what it had to drop, so nothing is lost silently.
export type DropPolicy = 'drop-oldest' | 'drop-newest';

export class BoundedQueue<T> {
  private items: T[] = [];

  constructor(readonly capacity: number, readonly policy: DropPolicy) {
    if (capacity < 1) throw new RangeError('queue capacity must be at least 1');
  }

  get length(): number {
    return this.items.length;
  }

  /** Adds `item`; returns the item dropped to make room (the oldest, or `item` itself under drop-newest), else null. */
  push(item: T): T | null {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return null;
    }
    if (this.policy === 'drop-newest') return item;
    const dropped = this.items.shift()!;
    this.items.push(item);
    return dropped;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  /** Removes and returns the first item matching `match`. */
  remove(match: (item: T) => boolean): T | undefined {
    const i = this.items.findIndex(match);
    return i < 0 ? undefined : this.items.splice(i, 1)[0];
  }

  drain(): T[] {
    return this.items.splice(0);
  }
}
