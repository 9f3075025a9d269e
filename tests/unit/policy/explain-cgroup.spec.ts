// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). explain for a socket in a cgroup: the unit:/cgroup: entry that
// allows it, or why none did (not running, another cgroup, `as` another account, cgroup not
// known); `--unit`/`--cgroup` resolved on a directory tree (cgroupTreeAt reads any tree: ids are
// inode numbers, as on cgroupfs).
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExplainInputError, parseSocketCgroup } from '../../../electron/cli/explain.js';
import { cgroupTreeAt } from '../../../electron/policy/cgroups.js';
import { explain, explanationText, socketCgroup } from '../../../electron/policy/explain.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import type {
  InterfaceSettings,
  ResolvedCgroupEntry,
  ResolvedEndpoint,
  ResolvedPolicy,
} from '../../../electron/policy/types.js';

const ALICE = 1000;
const BOB = 1001;
const NAMES = new Map([
  [ALICE, 'alice'],
  [BOB, 'bob'],
]);
const IMDS = Uint8Array.from([169, 254, 169, 254]);

/** Ids by level: / 1, /system.slice 10, backup.service 50, its worker 51, other.service 60. */
const BACKUP = { path: '/system.slice/backup.service', id: 50, level: 2 };
const IN_BACKUP = { path: '/system.slice/backup.service/worker', ids: [1, 10, 50, 51] };
const IN_OTHER = { path: '/system.slice/other.service', ids: [1, 10, 60] };

function entry(text: string, now: ResolvedCgroupEntry['now'], uids?: number[]): ResolvedCgroupEntry {
  const kind = text.startsWith('unit:') ? 'unit' : 'cgroup';
  const name = text.replace(/^(unit|cgroup):/, '').split(' ')[0] as string;
  return { text, kind, name, now, uids };
}

function policy(cgroups: ResolvedCgroupEntry[], uids: number[] = [ALICE]): ResolvedPolicy {
  const range = parseRangeText('169.254.169.254/32').range!;
  const e: ResolvedEndpoint = {
    id: 1,
    name: 'backup',
    ifaces: ['eth0'],
    ranges: [range],
    uids,
    any: false,
    cgroups,
  };
  const s: InterfaceSettings = { default: 'deny', unowned: 'deny', essentials: true, mode: 'enforce' };
  return { endpoints: [e], interfaces: new Map([['eth0', s]]), logAllowed: 'sample' };
}

function ask(p: ResolvedPolicy, cgroup?: typeof IN_BACKUP, uid = BOB) {
  return explain({
    policy: p,
    source: 'test.yml',
    uid,
    nameOf: (u) => NAMES.get(u),
    family: 4,
    daddr: IMDS,
    port: 80,
    proto: 'tcp',
    iface: 'eth0',
    ...(cgroup ? { cgroup, unit: 'backup.service' } : {}),
  });
}

