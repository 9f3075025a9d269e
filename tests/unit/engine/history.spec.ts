// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The history of applied policies, in a temporary state root.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  accountName,
  enforcedPolicy,
  HISTORY_LIMIT,
  historyDiff,
  historyEntry,
  listHistory,
  recordApply,
  setOutcome,
} from '../../../electron/engine/history.js';
import type { NewEntry } from '../../../electron/engine/history.js';
import { MAX_POLICY_BYTES } from '../../../electron/policy/yaml.js';
import { parsePasswd } from '../../../electron/policy/resolve.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';

// chown to another uid needs root; under CI=true (which runs as root) these never skip.
const asRoot = process.geteuid?.() === 0 || process.env.CI === 'true';
const PIN = '/sys/fs/bpf/ntft-hist';
let tmp: string;
let root: string;
let hist: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ntf-hist-'));
  root = join(tmp, 'state');
  hist = `${root}/ntft-hist/history`;
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const at = (s: number) => ({ root, now: new Date(T0 + s * 1000) });

function entry(epoch: number, more: Partial<NewEntry> = {}): NewEntry {
  return {
    state: 'prog 17',
    epoch,
    origin: 'run',
    account: 'root (uid 0)',
    source: '/etc/net-tc-filter/policy.yml',
    text: `# policy ${epoch}\nendpoints: []\n`,
    ...more,
  };
}

describe('recordApply and listHistory', () => {
  it('numbers entries 1, 2, 3…, newest first, with their time, and an empty history before', () => {
    expect(listHistory(PIN, { root })).toEqual({ entries: [], warnings: [], stateDir: undefined });
    const a = recordApply(PIN, entry(2), at(0));
    expect(a).toEqual({ ...entry(2), n: 1, time: '2026-12-01T12:00:00.000Z', outcome: 'applied' });
    recordApply(PIN, entry(3, { origin: 'reload' }), at(10));
    const l = listHistory(PIN, { root });
    expect(l.warnings).toEqual([]);
    expect(l.stateDir).toBe(`${root}/ntft-hist`);
    expect(l.entries.map((e) => [e.n, e.epoch, e.origin, e.outcome])).toEqual([
      [2, 3, 'reload', 'applied'],
      [1, 2, 'run', 'replaced'],
    ]);
    expect(l.entries[1]).toMatchObject({ replacedBy: 2, outcomeTime: '2026-12-01T12:00:10.000Z' });
    expect(historyEntry(PIN, 2, { root })?.text).toBe('# policy 3\nendpoints: []\n');
    expect(historyEntry(PIN, 3, { root })).toBeUndefined();
    expect(readdirSync(hist).sort()).toEqual(['000001.json', '000002.json', 'last-n']);
  });

  it(`keeps the last ${HISTORY_LIMIT} and never reuses a number, even when files were deleted`, () => {
    for (let i = 1; i <= HISTORY_LIMIT + 5; i++) recordApply(PIN, entry(i), at(i));
    const l = listHistory(PIN, { root });
    expect(l.entries).toHaveLength(HISTORY_LIMIT);
    expect(l.entries[0]?.n).toBe(HISTORY_LIMIT + 5);
    expect(l.entries.at(-1)?.n).toBe(6);
    expect(readdirSync(hist).filter((f) => f.endsWith('.json'))).toHaveLength(HISTORY_LIMIT);
    // The newest two are deleted by hand: their numbers stay taken.
    unlinkSync(`${hist}/000055.json`);
    unlinkSync(`${hist}/000054.json`);
    expect(recordApply(PIN, entry(99), at(100)).n).toBe(56);
    // Even with the counter gone too, the largest file name still counts.
    unlinkSync(`${hist}/last-n`);
    expect(recordApply(PIN, entry(100), at(101)).n).toBe(57);
  });

  it('refuses to record what it could not read back', () => {
    expect(() => recordApply(PIN, entry(-1), at(0))).toThrow(/cannot record an apply: bad epoch -1/);
    expect(() => recordApply(PIN, entry(1, { state: '' }), at(0))).toThrow(/bad state ""/);
    expect(() => recordApply(PIN, entry(1, { origin: 'cron' as 'run' }), at(0))).toThrow(/bad origin "cron"/);
    expect(() => recordApply(PIN, entry(1, { text: 'x'.repeat(MAX_POLICY_BYTES + 1) }), at(0))).toThrow(
      new RegExp(`at most ${MAX_POLICY_BYTES} bytes`),
    );
    expect(listHistory(PIN, { root }).entries).toEqual([]);
  });
});

