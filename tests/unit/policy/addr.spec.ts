// SPDX-License-Identifier: Apache-2.0
// Environment: Node (unit).
//
// rangeContains compares whole bytes, then the bits of the last one: the same answer as
// comparing the first `prefix` bits one by one (the reference below), for every prefix length.
import { describe, expect, it } from 'vitest';
import { rangeContains } from '../../../electron/policy/addr.js';
import type { Range } from '../../../electron/policy/types.js';

function bitByBit(range: Range, family: 4 | 6, addr: Uint8Array): boolean {
  if (range.family !== family) return false;
  for (let bit = 0; bit < range.prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((range.addr[byte] ?? 0) & mask) !== ((addr[byte] ?? 0) & mask)) return false;
  }
  return true;
}

let seed = 99;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed >>> 8) % n; // the high bits: the low ones of this generator repeat quickly
}

describe('rangeContains', () => {
  it('answers as a bit-by-bit comparison of the first prefix bits (random ranges and addresses)', () => {
    let inside = 0;
    for (let i = 0; i < 50_000; i++) {
      const family = rand(2) ? 4 : 6;
      const len = family === 4 ? 4 : 16;
      const base = Uint8Array.from({ length: len }, () => rand(256));
      // Addresses near the range: a copy of its bytes with a few bits flipped, or random ones.
      const addr = base.slice();
      for (let k = rand(3); k > 0; k--) addr[rand(len)]! ^= 1 << rand(8);
      const other = rand(5) === 0 ? (family === 4 ? 6 : 4) : family;
      // Some ranges have host bits set, or fewer bytes than their family (an editor's half value).
      const rangeAddr = rand(20) === 0 ? base.subarray(0, rand(len)) : base;
      const range: Range = { family, addr: rangeAddr, prefix: rand(len * 8 + 1), text: '' };
      const want = bitByBit(range, other, addr);
      if (want) inside++;
      if (rangeContains(range, other, addr) !== want) expect([range, other, addr]).toBe(want);
    }
    expect(inside).toBeGreaterThan(5_000);
  });

  it('holds /0 and the exact address at the full length', () => {
    const r = (family: 4 | 6, addr: number[], prefix: number): Range => ({
      family,
      addr: Uint8Array.from(addr),
      prefix,
      text: '',
    });
    expect(rangeContains(r(4, [0, 0, 0, 0], 0), 4, Uint8Array.from([1, 2, 3, 4]))).toBe(true);
    expect(rangeContains(r(4, [1, 2, 3, 4], 32), 4, Uint8Array.from([1, 2, 3, 4]))).toBe(true);
    expect(rangeContains(r(4, [1, 2, 3, 4], 32), 4, Uint8Array.from([1, 2, 3, 5]))).toBe(false);
    expect(rangeContains(r(4, [10, 128, 0, 0], 9), 4, Uint8Array.from([10, 255, 0, 0]))).toBe(true);
    expect(rangeContains(r(4, [10, 128, 0, 0], 9), 4, Uint8Array.from([10, 127, 0, 0]))).toBe(false);
    expect(rangeContains(r(6, Array(16).fill(0), 0), 4, Uint8Array.from([1, 2, 3, 4]))).toBe(false);
  });
});
