// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). `net-tc-filter history`: its table, --show and --json, exact text.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { historyCommand } from '../../../electron/cli/history.js';
import type { HistoryOptions } from '../../../electron/cli/history.js';
import { recordApply, setOutcome } from '../../../electron/engine/history.js';

const PIN = '/sys/fs/bpf/ntft-cli-hist';
let tmp: string;
let root: string;
const at = (hms: string) => ({ root, now: new Date(`2026-12-01T${hms}.000Z`) });
const POLICY_A = 'endpoints:\n  - iface: eth0\n    range: 169.254.169.254/32\n    allow: [root]\n';
const POLICY_B = 'endpoints:\n  - iface: eth0\n    range: 169.254.169.254/32\n    allow: [root, alice]\n';

beforeAll(() => {
  vi.stubEnv('TZ', 'UTC'); // local time is UTC for exact text
  tmp = mkdtempSync(join(tmpdir(), 'ntf-cli-hist-'));
  root = join(tmp, 'state');
  const base = { state: 'prog 17', account: 'root (uid 0)', source: '/etc/net-tc-filter/policy.yml' };
  recordApply(PIN, { ...base, epoch: 2, origin: 'run', text: POLICY_A }, at('12:00:00'));
  recordApply(
    PIN,
    {
      ...base,
      epoch: 3,
      origin: 'apply',
      account: 'root (uid 0, via sudo from alice)',
      source: '/home/alice/new.yml',
      trial: { seconds: 60, deadline: '2026-12-01T12:06:00.000Z' },
      text: POLICY_B,
    },
    at('12:05:00'),
  );
  setOutcome(PIN, { state: 'prog 17', epoch: 3 }, 'confirmed', at('12:05:40'));
  recordApply(
    PIN,
    {
      ...base,
      epoch: 4,
      origin: 'apply',
      source: 'history 1',
      trial: { seconds: 30, deadline: '2026-12-01T12:10:30.000Z' },
      text: POLICY_A,
    },
    at('12:10:00'),
  );
  setOutcome(PIN, { state: 'prog 17', epoch: 4 }, 'reverted-by-kernel', at('12:10:30'));
  recordApply(
    PIN,
    { ...base, epoch: 5, origin: 'app', account: 'alice (uid 1000)', source: undefined, text: POLICY_B },
    { root, now: new Date('2026-12-02T08:00:00.000Z') },
  );
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(tmp, { recursive: true, force: true });
});