describe('outcomes', () => {
  it('a trial is pending, then confirmed (replacing the policy before it), and setting it again changes nothing', () => {
    recordApply(PIN, entry(4), at(0));
    const trial = { seconds: 60, deadline: new Date(T0 + 70_000).toISOString() };
    const t = recordApply(PIN, entry(5, { origin: 'apply', trial }), at(10));
    expect(t).toMatchObject({ n: 2, outcome: 'trial', trial });
    // During the trial the previous policy is still the one the kernel goes back to.
    expect(historyEntry(PIN, 1, { root })?.outcome).toBe('applied');
    const c = setOutcome(PIN, { state: 'prog 17', epoch: 5 }, 'confirmed', at(30));
    expect(c).toMatchObject({ n: 2, outcome: 'confirmed', outcomeTime: '2026-12-01T12:00:30.000Z' });
    expect(historyEntry(PIN, 1, { root })).toMatchObject({
      outcome: 'replaced',
      replacedBy: 2,
      outcomeTime: '2026-12-01T12:00:30.000Z',
    });
    expect(setOutcome(PIN, { state: 'prog 17', epoch: 5 }, 'confirmed', at(99))?.outcomeTime).toBe(
      '2026-12-01T12:00:30.000Z',
    );
  });

  it('a trial the kernel reverted leaves the policy before it in force; the newest entry of an epoch matches', () => {
    recordApply(PIN, entry(4), at(0));
    recordApply(
      PIN,
      entry(5, { trial: { seconds: 5, deadline: new Date(T0 + 15_000).toISOString() } }),
      at(10),
    );
    const r = setOutcome(PIN, { state: 'prog 17', epoch: 5 }, 'reverted-by-kernel', {
      root,
      now: new Date(T0 + 15_000),
    });
    expect(r).toMatchObject({ n: 2, outcome: 'reverted-by-kernel', outcomeTime: '2026-12-01T12:00:15.000Z' });
    expect(historyEntry(PIN, 1, { root })?.outcome).toBe('applied');
    expect(enforcedPolicy(PIN, 'prog 17', 4, { root })?.entry.n).toBe(1);
    // The engine applies epoch 5 again: the newest entry of epoch 5 is the one that matters.
    recordApply(PIN, entry(5, { text: 'endpoints: [] # again\n' }), at(20));
    expect(enforcedPolicy(PIN, 'prog 17', 5, { root })).toMatchObject({
      text: 'endpoints: [] # again\n',
      entry: { n: 3, outcome: 'applied' },
    });
    expect(historyEntry(PIN, 2, { root })?.outcome).toBe('reverted-by-kernel'); // not "replaced"
    expect(historyEntry(PIN, 1, { root })).toMatchObject({ outcome: 'replaced', replacedBy: 3 });
    expect(setOutcome(PIN, { state: 'prog 17', epoch: 5 }, 'reverted', at(30))?.n).toBe(3);
  });

  it('a policy of a new pinned state replaces what the old state had in force, a pending trial included', () => {
    recordApply(PIN, entry(4), at(0));
    recordApply(
      PIN,
      entry(5, { trial: { seconds: 5, deadline: new Date(T0 + 15_000).toISOString() } }),
      at(10),
    );
    recordApply(PIN, entry(2, { state: 'prog 99' }), at(20));
    expect(listHistory(PIN, { root }).entries.map((e) => e.outcome)).toEqual([
      'applied',
      'replaced',
      'replaced',
    ]);
    expect(enforcedPolicy(PIN, 'prog 17', 2, { root })).toBeUndefined();
    expect(enforcedPolicy(PIN, 'prog 99', 2, { root })?.entry.n).toBe(3);
  });

  it('nothing to update: no history, or no entry of that epoch', () => {
    expect(setOutcome(PIN, { state: 'prog 17', epoch: 1 }, 'confirmed', { root })).toBeUndefined();
    expect(listHistory(PIN, { root }).stateDir).toBeUndefined(); // read-only: not created
    recordApply(PIN, entry(1), at(0));
    expect(setOutcome(PIN, { state: 'prog 18', epoch: 1 }, 'confirmed', { root })).toBeUndefined();
    expect(setOutcome(PIN, { state: 'prog 17', epoch: 2 }, 'confirmed', { root })).toBeUndefined();
    expect(() => setOutcome(PIN, { state: 'prog 17', epoch: 1 }, 'gone' as 'reverted', { root })).toThrow(
      /bad outcome "gone"/,
    );
  });
});

