// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Services and containers in explain and propose, on the
// real kernel: real processes under real uids in real cgroups (tests/kernel/cgroups.ts) send
// through a running `run`; `explain --unit/--cgroup` gives the kernel's verdict and names the
// unit: entry (or why none took the socket), and `propose` turns a unit's dropped traffic into a
// `unit:NAME as USER` entry that the kernel then allows — only from that unit.
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, cleanup, decisions, setup, stop } from './harness.js';
import type { Env } from './harness.js';
import { CGROUP_ROOT, TestCgroups } from './cgroups.js';

const TAG = `ntfx${process.pid % 100000}`;
const cg = new TestCgroups(TAG);
const UNIT = `backup-${TAG}.service`;
const UNIT_PATH = cg.unitPath(UNIT);
const OTHER = `other-${TAG}.service`;
const OTHER_PATH = cg.unitPath(OTHER);
const PEER = '192.0.2.1';

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
  cg.remove();
});

const POLICY = `endpoints:
  - backup:
      iface: [ntf0]
      range: [${PEER}/32]
      allow: [alice, 'unit:${UNIT}']
interfaces:
  ntf0: { default: deny }
logging:
  allowed: all
`;

type Explained = {
  verdict: string;
  reason: string;
  endpoint: string | null;
  unit: string | null;
  lines: string[];
};

function explainJson(e: Env, args: string[]): Explained {
  const r = e.cli(['explain', '--user', 'bob', '--dest', `${PEER}:7`, '--iface', 'ntf0', ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Explained[])[0] as Explained;
}

const udp = (path: string, uid: number) =>
  cg.probe((env as Env).sb, path, uid, ['udp', PEER, '7', '2', '300']);

describe.runIf(CGROUP_ROOT !== undefined || process.env.CI === 'true')(
  'explain and propose by cgroup',
  () => {
    it("explain --unit/--cgroup gives the kernel's verdict and names the entry, or why none took it", async () => {
      env = await setup();
      cg.mk(`${UNIT_PATH}/worker`);
      cg.mk(OTHER_PATH);
      const e = await env.run(POLICY);
      expect(udp(`${UNIT_PATH}/worker`, BOB)).toMatchObject({ sent: 2, received: 2 });
      expect(udp(OTHER_PATH, BOB)).toMatchObject({ sent: 2, received: 0 });
      const kernel = (path: string) => decisions(e.lines, (d) => d.uid === BOB && d.cgroup === path)[0];
      await e.waitFor((l) => l.type === 'decision' && l.cgroup === OTHER_PATH, 5000);
      expect(kernel(`${UNIT_PATH}/worker`)).toMatchObject({
        verdict: 'allow',
        endpoint: 'backup',
        unit: UNIT,
      });
      expect(kernel(OTHER_PATH)).toMatchObject({ verdict: 'drop', reason: 'not-listed', unit: OTHER });

      // The enforced policy (from the history) explains both, as the kernel decided them.
      const inUnit = explainJson(env, ['--unit', `backup-${TAG}`, '--pin-dir', env.pinDir]);
      expect(inUnit).toMatchObject({ verdict: 'allow', reason: 'endpoint', endpoint: 'backup', unit: UNIT });
      expect(inUnit.lines.join('\n')).toContain(`allowed: unit:${UNIT} in endpoint backup.`);
      const below = explainJson(env, ['--cgroup', `${UNIT_PATH}/worker`, '--pin-dir', env.pinDir]);
      expect(below).toMatchObject({ verdict: 'allow', endpoint: 'backup' });
      expect(below.lines.join('\n')).toContain(`is below ${UNIT_PATH} and is taken by unit:${UNIT}`);
      const other = explainJson(env, ['--cgroup', OTHER_PATH, '--pin-dir', env.pinDir]);
      expect(other).toMatchObject({ verdict: 'drop', reason: 'not-listed', unit: OTHER });
      expect(other.lines).toContain(
        `backup lists unit:${UNIT} (${UNIT_PATH}); this socket is in ${OTHER_PATH}, not in it.`,
      );
      // The text names the socket's unit in its headline.
      const text = env.cli([
        'explain',
        '--user',
        'bob',
        '--dest',
        `${PEER}:7`,
        '--iface',
        'ntf0',
        '--unit',
        OTHER,
        '--pin-dir',
        env.pinDir,
      ]);
      expect(text.stdout.split('\n')[0]).toBe(`bob (${OTHER}) → ${PEER}:7 on ntf0: DROP (not-listed)`);

      // A unit that is not running, a cgroup that does not exist: exit 1, saying so.
      const stopped = env.cli([
        'explain',
        '--user',
        'bob',
        '--dest',
        PEER,
        '--unit',
        `nope-${TAG}`,
        '--pin-dir',
        env.pinDir,
      ]);
      expect(stopped.code).toBe(1);
      expect(stopped.stderr).toContain(`nope-${TAG}.service is not running`);
      const missing = env.cli([
        'explain',
        '--user',
        'bob',
        '--dest',
        PEER,
        '--cgroup',
        `${cg.slice}/x`,
        '--pin-dir',
        env.pinDir,
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`there is no cgroup ${cg.slice}/x`);
      await stop(e);
    });

    it("propose grants a unit's dropped traffic as unit:NAME as USER, and the kernel then allows only that", async () => {
      env = await setup();
      cg.mk(UNIT_PATH);
      cg.mk(OTHER_PATH);
      const audit = `endpoints:
  - backup:
      iface: [ntf0]
      range: [${PEER}/32]
      allow: [alice]
interfaces:
  ntf0: { default: deny, mode: audit }
`;
      const e = await env.run(audit);
      // bob's traffic from the unit would be dropped (audit: it passes); alice is allowed.
      expect(udp(UNIT_PATH, BOB)).toMatchObject({ received: 2 });
      expect(udp(UNIT_PATH, ALICE)).toMatchObject({ received: 2 });
      // run saves its observations every few seconds and on exit.
      await stop(e);
      const r = env.cli(['propose', '--pin-dir', env.pinDir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`allow: [unit:${UNIT} as bob]`);
      expect(r.stdout).not.toContain('allow: [bob]');

      // Applied (enforcing): bob is allowed from the unit, not from another cgroup.
      const proposed = r.stdout.replace('mode: audit', 'mode: enforce');
      const e2 = await env.run(proposed);
      expect(udp(UNIT_PATH, BOB)).toMatchObject({ received: 2 });
      expect(udp(OTHER_PATH, BOB)).toMatchObject({ received: 0 });
      await stop(e2);
    });
  },
);
