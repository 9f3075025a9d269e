// SPDX-License-Identifier: Apache-2.0
// Environment: Node (the engine; no kernel access here).
//
// The order in which the kernel lists an LPM trie's entries, so that the engine can check a trie
// it reads back against its record with one byte comparison instead of one string per entry
// (docs/datapath.md "Read back"). The order is only ever used to go faster: a trie listed in any
// other order fails the comparison and is compared entry by entry, as before.
//
// The kernel's trie_get_next_key (kernel/bpf/lpm_trie.c), which the batch lookup calls for each
// entry, walks the trie in postorder, the child for bit 0 before the child for bit 1: of two keys,
// the one whose data has a 0 at the first bit where they differ (within the shorter prefix) comes
// first; a key inside another's prefix (longer, equal up to the shorter prefix) comes before it.
// The key is the kernel's struct bpf_lpm_trie_key_u8: a u32 prefix length (host order, bits of
// data that count), then the data, compared from its first byte's most significant bit.

import type { PackedEntries } from '../../native-bridge/index.js';

/** Bytes before the data of an LPM key (the kernel's u32 prefixlen). */
const DATA_OFF = 4;

/** < 0 when the key at `a[ao]` comes before the one at `b[bo]` in the kernel's listing, > 0 when
 * after, 0 for the same key (equal prefix length and the same bits within it). */
export function compareTrieKeys(a: Buffer, ao: number, b: Buffer, bo: number): number {
  const pa = a.readUInt32LE(ao);
  const pb = b.readUInt32LE(bo);
  const bits = Math.min(pa, pb);
  for (let i = 0; i * 8 < bits; i++) {
    const x = (a[ao + DATA_OFF + i] ?? 0) ^ (b[bo + DATA_OFF + i] ?? 0);
    if (x === 0) continue;
    const bit = i * 8 + Math.clz32(x) - 24;
    if (bit >= bits) break; // differ only past the shorter prefix
    return ((a[ao + DATA_OFF + i] ?? 0) >> (7 - (bit & 7))) & 1 ? 1 : -1;
  }
  return pa === pb ? 0 : pa > pb ? -1 : 1; // the longer prefix is inside the other: first
}

/** The first index of `p` whose key does not come before `key` (p.count when none). */
function lowerBound(p: PackedEntries, keySize: number, key: Buffer): number {
  let lo = 0;
  let hi = p.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareTrieKeys(p.keys, mid * keySize, key, 0) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `p` (in the kernel's order) with the keys `dels` removed and `ups` written: an existing key's
 * value replaced, a new key at its place. Undefined when a key to delete is not there or a key
 * occurs twice among the changes (the caller then has no order, which costs speed only).
 */
export function patchTrieOrder(
  p: PackedEntries,
  keySize: number,
  valueSize: number,
  dels: readonly Buffer[],
  ups: ReadonlyArray<readonly [Buffer, Buffer]>,
): PackedEntries | undefined {
  const same = (i: number, k: Buffer) => p.keys.compare(k, 0, keySize, i * keySize, (i + 1) * keySize) === 0;
  /** At index `at` of `p`: drop the entry there (del), replace its value, or insert before it. */
  const edits: Array<{ at: number; kind: 'del' | 'set' | 'ins'; key: Buffer; value?: Buffer }> = [];
  for (const k of dels) {
    const at = lowerBound(p, keySize, k);
    if (at >= p.count || !same(at, k)) return undefined;
    edits.push({ at, kind: 'del', key: k });
  }
  for (const [k, v] of ups) {
    const at = lowerBound(p, keySize, k);
    edits.push({ at, kind: at < p.count && same(at, k) ? 'set' : 'ins', key: k, value: v });
  }
  // Inserts before the entry at their index; at one index, in key order.
  edits.sort(
    (x, y) =>
      x.at - y.at ||
      (x.kind === 'ins' ? 0 : 1) - (y.kind === 'ins' ? 0 : 1) ||
      compareTrieKeys(x.key, 0, y.key, 0),
  );
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  let from = 0;
  let count = p.count;
  let lastTouched = -1;
  for (const e of edits) {
    if (e.kind !== 'ins') {
      if (e.at === lastTouched) return undefined; // the same key changed twice
      lastTouched = e.at;
    }
    keys.push(p.keys.subarray(from * keySize, e.at * keySize));
    values.push(p.values.subarray(from * valueSize, e.at * valueSize));
    from = e.at;
    if (e.kind === 'ins') {
      keys.push(e.key);
      values.push(e.value as Buffer);
      count++;
    } else {
      from = e.at + 1;
      if (e.kind === 'set') {
        keys.push(e.key);
        values.push(e.value as Buffer);
      } else count--;
    }
  }
  keys.push(p.keys.subarray(from * keySize));
  values.push(p.values.subarray(from * valueSize));
  return {
    keys: Buffer.concat(keys, count * keySize),
    values: Buffer.concat(values, count * valueSize),
    count,
  };
}
