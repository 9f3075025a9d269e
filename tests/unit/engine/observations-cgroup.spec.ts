// SPDX-License-Identifier: Apache-2.0
// Observations keep the sending socket's cgroup and unit: flows from different cgroups stay
// apart, a unit that restarts (same path, new id) stays one flow, and files saved before flows
// had a cgroup load (their flows with no cgroup) without counting a kernel entry twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OBSERVATIONS_FILE, Observations } from '../../../electron/engine/observations.js';
import type { FlowRow } from '../../../electron/engine/flows.js';
import { checkStateDir } from '../../../electron/engine/statedir.js';
import type { StateDirTrust } from '../../../electron/engine/statedir.js';

const BACKUP = '/system.slice/backup.service';

function row(over: Partial<FlowRow> = {}): FlowRow {
  return {
    ifindex: 2,
    iface: 'eth0',
    uid: 1001,
    family: 4,
    proto: 'udp',
    dst: '192.0.2.1',
    dport: 53,
    allowedPackets: 0,
    allowedBytes: 0,
    droppedPackets: 2,
    droppedBytes: 200,
    wouldDropPackets: 0,
    wouldDropBytes: 0,
    sport: 40000,
    firstSeen: 1_000_000,
    lastSeen: 1_001_000,
    verdict: 'drop',
    reason: 'not-listed',
    endpointId: 0,
    cgroupId: 50,
    cgroup: BACKUP,
    unit: 'backup.service',
    ...over,
  };
}

let root: string;
let state: StateDirTrust;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ntf-obs-cg-'));
  state = checkStateDir('/sys/fs/bpf/ntf-obs-cg-test', { create: true, root })!;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Observations by cgroup', () => {
  it('keeps the unit and cgroup, and keeps flows of different cgroups apart', () => {
    const o = new Observations(state);
    o.observe([row(), row({ cgroupId: 60, cgroup: '/system.slice/other.service', unit: 'other.service' })]);
    const flows = o.entries({ now: 2_000_000 });
    expect(flows.map((f) => [f.unit, f.cgroup, f.packets]).sort()).toEqual([
      ['backup.service', BACKUP, 2],
      ['other.service', '/system.slice/other.service', 2],
    ]);
    // Saved and loaded again: the same.
    o.save();
    expect(Observations.load(state).entries({ now: 2_000_000 })).toEqual(flows);
  });

  it('a unit that restarts (new id, same path) adds to the same flow', () => {
    const o = new Observations(state);
    o.observe([row()]);
    o.observe([row(), row({ cgroupId: 51, droppedPackets: 3, droppedBytes: 300, lastSeen: 1_005_000 })]);
    expect(o.entries({ now: 2_000_000 }).map((f) => [f.cgroup, f.packets])).toEqual([[BACKUP, 5]]);
  });

  it('reads a file saved before flows had a cgroup, and does not count its kernel entries again', () => {
    const old = {
      version: 1,
      bound: 50000,
      flows: [
        {
          iface: 'eth0',
          uid: 1001,
          family: 4,
          proto: 'udp',
          dst: '192.0.2.1',
          dport: 53,
          sport: 40000,
          verdict: 'drop',
          reason: 'not-listed',
          packets: 2,
          bytes: 200,
          firstSeen: 1_000_000,
          lastSeen: 1_001_000,
        },
      ],
      kernel: [
        [
          '2|1001|4|udp|192.0.2.1|53',
          {
            firstSeen: 1_000_000,
            droppedPackets: 2,
            droppedBytes: 200,
            wouldDropPackets: 0,
            wouldDropBytes: 0,
          },
        ],
      ],
    };
    writeFileSync(join(state.dir, OBSERVATIONS_FILE), JSON.stringify(old), { mode: 0o600 });
    const o = Observations.load(state);
    expect(o.loadWarning).toBeUndefined();
    expect(o.entries({ now: 2_000_000 })).toEqual([
      expect.objectContaining({ cgroup: null, unit: null, packets: 2 }),
    ]);
    // The same kernel entry, now named with its cgroup: only what it grew by counts (1 packet),
    // as a flow of its cgroup.
    o.observe([row({ droppedPackets: 3, droppedBytes: 300, lastSeen: 1_002_000 })]);
    const byCgroup = Object.fromEntries(
      o.entries({ now: 2_000_000 }).map((f) => [String(f.cgroup), f.packets]),
    );
    expect(byCgroup).toEqual({ null: 2, [BACKUP]: 1 });
  });
});
