// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). What the Apply preview says each interface does, and when a default
// turns to deny.
import { describe, expect, it } from 'vitest';
import { interfaceEffects, whoMay } from '../../../electron/policy/effects.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import type { InterfaceSettings, ResolvedEndpoint, ResolvedPolicy } from '../../../electron/policy/types.js';
import { DEFAULT_INTERFACE_SETTINGS } from '../../../electron/policy/types.js';

const TESTUSER = 1000;
const BOB = 1001;
const NAMES = new Map<number, string>([
  [0, 'root'],
  [TESTUSER, 'testuser'],
  [BOB, 'bob'],
]);

function endpoint(id: number, name: string, ifaces: string[], ranges: string[], uids: number[], any = false) {
  return {
    id,
    name,
    ifaces,
    ranges: ranges.map((r) => parseRangeText(r).range ?? (undefined as never)),
    uids,
    any,
  } satisfies ResolvedEndpoint;
}

function policy(
  endpoints: ResolvedEndpoint[],
  ifaces: Record<string, Partial<InterfaceSettings>>,
): ResolvedPolicy {
  const interfaces = new Map<string, InterfaceSettings>();
  for (const e of endpoints) for (const i of e.ifaces) interfaces.set(i, { ...DEFAULT_INTERFACE_SETTINGS });
  for (const [n, s] of Object.entries(ifaces)) interfaces.set(n, { ...DEFAULT_INTERFACE_SETTINGS, ...s });
  return { endpoints, interfaces, logAllowed: 'off' };
}

const IMDS = endpoint(1, 'imdsv2', ['eth0'], ['169.254.169.254/32', 'fd00:ec2::254/128'], [TESTUSER]);
const opts = (present = ['eth0', 'eth1']) => ({
  present: (n: string) => present.includes(n),
  nameOf: (u: number) => NAMES.get(u),
});

describe('interfaceEffects', () => {
  it('words a deny default with who may reach the endpoint ranges, and it turns deny from nothing', () => {
    const fx = interfaceEffects(policy([IMDS], {}), undefined, opts());
    expect(fx).toEqual([
      {
        iface: 'eth0',
        text:
          'eth0: everything except 169.254.169.254/32 and fd00:ec2::254/128 is dropped for every account, ' +
          'root included (testuser may reach 169.254.169.254/32 and fd00:ec2::254/128)',
        tone: 'deny',
        turnsDeny: true,
      },
      {
        iface: null,
        text: 'Every other interface: only the guarded ranges are checked, and nobody may reach them there; everything else passes',
        tone: 'guard',
        turnsDeny: false,
      },
    ]);
  });

  it('words an allow default as guarding only the ranges; a deny default that stays deny does not turn', () => {
    const guard = policy([IMDS], { eth0: { default: 'allow' } });
    const [eth0] = interfaceEffects(guard, undefined, opts());
    expect(eth0).toEqual({
      iface: 'eth0',
      text: 'eth0: only 169.254.169.254/32 and fd00:ec2::254/128 (reachable by testuser) are guarded; everything else passes',
      tone: 'guard',
      turnsDeny: false,
    });
    const deny = policy([IMDS], {});
    expect(interfaceEffects(deny, guard, opts())[0]?.turnsDeny).toBe(true);
    expect(interfaceEffects(deny, deny, opts())[0]?.turnsDeny).toBe(false);
    // Audit before: nothing was dropped, so enforcing deny turns it.
    expect(interfaceEffects(deny, policy([IMDS], { eth0: { mode: 'audit' } }), opts())[0]?.turnsDeny).toBe(
      true,
    );
  });

  it('says what audit mode and an absent interface do; neither turns deny', () => {
    const fx = interfaceEffects(
      policy([IMDS, endpoint(2, 'db', ['eth1'], ['192.0.2.0/24'], [], true)], { eth0: { mode: 'audit' } }),
      undefined,
      opts(['eth0']),
    );
    expect(fx.map((f) => [f.iface, f.tone, f.turnsDeny])).toEqual([
      ['eth0', 'audit', false],
      ['eth1', 'absent', false],
      [null, 'guard', false],
    ]);
    expect(fx[0]?.text).toBe(
      'eth0 audits: nothing is dropped; what this policy would drop is reported as would-drop',
    );
    expect(fx[1]?.text).toBe('eth1 does not exist on this host: nothing is filtered there until it appears');
  });

  it('names ranges of endpoints that do not name the interface as reachable by nobody there', () => {
    const p = policy([IMDS, endpoint(2, 'db', ['eth1'], ['192.0.2.0/24'], [BOB])], {
      eth1: { default: 'allow' },
    });
    const eth1 = interfaceEffects(p, undefined, opts()).find((f) => f.iface === 'eth1');
    expect(eth1?.text).toBe(
      'eth1: only 169.254.169.254/32 and fd00:ec2::254/128 (nobody may reach them through eth1) and ' +
        '192.0.2.0/24 (reachable by bob) are guarded; everything else passes',
    );
  });

  it('every other interface audits when every configured one does; no guarded range: no such line', () => {
    const all = interfaceEffects(policy([IMDS], { eth0: { mode: 'audit' } }), undefined, opts());
    expect(all.at(-1)).toMatchObject({ iface: null, tone: 'audit' });
    const none = interfaceEffects(policy([], { eth0: {} }), undefined, opts());
    expect(none).toEqual([
      {
        iface: 'eth0',
        text: 'eth0: everything is dropped for every account, root included',
        tone: 'deny',
        turnsDeny: true,
      },
    ]);
  });

  it('essentials off is said; whoMay names every user, nobody, and caps long lists', () => {
    const [eth0] = interfaceEffects(policy([IMDS], { eth0: { essentials: false } }), undefined, opts());
    expect(eth0?.text).toMatch(/; DHCP and IPv6 neighbour discovery too \(essentials off\)$/);
    const nameOf = (u: number) => NAMES.get(u);
    expect(whoMay(endpoint(1, 'a', [], [], [], true), nameOf)).toBe('every user');
    expect(whoMay(endpoint(1, 'a', [], [], []), nameOf)).toBe('nobody');
    expect(whoMay(endpoint(1, 'a', [], [], [1, 2, 3, 4, 5, 6, 7, 8]), nameOf)).toBe(
      'uid 1, uid 2, uid 3, uid 4, uid 5, uid 6 and 2 more',
    );
  });
});
