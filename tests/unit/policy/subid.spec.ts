// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Subordinate uid ranges and the warning for listed uids inside them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadAccountDb, parseGroup, parsePasswd, resolvePolicy } from '../../../electron/policy/resolve.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';
import { loadSubuid, parseSubid, SYSTEM_SUBUID } from '../../../electron/policy/subid.js';
import { docToPolicy, policyToDoc } from '../../../electron/policy/doc.js';
import { loadPolicyText } from '../../../electron/policy/load.js';
import { parsePolicy } from '../../../electron/policy/yaml.js';
import type { Diagnostic } from '../../../electron/policy/types.js';

const PASSWD = [
  'root:x:0:0::/root:/bin/bash',
  'alice:x:1002:1002::/home/alice:/bin/bash',
  'bob:x:1003:1003::/home/bob:/bin/bash',
  'carol:x:296614:2000::/home/carol:/bin/bash', // a directory (SSSD) uid inside bob's range
  'dave:x:300000:2000::/home/dave:/bin/bash', // primary group staff, also inside bob's range
  '',
].join('\n');
const GROUP = ['staff:x:2000:', 'ops:x:3000:carol', ''].join('\n');
const SUBUID = [
  '# subuid(5)',
  'alice:100000:65536',
  'bob:296608:65536',
  '1002:500000:10', // alice again, by uid
  'ghost:700000:65536', // no such account
  '',
].join('\n');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-subid-'));
  writeFileSync(join(dir, 'subuid'), SUBUID);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function db(subuid = SUBUID): AccountDb {
  return {
    ...parsePasswd(PASSWD),
    groups: parseGroup(GROUP),
    subuid: { file: '/etc/subuid', ranges: parseSubid(subuid) },
  };
}

function warnings(allow: string, accounts: AccountDb = db(), extra = ''): Diagnostic[] {
  const text = `endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [${allow}]\n${extra}interfaces:\n  eth0: { default: allow }\n`;
  const parsed = parsePolicy(text, 'p.yml');
  expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const r = resolvePolicy(parsed.policy!, accounts);
  expect(r.resolved).toBeDefined();
  return r.diagnostics.filter((d) => /subordinate/.test(d.message));
}

describe('parseSubid', () => {
  it('reads owner:start:count lines, skipping comments, blank and malformed lines', () => {
    expect(
      parseSubid(
        [
          '# comment',
          '',
          'bob:296608:65536\r',
          '  1002:500000:10  ',
          'bad',
          'x:1:2:3',
          'y:abc:5',
          'z:5:',
          'empty:10:0',
          ':1:1',
          'huge:4294967290:100',
        ].join('\n'),
      ),
    ).toEqual([
      { owner: 'bob', start: 296608, count: 65536 },
      { owner: '1002', start: 500000, count: 10 },
      { owner: 'huge', start: 4294967290, count: 5 },
    ]);
  });
});

describe('loadSubuid', () => {
  it('reads an explicit file, NET_TC_FILTER_SUBUID, else /etc/subuid', () => {
    expect(loadSubuid(join(dir, 'subuid')).ranges).toHaveLength(4);
    vi.stubEnv('NET_TC_FILTER_SUBUID', join(dir, 'subuid'));
    try {
      expect(loadSubuid()).toMatchObject({ file: join(dir, 'subuid') });
      expect(
        loadAccountDb({ passwdFile: join(dir, 'subuid'), groupFile: join(dir, 'subuid') }).subuid?.file,
      ).toBe(join(dir, 'subuid'));
    } finally {
      vi.unstubAllEnvs();
    }
    vi.stubEnv('NET_TC_FILTER_SUBUID', '');
    try {
      const sys = loadSubuid();
      expect(sys.file).toBe(SYSTEM_SUBUID);
      expect(sys.error).toBeUndefined(); // missing or readable; both fine
    } finally {
      vi.unstubAllEnvs();
    }
  });
  it('throws with the path when an explicit file cannot be read', () => {
    expect(() => loadSubuid(join(dir, 'missing'))).toThrow(/cannot read the subuid file .*missing/);
  });
});