async function run(o: Partial<HistoryOptions>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await historyCommand({
      pinDir: PIN,
      json: false,
      stateRoot: root,
      now: new Date('2026-12-02T09:00:00.000Z'),
      ...o,
    });
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

const TABLE = `\
N  TIME                 ORIGIN  ACCOUNT                            EPOCH  OUTCOME                                                             SOURCE
4  2026-12-02 08:00:00  app     alice (uid 1000)                   5      applied                                                             -
3  2026-12-01 12:10:00  apply   root (uid 0)                       4      reverted by the kernel at 12:10:30                                  history 1
2  2026-12-01 12:05:00  apply   root (uid 0, via sudo from alice)  3      replaced by 4 at 2026-12-02 08:00:00 (trial confirmed at 12:05:40)  /home/alice/new.yml
1  2026-12-01 12:00:00  run     root (uid 0)                       2      replaced by 2 at 12:05:40                                           /etc/net-tc-filter/policy.yml
`;

const SHOW_2 = `\
# history 2 of /sys/fs/bpf/ntft-cli-hist
# time:    2026-12-01 12:05:00 (2026-12-01T12:05:00.000Z)
# origin:  apply
# account: root (uid 0, via sudo from alice)
# epoch:   3 (pinned state prog 17)
# trial:   60 s, until 2026-12-01 12:06:00
# outcome: replaced by 4 at 2026-12-02 08:00:00 (trial confirmed at 12:05:40)
# source:  /home/alice/new.yml
endpoints:
  - iface: eth0
    range: 169.254.169.254/32
    allow: [root, alice]
# changes from history 1:
# --- history 1
# +++ history 2
# @@ -1,4 +1,4 @@
#  endpoints:
#    - iface: eth0
#      range: 169.254.169.254/32
# -    allow: [root]
# +    allow: [root, alice]
`;

describe('history', () => {
  it('lists the entries newest first, aligned, with what became of each', async () => {
    expect(await run({})).toEqual({ code: 0, out: TABLE, err: '' });
  });

  it('--show N: the metadata as comments, the policy, the diff against the entry before it', async () => {
    expect(await run({ show: 2 })).toEqual({ code: 0, out: SHOW_2, err: '' });
    const first = await run({ show: 1 });
    expect(first.out).toContain(
      '# outcome: replaced by 2 at 12:05:40\n# source:  /etc/net-tc-filter/policy.yml\n',
    );
    expect(first.out.endsWith(`${POLICY_A}# no earlier entry to compare with\n`)).toBe(true);
    // The one before 4 is 3 (a trial of 1's text that the kernel reverted).
    const last = await run({ show: 4 });
    expect(last.out).toContain('# outcome: applied\nendpoints:');
    expect(last.out).not.toContain('# source:');
    expect(last.out).toContain('# changes from history 3:\n# --- history 3\n# +++ history 4\n');
  });

  it('--show N with an N it does not hold: exit 1, naming what it holds', async () => {
    expect(await run({ show: 9 })).toEqual({
      code: 1,
      out: '',
      err: 'net-tc-filter: history has no entry 9; it holds 1–4\n',
    });
  });

  it('--json: the entries without their text; with --show, the entry, its text and the diff', async () => {
    const list = await run({ json: true });
    expect(list.code).toBe(0);
    const j = JSON.parse(list.out) as {
      pinDir: string;
      entries: Array<Record<string, unknown>>;
      warnings: [];
    };
    expect(j.pinDir).toBe(PIN);
    expect(j.warnings).toEqual([]);
    expect(j.entries.map((e) => e.n)).toEqual([4, 3, 2, 1]);
    expect(j.entries[1]).toEqual({
      n: 3,
      state: 'prog 17',
      epoch: 4,
      time: '2026-12-01T12:10:00.000Z',
      origin: 'apply',
      account: 'root (uid 0)',
      outcome: 'reverted-by-kernel',
      outcomeTime: '2026-12-01T12:10:30.000Z',
      trial: { seconds: 30, deadline: '2026-12-01T12:10:30.000Z' },
      source: 'history 1',
    });
    const one = JSON.parse((await run({ show: 2, json: true })).out) as Record<string, unknown>;
    expect(one.previous).toBe(1);
    expect((one.entry as { text: string }).text).toBe(POLICY_B);
    expect(one.diff).toBe(
      '--- history 1\n+++ history 2\n@@ -1,4 +1,4 @@\n endpoints:\n   - iface: eth0\n' +
        '     range: 169.254.169.254/32\n-    allow: [root]\n+    allow: [root, alice]\n',
    );
  });
});

describe('history of other pin directories', () => {
  it('exit 3 when there is none', async () => {
    expect(await run({ pinDir: '/sys/fs/bpf/ntft-none' })).toEqual({
      code: 3,
      out: '',
      err: 'net-tc-filter: no history for /sys/fs/bpf/ntft-none (no state directory yet)\n',
    });
    expect((await run({ pinDir: '/sys/fs/bpf/ntft-none', show: 1 })).code).toBe(3);
  });

  it('a pending trial, its deadline passed, and text from the files escaped; corrupt files warned about', async () => {
    const pin = '/sys/fs/bpf/ntft-cli-pend';
    recordApply(
      pin,
      {
        state: 's',
        epoch: 1,
        origin: 'reload',
        account: 'evil\x1b]0;title\x07 (uid 7)',
        source: '/tmp/a\nb.yml',
        trial: { seconds: 10, deadline: '2026-12-01T12:00:10.000Z' },
        text: 'endpoints: []',
      },
      at('12:00:00'),
    );
    writeFileSync(`${root}/ntft-cli-pend/history/000002.json`, 'garbage', { mode: 0o600 });
    const r = await run({ pinDir: pin, now: new Date('2026-12-01T12:00:05.000Z') });
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'N  TIME                 ORIGIN  ACCOUNT                       EPOCH  OUTCOME               SOURCE\n' +
        '1  2026-12-01 12:00:00  reload  evil\\x1b]0;title\\x07 (uid 7)  1      trial until 12:00:10  /tmp/a\\nb.yml\n',
    );
    expect(r.err).toMatch(/^net-tc-filter: warning: .*000002\.json: not valid JSON .*\(skipped\)\n$/);
    const later = await run({ pinDir: pin, show: 1, now: new Date('2026-12-01T12:00:11.000Z') });
    expect(later.out).toContain('# outcome: trial until 12:00:10 (passed; see status)\n');
    expect(later.out).toContain('\nendpoints: []\n# no earlier entry to compare with\n'); // a newline added
  });

  it('a planted state directory is refused (exit 2) with the reason', async () => {
    mkdirSync(`${root}/ntft-cli-bad`, { recursive: true });
    chmodSync(`${root}/ntft-cli-bad`, 0o777);
    const r = await run({ pinDir: '/sys/fs/bpf/ntft-cli-bad' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^net-tc-filter: refusing the state directory .*ntft-cli-bad .*mode 0777.*everyone/,
    );
  });
});
