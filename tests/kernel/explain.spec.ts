// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. `explain` says what the real program decided: for traffic
// from real uids (and forwarded traffic) under a running `run`, explain's verdict, reason and
// endpoint are the kernel's, from the enforced policy the history keeps; a pending trial is said.
import { rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { ALICE, BOB, cleanup, decisions, setup, udp } from './harness.js';
import type { Env } from './harness.js';

let env: Env | undefined;
afterEach(async () => {
  const pinDir = env?.pinDir;
  await cleanup(env);
  env = undefined;
  if (pinDir) rmSync(stateDirFor(pinDir), { recursive: true, force: true });
});

const POLICY = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
  - lab:
      iface: [ntf1]
      range: [203.0.113.0/24]
      allow: [bob]
interfaces:
  ntf0: { default: deny }
  ntf1: { default: allow, mode: audit }
logging:
  allowed: all
`;

type Explained = {
  verdict: string;
  reason: string;
  endpoint: string | null;
  lines: string[];
  iface: string | null;
};

function explainJson(e: Env, args: string[]): Explained[] {
  const r = e.cli(['explain', ...args, '--json', '--pin-dir', e.pinDir]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Explained[];
}

describe('explain on the real kernel', () => {
  it("gives the kernel's verdict, reason and endpoint for each reason, from the enforced policy", async () => {
    env = await setup(2);
    env.sb.addLan();
    const engine = await env.run(POLICY);
    const probes: Array<{ uid: number | null; user: string; dst: string; iface: string }> = [
      { uid: ALICE, user: 'alice', dst: '169.254.169.254', iface: 'ntf0' }, // endpoint
      { uid: BOB, user: 'bob', dst: '169.254.169.254', iface: 'ntf0' }, // not-listed
      { uid: ALICE, user: 'alice', dst: '192.0.2.1', iface: 'ntf0' }, // default-deny
      { uid: BOB, user: 'bob', dst: '203.0.113.1', iface: 'ntf1' }, // endpoint on an audited interface
      { uid: ALICE, user: 'alice', dst: '203.0.113.1', iface: 'ntf1' }, // audit: would-drop not-listed
      { uid: BOB, user: 'bob', dst: '2001:db8:3::1', iface: 'ntf1' }, // default-allow
      { uid: null, user: '(unowned)', dst: '192.0.2.1', iface: 'ntf0' }, // forwarded: unowned-deny
    ];
    for (const p of probes) {
      if (p.uid === null) env.sb.probeLan(['udp', p.dst, '7', '2', '300']);
      else udp(env, p.uid, p.dst, 2);
    }
    await new Promise((r) => setTimeout(r, 300)); // decisions reach run's output
    for (const p of probes) {
      const kernel = decisions(
        engine.lines,
        (d) => d.uid === p.uid && d.dst === p.dst && d.iface === p.iface,
      );
      expect(kernel.length, `a decision for ${p.user} → ${p.dst}`).toBeGreaterThan(0);
      const k = kernel[0] as { verdict: string; reason: string; endpoint: string | null };
      const [x] = explainJson(env, [
        '--user',
        p.user,
        '--dest',
        `${p.dst}:7`,
        '--iface',
        p.iface,
        '--proto',
        'udp',
      ]);
      expect(
        { verdict: x?.verdict, reason: x?.reason, endpoint: x?.endpoint },
        `${p.user} → ${p.dst}`,
      ).toEqual({
        verdict: k.verdict,
        reason: k.reason,
        endpoint: k.endpoint,
      });
    }
    const seen = new Set(decisions(engine.lines).map((d) => `${String(d.verdict)} ${String(d.reason)}`));
    for (const vr of [
      'allow endpoint',
      'drop not-listed',
      'drop default-deny',
      'would-drop not-listed',
      'allow default-allow',
      'drop unowned-deny',
    ])
      expect(seen, vr).toContain(vr);

    // The text, word for word.
    const t = env.cli([
      'explain',
      '--user',
      'bob',
      '--dest',
      '169.254.169.254:80',
      '--iface',
      'ntf0',
      '--proto',
      'tcp',
      '--pin-dir',
      env.pinDir,
    ]);
    expect(t.code, t.stderr).toBe(0);
    const epoch = /epoch (\d+)/.exec(t.stdout)?.[1];
    expect(t.stdout).toBe(
      [
        'bob → 169.254.169.254:80 (tcp) on ntf0: DROP (not-listed)',
        `  Policy: the enforced policy (epoch ${epoch}).`,
        '  ntf0: default deny, unowned deny, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets alice reach it through ntf0.',
        '  On ntf0 the endpoints that guard it are imds; none lists bob or *: dropped (not-listed).',
        '',
      ].join('\n'),
    );

    // Without --iface: each configured interface, then the others.
    const all = explainJson(env, ['--user', 'alice', '--dest', '169.254.169.254']);
    expect(all.map((x) => `${x.iface ?? 'other'} ${x.verdict} ${x.reason}`)).toEqual([
      'ntf0 allow endpoint',
      'ntf1 would-drop iface-not-listed',
      'other drop iface-not-listed',
    ]);

    // --config: another file, explained as written.
    const other = env.config(POLICY.replace('allow: [alice]', 'allow: [bob]'));
    const [o] = explainJson(env, [
      '--user',
      'bob',
      '--dest',
      '169.254.169.254',
      '--iface',
      'ntf0',
      '--config',
      other,
    ]);
    expect(o).toMatchObject({ verdict: 'allow', reason: 'endpoint', endpoint: 'imds' });
    expect(o?.lines[0]).toBe(`Policy: ${other}.`);

    // Bad input: exit 1 with the reason.
    const bad = env.cli(['explain', '--user', 'mallory', '--dest', '192.0.2.1', '--pin-dir', env.pinDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      "--user mallory: no such account (give an account name, a uid, or '(unowned)'",
    );
    const badDest = env.cli(['explain', '--user', 'alice', '--dest', '192.0.2.300', '--pin-dir', env.pinDir]);
    expect(badDest.code).toBe(1);
    expect(badDest.stderr).toContain('--dest 192.0.2.300: not an IP address');
    // A uid with no account is fine.
    const [u] = explainJson(env, ['--user', '4242', '--dest', '169.254.169.254', '--iface', 'ntf0']);
    expect(u).toMatchObject({ verdict: 'drop', reason: 'not-listed' });
  });

  it('says that the verdict is the trial policy’s and when the previous one returns', async () => {
    env = await setup(1);
    const file = env.config(`endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
`);
    await env.runFile(file);
    writeFileSync(
      file,
      `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [bob]
`,
    );
    const reload = env.cli(['reload', '--confirm', '120', '--pin-dir', env.pinDir]);
    expect(reload.code, reload.stderr).toBe(0);
    const [x] = explainJson(env, ['--user', 'bob', '--dest', '169.254.169.254', '--iface', 'ntf0']);
    expect(x).toMatchObject({ verdict: 'allow', reason: 'endpoint', endpoint: 'imds' });
    expect(x?.lines[1]).toMatch(
      /^This is the verdict of the policy on trial: unless `net-tc-filter confirm` runs, the previous policy \(epoch \d+\) returns in (1[01]\d|120) s\.$/,
    );
    // Confirmed: no more trial.
    const confirm = env.cli(['confirm', '--pin-dir', env.pinDir]);
    expect(confirm.code, confirm.stderr).toBe(0);
    const [y] = explainJson(env, ['--user', 'bob', '--dest', '169.254.169.254', '--iface', 'ntf0']);
    expect(y?.lines.some((l) => l.includes('on trial'))).toBe(false);
    expect(y).toMatchObject({ verdict: 'allow', reason: 'endpoint' });
  });
});
