// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Audit, look, propose, enforce: on the real kernel with
// real uids. The proposal made from what `run` observed in audit mode — kept across a restart
// that removed the pinned state, flow table and all — allows exactly the observed flows.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OBSERVATIONS_FILE } from '../../electron/engine/observations.js';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { ALICE, BOB, CAROL, cleanup, cliPath, decisions, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';

const AUDIT = `# carol may reach the metadata service; everything else is denied (audit first)
endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [carol]
interfaces:
  ntf0: { mode: audit }
`;

let env: Env | undefined;
afterEach(async () => {
  if (env) rmSync(stateDirFor(env.pinDir), { recursive: true, force: true });
  await cleanup(env);
  env = undefined;
});

describe('propose from observed traffic', () => {
  it('audit, restart, propose, enforce: exactly the observed flows are allowed', async () => {
    env = await setup();
    rmSync(stateDirFor(env.pinDir), { recursive: true, force: true });
    // harness cli() keeps stderr only on failure; the summary line goes to stderr.
    const propose = () => {
      const [cmd, ...args] = env!.sb.nsenter();
      const r = spawnSync(cmd!, [...args, process.execPath, cliPath(), 'propose', '--pin-dir', env!.pinDir], {
        encoding: 'utf8',
        env: {
          ...process.env,
          NET_TC_FILTER_PASSWD: join(env!.sb.dir, 'passwd'),
          NET_TC_FILTER_GROUP: join(env!.sb.dir, 'group'),
        },
        timeout: 30_000,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    // Nothing loaded and nothing kept.
    expect(propose()).toMatchObject({ code: 3 });

    // 1. Audit: everything passes, what the policy would drop is reported.
    let e = await env.run(AUDIT, ['--unload-on-exit']);
    expect(udp(env, ALICE, '169.254.169.254')).toMatchObject({ sent: 3, received: 3 }); // not-listed
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 }); // default-deny
    expect(udp(env, BOB, '2001:db8:1::1')).toMatchObject({ sent: 3, received: 3 }); // default-deny
    expect(udp(env, CAROL, '169.254.169.254')).toMatchObject({ sent: 3, received: 3 }); // allowed
    const lines = await stop(e);
    const wouldDrop = decisions(lines, (d) => d.verdict === 'would-drop' && d.proto === 'udp');
    expect(
      new Set(wouldDrop.map((d) => `${d.uid as number} ${d.dst as string} ${d.reason as string}`)),
    ).toEqual(
      new Set([
        `${ALICE} 169.254.169.254 not-listed`,
        `${ALICE} 192.0.2.1 default-deny`,
        `${BOB} 2001:db8:1::1 default-deny`,
      ]),
    );
    // --unload-on-exit removed the pins (the flow table with them); the observations stay.
    expect(existsSync(env.pinDir)).toBe(false);
    expect(existsSync(join(stateDirFor(env.pinDir), OBSERVATIONS_FILE))).toBe(true);

    // 2. Start again: a fresh pinned state, an empty flow table.
    e = await env.run(AUDIT);
    const r = propose();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/→ [0-9]+ endpoints? added, [0-9]+ skipped; nothing applied/);
    expect(r.stdout).toContain('# carol may reach the metadata service');
    expect(r.stdout).toMatch(
      /- observed-ntf0-alice:\n\s+iface: \[ntf0\]\n\s+range:\n\s+- 169\.254\.169\.254\/32 #/,
    );
    expect(r.stdout).toMatch(/- 192\.0\.2\.1\/32 # 3 would-drop packets/);
    expect(r.stdout).toMatch(
      /- observed-ntf0-bob:\n\s+iface: \[ntf0\]\n\s+range:\n\s+- 2001:db8:1::1\/128 # 3 would-drop packets/,
    );
    await stop(e);

    // 3. The proposal, enforced.
    const enforced = r.stdout.replace(/mode: audit/g, 'mode: enforce');
    expect(enforced).not.toBe(r.stdout);
    e = await env.run(enforced);
    // The observed flows pass.
    expect(udp(env, ALICE, '169.254.169.254')).toMatchObject({ received: 3 });
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '2001:db8:1::1')).toMatchObject({ received: 3 });
    // What was allowed before still is.
    expect(udp(env, CAROL, '169.254.169.254')).toMatchObject({ received: 3 });
    // Pairs nobody was seen sending stay dropped.
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, ALICE, '2001:db8:1::1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, BOB, '169.254.169.254')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, CAROL, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, ALICE, '198.51.100.1')).toMatchObject({ sent: 3, received: 0 });
    const after = await stop(e);
    expect(
      decisions(after, (d) => d.verdict === 'drop' && d.uid === BOB && d.dst === '192.0.2.1')[0],
    ).toMatchObject({
      reason: 'not-listed',
    });
  });
});
