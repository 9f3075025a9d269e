// SPDX-License-Identifier: Apache-2.0
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_OBSERVED_FLOWS,
  OBSERVATIONS_FILE,
  Observations,
} from '../../../electron/engine/observations.js';
import type { FlowRow } from '../../../electron/engine/flows.js';
import { checkStateDir } from '../../../electron/engine/statedir.js';
import type { StateDirTrust } from '../../../electron/engine/statedir.js';

function row(over: Partial<FlowRow> = {}): FlowRow {
  return {
    ifindex: 2,
    iface: 'eth0',
    uid: 1000,
    family: 4,
    proto: 'udp',
    dst: '192.0.2.1',
    dport: 53,
    allowedPackets: 0,
    allowedBytes: 0,
    droppedPackets: 0,
    droppedBytes: 0,
    wouldDropPackets: 3,
    wouldDropBytes: 300,
    sport: 40000,
    firstSeen: 1_000_000,
    lastSeen: 1_001_000,
    verdict: 'would-drop',
    reason: 'default-deny',
    endpointId: 0,
    cgroupId: 0,
    cgroup: null,
    unit: null,
    ...over,
  };
}

let root: string;
let state: StateDirTrust;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ntf-obs-'));
  state = checkStateDir('/sys/fs/bpf/ntf-obs-test', { create: true, root })!;
  dir = state.dir;
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('Observations.observe', () => {
  it('adds only what the cumulative counters grew by', () => {
    const o = new Observations(state);
    o.observe([row()]);
    o.observe([row({ wouldDropPackets: 5, wouldDropBytes: 500, lastSeen: 1_002_000 })]);
    o.observe([row({ wouldDropPackets: 5, wouldDropBytes: 500, lastSeen: 1_002_000 })]);
    expect(o.entries()).toEqual([
      expect.objectContaining({ packets: 5, bytes: 500, firstSeen: 1_000_000, lastSeen: 1_002_000 }),
    ]);
  });

  it('counts a re-created kernel entry from 0 (counters fell, or first seen later)', () => {
    const o = new Observations(state);
    o.observe([row({ wouldDropPackets: 10, wouldDropBytes: 1000 })]);
    // evicted and created again: fewer packets than before
    o.observe([row({ wouldDropPackets: 2, wouldDropBytes: 200, firstSeen: 2_000_000, lastSeen: 2_000_100 })]);
    expect(o.entries()[0]).toMatchObject({ packets: 12, bytes: 1200, lastSeen: 2_000_100 });
    // evicted and created again, already with more packets than the one we knew
    o.observe([row({ wouldDropPackets: 7, wouldDropBytes: 700, firstSeen: 3_000_000, lastSeen: 3_000_100 })]);
    expect(o.entries()[0]).toMatchObject({ packets: 19, bytes: 1900 });
    // gone from the table, then back: starts from 0 again
    o.observe([]);
    o.observe([row({ wouldDropPackets: 1, wouldDropBytes: 100, firstSeen: 3_000_000, lastSeen: 3_000_200 })]);
    expect(o.entries()[0]).toMatchObject({ packets: 20, bytes: 2000 });
  });

  it('ignores allowed-only entries, and keys by interface name across ifindexes', () => {
    const o = new Observations(state);
    o.observe([
      row({ wouldDropPackets: 0, wouldDropBytes: 0, allowedPackets: 9, verdict: 'allow' }),
      row({
        ifindex: 7,
        uid: null,
        droppedPackets: 1,
        droppedBytes: 60,
        wouldDropPackets: 0,
        wouldDropBytes: 0,
        verdict: 'drop',
        reason: 'unowned-deny',
      }),
      row({
        ifindex: 9,
        uid: null,
        droppedPackets: 2,
        droppedBytes: 120,
        wouldDropPackets: 0,
        wouldDropBytes: 0,
        verdict: 'drop',
        reason: 'unowned-deny',
      }),
    ]);
    expect(o.size).toBe(1);
    expect(o.entries()[0]).toMatchObject({
      iface: 'eth0',
      uid: null,
      packets: 3,
      verdict: 'drop',
      reason: 'unowned-deny',
    });
  });

  it('keeps the reason of the drop when the entry is allowed by now', () => {
    const o = new Observations(state);
    o.observe([
      row({
        droppedPackets: 4,
        droppedBytes: 40,
        wouldDropPackets: 0,
        wouldDropBytes: 0,
        verdict: 'drop',
        reason: 'not-listed',
      }),
    ]);
    o.observe([
      row({
        droppedPackets: 4,
        droppedBytes: 40,
        wouldDropPackets: 1,
        wouldDropBytes: 10,
        verdict: 'allow',
        reason: 'endpoint',
      }),
    ]);
    expect(o.entries()[0]).toMatchObject({ packets: 5, reason: 'not-listed', verdict: 'would-drop' });
  });

  it(`keeps at most ${MAX_OBSERVED_FLOWS} flows, evicting the least recently seen`, () => {
    const o = new Observations(state);
    const n = MAX_OBSERVED_FLOWS + 10;
    const rows: FlowRow[] = [];
    // lastSeen descending with the port, so the 10 highest ports are the oldest
    for (let i = 0; i < n; i++) rows.push(row({ dport: i, lastSeen: 10_000_000 - i }));
    o.observe(rows);
    expect(o.size).toBe(MAX_OBSERVED_FLOWS);
    const ports = new Set(o.entries().map((f) => f.dport));
    for (let i = MAX_OBSERVED_FLOWS; i < n; i++) expect(ports.has(i)).toBe(false);
    expect(ports.has(0)).toBe(true);
    expect(ports.has(MAX_OBSERVED_FLOWS - 1)).toBe(true);
  });

  it('filters by sinceMs, most recent first', () => {
    const o = new Observations(state);
    o.observe([
      row({ dport: 1, lastSeen: 5000 }),
      row({ dport: 2, lastSeen: 9000 }),
      row({ dport: 3, lastSeen: 1000 }),
    ]);
    expect(o.entries().map((f) => f.dport)).toEqual([2, 1, 3]);
    expect(o.entries({ sinceMs: 5000, now: 10_000 }).map((f) => f.dport)).toEqual([2, 1]);
  });
});