describe('listed uids inside subordinate ranges', () => {
  it('warns about an explicit uid in another user’s range, with the entry’s position', () => {
    expect(warnings("'296614'")).toEqual([
      {
        severity: 'warning',
        message:
          'uid 296614 listed in endpoint "imds" lies in bob\'s subordinate range 296608-362143 (/etc/subuid): ' +
          'bob can act as that uid inside a user namespace',
        pos: { file: 'p.yml', line: 5, col: 15 },
      },
    ]);
  });

  it('covers uids from user names and group members (primary and supplementary)', () => {
    expect(warnings('carol').map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^uid 296614 \(carol\) listed in endpoint "imds" lies in bob's subordinate range/,
      ),
    ]);
    const g = warnings("alice, '@staff'");
    expect(g.map((d) => d.message)).toEqual([
      expect.stringMatching(/^uid 296614 \(carol, member of @staff\) listed in endpoint "imds"/),
      expect.stringMatching(/^uid 300000 \(dave, member of @staff\) listed/),
    ]);
    expect(g[0]?.pos).toEqual({ file: 'p.yml', line: 5, col: 22 });
    expect(warnings("'@ops'").map((d) => d.message)).toEqual([
      expect.stringMatching(/^uid 296614 \(carol, member of @ops\)/),
    ]);
  });

  it('one warning per uid and range, at the first entry listing it', () => {
    const w = warnings("'296614', carol, '@ops'");
    expect(w).toHaveLength(1);
    expect(w[0]?.pos?.col).toBe(15);
  });

  it('range bounds are inclusive of start and exclusive of start + count', () => {
    expect(warnings("'296608'")).toHaveLength(1);
    expect(warnings("'362143'")).toHaveLength(1);
    expect(warnings("'362144', '296607'")).toHaveLength(0);
  });

  it('no warning when the owner is allowed by the same endpoint (own containers), or with *; root is no exception', () => {
    expect(warnings("bob, '296614'")).toEqual([]);
    expect(warnings("'100005', alice")).toEqual([]);
    expect(warnings("'500003', alice")).toEqual([]); // numeric owner 1002 is alice
    expect(warnings("'*', '296614'")).toEqual([]);
    // root's ranges serve containers that do not run as root: listing root does not silence it
    const lxd = db('root:100000:65536\n0:200000:10\n');
    expect(warnings("root, '100005'", lxd).map((d) => d.message)).toEqual([
      'uid 100005 listed in endpoint "imds" lies in root\'s subordinate range 100000-165535 (/etc/subuid): ' +
        'any process in a container mapped from that range can act as that uid',
    ]);
    expect(warnings("'200001'", lxd).map((d) => d.message)).toEqual([
      expect.stringMatching(/lies in root's subordinate range 200000-200009 .*any process in a container/),
    ]);
    // bob allowed through a group counts too
    const viaGroup = db();
    viaGroup.groups.set('devs', { gid: 4000, members: ['bob'] });
    expect(warnings("'@devs', '296614'", viaGroup)).toEqual([]);
  });

  it('checks each endpoint on its own: the owner listed elsewhere does not silence it', () => {
    const w = warnings(
      "'296614'",
      db(),
      "  - other:\n      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [bob, '296614']\n",
    );
    expect(w.map((d) => d.message)).toEqual([expect.stringMatching(/endpoint "imds"/)]);
  });

  it('names numeric and unknown owners, and reports every owner of overlapping ranges', () => {
    expect(warnings("'500001'").map((d) => d.message)).toEqual([
      expect.stringMatching(/lies in alice's subordinate range 500000-500009/),
    ]);
    expect(warnings("'700000'").map((d) => d.message)).toEqual([
      expect.stringMatching(/lies in ghost's subordinate range 700000-765535 .*ghost can act as that uid/),
    ]);
    expect(warnings("'12'", db('123:10:5\n')).map((d) => d.message)).toEqual([
      expect.stringMatching(/lies in uid 123's subordinate range 10-14/),
    ]);
    expect(warnings("'296614'", db('bob:296608:65536\nalice:296000:1000\n'))).toHaveLength(2);
  });

  it('nothing without ranges; a warning when /etc/subuid exists but cannot be read', () => {
    const none = db('');
    expect(warnings("'296614'", none)).toEqual([]);
    const noDb: AccountDb = { ...parsePasswd(PASSWD), groups: parseGroup(GROUP) };
    expect(warnings("'296614'", noDb)).toEqual([]);
    const unreadable = db('');
    unreadable.subuid = { file: '/etc/subuid', ranges: [], error: 'EACCES: permission denied' };
    expect(warnings('alice', unreadable).map((d) => d.message)).toEqual([
      expect.stringMatching(/^cannot read \/etc\/subuid: EACCES.*not checked against subordinate ranges/),
    ]);
  });

  it('reaches loadPolicyText (check, run) and a policy without positions (the desktop app)', () => {
    const text =
      "endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: ['296614']\n";
    const r = loadPolicyText(text, '/etc/net-tc-filter/p.yml', db());
    expect(r.diagnostics).toContainEqual({
      severity: 'warning',
      message: expect.stringMatching(
        /^uid 296614 listed in endpoint "imds" lies in bob's/,
      ) as unknown as string,
      pos: { file: '/etc/net-tc-filter/p.yml', line: 5, col: 15 },
    });
    // The desktop app's worker: PolicyDoc → docToPolicy (no positions) → resolvePolicy; it
    // places a diagnostic on the endpoint its message names.
    const doc = policyToDoc(parsePolicy(text, 'x').policy!);
    const w = resolvePolicy(docToPolicy(doc).policy!, db()).diagnostics.filter((d) =>
      /subordinate/.test(d.message),
    );
    expect(w).toEqual([
      {
        severity: 'warning',
        message: expect.stringMatching(/^uid 296614 listed in endpoint "imds"/) as unknown as string,
      },
    ]);
  });
});
