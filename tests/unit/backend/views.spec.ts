// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The worker's answers shaped for the contract: the engine view, a
// trial, the preview's lists and history items.
import { describe, expect, it } from 'vitest';
import { historyDiff, MAX_DIFF_EDITS } from '../../../electron/engine/history.js';
import type { HistoryEntry } from '../../../electron/engine/history.js';
import type { EngineStatus } from '../../../electron/engine/status.js';
import {
  currentEntry,
  engineViewOf,
  historyEntryView,
  previewImpact,
  steadyTrial,
  trialView,
} from '../../../electron/backend/views.js';
import type { ImpactReport, ImpactRow } from '../../../electron/policy/impact.js';
import type { InterfaceSettings, ResolvedPolicy } from '../../../electron/policy/types.js';
import { DEFAULT_INTERFACE_SETTINGS } from '../../../electron/policy/types.js';

function status(over: Partial<EngineStatus> = {}): EngineStatus {
  return {
    pinDir: '/sys/fs/bpf/x',
    loaded: true,
    epoch: 5,
    stateId: 'boot/1',
    interfaces: [
      { name: 'eth0', ifindex: 2, attached: true, progId: 9, qdiscOurs: true, guardOnly: false },
      { name: 'lo', ifindex: 1, attached: true, progId: 9, qdiscOurs: true, guardOnly: true },
      { name: 'eth1', ifindex: 3, attached: false, progId: undefined, qdiscOurs: false, guardOnly: true },
    ],
    ranges: { v4: 1, v6: 0 },
    setEntries: 1,
    libbpf: 'v1',
    kernel: '6',
    ...over,
  };
}

function policy(ifaces: Record<string, Partial<InterfaceSettings>>): ResolvedPolicy {
  const interfaces = new Map<string, InterfaceSettings>();
  for (const [n, s] of Object.entries(ifaces)) interfaces.set(n, { ...DEFAULT_INTERFACE_SETTINGS, ...s });
  return { endpoints: [], interfaces, logAllowed: 'off' };
}

describe('engineViewOf', () => {
  it('lists every configured interface, present or not, and counts attached guard-only ones', () => {
    const v = engineViewOf({
      status: status(),
      resolved: policy({ eth0: { default: 'allow' }, eth9: {} }),
      present: (n) => n !== 'eth9',
    });
    expect(v).toMatchObject({
      loaded: true,
      policy: 5,
      configured: [
        { name: 'eth0', present: true, attached: true, mode: 'enforce', default: 'allow' },
        { name: 'eth9', present: false, attached: false, mode: 'enforce', default: 'deny' },
      ],
      guardOnly: { attached: 1, mode: 'enforce' },
      trial: null,
      lastTrial: null,
      owner: null,
    });
  });

  it("the owner's epoch and trial win over a cached status; another owner is named", () => {
    const trial = {
      epoch: 7,
      previousEpoch: 5,
      deadlineNs: 1n,
      deadline: Date.now() + 30_000,
      secondsLeft: 30,
      expired: false,
    };
    const mine = engineViewOf({
      status: status({ owner: { pid: 1, command: 'x' } }),
      owned: true,
      epoch: 7,
      trial,
      present: () => true,
    });
    expect(mine).toMatchObject({ policy: 7, trial: { policy: 7, previous: 5, expired: false }, owner: null });
    const theirs = engineViewOf({
      status: status({ owner: { pid: 42, command: 'run' } }),
      present: () => true,
    });
    expect(theirs).toMatchObject({ policy: 5, owner: { pid: 42, command: 'run' } });
  });

  it('without the policy: the attached interfaces with settings; all audit → guard-only audits', () => {
    const s = status();
    s.interfaces[0]!.settings = {
      default: 'deny',
      unowned: 'deny',
      essentials: true,
      logAllowed: 'off',
      mode: 'audit',
    };
    const v = engineViewOf({ status: s, present: () => true });
    expect(v.configured).toEqual([
      { name: 'eth0', present: true, attached: true, mode: 'audit', default: 'deny' },
    ]);
    expect(v.guardOnly).toEqual({ attached: 1, mode: 'audit' });
  });

  it('last trial that did not stay, with its time; unreadable and not loaded say nothing else', () => {
    const v = engineViewOf({
      status: status({
        lastTrial: { epoch: 6, outcome: 'reverted-by-kernel', time: '2026-01-01T00:00:10.000Z', historyN: 3 },
      }),
      present: () => true,
    });
    expect(v.lastTrial).toEqual({
      policy: 6,
      outcome: 'reverted-by-kernel',
      time: Date.parse('2026-01-01T00:00:10Z'),
      historyN: 3,
    });
    expect(engineViewOf({ unreadable: '/x: EACCES' })).toMatchObject({
      loaded: false,
      policy: null,
      unreadable: '/x: EACCES',
    });
    expect(engineViewOf({ status: status({ loaded: false }) })).toMatchObject({
      loaded: false,
      configured: [],
    });
    expect(engineViewOf({ status: status({ epoch: 0 }), present: () => true }).policy).toBeNull();
  });
});

