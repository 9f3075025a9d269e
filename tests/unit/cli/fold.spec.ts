// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). run's decision-log folding, with an injected clock.
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../electron/engine/engine.js';
import { DecisionFolder } from '../../../electron/cli/fold.js';
import type { FoldedLine } from '../../../electron/cli/fold.js';
import { decisionJson, decisionText, flowKey } from '../../../electron/cli/format.js';

function decision(over: Partial<Decision> = {}): Decision {
  return {
    time: Date.UTC(2026, 0, 2, 13, 58, 2, 118),
    iface: 'ntf0',
    ifindex: 2,
    uid: 62002,
    family: 4,
    proto: 'udp',
    src: '192.0.2.2',
    dst: '192.0.2.1',
    sport: 40000,
    dport: 7,
    bytes: 58,
    verdict: 'drop',
    reason: 'not-listed',
    endpointId: 0,
    newFlow: false,
    routed: false,
    cgroupId: 0,
    uidRecorded: true,
    ...over,
  };
}

function folder(intervalMs: number, maxFlows?: number) {
  const clock = { now: 0 };
  const f = new DecisionFolder<Decision>({
    intervalMs,
    key: flowKey,
    bytes: (d) => d.bytes,
    time: (d) => d.time,
    now: () => clock.now,
    maxFlows,
  });
  const add = (d: Decision) => {
    const out: FoldedLine<Decision>[] = [];
    f.add(d, out);
    return out;
  };
  const due = () => {
    const out: FoldedLine<Decision>[] = [];
    f.due(out);
    return out;
  };
  const flush = () => {
    const out: FoldedLine<Decision>[] = [];
    f.flushAll(out);
    return out;
  };
  return { f, clock, add, due, flush };
}

