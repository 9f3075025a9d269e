// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit tests). No Electron import.
//
// Range changes recompiled in place (incremental.ts) against the whole compiler: for random
// policies and random chains of range edits, the recompiled trie entries and user sets mean what
// compilePolicy's mean (compared by content: set ids are numbers of one compile), the listed
// changes turn the enforced entries into exactly the new ones, and no set is left that no entry uses.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  compilePolicy,
  nodeKey,
  rangeKey,
  stabilizeSetIds,
} from '../../../electron/policy/compile.js';
import type { CompileLimits } from '../../../electron/policy/compile.js';
import { RangeIndex, rangeEdits } from '../../../electron/policy/incremental.js';
import type { LpmChange } from '../../../electron/policy/incremental.js';
import { SET_NONE } from '../../../electron/policy/types.js';
import type {
  CompiledPolicy,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from '../../../electron/policy/types.js';
import { IFINDEX, Rng, randomPolicy, randomRange } from './random.js';

const entryKey = (ifindex: number, family: 4 | 6, prefix: number, addr: Uint8Array) =>
  `${ifindex}|${nodeKey(family, addr, prefix)}`;

/** Trie entry → what its set grants ('none': SET_NONE), and the set ids the entries use. */
function meaning(c: CompiledPolicy): { entries: Map<string, string>; used: Set<number> } {
  const parts = new Map<number, string[]>();
  for (const s of c.sets) {
    const list = parts.get(s.setId) ?? [];
    list.push(`${s.uid}/${s.cg}:${s.endpointId}`);
    parts.set(s.setId, list);
  }
  const entries = new Map<string, string>();
  const used = new Set<number>();
  for (const e of c.lpm) {
    if (e.setId !== SET_NONE) used.add(e.setId);
    const text = e.setId === SET_NONE ? 'none' : (parts.get(e.setId) ?? []).sort().join(',');
    entries.set(entryKey(e.ifindex, e.family, e.prefix, e.addr), text);
  }
  return { entries, used };
}

function setIds(c: CompiledPolicy): Map<string, number> {
  return new Map(c.lpm.map((e) => [entryKey(e.ifindex, e.family, e.prefix, e.addr), e.setId]));
}

/** Some endpoints lose some ranges and gain new ones. */
function edited(rng: Rng, p: ResolvedPolicy): ResolvedPolicy {
  return {
    ...p,
    endpoints: p.endpoints.map((e) => {
      if (!rng.chance(0.4)) return e;
      const kept = e.ranges.filter(() => !rng.chance(0.35));
      const added = Array.from({ length: rng.int(0, 2) }, () => randomRange(rng));
      return { ...e, ranges: [...kept, ...added] };
    }),
  };
}

function check(seed: number, limits: CompileLimits = DEFAULT_LIMITS): number {
  const rng = new Rng(seed);
  const { p, ifindexOf } = randomPolicy(rng);
  const first = compilePolicy(p, ifindexOf, limits, { index: true });
  let index = RangeIndex.build(first.prefixes!, first.compiled);
  let cur = p;
  let compiled = first.compiled;
  let recompiled = 0;
  for (let step = 0; step < 4; step++) {
    const next = edited(rng, cur);
    const edits = rangeEdits(cur, next);
    expect(edits, `seed ${seed} step ${step}`).toBeDefined();
    const before = setIds(compiled);
    const r = index.recompile(
      compiled,
      next,
      edits!,
      (ifindex, family, prefix, addr) => before.get(entryKey(ifindex, family, prefix, addr)),
      limits,
    );
    const full = stabilizeSetIds(compilePolicy(next, ifindexOf, limits).compiled, compiled);
    if (r === undefined) {
      // Only when the first range comes or the last one goes (the other interfaces' entries).
      expect(Boolean(full.anyIface), `seed ${seed} step ${step}`).not.toBe(Boolean(compiled.anyIface));
      const again = compilePolicy(next, ifindexOf, limits, { index: true });
      index = RangeIndex.build(again.prefixes!, full);
      cur = next;
      compiled = full;
      continue;
    }
    recompiled++;
    const got = meaning(r.compiled);
    expect(got.entries, `seed ${seed} step ${step}`).toEqual(meaning(full).entries);
    // No set without an entry that uses it; every used set is there (or grants nobody).
    const listed = new Set(r.compiled.sets.map((s) => s.setId));
    for (const id of listed) expect(got.used.has(id), `seed ${seed}: set ${id} unused`).toBe(true);
    // The changes turn the enforced entries into the new ones, and touch nothing that stays.
    const after = new Map(before);
    const seen = new Set<string>();
    for (const c of r.changes as LpmChange[]) {
      const k = entryKey(c.ifindex, c.family, c.prefix, c.addr);
      expect(seen.has(k), `seed ${seed}: ${k} changed twice`).toBe(false);
      seen.add(k);
      expect(before.get(k), `seed ${seed}: ${k} rewritten as it was`).not.toBe(c.setId);
      if (c.setId === undefined) after.delete(k);
      else after.set(k, c.setId);
    }
    expect(after, `seed ${seed} step ${step}`).toEqual(setIds(r.compiled));
    cur = next;
    compiled = r.compiled;
  }
  return recompiled;
}

describe('range changes recompiled in place', () => {
  it('mean what the whole compile means, for 400 random policies and chains of edits', () => {
    let recompiled = 0;
    for (let seed = 1; seed <= 400; seed++) recompiled += check(seed);
    // The comparison ran, not only the fallback.
    expect(recompiled).toBeGreaterThan(1000);
  });

  it('agree with the whole compile when the changes lie far apart in a large table', () => {
    // 10,000 /30s of alice's, a few of bob's among them: changes at both ends of the table are
    // made one prefix at a time (a span that large is not rewritten at once).
    const rng = new Rng(11);
    const r4 = (i: number, len = 30): Range => {
      const addr = Uint8Array.from([10, (i >> 14) & 255, (i >> 6) & 255, (i << 2) & 255]);
      return { family: 4, addr, prefix: len, text: `${addr.join('.')}/${len}` };
    };
    const alice = Array.from({ length: 10_000 }, (_, i) => r4(i));
    const p: ResolvedPolicy = {
      endpoints: [
        { id: 1, name: 'a', ifaces: ['eth0'], ranges: alice, uids: [1000], any: false },
        {
          id: 2,
          name: 'b',
          ifaces: ['eth0', 'eth1'],
          ranges: [r4(5), r4(9_990, 28)],
          uids: [1001],
          any: false,
        },
      ],
      interfaces: new Map([
        ['eth0', { default: 'deny', unowned: 'deny', essentials: true, mode: 'enforce' }],
        ['eth1', { default: 'allow', unowned: 'deny', essentials: true, mode: 'enforce' }],
      ]),
      logAllowed: 'off',
    };
    const ifindexOf = (n: string) => IFINDEX[n];
    const first = compilePolicy(p, ifindexOf, DEFAULT_LIMITS, { index: true });
    const index = RangeIndex.build(first.prefixes!, first.compiled);
    let cur = p;
    let compiled = first.compiled;
    for (let step = 0; step < 6; step++) {
      const [a, b] = cur.endpoints as [ResolvedEndpoint, ResolvedEndpoint];
      const drop = new Set([rng.int(0, 40), rng.int(9_960, a.ranges.length - 1)]);
      const next: ResolvedPolicy = {
        ...cur,
        endpoints: [
          {
            ...a,
            ranges: [
              ...a.ranges.filter((_, i) => !drop.has(i)),
              r4(10_000 + step),
              r4(rng.int(0, 9_999), 26),
            ],
          },
          // bob gains and loses a /24 and one of alice's own /30s (a prefix with two owners).
          {
            ...b,
            ranges: step % 2 ? [r4(5)] : [r4(5), r4(rng.int(0, 9_999), 24), r4(rng.int(9_000, 9_959))],
          },
        ],
      };
      const before = setIds(compiled);
      const r = index.recompile(
        compiled,
        next,
        rangeEdits(cur, next)!,
        (ifindex, family, prefix, addr) => before.get(entryKey(ifindex, family, prefix, addr)),
        DEFAULT_LIMITS,
      );
      expect(r, `step ${step}`).toBeDefined();
      const full = stabilizeSetIds(compilePolicy(next, ifindexOf).compiled, compiled);
      expect(meaning(r!.compiled).entries, `step ${step}`).toEqual(meaning(full).entries);
      cur = next;
      compiled = r!.compiled;
    }
  });

  it('leave every other change to the whole compile', () => {
    const { p } = randomPolicy(new Rng(7));
    const e0 = p.endpoints[0]!;
    const variants: Array<[string, ResolvedPolicy]> = [
      ['users', { ...p, endpoints: [{ ...e0, uids: [...e0.uids, 4242] }, ...p.endpoints.slice(1)] }],
      ['interfaces', { ...p, endpoints: [{ ...e0, ifaces: ['eth9'] }, ...p.endpoints.slice(1)] }],
      ['any', { ...p, endpoints: [{ ...e0, any: !e0.any }, ...p.endpoints.slice(1)] }],
      ['an endpoint more', { ...p, endpoints: [...p.endpoints, { ...e0, id: 99, name: 'x' }] }],
      ['logging', { ...p, logAllowed: p.logAllowed === 'all' ? 'off' : 'all' }],
      [
        'interface settings',
        {
          ...p,
          interfaces: new Map([
            ['eth0', { default: 'allow', unowned: 'deny', essentials: false, mode: 'audit' }],
          ]),
        },
      ],
      [
        'time windows',
        {
          ...p,
          endpoints: [
            { ...e0, when: { windows: ['Mon 08:00-09:00'], segments: [{ start: 28_800, end: 32_400 }] } },
            ...p.endpoints.slice(1),
          ],
        },
      ],
    ];
    for (const [what, next] of variants) expect(rangeEdits(p, next), what).toBeUndefined();
    expect(rangeEdits(p, { ...p })).toEqual([]);
  });

  it('list what an endpoint gains and loses as sets of prefixes, also in long lists changed in the middle', () => {
    const { p } = randomPolicy(new Rng(11));
    const e0 = p.endpoints[0]!;
    const v4 = (a: number, b: number, prefix = 29): Range => ({
      family: 4,
      addr: Uint8Array.from([10, a, b, 0]),
      prefix,
      text: `10.${a}.${b}.0/${prefix}`,
    });
    const long = Array.from({ length: 2000 }, (_, i) => v4(i >> 8, i & 255));
    const withRanges = (ranges: Range[]): ResolvedPolicy => ({
      ...p,
      endpoints: [{ ...e0, ranges }, ...p.endpoints.slice(1)],
    });
    const base = withRanges(long);
    const summary = (next: Range[]) =>
      (rangeEdits(base, withRanges(next)) ?? [])
        .map(
          (e) =>
            `${e.add ? '+' : '-'}${e.key === rangeKey(v4(99, 1)) ? 'new' : e.key === rangeKey(long[700]!) ? '700' : e.key}`,
        )
        .sort();
    // One range replaced in the middle.
    expect(summary([...long.slice(0, 700), v4(99, 1), ...long.slice(701)])).toEqual(['+new', '-700']);
    // Replaced by one the rest of the list still holds (listed twice before): nothing lost.
    expect(summary([...long.slice(0, 700), long[5]!, ...long.slice(701)])).toEqual(['-700']);
    expect(summary([...long.slice(0, 700), long[1999]!, ...long.slice(701)])).toEqual(['-700']);
    // Removed from the middle while the list names it again at its end: nothing changes.
    expect(summary([...long.slice(0, 700), ...long.slice(701), long[700]!])).toEqual([]);
    // Host bits differ, the prefix is the same: nothing changes.
    const host = { ...v4(2, 188), addr: Uint8Array.from([10, 2, 188, 3]) };
    expect(summary([...long.slice(0, 700), host, ...long.slice(701)])).toEqual([]);
    // Many changed at once (compared as sets): the same answer as one by one.
    const many = [...long.slice(0, 600), ...long.slice(640), v4(99, 1)];
    expect(summary(many)).toHaveLength(41);
  });

  it('stop at the limits the whole compile stops at', () => {
    // Tight limits: some chains hit them; the recompile throws the compiler's CapacityError or
    // agrees with it (checked inside).
    let threw = 0;
    for (let seed = 1; seed <= 200; seed++) {
      try {
        check(seed, { lpm4: 40, lpm6: 40, sets: 12 });
      } catch (e) {
        expect((e as Error).name, `seed ${seed}`).toBe('CapacityError');
        threw++;
      }
    }
    expect(threw).toBeGreaterThan(0);
  });
});
