// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Real kernel, real program, real processes under real uids.
//
// A million (range, user) pairs: 1,000 users with 1,000 ranges of their own, as one YAML file
// (17 MiB for IPv4, 24 MiB for IPv6), through the real CLI: `check`, then `apply` into a
// sandbox; then real datagrams from real uids (alice and bob from the fixture's accounts, and
// uids with no account, allowed by number) decide as the reference evaluator says.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pairRange, pairsPolicyYaml, routePairsBlocks } from '../../bench/lib.js';
import { parseRangeText } from '../../electron/policy/fields.js';
import { hasErrors, loadPolicyText } from '../../electron/policy/load.js';
import { referenceEvaluate } from '../../electron/policy/evaluate.js';
import { loadAccountDb } from '../../electron/policy/resolve.js';
import { ALICE, BOB, cleanup, cliPath, GROUP, PASSWD, setup, udp } from './harness.js';
import type { Env } from './harness.js';

const USERS = 1000;
const PER_USER = 1000;
/** Users 0 and 1 are alice and bob (by name); the others are uids without an account. */
const UID0 = 100_000;
const names = Array.from({ length: USERS }, (_, u) =>
  u === 0 ? 'alice' : u === 1 ? 'bob' : String(UID0 + u),
);
const uidOf = (u: number) => (u === 0 ? ALICE : u === 1 ? BOB : UID0 + u);

/** The CLI in the client namespace, without the harness's 30 s limit (a 1M-pair apply parses,
 * compiles and writes 4 M trie entries). */
function cli(env: Env, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    env.sb.nsenter()[0] as string,
    [...env.sb.nsenter().slice(1), process.execPath, cliPath(), ...args],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        NET_TC_FILTER_PASSWD: env.sb.writeFile('passwd', PASSWD),
        NET_TC_FILTER_GROUP: env.sb.writeFile('group', GROUP),
      },
      timeout: 150_000,
      maxBuffer: 16 << 20,
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ifindex(env: Env, dev: string): number {
  const j = JSON.parse(
    execFileSync('ip', ['-n', env.sb.client, '-j', 'link', 'show', dev], { encoding: 'utf8' }),
  ) as Array<{ ifindex: number }>;
  return j[0]!.ifindex;
}

function addrBytes(family: 4 | 6, text: string): Uint8Array {
  const r = parseRangeText(text).range;
  if (!r || r.family !== family) throw new Error(`not an IPv${family} address: ${text}`);
  return r.addr;
}

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
});

describe.each([4, 6] as const)('a million (range, user) pairs, IPv%i', (family) => {
  it('check and apply through the CLI; sampled datagrams from real uids decide as the reference evaluator', async () => {
    env = await setup();
    routePairsBlocks(env.sb.client, env.sb.server);
    const file = env.config(pairsPolicyYaml(family, names, PER_USER));
    expect(statSync(file).size).toBeGreaterThan(1 << 20); // over the old 1 MiB cap

    const checked = cli(env, ['check', '--config', file]);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(
      `OK — ${USERS} endpoint(s), 1 interface(s), ${USERS * PER_USER} range(s)`,
    );

    // The cap is a stated limit: a smaller one refuses the same file, naming itself and the flag.
    const capped = cli(env, ['check', '--config', file, '--max-policy-bytes', String(1 << 20)]);
    expect(capped.code).toBe(1);
    expect(capped.stderr).toContain('larger than 1048576 bytes (1 MiB)');
    expect(capped.stderr).toContain('--max-policy-bytes N');

    const applied = cli(env, ['apply', '--config', file, '--pin-dir', env.pinDir]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    // Every range on ntf0 and on the interfaces no endpoint names (ifindex 0).
    const status = JSON.parse(cli(env, ['status', '--json', '--pin-dir', env.pinDir]).stdout) as {
      ranges: { v4: number; v6: number };
      setEntries: number;
    };
    expect(status.ranges[family === 4 ? 'v4' : 'v6']).toBe(2 * USERS * PER_USER);
    expect(status.ranges[family === 4 ? 'v6' : 'v4']).toBe(0);
    expect(status.setEntries).toBe(USERS);

    // The policy's meaning, from the same file, with the sandbox's accounts.
    const db = loadAccountDb({
      passwdFile: env.sb.writeFile('passwd', PASSWD),
      groupFile: env.sb.writeFile('group', GROUP),
    });
    const loaded = loadPolicyText(readFileSync(file, 'utf8'), file, db);
    expect(hasErrors(loaded.diagnostics)).toBe(false);
    const resolved = loaded.resolved!;
    const ntf0 = ifindex(env, 'ntf0');
    const ifindexOf = (n: string) => (n === 'ntf0' ? ntf0 : undefined);

    // Senders: alice, bob and three uids without an account; destinations: each one's own
    // ranges (first, middle, last), another user's, a gap between ranges, an address outside
    // the block. Spread over the whole policy: users 0, 1, 2, 499, 999.
    const senders = [0, 1, 2, 499, 999];
    const probes: Array<{ uid: number; dst: string }> = [];
    for (const u of senders) {
      const own = [0, PER_USER / 2, PER_USER - 1].map((j) => pairRange(family, u * PER_USER + j).inside);
      const other = pairRange(family, ((u + 500) % USERS) * PER_USER + 7).inside;
      const gap = pairRange(family, u * PER_USER + 3).gap;
      probes.push(...[...own, other, gap].map((dst) => ({ uid: uidOf(u), dst })));
    }
    probes.push({ uid: ALICE, dst: family === 4 ? '198.51.100.1' : '2001:db8:2::1' }); // unguarded
    const want = { allow: 0, drop: 0 };
    for (const p of probes) {
      const d = referenceEvaluate(resolved, ifindexOf, {
        ifindex: ntf0,
        family,
        daddr: addrBytes(family, p.dst),
        uid: p.uid,
      });
      expect(['allow', 'drop']).toContain(d.verdict);
      want[d.verdict as 'allow' | 'drop']++;
      const got = udp(env, p.uid, p.dst, 2);
      expect({ ...p, received: got.received > 0 }).toEqual({ ...p, received: d.verdict === 'allow' });
    }
    // Both verdicts were probed: own ranges, gaps and the unguarded address allowed, others' dropped.
    expect(want).toEqual({ allow: senders.length * 4 + 1, drop: senders.length });
  }, 300_000);
});