describe('DecisionFolder', () => {
  it('interval 0: every decision on a line of its own', () => {
    const { f, add, due, flush } = folder(0);
    for (let i = 0; i < 5; i++)
      expect(add(decision({ sport: i }))).toEqual([{ d: decision({ sport: i }), count: 1, bytes: 58 }]);
    expect(due()).toEqual([]);
    expect(flush()).toEqual([]);
    expect(f).toMatchObject({ decisions: 5, lines: 5, folded: 0, pending: 0, size: 0 });
  });

  it('prints a flow’s first decision at once, then one summary per interval with count, bytes, first time', () => {
    const { f, clock, add, due } = folder(10_000);
    const first = decision();
    expect(add(first)).toEqual([{ d: first, count: 1, bytes: 58 }]);
    for (let i = 1; i <= 99; i++) {
      clock.now = i * 50;
      expect(add(decision({ time: first.time + i, sport: 40000 + i, bytes: 60 }))).toEqual([]);
      expect(due()).toEqual([]);
    }
    expect(f).toMatchObject({ decisions: 100, lines: 1, folded: 99, pending: 99, size: 1 });
    clock.now = 9_999;
    expect(due()).toEqual([]);
    clock.now = 10_000;
    expect(due()).toEqual([
      {
        d: decision({ time: first.time + 99, sport: 40099, bytes: 60 }),
        count: 99,
        bytes: 99 * 60,
        firstTime: first.time + 1,
      },
    ]);
    expect(f).toMatchObject({ decisions: 100, lines: 2, folded: 99, pending: 0, size: 1 });
    // Nothing in the next interval: the flow is forgotten, and its next decision printed at once.
    clock.now = 19_999;
    expect(due()).toEqual([]);
    clock.now = 20_000;
    expect(due()).toEqual([]);
    expect(f.size).toBe(0);
    clock.now = 20_001;
    expect(add(first)).toEqual([{ d: first, count: 1, bytes: 58 }]);
  });

  it('folds per flow: interface, uid or unowned, family, protocol, destination, port, verdict, reason, endpoint', () => {
    const { f, add } = folder(10_000);
    const variants: Partial<Decision>[] = [
      {},
      { iface: 'ntf1' },
      { uid: null },
      { uid: 0 },
      { family: 6, dst: '2001:db8:1::1' },
      { proto: 'tcp' },
      { dst: '192.0.2.9' },
      { dport: 8 },
      { verdict: 'allow', reason: 'endpoint', endpointId: 1 },
      { verdict: 'allow', reason: 'endpoint', endpointId: 2 },
      { verdict: 'allow', reason: 'default' },
    ];
    for (const v of variants) expect(add(decision(v))).toHaveLength(1);
    // source address and port, size and time are not part of the flow
    for (const v of variants)
      expect(add(decision({ ...v, src: '10.9.9.9', sport: 1, bytes: 1500, time: 5 }))).toEqual([]);
    expect(f).toMatchObject({ decisions: 22, lines: 11, folded: 11, size: 11 });
  });

  it('a decision arriving after its window ended is reported at once in the summary', () => {
    const { clock, add } = folder(1_000);
    add(decision());
    clock.now = 500;
    expect(add(decision({ bytes: 10 }))).toEqual([]);
    clock.now = 1_200; // the timer has not run
    expect(add(decision({ bytes: 20, time: 7 }))).toEqual([
      { d: decision({ bytes: 20, time: 7 }), count: 2, bytes: 30, firstTime: decision().time },
    ]);
    clock.now = 1_300;
    expect(add(decision())).toEqual([]); // a new window began at 1,200
  });

  it('flushAll reports every pending count and forgets every flow', () => {
    const { f, clock, add, flush } = folder(3_600_000);
    add(decision());
    add(decision({ dport: 9 }));
    for (let i = 0; i < 7; i++) add(decision());
    add(decision({ dport: 9 }));
    clock.now = 5;
    expect(flush().map((l) => [l.d.dport, l.count, l.bytes])).toEqual([
      [7, 7, 7 * 58],
      [9, 1, 58],
    ]);
    expect(f).toMatchObject({ decisions: 10, lines: 4, folded: 8, pending: 0, size: 0 });
    expect(flush()).toEqual([]);
    expect(add(decision())).toHaveLength(1);
  });

  it('tracks at most maxFlows: a new flow flushes and forgets the oldest', () => {
    const { f, clock, add } = folder(10_000, 3);
    for (let p = 1; p <= 3; p++) {
      clock.now = p;
      add(decision({ dport: p }));
      add(decision({ dport: p }));
    }
    expect(f.size).toBe(3);
    clock.now = 4;
    expect(add(decision({ dport: 4 })).map((l) => [l.d.dport, l.count])).toEqual([
      [1, 1], // the oldest flow's summary
      [4, 1], // the new flow's first decision
    ]);
    expect(f.size).toBe(3);
    clock.now = 5;
    expect(add(decision({ dport: 5 })).map((l) => [l.d.dport, l.count])).toEqual([
      [2, 1],
      [5, 1],
    ]);
    expect(f).toMatchObject({ decisions: 8, lines: 7, pending: 1 });
  });

  it('random streams: counts and bytes add up exactly, at most one line per flow per interval', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const interval = 1 + rnd(2_000);
      const { f, clock, add, due, flush } = folder(interval);
      const lines: Array<FoldedLine<Decision> & { at: number }> = [];
      const take = (out: FoldedLine<Decision>[]) => lines.push(...out.map((l) => ({ ...l, at: clock.now })));
      let bytes = 0;
      const n = 200 + rnd(2_000);
      for (let i = 0; i < n; i++) {
        clock.now += rnd(40);
        const d = decision({
          dport: rnd(6),
          bytes: 1 + rnd(1500),
          uid: rnd(4) === 0 ? null : 62001 + rnd(2),
        });
        bytes += d.bytes;
        take(add(d));
        if (rnd(5) === 0) take(due());
      }
      const beforeFlush = lines.length;
      take(flush());
      expect(lines.reduce((s, l) => s + l.count, 0)).toBe(n);
      expect(lines.reduce((s, l) => s + l.bytes, 0)).toBe(bytes);
      expect(f).toMatchObject({ decisions: n, lines: lines.length, pending: 0 });
      expect(f.folded).toBe(n - lines.filter((l) => l.firstTime === undefined).length);
      const lastAt = new Map<string, number>();
      for (const l of lines.slice(0, beforeFlush)) {
        const k = flowKey(l.d);
        const prev = lastAt.get(k);
        if (prev !== undefined) expect(l.at - prev).toBeGreaterThanOrEqual(interval);
        lastAt.set(k, l.at);
      }
    }
  });
});

describe('folded lines', () => {
  const named = { ...decision({ bytes: 5800 }), user: 'bob', endpoint: null, cgroup: null, unit: null };
  it('JSON: count on every line, firstTime on summaries (time is the last decision’s)', () => {
    expect(JSON.parse(decisionJson(named, { count: 1 }))).toMatchObject({
      type: 'decision',
      count: 1,
      bytes: 5800,
    });
    expect(JSON.parse(decisionJson(named, { count: 1 }))).not.toHaveProperty('firstTime');
    expect(
      JSON.parse(decisionJson(named, { count: 100, firstTime: Date.UTC(2026, 0, 2, 13, 58, 1) })),
    ).toMatchObject({
      type: 'decision',
      time: '2026-01-02T13:58:02.118Z',
      uid: 62002,
      user: 'bob',
      verdict: 'drop',
      bytes: 5800,
      count: 100,
      firstTime: '2026-01-02T13:58:01.000Z',
    });
    expect(JSON.parse(decisionJson(named))).not.toHaveProperty('count');
  });
  it('text: a summary ends in ×N since the first one', () => {
    expect(decisionText(named, { count: 1 })).toMatch(/ 5800 B {2}not-listed$/);
    expect(decisionText(named, { count: 100, firstTime: Date.UTC(2026, 0, 2, 13, 58, 1) })).toMatch(
      /^13:58:02\.118 DROP {7}ntf0 .* 5800 B {2}not-listed ×100 since 13:58:01\.000$/,
    );
  });
});