describe('explain: a socket in a cgroup', () => {
  it('names the entry that allows it, and the socket is named by its unit', () => {
    const x = ask(policy([entry('unit:backup.service', BACKUP)]), IN_BACKUP);
    expect(x).toMatchObject({
      verdict: 'allow',
      reason: 'endpoint',
      endpoint: 'backup',
      unit: 'backup.service',
    });
    expect(x.cgroup).toBe(IN_BACKUP.path);
    expect(x.lines).toContain(
      'On eth0 this socket (in /system.slice/backup.service/worker) is below /system.slice/backup.service and ' +
        'is taken by unit:backup.service: allowed: unit:backup.service in endpoint backup.',
    );
    // The endpoint's listing shows the entry beside the users.
    expect(x.lines.some((l) => l.includes('lets alice and unit:backup.service reach it'))).toBe(true);
    expect(explanationText(x).split('\n')[0]).toBe(
      'bob (backup.service) → 169.254.169.254:80 (tcp) on eth0: ALLOW (endpoint backup)',
    );
  });

  it('says why no entry took it: another cgroup, not running, another account, not known', () => {
    const p = policy([
      entry('unit:backup.service', BACKUP),
      entry('unit:gone.service', undefined),
      entry('cgroup:/system.slice/backup.service as alice', BACKUP, [ALICE]),
    ]);
    const other = ask(p, IN_OTHER);
    expect(other).toMatchObject({ verdict: 'drop', reason: 'not-listed' });
    expect(other.lines).toContain(
      'On eth0 the endpoints that guard it are backup; none lists bob or *, and no unit:/cgroup: entry takes ' +
        'this socket: dropped (not-listed).',
    );
    expect(other.lines).toContain(
      'backup lists unit:backup.service (/system.slice/backup.service); this socket is in /system.slice/other.service, not in it.',
    );
    expect(other.lines).toContain(
      'backup lists unit:gone.service, but gone.service is not running (no cgroup to match).',
    );
    const inside = ask(
      policy([entry('cgroup:/system.slice/backup.service as alice', BACKUP, [ALICE])]),
      IN_BACKUP,
    );
    expect(inside.verdict).toBe('drop');
    expect(inside.lines).toContain(
      'backup lists cgroup:/system.slice/backup.service as alice: this socket is in /system.slice/backup.service, ' +
        'but it counts as bob, whom "as" leaves out.',
    );
    // The same socket as alice is taken (alice is listed anyway: the user listing is reported).
    expect(ask(policy([entry('unit:backup.service as bob', BACKUP, [BOB])], []), IN_BACKUP).verdict).toBe(
      'allow',
    );
    const unknown = ask(policy([entry('unit:backup.service', BACKUP)]));
    expect(unknown.verdict).toBe('drop');
    expect(unknown.lines).toContain(
      "backup lists unit:backup.service, but the socket's cgroup is not known: no unit:/cgroup: entry can take it.",
    );
    expect(unknown.unit).toBeNull();
  });
});

describe('--unit and --cgroup', () => {
  const root = mkdtempSync(join(tmpdir(), 'ntf-cg-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'system.slice/backup.service/worker'), { recursive: true });
  mkdirSync(join(root, 'user.slice/user-1000.slice/hidden.service'), { recursive: true });
  const tree = cgroupTreeAt(root);
  const ino = (p: string) => statSync(join(root, p)).ino;

  it('resolve to the cgroup and its ancestors by level, root first', () => {
    const want = {
      path: '/system.slice/backup.service',
      ids: [ino('.'), ino('system.slice'), ino('system.slice/backup.service')],
    };
    expect(parseSocketCgroup({ unit: 'backup' }, tree)).toEqual({ cgroup: want, unit: 'backup.service' });
    expect(
      parseSocketCgroup({ cgroup: '/system.slice/backup.service/worker' }, tree)?.cgroup.ids,
    ).toHaveLength(4);
    expect(socketCgroup(tree, '/')).toEqual({ path: '/', ids: [ino('.')] });
    expect(parseSocketCgroup({}, tree)).toBeUndefined();
  });

  it('refuse what is not there, with the flag and the fix', () => {
    const msg = (
      o: { unit?: string; cgroup?: string },
      t: Parameters<typeof parseSocketCgroup>[1] = tree,
    ) => {
      try {
        parseSocketCgroup(o, t);
      } catch (err) {
        expect(err).toBeInstanceOf(ExplainInputError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    // A unit is looked for outside user.slice only.
    expect(msg({ unit: 'hidden' })).toBe(
      `--unit hidden: hidden.service is not running (no cgroup named hidden.service in the slices below ${root}, user.slice aside); start it, or give --cgroup PATH`,
    );
    expect(msg({ cgroup: '/system.slice/nope.service' })).toBe(
      `--cgroup /system.slice/nope.service: there is no cgroup /system.slice/nope.service (below ${root})`,
    );
    expect(msg({ cgroup: 'system.slice' })).toMatch(
      /^--cgroup system\.slice: cgroup path "system\.slice" must start with "\/"/,
    );
    expect(msg({ unit: 'x.socket' })).toMatch(/^--unit x\.socket: unit "x\.socket": only \.service/);
    expect(msg({ unit: 'a', cgroup: '/' })).toMatch(/not both/);
    expect(msg({ unit: 'a' }, 'no cgroup v2 hierarchy is mounted')).toBe(
      '--unit a: no cgroup v2 hierarchy is mounted',
    );
  });
});
