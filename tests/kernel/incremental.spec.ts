// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Real kernel, real program, real processes under real uids.
//
// Range changes applied in place (electron/policy/incremental.ts): `run` reloads (SIGHUP) a
// 72,000-range policy after a range moved, after a range was added around 256 of another user's
// ranges, and after it went again. Each reload is applied without a whole compile (the applied
// line says so) and writes only the entries that change; real datagrams from alice and bob decide
// as the new policy says; and the kernel's maps, both generations, then mean exactly what a whole
// compile of the same file writes (a one-shot `apply` after `run` stopped).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pairRange, pairsPolicyYaml, routePairsBlocks } from '../../bench/lib.js';
import { BpfMap, decodeLpmKey, decodeSetKey, decodeSetVal } from '../../native-bridge/index.js';
import { ALICE, BOB, cleanup, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';

const PER_USER = 36_000;
/** 10.0.0.0/20: alice's first 256 ranges (a /29 every 16 addresses) and the gaps between them. */
const AROUND = '10.0.0.0/20';

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
});

/** Per generation: trie entry (map, ifindex, prefix, address) → what its user set grants. */
function meaning(pinDir: string): [Map<string, string>, Map<string, string>] {
  const sets: [Map<number, string[]>, Map<number, string[]>] = [new Map(), new Map()];
  const setMap = BpfMap.fromPin(join(pinDir, 'ntf_sets'));
  try {
    for (const [k, v] of setMap.entries()) {
      const key = decodeSetKey(k);
      const val = decodeSetVal(v);
      const list = sets[key.gen as 0 | 1].get(key.setId) ?? [];
      list.push(`${key.uid}/${key.cg}:${val.endpointId}@${val.scheduleId}`);
      sets[key.gen as 0 | 1].set(key.setId, list);
    }
  } finally {
    setMap.close();
  }
  const out: [Map<string, string>, Map<string, string>] = [new Map(), new Map()];
  for (const [name, family] of [
    ['ntf_lpm4', 4],
    ['ntf_lpm6', 6],
  ] as const) {
    const m = BpfMap.fromPin(join(pinDir, name));
    try {
      for (const [k, v] of m.entries()) {
        const key = decodeLpmKey(k, family);
        const setId = v.readUInt32LE(0);
        const grants =
          setId === 0 ? 'none' : (sets[key.gen as 0 | 1].get(setId) ?? ['missing']).sort().join(',');
        out[key.gen as 0 | 1].set(`${name}|${key.ifindex}|${key.addr.join('.')}/${key.prefix}`, grants);
      }
    } finally {
      m.close();
    }
  }
  return out;
}

describe('range changes applied in place', () => {
  it('run reloads a 72,000-range policy writing only what changes; the kernel then holds what a whole compile writes', async () => {
    env = await setup();
    routePairsBlocks(env.sb.client, env.sb.server);
    const users = ['alice', 'bob'];
    const A = pairsPolicyYaml(4, users, PER_USER);
    const moved = pairsPolicyYaml(4, users, PER_USER, true); // alice's first range into its gap
    // bob's list gains a /20 around alice's first 256 ranges.
    const bobFirst = pairRange(4, PER_USER).text;
    const around = moved.replace(`[${bobFirst},`, `[${AROUND}, ${bobFirst},`);
    expect(around).not.toBe(moved);
    const file = env.config(A);
    const live = await env.runFile(file, ['--events-per-user', '0']);

    const first = pairRange(4, 0);
    const fifth = pairRange(4, 5);
    expect(udp(env, BOB, first.inside).received).toBe(0); // alice's
    expect(udp(env, ALICE, first.inside).received).toBe(3);

    const reload = async (text: string) => {
      writeFileSync(file, text);
      const from = live.lines.length;
      live.signal('SIGHUP');
      return (await live.waitFor(
        (l) => l.type === 'applied' || l.type === 'reload-failed',
        60_000,
        from,
      )) as {
        type: string;
        changes: number;
        incremental: boolean;
        ranges: number;
      };
    };

    // 1. A range moved: its two entries (ntf0 and the other interfaces) go and two come, in both
    // generations.
    const r1 = await reload(moved);
    expect(r1.type).toBe('applied');
    expect(r1.incremental).toBe(true);
    expect(r1.changes).toBe(8);
    expect(r1.ranges).toBe(2 * 2 * PER_USER);
    expect(udp(env, BOB, first.inside).received).toBe(3); // no longer anybody's: default allow
    expect(udp(env, BOB, first.gap).received).toBe(0); // alice's now
    expect(udp(env, ALICE, first.gap).received).toBe(3);

    // 2. bob's /20 around alice's ranges: those ranges now grant both, the gaps inside only bob.
    const r2 = await reload(around);
    expect(r2.type).toBe('applied');
    expect(r2.incremental).toBe(true);
    expect(r2.ranges).toBe(2 * (2 * PER_USER + 1));
    // The /20 on two interfaces and alice's 256 ranges inside it on ntf0, in both generations (the
    // moved range's new place is inside too); the set of {alice, bob} is new.
    expect(r2.changes).toBeGreaterThanOrEqual(2 * (2 + 256));
    expect(r2.changes).toBeLessThan(2 * (2 + 257) + 8);
    expect(udp(env, BOB, fifth.inside).received).toBe(3);
    expect(udp(env, ALICE, fifth.inside).received).toBe(3);
    expect(udp(env, BOB, fifth.gap).received).toBe(3);
    expect(udp(env, ALICE, fifth.gap).received).toBe(0);

    // 3. And gone again.
    const r3 = await reload(moved);
    expect(r3.incremental).toBe(true);
    expect(r3.changes).toBe(r2.changes);
    expect(udp(env, BOB, fifth.inside).received).toBe(0);
    expect(udp(env, ALICE, fifth.gap).received).toBe(3);

    await stop(live);
    const inPlace = meaning(env.pinDir);
    expect(inPlace[0].size).toBe(2 * 2 * PER_USER);
    expect(inPlace[1]).toEqual(inPlace[0]);

    // A whole compile of the same file, by a one-shot apply (no state to recompile from).
    expect(readFileSync(file, 'utf8')).toBe(moved);
    const full = env.cli(['apply', '--config', file, '--pin-dir', env.pinDir]);
    expect(full.code, full.stderr).toBe(0);
    const whole = meaning(env.pinDir);
    expect(whole[0]).toEqual(inPlace[0]);
    expect(whole[1]).toEqual(inPlace[1]);
  });
});
