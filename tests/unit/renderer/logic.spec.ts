// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { docToPolicy } from '../../../electron/policy/doc.js';
import { resolvePolicy } from '../../../electron/policy/resolve.js';
import { accountWarning, adviseOn, interfaceWarning } from '../../../renderer/src/logic/advice.js';
import { diffPolicy } from '../../../renderer/src/logic/diff.js';
import { formatHostPort, formatTime } from '../../../renderer/src/logic/format.js';

const doc = (over: Partial<PolicyDoc> = {}): PolicyDoc => ({
  endpoints: [
    { name: 'imds', iface: ['eth0'], range: ['169.254.169.254/32', 'fd00:ec2::254'], allow: ['svc'] },
  ],
  interfaces: {},
  logging: {},
  ...over,
});

const rules = (d: PolicyDoc) => adviseOn(d).map((a) => `${a.rule}:${a.iface ?? a.endpoint}`);

describe('advice', () => {
  it('default deny names DNS and root', () => {
    const a = adviseOn(doc()).find((x) => x.rule === 'deny-default');
    expect(a?.iface).toBe('eth0');
    expect(a?.level).toBe('warning');
    expect(a?.message).toMatch(
      /^default deny on eth0 also blocks DNS, package updates and every other destination/,
    );
    expect(a?.message).toMatch(/for every user, root included/);
  });

  it('says root is cut off even when root (or uid 0, or *) is listed: listed only for the ranges', () => {
    // Default deny drops what no endpoint allows whoever sends it (docs/datapath.md: unguarded → drop).
    for (const who of ['root', '0', '*']) {
      const d = doc();
      d.endpoints[0]!.allow.push(who);
      expect(adviseOn(d).find((x) => x.rule === 'deny-default')?.message).toMatch(/root included/);
    }
  });

  it('says what the editor says as check does: the same words, warnings only', () => {
    const d = doc({
      endpoints: [
        { name: 'imds', iface: ['eth0'], range: ['169.254.169.254/32'], allow: ['svc'] },
        { name: 'lab', iface: ['eth1'], range: ['169.254.0.0/16', 'not a range'], allow: ['*'] },
        { name: 'web', iface: ['eth1'], range: ['192.0.2.0/24'], allow: ['*'] },
      ],
      interfaces: { eth0: { default: 'allow', unowned: 'allow' }, eth1: { default: 'allow' } },
    });
    const conv = docToPolicy({
      ...d,
      endpoints: d.endpoints.map((e) => ({ ...e, range: e.range.slice(0, 1) })),
    });
    const resolved = resolvePolicy(conv.policy!, {
      users: new Map([['svc', { uid: 1001, gid: 1001 }]]),
      uidToName: new Map([[1001, 'svc']]),
      groups: new Map(),
    });
    const advice = adviseOn(d);
    expect(advice.filter((a) => a.level === 'warning').map((a) => a.message)).toEqual(
      resolved.diagnostics.map((x) => x.message),
    );
    expect(advice.map((a) => `${a.rule}:${a.endpoint ?? a.iface}:${a.level}`)).toEqual([
      'unowned-allow:eth0:warning',
      'metadata-other-family:0:warning',
      'metadata-other-family:1:warning', // 169.254.0.0/16 holds 169.254.169.254 too
      'opens-restricted-range:1:warning',
      'single-family:2:hint',
      'allow-anyone:2:hint',
    ]);
  });

  it('default allow gives no deny advice', () => {
    expect(rules(doc({ interfaces: { eth0: { default: 'allow' } } }))).not.toContain('deny-default:eth0');
  });

  it('deny on lo mentions the local DNS resolver', () => {
    const d = doc({ endpoints: [{ name: 'lo6', iface: ['lo'], range: ['::1/128'], allow: ['a'] }] });
    const a = adviseOn(d).find((x) => x.rule === 'deny-lo-dns');
    expect(a?.message).toMatch(/127\.0\.0\.53/);
    expect(a?.message).toMatch(/DNS/);
  });

  it('essentials off warns about DHCP and neighbour discovery', () => {
    const a = adviseOn(doc({ interfaces: { eth0: { essentials: false } } })).find(
      (x) => x.rule === 'essentials-off',
    );
    expect(a?.message).toMatch(/DHCP renewals/);
    expect(a?.message).toMatch(/neighbour discovery/);
  });

  it('unowned allow warns about forwarded traffic', () => {
    expect(rules(doc({ interfaces: { eth0: { unowned: 'allow' } } }))).toContain('unowned-allow:eth0');
    expect(rules(doc())).not.toContain('unowned-allow:eth0');
  });

  it('an IPv4-only metadata endpoint is told about fd00:ec2::254, and vice versa', () => {
    const v4 = doc();
    v4.endpoints[0]!.range = ['169.254.169.254/32'];
    v4.interfaces = { eth0: { default: 'allow' } };
    expect(adviseOn(v4).find((x) => x.rule === 'metadata-other-family')?.message).toBe(
      'the metadata service is also reachable at fd00:ec2::254, which endpoint "imds" does not guard on eth0 (default: allow); add fd00:ec2::254/128',
    );
    const v6 = doc({ interfaces: { eth0: { default: 'allow' } } });
    v6.endpoints[0]!.range = ['fd00:ec2::/64'];
    expect(adviseOn(v6).find((x) => x.rule === 'metadata-other-family')?.message).toMatch(
      /also reachable at 169\.254\.169\.254, .*; add 169\.254\.169\.254\/32$/,
    );
    const covering = doc({ interfaces: { eth0: { default: 'allow' } } });
    covering.endpoints[0]!.range = ['169.254.0.0/16'];
    expect(rules(covering)).toContain('metadata-other-family:0');
    // Under default deny the other address is dropped there anyway: only the single-family hint.
    const deny = doc();
    deny.endpoints[0]!.range = ['169.254.169.254/32'];
    expect(rules(deny)).toContain('single-family:0');
    expect(rules(deny)).not.toContain('metadata-other-family:0');
  });

  it('any single-family endpoint is told the other family is unguarded; dual-stack is not', () => {
    const d = doc();
    d.endpoints[0]!.range = ['192.0.2.0/24'];
    const a = adviseOn(d).find((x) => x.rule === 'single-family');
    expect(a?.message).toMatch(/guards only IPv4; .*IPv6.*unguarded/);
    expect(rules(doc()).filter((r) => r.startsWith('single') || r.startsWith('metadata'))).toEqual([]);
  });

  it('* in allow says every user may reach the endpoint', () => {
    const d = doc();
    d.endpoints[0]!.allow = ['*'];
    expect(adviseOn(d).find((x) => x.rule === 'allow-anyone')?.message).toMatch(
      /every user may reach its ranges on eth0/,
    );
  });

  it('unknown interfaces and accounts get warnings only when the lists are known', () => {
    const ifs = [{ name: 'eth0', index: 2, state: 'up', up: true, loopback: false, linkType: 'ether' }];
    expect(interfaceWarning('eth0', ifs)).toBeNull();
    expect(interfaceWarning('wg0', ifs)).toBe(
      'interface "wg0" does not exist now; it is attached when it appears',
    );
    expect(interfaceWarning('wg0', null)).toBeNull();
    const acc = {
      users: [{ name: 'svc', uid: 5 }],
      groups: [{ name: 'ops', gid: 9, members: [] }],
      truncated: false,
      humanUids: { min: 1000, max: 60000 },
    };
    expect(accountWarning('svc', acc)).toBeNull();
    expect(accountWarning('@ops', acc)).toBeNull();
    expect(accountWarning('1234', acc)).toBeNull();
    expect(accountWarning('*', acc)).toBeNull();
    expect(accountWarning('bob', acc)).toMatch(/no such user/);
    expect(accountWarning('@devs', acc)).toMatch(/no such group/);
    expect(accountWarning('bob', null)).toBeNull();
  });
});

