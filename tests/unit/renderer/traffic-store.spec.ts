// SPDX-License-Identifier: Apache-2.0
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TrafficBatch, TrafficCounters } from '../../../electron/ipc/contract.js';
import { Ring } from '../../../renderer/src/logic/ring.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { lostEvents, matchRow, NO_FILTERS, selectVisibleRows } from '../../../renderer/src/store/traffic.js';
import { batch, fail, flow, ok, row, standInApi } from './fake-api.js';

const counters = (over: Partial<TrafficCounters> = {}): TrafficCounters => ({
  allowed: 0,
  dropped: 0,
  wouldDrop: 0,
  unowned: 0,
  nonip: 0,
  essential: 0,
  lostKernel: 0,
  lostBatching: 0,
  suppressed: 0,
  flowsEvicted: 0,
  ...over,
});

describe('Ring', () => {
  it('keeps the newest `capacity` items, newest first', () => {
    const r = new Ring<number>(3);
    expect(r.toArrayNewestFirst()).toEqual([]);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.size).toBe(3);
    expect(r.toArrayNewestFirst()).toEqual([5, 4, 3]);
    expect(r.newest(0)).toBe(5);
    expect(r.newest(2)).toBe(3);
    expect(r.newest(3)).toBeUndefined();
    r.clear();
    expect(r.size).toBe(0);
    r.push(9);
    expect(r.toArrayNewestFirst()).toEqual([9]);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('traffic slice', () => {
  it('keeps a capped ring of rows, newest first, and bumps the version per batch', () => {
    const store = createAppStore(standInApi().api, { ringCapacity: 5 });
    const rows = Array.from({ length: 8 }, () => row());
    store.getState().ingest(batch(1, { decisions: rows.slice(0, 3) }));
    expect(store.getState().version).toBe(1);
    store.getState().ingest(batch(2, { decisions: rows.slice(3) }));
    const s = store.getState();
    expect(s.version).toBe(2);
    expect(s.ring.size).toBe(5);
    expect(s.received).toBe(8);
    expect(s.lastSeq).toBe(2);
    expect(selectVisibleRows(s).map((r) => r.seq)).toEqual(
      rows
        .slice(3)
        .reverse()
        .map((r) => r.seq),
    );
  });

  it('filters by verdict, user, interface and text (address, port, endpoint)', () => {
    const a = row({ verdict: 'allow', user: 'svc-deploy', iface: 'eth0', dst: '169.254.169.254', dport: 80 });
    const b = row({
      verdict: 'drop',
      user: 'mallory',
      iface: 'eth0',
      dst: 'fd00:ec2::254',
      family: 6,
      endpoint: null,
    });
    const c = row({
      verdict: 'drop',
      user: '(unowned)',
      uid: null,
      iface: 'wg0',
      dst: '192.0.2.9',
      dport: 53,
      endpoint: null,
    });
    const store = createAppStore(standInApi().api);
    store.getState().ingest(batch(1, { decisions: [a, b, c] }));
    const seqs = () => selectVisibleRows(store.getState()).map((r) => r.seq);
    store.getState().setFilter({ verdict: 'drop' });
    expect(seqs()).toEqual([c.seq, b.seq]);
    store.getState().setFilter({ verdict: 'all', user: 'MALL' });
    expect(seqs()).toEqual([b.seq]);
    store.getState().setFilter({ user: '', iface: 'wg' });
    expect(seqs()).toEqual([c.seq]);
    store.getState().setFilter({ iface: '', text: 'fd00:ec2' });
    expect(seqs()).toEqual([b.seq]);
    store.getState().setFilter({ text: '53' });
    expect(seqs()).toEqual([c.seq]);
    store.getState().setFilter({ text: 'imds' });
    expect(seqs()).toEqual([a.seq]);
    expect(matchRow(a, { ...NO_FILTERS, user: String(a.uid) })).toBe(true);
  });

  it('pause freezes the table but the ring and counters keep updating; resume shows everything', () => {
    const store = createAppStore(standInApi().api);
    const first = row();
    store.getState().ingest(batch(1, { decisions: [first], counters: counters({ allowed: 1 }) }));
    store.getState().setPaused(true);
    const later = row();
    store.getState().ingest(batch(2, { decisions: [later], counters: counters({ allowed: 2 }) }));
    let s = store.getState();
    expect(selectVisibleRows(s).map((r) => r.seq)).toEqual([first.seq]);
    expect(s.ring.size).toBe(2);
    expect(s.counters?.allowed).toBe(2);
    store.getState().setPaused(false);
    s = store.getState();
    expect(s.snapshot).toBeNull();
    expect(selectVisibleRows(s).map((r) => r.seq)).toEqual([later.seq, first.seq]);
  });

  it('hold (scrolled away) and pause share one snapshot: switching between them never moves the table', () => {
    const store = createAppStore(standInApi().api);
    const seqs = () => selectVisibleRows(store.getState()).map((r) => r.seq);
    const a = row();
    store.getState().ingest(batch(1, { decisions: [a] }));
    store.getState().setHeld(true);
    const b = row();
    store.getState().ingest(batch(2, { decisions: [b] }));
    expect(seqs()).toEqual([a.seq]);
    const s = store.getState();
    expect(s.received - s.frozenReceived).toBe(1); // "1 newer"
    // The memo does not re-filter a frozen table when batches arrive.
    const frozen = selectVisibleRows(store.getState());
    store.getState().ingest(batch(3, { decisions: [row()] }));
    expect(selectVisibleRows(store.getState())).toBe(frozen);

    // Pause while held, resume while still held: the same rows throughout.
    store.getState().setPaused(true);
    expect(seqs()).toEqual([a.seq]);
    store.getState().setPaused(false);
    expect(seqs()).toEqual([a.seq]);
    // Back at the top, paused: still the same snapshot; resumed: everything.
    store.getState().setPaused(true);
    store.getState().setHeld(false);
    expect(seqs()).toEqual([a.seq]);
    store.getState().setPaused(false);
    expect(store.getState().snapshot).toBeNull();
    expect(seqs()).toHaveLength(3);

    // Clear while held: an empty frozen table, and nothing counted as newer.
    store.getState().setHeld(true);
    store.getState().clearTraffic();
    expect(seqs()).toEqual([]);
    expect(store.getState().received - store.getState().frozenReceived).toBe(0);
    store.getState().ingest(batch(4, { decisions: [row()] }));
    expect(seqs()).toEqual([]);
    expect(store.getState().received - store.getState().frozenReceived).toBe(1);
    store.getState().setHeld(false);
    expect(seqs()).toHaveLength(1);
  });

  it('clear empties rows and flows', () => {
    const store = createAppStore(standInApi().api);
    store.getState().ingest(batch(1, { decisions: [row()], flows: [flow('a', 1)] }));
    store.getState().clearTraffic();
    const s = store.getState();
    expect(s.ring.size).toBe(0);
    expect(s.flows.size).toBe(0);
    expect(selectVisibleRows(s)).toEqual([]);
  });

  it('merges flow deltas by key and caps the map by last seen', () => {
    const store = createAppStore(standInApi().api, { flowCapacity: 10 });
    store.getState().ingest(batch(1, { flows: [flow('a', 1), flow('b', 2)] }));
    store.getState().ingest(batch(2, { flows: [flow('a', 3, { allowedPackets: 5, droppedPackets: 2 })] }));
    let s = store.getState();
    expect(s.flows.size).toBe(2);
    expect(s.flows.get('a')).toMatchObject({ allowedPackets: 5, droppedPackets: 2, lastSeen: 3 });
    expect(s.flowsVersion).toBe(2);
    store
      .getState()
      .ingest(batch(3, { flows: Array.from({ length: 12 }, (_, i) => flow(`n${i}`, 100 + i)) }));
    s = store.getState();
    expect(s.flows.size).toBeLessThanOrEqual(10);
    // The oldest (a, b and the first new ones) went; the newest stayed.
    expect(s.flows.has('a')).toBe(false);
    expect(s.flows.has('n11')).toBe(true);
  });

  it('computes allowed/dropped/would-drop per second from counter totals between batches', () => {
    const store = createAppStore(standInApi().api, { rateWindowSec: 120 });
    const t0 = 1_700_000_000_000;
    const at = (ms: number, allowed: number, dropped: number, wouldDrop = 0): TrafficBatch =>
      batch(ms, { time: t0 + ms, counters: counters({ allowed, dropped, wouldDrop }) });
    store.getState().ingest(at(0, 100, 10)); // baseline
    store.getState().ingest(at(200, 130, 12));
    store.getState().ingest(at(600, 150, 15, 4)); // same second
    store.getState().ingest(at(1200, 160, 15, 4)); // next second
    const s0 = Math.floor(t0 / 1000);
    expect(store.getState().rates).toEqual([
      { t: s0, allowed: 50, dropped: 5, wouldDrop: 4 },
      { t: s0 + 1, allowed: 10, dropped: 0, wouldDrop: 0 },
    ]);
    // Counters went backwards (program reloaded): no negative rate.
    store.getState().ingest(at(2200, 5, 1));
    expect(store.getState().rates.every((r) => r.allowed >= 0 && r.dropped >= 0)).toBe(true);
    // Old seconds fall out of the window.
    store.getState().ingest(at(200_000, 6, 1));
    expect(store.getState().rates.map((r) => r.t)).toEqual([s0 + 200]);
  });

  it('lost events are the kernel and batching losses together', () => {
    const store = createAppStore(standInApi().api);
    expect(lostEvents(store.getState().counters)).toBe(0);
    store.getState().ingest(batch(1, { counters: counters({ lostKernel: 4, lostBatching: 3 }) }));
    expect(lostEvents(store.getState().counters)).toBe(7);
  });
});

describe('traffic poll loop', () => {
  afterEach(() => vi.useRealTimers());

  it('polls with the last batch seq and never runs two loops at once', async () => {
    const fake = standInApi();
    let inFlight = 0;
    let maxInFlight = 0;
    let n = 0;
    fake.on('nextTraffic', async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      n++;
      return ok(batch(n, { decisions: [row()] }));
    });
    const store = createAppStore(fake.api);
    store.getState().startTraffic();
    store.getState().startTraffic();
    store.getState().stopTraffic();
    store.getState().startTraffic(); // restart while the first call is in flight
    await vi.waitUntil(() => n >= 4, { timeout: 2000 });
    store.getState().stopTraffic();
    await vi.waitUntil(() => !store.getState().polling, { timeout: 2000 });
    expect(maxInFlight).toBe(1);
    const afters = fake.calls
      .filter((c) => c.op === 'nextTraffic')
      .map((c) => (c.req as { after: number }).after);
    expect(afters.slice(0, 4)).toEqual([0, 1, 2, 3]);
    const calls = fake.count('nextTraffic');
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.count('nextTraffic')).toBe(calls); // stopped
  });

  it('backs off after an error, records it, and recovers', async () => {
    const fake = standInApi();
    let n = 0;
    fake.on('nextTraffic', async () => {
      n++;
      if (n === 1) return fail('failed', 'worker restarting');
      await new Promise((r) => setTimeout(r, 1));
      return ok(batch(n));
    });
    const store = createAppStore(fake.api, { backoffMs: 50 });
    const t0 = Date.now();
    store.getState().startTraffic();
    await vi.waitUntil(() => n >= 2, { timeout: 2000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(store.getState().errors[0]).toMatchObject({ source: 'nextTraffic', message: 'worker restarting' });
    await vi.waitUntil(() => store.getState().trafficError === null, { timeout: 2000 });
    store.getState().stopTraffic();
    await vi.waitUntil(() => !store.getState().polling, { timeout: 2000 });
  });
});
