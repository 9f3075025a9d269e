// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// A fixed-capacity ring: push is O(1) and overwrites the oldest item once full, so the live
// table's memory stays bounded however long the window is open.
export class Ring<T> {
  private readonly buf: Array<T | undefined>;
  private head = 0; // index of the next write
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.buf = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    this.buf[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The i-th newest item (0 = newest), or undefined when out of range. */
  newest(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.buf[(this.head - 1 - i + this.capacity * 2) % this.capacity];
  }

  /** Items newest first. */
  toArrayNewestFirst(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.newest(i) as T;
    return out;
  }

  clear(): void {
    this.buf.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