describe('what is not ours is skipped, never trusted', () => {
  it('skips a corrupt entry and a foreign file with a warning each; the rest is listed', () => {
    recordApply(PIN, entry(1), at(0));
    recordApply(PIN, entry(2), at(1));
    writeFileSync(`${hist}/000002.json`, '{"format": "net-tc-filter history 1", "n": 2, ', { mode: 0o600 });
    writeFileSync(`${hist}/000007.json`, JSON.stringify({ format: 'net-tc-filter history 1', n: 8 }), {
      mode: 0o600,
    });
    writeFileSync(`${hist}/notes.txt`, 'hello', { mode: 0o600 });
    // Not the name entry 1 has: a second file cannot claim its number.
    writeFileSync(`${hist}/0000001.json`, readFileSync(`${hist}/000001.json`), { mode: 0o600 });
    const l = listHistory(PIN, { root });
    expect(l.entries.map((e) => e.n)).toEqual([1]);
    expect(l.warnings).toEqual([
      `${hist}/0000001.json: not a history entry (skipped)`,
      expect.stringMatching(/000002\.json: not valid JSON .*\(skipped\)$/),
      `${hist}/000007.json: its number 8 is not the one in its name (7) (skipped)`,
      `${hist}/notes.txt: not a history entry (skipped)`,
    ]);
    // The corrupt ones still hold their numbers.
    expect(recordApply(PIN, entry(3), at(2)).n).toBe(8);
  });

  it('refuses a symlinked entry file (not following it) and a file others may write', () => {
    recordApply(PIN, entry(1), at(0));
    const good = readFileSync(`${hist}/000001.json`, 'utf8');
    const outside = join(tmp, 'outside.json');
    writeFileSync(outside, good.replace('"n": 1', '"n": 5'), { mode: 0o600 });
    symlinkSync(outside, `${hist}/000005.json`);
    writeFileSync(`${hist}/000006.json`, good.replace('"n": 1', '"n": 6'), { mode: 0o600 });
    chmodSync(`${hist}/000006.json`, 0o666);
    const l = listHistory(PIN, { root });
    expect(l.entries.map((e) => e.n)).toEqual([1]);
    expect(l.warnings).toEqual([
      expect.stringMatching(/000005\.json .*it is a symlink; not following it.*\(skipped\)$/),
      expect.stringMatching(/000006\.json \(.*mode 0666\): others have permissions on it.*\(skipped\)$/),
    ]);
    expect(historyEntry(PIN, 5, { root })).toBeUndefined();
    // Updating never writes through the link.
    expect(setOutcome(PIN, { state: 'prog 17', epoch: 1 }, 'reverted', at(5))?.n).toBe(1);
    expect(readFileSync(outside, 'utf8')).toContain('"outcome": "applied"');
  });

  it.skipIf(!asRoot)('refuses an entry file owned by another user (uid 4242)', () => {
    recordApply(PIN, entry(1), at(0));
    recordApply(PIN, entry(2), at(1));
    chownSync(`${hist}/000002.json`, 4242, 4242);
    const l = listHistory(PIN, { root });
    expect(l.entries.map((e) => e.n)).toEqual([1]);
    expect(l.warnings[0]).toMatch(/000002\.json \(owner uid 4242.*owned by uid 4242/);
  });

  it('refuses a planted state directory: group-writable, or (as root) another user’s', () => {
    mkdirSync(`${root}/ntft-hist`, { recursive: true });
    chmodSync(`${root}/ntft-hist`, 0o775);
    expect(() => listHistory(PIN, { root })).toThrow(/refusing the state directory .*ntft-hist .*mode 0775/);
    expect(() => recordApply(PIN, entry(1), at(0))).toThrow(/refusing the state directory/);
    if (asRoot) {
      chmodSync(`${root}/ntft-hist`, 0o700);
      chownSync(`${root}/ntft-hist`, 4242, 4242);
      expect(() => recordApply(PIN, entry(1), at(0))).toThrow(/owner uid 4242, group 4242, mode 0700/);
      expect(readdirSync(`${root}/ntft-hist`)).toEqual([]); // nothing written into it
    }
  });

  it('refuses a symlink in place of the history directory', () => {
    recordApply(PIN, entry(1), at(0));
    rmSync(hist, { recursive: true });
    mkdirSync(join(tmp, 'elsewhere'), { mode: 0o700 });
    symlinkSync(join(tmp, 'elsewhere'), hist);
    expect(() => recordApply(PIN, entry(2), at(1))).toThrow(/history .*it is a symlink/);
    expect(readdirSync(join(tmp, 'elsewhere'))).toEqual([]);
  });
});

describe('concurrent writers', () => {
  it('a writer waits for the lock another process holds, then records', async () => {
    recordApply(PIN, entry(1), at(0));
    // flock(1) holds the history directory's lock for 400 ms, as a one-shot `confirm` would.
    const holder = spawn('/usr/bin/flock', ['--exclusive', hist, 'sleep', '0.4'], { stdio: 'ignore' });
    try {
      // Until flock has it: our own non-waiting attempt fails.
      const { tryLockDir } = await import('../../../native-bridge/index.js');
      const { closeSync } = await import('node:fs');
      for (let i = 0; i < 200; i++) {
        const fd = tryLockDir(hist);
        if (fd === undefined) break;
        closeSync(fd);
        await new Promise((r) => setTimeout(r, 5));
      }
      const t0 = Date.now();
      expect(recordApply(PIN, entry(2), at(1)).n).toBe(2);
      expect(Date.now() - t0).toBeGreaterThan(100);
    } finally {
      holder.kill();
    }
    expect(listHistory(PIN, { root }).entries.map((e) => e.n)).toEqual([2, 1]);
  });
});

describe('accountName', () => {
  const db: AccountDb = {
    ...parsePasswd('root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n'),
    groups: new Map(),
  };
  it('names the account, and who elevated it', () => {
    expect(accountName({ db, uid: 1000, env: {} })).toBe('alice (uid 1000)');
    expect(accountName({ db, uid: 0, env: { SUDO_USER: 'alice', SUDO_UID: '1000' } })).toBe(
      'root (uid 0, via sudo from alice)',
    );
    expect(accountName({ db, uid: 0, env: { SUDO_UID: '1000', SUDO_USER: 'mallory' } })).toBe(
      'root (uid 0, via sudo from alice)', // the uid's name, not the variable's
    );
    expect(accountName({ db, uid: 0, env: { SUDO_UID: '2000' } })).toBe(
      'root (uid 0, via sudo from uid 2000)',
    );
    expect(accountName({ db, uid: 0, env: { PKEXEC_UID: '1000' } })).toBe(
      'root (uid 0, via pkexec from alice)',
    );
    expect(accountName({ db, uid: 4242, env: {} })).toBe('uid 4242');
    expect(accountName({ db, uid: 0, env: { SUDO_USER: 'x\x1b[2Jy' } })).toBe(
      'root (uid 0, via sudo from x\\x1b[2Jy)',
    );
  });
});

describe('historyDiff', () => {
  it('is a unified diff headed by the two names, empty when equal', () => {
    expect(historyDiff('a: 1\nb: 2\nc: 3\n', 'a: 1\nb: 5\nc: 3\n', 'history 1', 'history 2')).toBe(
      '--- history 1\n+++ history 2\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\n+b: 5\n c: 3\n',
    );
    expect(historyDiff('x\n', 'x\n')).toBe('');
  });
});