describe('diffPolicy', () => {
  it('is empty for equal documents, whatever the list order', () => {
    const a = doc();
    const b = doc();
    b.endpoints[0]!.range.reverse();
    expect(diffPolicy(a, b).count).toBe(0);
  });

  it('reports added, removed and changed endpoints with per-list items', () => {
    const base = doc({
      endpoints: [
        { name: 'imds', iface: ['eth0'], range: ['169.254.169.254/32'], allow: ['svc', 'root'] },
        { name: 'old', iface: ['eth0'], range: ['192.0.2.0/24'], allow: ['a'] },
      ],
    });
    const draft = doc({
      endpoints: [
        { name: 'imds', iface: ['eth0', 'eth1'], range: ['169.254.169.254/32'], allow: ['svc', '@ops'] },
        { name: 'new', iface: ['lo'], range: ['::1'], allow: ['b'] },
      ],
    });
    const d = diffPolicy(base, draft);
    expect(d.added.map((e) => e.name)).toEqual(['new']);
    expect(d.removed.map((e) => e.name)).toEqual(['old']);
    expect(d.changed).toEqual([
      {
        name: 'imds',
        lists: { iface: { added: ['eth1'], removed: [] }, allow: { added: ['@ops'], removed: ['root'] } },
      },
    ]);
    expect(d.count).toBe(5);
  });

  it('compares against nothing when nothing is enforced', () => {
    const d = diffPolicy(null, doc());
    expect(d.added.map((e) => e.name)).toEqual(['imds']);
    expect(d.count).toBe(1);
  });

  it('reports interface setting and logging changes by effective value', () => {
    const d = diffPolicy(
      doc({ interfaces: { eth0: { default: 'deny' } } }),
      doc({ interfaces: { eth0: { unowned: 'allow' } }, logging: { allowed: 'off' } }),
    );
    expect(d.settings).toEqual([{ iface: 'eth0', key: 'unowned', from: 'deny', to: 'allow' }]);
    expect(d.logging).toEqual({ from: 'sample', to: 'off' });
    expect(d.count).toBe(2);
  });
});

describe('format', () => {
  it('brackets IPv6 destinations and omits port 0', () => {
    expect(formatHostPort('fd00:ec2::254', 80, 6)).toBe('[fd00:ec2::254]:80');
    expect(formatHostPort('169.254.169.254', 443, 4)).toBe('169.254.169.254:443');
    expect(formatHostPort('192.0.2.1', 0, 4)).toBe('192.0.2.1');
  });

  it('shows time as HH:MM:SS.mmm', () => {
    expect(formatTime(new Date(2024, 0, 2, 3, 4, 5, 6).getTime())).toBe('03:04:05.006');
  });
});