describe('trialView', () => {
  it('counts down from the deadline as of now, also from a cached read', () => {
    const t = { epoch: 3, previousEpoch: 2, deadline: 100_000, secondsLeft: 60, expired: false };
    expect(trialView(t, 100_000 - 12_500)).toEqual({
      policy: 3,
      previous: 2,
      deadline: 100_000,
      secondsLeft: 13,
      expired: false,
    });
    expect(trialView(t, 100_001)).toMatchObject({ secondsLeft: 0, expired: true });
    expect(trialView(undefined)).toBeNull();
  });

  it('keeps the deadline first shown for the same trial (the wall-clock form jitters)', () => {
    const first = { policy: 3, previous: 2, deadline: 100_000, secondsLeft: 60, expired: false };
    const again = { ...first, deadline: 100_001 };
    expect(steadyTrial(again, first, 90_000)).toEqual({ ...first, secondsLeft: 10 });
    expect(steadyTrial({ ...again, policy: 5 }, first, 90_000)?.deadline).toBe(100_001);
    expect(steadyTrial(again, undefined, 90_000)).toBe(again);
    expect(steadyTrial(null, first)).toBeNull();
  });
});

function row(o: Partial<ImpactRow> & Pick<ImpactRow, 'after'>): ImpactRow {
  return {
    iface: 'eth0',
    uid: 1000,
    user: 'alice',
    unit: null,
    cgroup: null,
    family: 4,
    proto: 'tcp',
    dst: '192.0.2.1',
    dport: 80,
    sport: 40000,
    packets: 1,
    bytes: 100,
    lastSeen: 1,
    before: { verdict: 'allow', reason: 'default-allow', endpointId: 0, endpoint: null },
    ...o,
  };
}
const drop = { verdict: 'drop' as const, reason: 'default-deny', endpointId: 0, endpoint: null };

describe('previewImpact', () => {
  it('splits by the new verdict, puts servers first and caps each list', () => {
    const changed = [
      row({ after: drop, bytes: 900 }),
      row({ after: drop, bytes: 800 }),
      row({
        after: drop,
        bytes: 10,
        uid: 0,
        user: 'root',
        sport: 22,
        server: { port: 22, command: 'sshd' },
        warning: 'W',
      }),
      row({ after: { ...drop, verdict: 'would-drop' } }),
      row({ before: drop, after: { verdict: 'allow', reason: 'endpoint', endpointId: 1, endpoint: 'web' } }),
    ];
    const report: ImpactReport = { evaluated: 9, baseline: 'enforced', changed };
    const p = previewImpact(report, 2);
    expect(p.newlyDropped.map((f) => f.bytes)).toEqual([10, 900]);
    expect(p.newlyDropped[0]).toMatchObject({
      user: 'root',
      server: { port: 22, command: 'sshd' },
      warning: 'W',
    });
    expect(p.newlyReported).toHaveLength(1);
    expect(p.newlyAllowed[0]?.after).toEqual({ verdict: 'allow', reason: 'endpoint', endpoint: 'web' });
    expect(p).toMatchObject({ evaluated: 9, baseline: 'enforced', more: 1 });
  });
});

function entry(n: number, state: string, epoch: number, text: string): HistoryEntry {
  return {
    n,
    state,
    epoch,
    time: '2026-01-01T00:00:00.000Z',
    origin: 'app',
    account: 'root (uid 0)',
    outcome: 'applied',
    text,
  };
}

describe('history views', () => {
  const yaml = (allow: string) =>
    `endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [${allow}]\n`;
  // Newest first; entry 2 belongs to another pinned state (an earlier boot).
  const entries = [
    entry(4, 'b', 3, yaml('bob')),
    entry(3, 'b', 1, yaml('alice')),
    entry(2, 'a', 9, yaml('carol')),
  ];

  it('the current entry is the newest of the effective epoch in this state', () => {
    expect(currentEntry(entries, 'b', 3)?.n).toBe(4);
    expect(currentEntry(entries, 'a', 3)).toBeUndefined();
    expect(currentEntry(entries, undefined, 3)).toBeUndefined();
  });

  it('an entry diffs against the next older one of the same state', () => {
    const v = historyEntryView(entries, entries[0]!, entries[0]);
    expect(v.entry).toMatchObject({
      n: 4,
      policy: 3,
      current: true,
      time: Date.parse('2026-01-01T00:00:00Z'),
    });
    expect(v.previous).toBe(3);
    expect(v.diff).toMatch(/^-\s+allow: \[alice\]$/m);
    expect(v.diff).toMatch(/^\+\s+allow: \[bob\]$/m);
    expect(v.doc?.endpoints[0]).toEqual({
      name: 'imds',
      iface: ['eth0'],
      range: ['169.254.169.254/32'],
      allow: ['bob'],
    });
    const first = historyEntryView(entries, entries[2]!, entries[0]);
    expect(first).toMatchObject({ previous: null, diff: '' });
    expect(first.entry.current).toBe(false);
  });
});

describe('historyDiff of two entries', () => {
  const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `- ${tag}${i}`).join('\n');
  it('diffs a few changed lines inside a long text (common head and tail are free)', () => {
    const a = `${lines(5000, 'a')}\nold\n${lines(5000, 'z')}\n`;
    const b = `${lines(5000, 'a')}\nnew\n${lines(5000, 'z')}\n`;
    const d = historyDiff(a, b, 'history 1', 'history 2');
    expect(d).toMatch(/^-old$/m);
    expect(d).toMatch(/^\+new$/m);
    expect(historyDiff(a, a, 'history 1', 'history 2')).toBe('');
  });
  it('says so instead of diffing when too many lines changed', () => {
    const half = MAX_DIFF_EDITS / 2 + 1;
    expect(historyDiff(lines(half, 'a'), lines(half, 'b'), 'history 1', 'history 2')).toBe(
      `history 1 and history 2 differ in more than ${MAX_DIFF_EDITS} lines: too many to compare here (the policy as applied is shown in full)\n`,
    );
  });
});
