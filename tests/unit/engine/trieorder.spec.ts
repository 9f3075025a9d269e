// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit project).
//
// electron/engine/trieorder.ts against an independent model of the kernel's listing: a binary
// trie of the keys' bits walked in postorder, the child for bit 0 first (the real kernel's order
// is checked in tests/kernel/bridge.spec.ts).
import { describe, expect, it } from 'vitest';
import { compareTrieKeys, patchTrieOrder } from '../../../electron/engine/trieorder.js';
import { encodeLpmKey } from '../../../native-bridge/index.js';

/** A small deterministic generator (the same sequence every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The bits of a key's data that count (prefixlen of them), as a '0'/'1' string. */
function bitsOf(k: Buffer): string {
  const n = k.readUInt32LE(0);
  let out = '';
  for (let i = 0; i < n; i++) out += (k[4 + (i >> 3)]! >> (7 - (i & 7))) & 1;
  return out;
}

/** Postorder of the binary trie holding these keys (children: '0' first, then '1'). */
function modelOrder(keys: Buffer[]): Buffer[] {
  const byBits = new Map(keys.map((k) => [bitsOf(k), k]));
  const out: Buffer[] = [];
  const walk = (prefix: string, depth: number) => {
    // Only prefixes of some key lead anywhere.
    const below = [...byBits.keys()].filter((b) => b.length > prefix.length && b.startsWith(prefix));
    if (below.length > 0 && depth < 200) {
      walk(prefix + '0', depth + 1);
      walk(prefix + '1', depth + 1);
    }
    const here = byBits.get(prefix);
    if (here) out.push(here);
  };
  walk('', 0);
  return out;
}

function randomKeys(r: () => number, family: 4 | 6, n: number): Buffer[] {
  const bytes = family === 4 ? 4 : 16;
  const seen = new Set<string>();
  const out: Buffer[] = [];
  // Few distinct high bits, so that prefixes nest and share long paths.
  for (let tries = 0; out.length < n && tries < n * 20; tries++) {
    const prefix = Math.floor(r() * (bytes * 8 + 1));
    const addr = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) addr[i] = i < 2 ? Math.floor(r() * 3) * 64 : Math.floor(r() * 256);
    for (let i = prefix; i < bytes * 8; i++) addr[i >> 3]! &= ~(0x80 >> (i & 7));
    const gen = r() < 0.5 ? 0 : 1;
    const ifindex = [0, 2, 256, 3][Math.floor(r() * 4)]!;
    const k = encodeLpmKey(gen, ifindex, family, prefix, addr);
    if (seen.has(k.toString('hex'))) continue;
    seen.add(k.toString('hex'));
    out.push(k);
  }
  return out;
}

const sorted = (keys: Buffer[]) => [...keys].sort((a, b) => compareTrieKeys(a, 0, b, 0));
const hex = (keys: Buffer[]) => keys.map((k) => k.toString('hex'));

describe('the kernel trie listing order (trieorder.ts)', () => {
  for (const family of [4, 6] as const) {
    it(`sorts random nested IPv${family} keys of both generations and several interfaces as a postorder walk lists them`, () => {
      const r = rng(family * 7919);
      for (let round = 0; round < 20; round++) {
        const keys = randomKeys(r, family, 60);
        expect(hex(sorted(keys))).toEqual(hex(modelOrder(keys)));
      }
    });
  }

  it('a key inside another prefix comes first; keys differing only past the prefix compare equal', () => {
    const k = (prefix: number, a: number[]) => encodeLpmKey(0, 2, 4, prefix, Uint8Array.from(a));
    expect(compareTrieKeys(k(32, [10, 0, 0, 1]), 0, k(24, [10, 0, 0, 0]), 0)).toBeLessThan(0);
    expect(compareTrieKeys(k(24, [10, 0, 0, 0]), 0, k(32, [10, 0, 0, 1]), 0)).toBeGreaterThan(0);
    expect(compareTrieKeys(k(24, [10, 0, 0, 0]), 0, k(24, [10, 0, 0, 7]), 0)).toBe(0);
    expect(compareTrieKeys(k(24, [10, 0, 0, 0]), 0, k(24, [10, 0, 1, 0]), 0)).toBeLessThan(0);
  });

  it('patchTrieOrder gives the order of the changed set: deletes, value changes and inserts', () => {
    const r = rng(4242);
    const ks = 16 + 4 * 3; // any key size works: IPv6 keys here
    for (let round = 0; round < 50; round++) {
      const keys = sorted(randomKeys(r, 6, 80));
      const val = (i: number) => Buffer.from([i & 255, round, 0, 0]);
      const p = {
        keys: Buffer.concat(keys),
        values: Buffer.concat(keys.map((_, i) => val(i))),
        count: keys.length,
      };
      expect(p.keys.length).toBe(keys.length * ks);
      const dels = keys.filter(() => r() < 0.1);
      const kept = keys.filter((k) => !dels.includes(k));
      const changedValues = kept.filter(() => r() < 0.1).map((k) => [k, Buffer.from([9, 9, 9, 9])] as const);
      const fresh = randomKeys(r, 6, 10)
        .filter((k) => !keys.some((x) => x.equals(k)))
        .map((k) => [k, Buffer.from([7, 7, 7, 7])] as const);
      const ups = [...changedValues, ...fresh];
      const got = patchTrieOrder(p, ks, 4, dels, ups);
      expect(got).toBeDefined();
      const want = new Map<string, string>();
      keys.forEach((k, i) => want.set(k.toString('hex'), val(i).toString('hex')));
      for (const k of dels) want.delete(k.toString('hex'));
      for (const [k, v] of ups) want.set(k.toString('hex'), v.toString('hex'));
      const order = sorted([...want.keys()].map((h) => Buffer.from(h, 'hex')));
      expect(got!.count).toBe(order.length);
      expect(got!.keys.toString('hex')).toBe(Buffer.concat(order).toString('hex'));
      expect(got!.values.toString('hex')).toBe(order.map((k) => want.get(k.toString('hex'))).join(''));
    }
  });

  it('patchTrieOrder refuses a delete of a key that is not there, and a key changed twice', () => {
    const a = encodeLpmKey(0, 2, 4, 24, Uint8Array.from([10, 0, 0, 0]));
    const b = encodeLpmKey(0, 2, 4, 24, Uint8Array.from([10, 0, 1, 0]));
    const p = { keys: a, values: Buffer.alloc(4), count: 1 };
    expect(patchTrieOrder(p, 16, 4, [b], [])).toBeUndefined();
    expect(patchTrieOrder(p, 16, 4, [a], [[a, Buffer.alloc(4, 1)]])).toBeUndefined();
    expect(patchTrieOrder(p, 16, 4, [], [[b, Buffer.alloc(4, 1)]])?.count).toBe(2);
  });
});
