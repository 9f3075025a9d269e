// SPDX-License-Identifier: Apache-2.0
// Environment: Node (the engine; no kernel access here).
//
// The engine's record of one generation of a trie (ntf_lpm4, ntf_lpm6), in flat typed arrays: a
// million-pair policy is two million entries per trie, and as a Map of latin1 strings that is two
// million strings and a hash table V8 takes about 1.6 s to fill (docs/datapath.md "Policy size").
// Here an entry is its key's bytes in one array, its u32 value (a set id) in another, and an
// open-addressing index of entry numbers. It answers the Map calls the engine makes on any record
// (get, has, set, delete, size, iteration, all with latin1 strings as in the other records), and
// gives the engine what it writes to the kernel as bytes: packed entries, and the difference of
// two records, without a string per entry.
import type { PackedEntries } from '../../native-bridge/index.js';

/** A record's Map-like face: what the engine calls on every policy map record (a Map of latin1
 * key and value strings, or a TrieRecord). */
export interface RecordMap extends Iterable<[string, string]> {
  readonly size: number;
  get(key: string): string | undefined;
  has(key: string): boolean;
  set(key: string, value: string): unknown;
  delete(key: string): boolean;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, string]>;
}

const EMPTY = 0;

function valueText(v: number): string {
  return String.fromCharCode(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
}

function valueOf(s: string): number {
  if (s.length !== 4) throw new RangeError(`a trie value is 4 bytes, not ${s.length}`);
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

export class TrieRecord implements RecordMap {
  readonly keySize: number;
  /** Words per key (keySize / 4). */
  private readonly words: number;
  /** Entry i's key at words × i (Uint32 view of the same bytes). */
  private keyBytes: Uint8Array;
  private keyWords: Uint32Array;
  private vals: Uint32Array;
  /** 1 where entry i is live (a deleted entry stays until the next compaction). */
  private live: Uint8Array;
  /** Entries used, live or not. */
  private used = 0;
  private liveCount = 0;
  /** Open addressing, linear probing: entry number + 1, or EMPTY. */
  private index: Int32Array;
  private readonly scratch: Uint8Array;
  private readonly scratch32: Uint32Array;

  constructor(keySize: number, capacity = 16) {
    if (keySize % 4 !== 0) throw new RangeError(`key size ${keySize} is not a multiple of 4`);
    this.keySize = keySize;
    this.words = keySize / 4;
    const cap = Math.max(16, capacity);
    this.keyBytes = new Uint8Array(cap * keySize);
    this.keyWords = new Uint32Array(this.keyBytes.buffer);
    this.vals = new Uint32Array(cap);
    this.live = new Uint8Array(cap);
    this.index = new Int32Array(TrieRecord.slotsFor(cap));
    this.scratch32 = new Uint32Array(this.words);
    this.scratch = new Uint8Array(this.scratch32.buffer);
  }

  private static slotsFor(capacity: number): number {
    let n = 32;
    while (n < capacity * 2) n *= 2;
    return n;
  }

  get size(): number {
    return this.liveCount;
  }

  /** Hash of the key at word `w` of `words32` (FNV-style multiply and xor-shift per word). */
  private hashAt(words32: Uint32Array, w: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.words; i++) {
      h = Math.imul(h ^ (words32[w + i] as number), 0x01000193);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The slot holding the key at word `w` of `words32`, or the empty slot where it would go. */
  private slotOf(words32: Uint32Array, w: number): number {
    const mask = this.index.length - 1;
    let s = this.hashAt(words32, w) & mask;
    for (;;) {
      const e = this.index[s] as number;
      if (e === EMPTY) return s;
      const base = (e - 1) * this.words;
      let same = true;
      for (let i = 0; i < this.words; i++)
        if (this.keyWords[base + i] !== words32[w + i]) {
          same = false;
          break;
        }
      if (same) return s;
      s = (s + 1) & mask;
    }
  }

  /** The key string's bytes in the scratch buffer (its Uint32 view for lookups). */
  private scratchWords(key: string): Uint32Array {
    if (key.length !== this.keySize)
      throw new RangeError(`a ${key.length}-byte key where ${this.keySize} belong`);
    for (let i = 0; i < key.length; i++) this.scratch[i] = key.charCodeAt(i);
    return this.scratch32;
  }

  private entryAt(words32: Uint32Array, w: number): number {
    const e = this.index[this.slotOf(words32, w)] as number;
    return e === EMPTY ? -1 : e - 1;
  }

  get(key: string): string | undefined {
    const i = this.entryAt(this.scratchWords(key), 0);
    return i >= 0 && this.live[i] ? valueText(this.vals[i] as number) : undefined;
  }

  has(key: string): boolean {
    const i = this.entryAt(this.scratchWords(key), 0);
    return i >= 0 && this.live[i] === 1;
  }

  set(key: string, value: string): this {
    this.put(this.scratchWords(key), 0, valueOf(value));
    return this;
  }

  /** Writes the key made of `head` and then `tail` (keySize bytes together). */
  setParts(head: Uint8Array, tail: Uint8Array, value: number): void {
    if (head.length + tail.length !== this.keySize)
      throw new RangeError(`a ${head.length + tail.length}-byte key where ${this.keySize} belong`);
    this.scratch.set(head, 0);
    this.scratch.set(tail, head.length);
    this.put(this.scratch32, 0, value >>> 0);
  }

  private put(words32: Uint32Array, w: number, value: number): void {
    const s = this.slotOf(words32, w);
    const e = this.index[s] as number;
    if (e !== EMPTY) {
      const i = e - 1;
      if (!this.live[i]) {
        this.live[i] = 1;
        this.liveCount++;
      }
      this.vals[i] = value;
      return;
    }
    if (this.used === this.vals.length) {
      this.grow();
      this.put(words32, w, value);
      return;
    }
    const i = this.used++;
    const to = i * this.words;
    for (let k = 0; k < this.words; k++) this.keyWords[to + k] = words32[w + k] as number;
    this.vals[i] = value;
    this.live[i] = 1;
    this.liveCount++;
    this.index[s] = i + 1;
  }

  delete(key: string): boolean {
    const i = this.entryAt(this.scratchWords(key), 0);
    if (i < 0 || !this.live[i]) return false;
    this.live[i] = 0; // stays in the index: probing passes it, a later set revives it
    this.liveCount--;
    return true;
  }

  /** More room: the live entries moved to arrays twice the size (deleted ones dropped). */
  private grow(): void {
    const next = TrieRecord.compacted(this, Math.max(16, this.liveCount * 2));
    this.keyBytes = next.keyBytes;
    this.keyWords = next.keyWords;
    this.vals = next.vals;
    this.live = next.live;
    this.used = next.used;
    this.index = next.index;
  }

  private static compacted(from: TrieRecord, capacity: number): TrieRecord {
    const to = new TrieRecord(from.keySize, capacity);
    for (let i = 0; i < from.used; i++)
      if (from.live[i]) to.put(from.keyWords, i * from.words, from.vals[i] as number);
    return to;
  }

  /** A copy (live entries only). */
  clone(): TrieRecord {
    return TrieRecord.compacted(this, this.liveCount + 16);
  }

  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.used; i++)
      if (this.live[i]) yield [this.keyText(i), valueText(this.vals[i] as number)];
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.used; i++) if (this.live[i]) yield this.keyText(i);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  private keyText(i: number): string {
    return Buffer.from(
      this.keyBytes.buffer,
      this.keyBytes.byteOffset + i * this.keySize,
      this.keySize,
    ).toString('latin1');
  }

  /** Values of entries [from, to) as little-endian u32s. */
  private values(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * 4);
    for (let i = from, at = 0; i < to; i++, at += 4) out.writeUInt32LE(this.vals[i] as number, at);
    return out;
  }

  /** Every live entry, keys and values (u32, little-endian) back to back. */
  packed(): PackedEntries {
    if (this.used === this.liveCount) {
      // Nothing deleted: the key bytes as they are (copied).
      return {
        keys: Buffer.from(this.keyBytes.subarray(0, this.used * this.keySize)),
        values: this.values(0, this.used),
        count: this.used,
      };
    }
    const live: number[] = [];
    for (let i = 0; i < this.used; i++) if (this.live[i]) live.push(i);
    return this.pick(live);
  }

  /** Entries `idx` (entry numbers), packed in that order. */
  private pick(idx: readonly number[]): PackedEntries {
    const ks = this.keySize;
    const keys = Buffer.alloc(idx.length * ks); // not pooled: aligned for the word view
    const values = Buffer.allocUnsafe(idx.length * 4);
    const kw = new Uint32Array(keys.buffer, keys.byteOffset, keys.length / 4);
    const words = this.words;
    idx.forEach((i, n) => {
      for (let k = 0; k < words; k++) kw[n * words + k] = this.keyWords[i * words + k] as number;
      values.writeUInt32LE(this.vals[i] as number, n * 4);
    });
    return { keys, values, count: idx.length };
  }

  /** What turns `from` into `to`: the keys to delete (in `from`, not in `to`) and the entries to
   * write (new, or with another value), packed. */
  static diff(from: TrieRecord, to: TrieRecord): { dels: PackedEntries; ups: PackedEntries } {
    if (from.keySize !== to.keySize) throw new RangeError('records of different key sizes');
    const delIdx: number[] = [];
    for (let i = 0; i < from.used; i++) {
      if (!from.live[i]) continue;
      const j = to.entryAt(from.keyWords, i * from.words);
      if (j < 0 || !to.live[j]) delIdx.push(i);
    }
    const upIdx: number[] = [];
    for (let j = 0; j < to.used; j++) {
      if (!to.live[j]) continue;
      const i = from.entryAt(to.keyWords, j * to.words);
      if (i < 0 || !from.live[i] || from.vals[i] !== to.vals[j]) upIdx.push(j);
    }
    return { dels: from.pick(delIdx), ups: to.pick(upIdx) };
  }
}