describe('Observations persistence', () => {
  it('round-trips, mode 0600, and keeps the kernel baselines (no double count after a restart)', () => {
    const o = new Observations(state);
    o.observe([row({ wouldDropPackets: 4, wouldDropBytes: 400 })]);
    o.save();
    const file = join(dir, OBSERVATIONS_FILE);
    expect(lstatSync(file).mode & 0o7777).toBe(0o600);
    const back = Observations.load(state);
    expect(back.loadWarning).toBeUndefined();
    expect(back.entries()).toEqual(o.entries());
    // the same kernel entry, grown by 2 while we were down
    back.observe([row({ wouldDropPackets: 6, wouldDropBytes: 600 })]);
    expect(back.entries()[0]).toMatchObject({ packets: 6, bytes: 600 });
  });

  it('starts empty without a file, and without a warning', () => {
    const o = Observations.load(state);
    expect(o.size).toBe(0);
    expect(o.loadWarning).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['another version', '{"version":2,"flows":[],"kernel":[]}'],
    ['a malformed flow', '{"version":1,"flows":[{"iface":"eth0"}],"kernel":[]}'],
  ])('starts empty with a warning from a corrupt file (%s)', (_what, text) => {
    writeFileSync(join(dir, OBSERVATIONS_FILE), text, { mode: 0o600 });
    const o = Observations.load(state);
    expect(o.size).toBe(0);
    expect(o.loadWarning).toMatch(/observations\.json: .*starting with no observations/);
  });

  it('refuses a symlink, reading and writing', () => {
    const target = join(dir, 'elsewhere');
    const o = new Observations(state);
    o.observe([row()]);
    o.save();
    writeFileSync(target, readFileSync(join(dir, OBSERVATIONS_FILE)));
    rmSync(join(dir, OBSERVATIONS_FILE));
    symlinkSync(target, join(dir, OBSERVATIONS_FILE));
    const loaded = Observations.load(state);
    expect(loaded.size).toBe(0);
    expect(loaded.loadWarning).toMatch(/it is a symlink; not following it/);
    writeFileSync(target, 'untouched');
    expect(() => o.save()).toThrow(/a symlink/);
    expect(readFileSync(target, 'utf8')).toBe('untouched');
  });
});
