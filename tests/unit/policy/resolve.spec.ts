// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadAccountDb,
  parseGroup,
  parsePasswd,
  resolvePolicy,
  userName,
} from '../../../electron/policy/resolve.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';
import { parsePolicy } from '../../../electron/policy/yaml.js';
import { DEFAULT_INTERFACE_SETTINGS } from '../../../electron/policy/types.js';
import type { Policy } from '../../../electron/policy/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const PASSWD = [
  '# fixture passwd',
  'root:x:0:0:root:/root:/bin/bash',
  'testuser:x:1000:1000:Test User:/home/testuser:/bin/bash',
  'svc-deploy:x:1001:1001::/srv/deploy:/usr/sbin/nologin',
  'alice:x:1002:2000::/home/alice:/bin/bash', // primary group: developers
  'bob:x:1003:1003::/home/bob:/bin/bash',
  'admin:x:1004:1004::/home/admin:/bin/bash',
  'toor:x:0:0:second root:/root:/bin/sh', // duplicate uid: the first name wins
  '',
  'this line is malformed',
  'carol:x:notanumber:1::/:/bin/sh',
  'dave:x:99999999999:1::/:/bin/sh',
  '+nisuser::::::',
  'short:x:5',
].join('\n');

const GROUP = [
  '# fixture group',
  'root:x:0:',
  'testuser:x:1000:',
  'developers:x:2000:bob,ghost', // ghost has no passwd entry
  'empty:x:3000:',
  'sudo:x:27:admin, testuser',
  'broken:x:',
  'bad:x:abc:alice',
].join('\n');

let dir: string;
let db: AccountDb;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-resolve-'));
  writeFileSync(join(dir, 'passwd'), PASSWD);
  writeFileSync(join(dir, 'group'), GROUP);
  db = loadAccountDb({ passwdFile: join(dir, 'passwd'), groupFile: join(dir, 'group') });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function policyOf(text: string): Policy {
  const r = parsePolicy(text, 'p.yml');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.policy!;
}

function ep(name: string, allow: string, extra = '', iface = 'eth0', range = '10.0.0.0/8'): string {
  return `  - ${name}:\n      iface: [${iface}]\n      range: [${range}]\n      allow: [${allow}]\n${extra}`;
}

