// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit project).
//
// electron/engine/trierecord.ts against a Map of latin1 strings (what the other records are).
import { describe, expect, it } from 'vitest';
import { TrieRecord } from '../../../electron/engine/trierecord.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KS = 16;
const keyOf = (n: number) =>
  Buffer.from(Uint32Array.from([n % 7, n, n * 31, n ^ 0x5a5a]).buffer).toString('latin1');
const valOf = (n: number) => Buffer.from(Uint32Array.from([n >>> 0]).buffer).toString('latin1');
const sorted = (it: Iterable<[string, string]>) => [...it].sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('TrieRecord', () => {
  it('behaves as a Map of latin1 strings through random sets, deletes, revivals and growth', () => {
    const r = rng(99);
    const rec = new TrieRecord(KS);
    const model = new Map<string, string>();
    for (let step = 0; step < 20_000; step++) {
      const k = keyOf(Math.floor(r() * 3000));
      const op = r();
      if (op < 0.55) {
        const v = valOf(Math.floor(r() * 2 ** 32));
        rec.set(k, v);
        model.set(k, v);
      } else if (op < 0.85) {
        expect(rec.delete(k)).toBe(model.delete(k));
      } else {
        expect(rec.get(k)).toBe(model.get(k));
        expect(rec.has(k)).toBe(model.has(k));
      }
      expect(rec.size).toBe(model.size);
    }
    expect(sorted(rec)).toEqual(sorted(model));
    expect([...rec.keys()].sort()).toEqual([...model.keys()].sort());
    const copy = rec.clone();
    expect(sorted(copy)).toEqual(sorted(model));
    copy.set(keyOf(123_456), valOf(1));
    expect(rec.has(keyOf(123_456))).toBe(false);
    // Packed: every live entry once, its value little-endian.
    const p = rec.packed();
    expect(p.count).toBe(model.size);
    const back = new Map<string, string>();
    for (let i = 0; i < p.count; i++)
      back.set(
        p.keys.toString('latin1', i * KS, (i + 1) * KS),
        p.values.toString('latin1', i * 4, i * 4 + 4),
      );
    expect(sorted(back)).toEqual(sorted(model));
  });

  it('diff lists exactly the keys to delete and the entries to write', () => {
    const r = rng(7);
    const a = new TrieRecord(KS);
    const b = new TrieRecord(KS);
    const ma = new Map<string, string>();
    const mb = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      const k = keyOf(Math.floor(r() * 4000));
      const v = valOf(Math.floor(r() * 4));
      if (r() < 0.7) {
        a.set(k, v);
        ma.set(k, v);
      }
      if (r() < 0.7) {
        b.set(k, r() < 0.5 ? v : valOf(9));
        mb.set(k, b.get(k) as string);
      }
      if (r() < 0.05) {
        a.delete(k);
        ma.delete(k);
      }
    }
    const d = TrieRecord.diff(a, b);
    const dels = new Set<string>();
    for (let i = 0; i < d.dels.count; i++) dels.add(d.dels.keys.toString('latin1', i * KS, (i + 1) * KS));
    const ups = new Map<string, string>();
    for (let i = 0; i < d.ups.count; i++)
      ups.set(
        d.ups.keys.toString('latin1', i * KS, (i + 1) * KS),
        d.ups.values.toString('latin1', i * 4, i * 4 + 4),
      );
    expect([...dels].sort()).toEqual([...ma.keys()].filter((k) => !mb.has(k)).sort());
    expect(sorted(ups)).toEqual(sorted([...mb].filter(([k, v]) => ma.get(k) !== v)));
    const ab = new TrieRecord(KS, 4);
    expect(TrieRecord.diff(ab, ab)).toMatchObject({ dels: { count: 0 }, ups: { count: 0 } });
  });

  it('refuses keys and values of the wrong size', () => {
    const rec = new TrieRecord(KS);
    expect(() => rec.set('short', valOf(1))).toThrow(/5-byte key where 16/);
    expect(() => rec.set(keyOf(1), 'xy')).toThrow(/4 bytes, not 2/);
    expect(() => new TrieRecord(15)).toThrow(/multiple of 4/);
  });
});