describe('loadAccountDb', () => {
  it('parses passwd and group files, skipping comments and malformed lines', () => {
    expect([...db.users.keys()]).toEqual(['root', 'testuser', 'svc-deploy', 'alice', 'bob', 'admin', 'toor']);
    expect(db.users.get('alice')).toEqual({ uid: 1002, gid: 2000 });
    expect(db.uidToName.get(0)).toBe('root');
    expect(userName(db, 1001)).toBe('svc-deploy');
    expect(userName(db, 4242)).toBeUndefined();
    expect([...db.groups.keys()]).toEqual(['root', 'testuser', 'developers', 'empty', 'sudo']);
    expect(db.groups.get('sudo')).toEqual({ gid: 27, members: ['admin', 'testuser'] });
    expect(db.groups.get('empty')).toEqual({ gid: 3000, members: [] });
  });

  it('honours NET_TC_FILTER_PASSWD and NET_TC_FILTER_GROUP', () => {
    const saved = { p: process.env.NET_TC_FILTER_PASSWD, g: process.env.NET_TC_FILTER_GROUP };
    try {
      process.env.NET_TC_FILTER_PASSWD = join(dir, 'passwd');
      process.env.NET_TC_FILTER_GROUP = join(dir, 'group');
      const fromEnv = loadAccountDb();
      expect(fromEnv.users.get('svc-deploy')?.uid).toBe(1001);
      expect(fromEnv.groups.has('developers')).toBe(true);
      expect(fromEnv.lookupUser).toBeUndefined();
    } finally {
      for (const [k, v] of [
        ['NET_TC_FILTER_PASSWD', saved.p],
        ['NET_TC_FILTER_GROUP', saved.g],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('reads the system databases (getent, else /etc)', () => {
    const saved = { p: process.env.NET_TC_FILTER_PASSWD, g: process.env.NET_TC_FILTER_GROUP };
    delete process.env.NET_TC_FILTER_PASSWD;
    delete process.env.NET_TC_FILTER_GROUP;
    try {
      const system = loadAccountDb();
      expect(system.users.get('root')?.uid).toBe(0);
      expect(system.groups.get('root')?.gid).toBe(0);
    } finally {
      if (saved.p !== undefined) process.env.NET_TC_FILTER_PASSWD = saved.p;
      if (saved.g !== undefined) process.env.NET_TC_FILTER_GROUP = saved.g;
    }
  });

  it('throws with the path when an explicit file cannot be read', () => {
    expect(() => loadAccountDb({ passwdFile: join(dir, 'missing'), groupFile: join(dir, 'group') })).toThrow(
      /cannot read the passwd file .*missing/,
    );
  });

  it('parses CRLF files', () => {
    expect(parsePasswd('a:x:1:2::/:/bin/sh\r\n').users.get('a')).toEqual({ uid: 1, gid: 2 });
    expect(parseGroup('g:x:5:a,b\r\n').get('g')).toEqual({ gid: 5, members: ['a', 'b'] });
  });
});

describe('resolvePolicy', () => {
  it('resolves the seed example', () => {
    const text = readFileSync(join(root, 'conf/net-tc-filter.yml'), 'utf8');
    const r = resolvePolicy(policyOf(text), db);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.resolved).toBeDefined();
    const resolved = r.resolved!;
    expect(resolved.endpoints).toEqual([
      {
        id: 1,
        name: 'imdsv2',
        ifaces: ['eth0'],
        ranges: [expect.objectContaining({ family: 4, prefix: 32, text: '169.254.169.254/32' })],
        uids: [1000],
        any: false,
      },
    ]);
    expect(resolved.interfaces).toEqual(new Map([['eth0', { ...DEFAULT_INTERFACE_SETTINGS }]]));
    expect(resolved.logAllowed).toBe('sample');
    // The seed's deny default is what the original tool did; the admin is told what it costs.
    expect(r.diagnostics).toEqual([
      {
        severity: 'warning',
        message: expect.stringMatching(/^default deny on eth0 also blocks DNS, package updates/),
        pos: { file: 'p.yml', line: 2, col: 7 },
      },
    ]);
  });

  it('resolves uids, users, groups with primary and supplementary members, and *', () => {
    const r = resolvePolicy(
      policyOf(
        'endpoints:\n' +
          ep('one', 'testuser, 4242, "@developers", testuser') +
          ep('two', '"*", "@sudo"') +
          ep('three', 'root, toor, 0'),
      ),
      db,
    );
    expect(r.resolved?.endpoints.map((e) => [e.id, e.name, e.uids, e.any])).toEqual([
      [1, 'one', [1000, 1002, 1003, 4242], false],
      [2, 'two', [1000, 1004], true],
      [3, 'three', [0], false],
    ]);
  });

  it('reports unknown users and groups at the entry, and empty groups as warnings', () => {
    const r = resolvePolicy(policyOf(`endpoints:\n${ep('ep', 'nobody-here, "@nogroup", "@empty"')}`), db);
    expect(r.resolved).toBeUndefined();
    expect(r.diagnostics).toContainEqual({
      severity: 'error',
      message: 'unknown user "nobody-here" in endpoint "ep"',
      pos: { file: 'p.yml', line: 5, col: 15 },
    });
    expect(r.diagnostics).toContainEqual({
      severity: 'error',
      message: 'unknown group "nogroup" in endpoint "ep"',
      pos: { file: 'p.yml', line: 5, col: 28 },
    });
    expect(r.diagnostics).toContainEqual({
      severity: 'warning',
      message: 'group "empty" has no members; it allows nobody',
      pos: { file: 'p.yml', line: 5, col: 40 },
    });
  });

  it('lists every configured interface with complete settings, endpoint interfaces first', () => {
    const r = resolvePolicy(
      policyOf(
        `endpoints:\n${ep('a', 'root', '', 'wg0, eth0, wg0')}` +
          'interfaces:\n  eth1: {unowned: allow}\n  eth0: {default: allow}\nlogging: {allowed: all}\n',
      ),
      db,
    );
    expect(r.resolved!.endpoints[0]!.ifaces).toEqual(['wg0', 'eth0']);
    expect([...r.resolved!.interfaces]).toEqual([
      ['wg0', { default: 'deny', unowned: 'deny', essentials: true, mode: 'enforce' }],
      ['eth0', { default: 'allow', unowned: 'deny', essentials: true, mode: 'enforce' }],
      ['eth1', { default: 'deny', unowned: 'allow', essentials: true, mode: 'enforce' }],
    ]);
    expect(r.resolved!.logAllowed).toBe('all');
    // One deny warning per interface, none for eth0 (default allow); unowned: allow on eth1 said too.
    expect(r.diagnostics.map((d) => d.message.slice(0, 23))).toEqual([
      'default deny on wg0 als',
      'default deny on eth1 al',
      'unowned: allow on eth1 ',
    ]);
    expect(r.diagnostics[2]!.message).toMatch(/through unchecked, also to the guarded ranges$/);
  });

  it('warns about loopback and essentials', () => {
    const r = resolvePolicy(
      policyOf(
        `endpoints:\n${ep('local', 'root', '', 'lo', '::1/128')}${ep('wan', 'root', '', 'eth0')}` +
          'interfaces:\n  eth0: {essentials: false}\n  lo: {essentials: false}\n',
      ),
      db,
    );
    const messages = r.diagnostics.map((d) => d.message);
    expect(messages).toHaveLength(3);
    expect(messages[0]).toMatch(
      /^default deny on lo also blocks local DNS resolvers \(systemd-resolved at 127\.0\.0\.53, dnsmasq at 127\.0\.0\.1\)/,
    );
    // Default deny drops what no endpoint allows for every sender, listed or not.
    expect(messages[1]).toMatch(/^default deny on eth0 .* for every user, root included/);
    expect(messages[2]).toMatch(/^essentials: false on eth0: DHCP renewals and IPv6 neighbour discovery/);
  });

  it('warns when only one family of the metadata service is guarded on a default-allow interface', () => {
    const allowEth0 = 'interfaces:\n  eth0: {default: allow}\n';
    const v4only = resolvePolicy(
      policyOf(`endpoints:\n${ep('imds', 'svc-deploy', '', 'eth0', '169.254.169.254/32')}${allowEth0}`),
      db,
    );
    expect(v4only.diagnostics).toEqual([
      {
        severity: 'warning',
        message: expect.stringMatching(
          /^the metadata service is also reachable at fd00:ec2::254, .*add fd00:ec2::254\/128$/,
        ),
        pos: { file: 'p.yml', line: 4, col: 15 },
      },
    ]);
    const v6only = resolvePolicy(
      policyOf(`endpoints:\n${ep('imds', 'svc-deploy', '', 'eth0', 'fd00:ec2::254/128')}${allowEth0}`),
      db,
    );
    expect(v6only.diagnostics[0]?.message).toMatch(/also reachable at 169\.254\.169\.254,/);

    const dual = readFileSync(join(root, 'conf/examples/metadata-dual-stack.yml'), 'utf8');
    const r = resolvePolicy(policyOf(dual), db);
    expect(r.diagnostics).toEqual([]);
    expect(r.resolved!.endpoints[0]!.uids).toEqual([1001]);
  });

  it("says when '*' opens a range another endpoint restricts (the per-interface opt-out of guarding everywhere)", () => {
    const r = resolvePolicy(
      policyOf(
        `endpoints:\n${ep('imds', 'svc-deploy', '', 'eth0', '169.254.169.254/32')}` +
          `${ep('lab', "'*'", '', 'eth1', '169.254.0.0/16')}interfaces:\n  eth0: {default: allow}\n  eth1: {default: allow}\n`,
      ),
      db,
    );
    const w = r.diagnostics.filter((d) => /lets every user/.test(d.message));
    expect(w).toEqual([
      {
        severity: 'warning',
        message:
          'endpoint "lab" lets every user (\'*\') reach 169.254.0.0/16 through eth1, which endpoint "imds" restricts to its users',
        pos: { file: 'p.yml', line: 8, col: 15 },
      },
    ]);
    // Disjoint ranges: nothing is opened.
    const apart = resolvePolicy(
      policyOf(`endpoints:\n${ep('imds', 'svc-deploy')}${ep('web', "'*'", '', 'eth1', '192.0.2.0/24')}`),
      db,
    );
    expect(apart.diagnostics.filter((d) => /lets every user/.test(d.message))).toEqual([]);
  });

  it('says that a range covering where DHCP clients send makes DHCP a matter of the policy', () => {
    const r = resolvePolicy(
      policyOf(`endpoints:\n${ep('all', 'svc-deploy', '', 'eth0', '0.0.0.0/0, ::/0')}`),
      db,
    );
    const w = r.diagnostics
      .filter((d) => /DHCP exemption never applies/.test(d.message))
      .map((d) => d.message);
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/^0\.0\.0\.0\/0 in endpoint "all" covers 255\.255\.255\.255 \(DHCPv4\)/);
    expect(w[1]).toMatch(/^::\/0 in endpoint "all" covers ff02::1:2 \(DHCPv6\)/);
    const narrow = resolvePolicy(
      policyOf(`endpoints:\n${ep('imds', 'svc-deploy', '', 'eth0', '169.254.169.254')}`),
      db,
    );
    expect(narrow.diagnostics.filter((d) => /DHCP/.test(d.message) && /covers/.test(d.message))).toEqual([]);
  });

  it('resolves the workstation example', () => {
    const text = readFileSync(join(root, 'conf/examples/workstation.yml'), 'utf8');
    const r = resolvePolicy(policyOf(text), db);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.resolved!.endpoints.map((e) => [e.name, e.uids, e.any])).toEqual([
      ['intranet', [], true],
      ['staging', [1002, 1003, 1050], false],
      ['metadata', [1004], false],
    ]);
    expect(r.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^default deny on wg0/)]);
  });

  it('asks single-name lookups for accounts the enumeration did not list', () => {
    const calls: string[] = [];
    const ldap: AccountDb = {
      users: new Map(),
      uidToName: new Map(),
      groups: new Map(),
      lookupUser: (name) => {
        calls.push(`user ${name}`);
        return name === 'jdoe' ? { uid: 50001, gid: 50000 } : undefined;
      },
      lookupGroup: (name) => {
        calls.push(`group ${name}`);
        return name === 'staff' ? { gid: 50000, members: ['jdoe'] } : undefined;
      },
    };
    const r = resolvePolicy(policyOf(`endpoints:\n${ep('ep', 'jdoe, "@staff"')}`), ldap);
    expect(r.resolved!.endpoints[0]!.uids).toEqual([50001]);
    expect(userName(ldap, 50001)).toBe('jdoe');
    // jdoe is cached after the first lookup.
    expect(calls).toEqual(['user jdoe', 'group staff']);
  });

  it('works on a policy built without positions', () => {
    const policy: Policy = {
      endpoints: [
        {
          name: 'x',
          iface: ['eth0'],
          range: [],
          allow: [{ kind: 'user', name: 'nobody-here', text: 'nobody-here' }],
        },
      ],
      interfaces: {},
      logging: {},
    };
    const r = resolvePolicy(policy, db);
    expect(r.diagnostics).toContainEqual({
      severity: 'error',
      message: 'unknown user "nobody-here" in endpoint "x"',
    });
  });
});
