// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  adviceWarnings,
  adviseOn,
  missingInterfaceMessage,
  rangeContains,
  type AdviceEndpoint,
} from '../../../electron/policy/advice.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import { DEFAULT_INTERFACE_SETTINGS } from '../../../electron/policy/types.js';
import type { InterfaceSettings, SourcePos } from '../../../electron/policy/types.js';

const at = (line: number, col = 5): SourcePos => ({ file: 'p.yml', line, col });
const settings = (s: Partial<InterfaceSettings> = {}): InterfaceSettings => ({
  ...DEFAULT_INTERFACE_SETTINGS,
  ...s,
});
const range = (text: string, pos?: SourcePos) => ({
  ...parseRangeText(text).range!,
  ...(pos ? { pos } : {}),
});
const endpoint = (
  name: string,
  iface: string[],
  ranges: string[],
  any = false,
  line = 2,
): AdviceEndpoint => ({
  name,
  iface,
  range: ranges.map((t, i) => range(t, at(line + 2, 15 + 20 * i))),
  allow: [{ kind: any ? 'any' : 'user' }],
  pos: at(line),
});

describe('advice on a policy', () => {
  it('interface advice stands at the first endpoint naming the interface; none without one', () => {
    const a = adviseOn({
      interfaces: new Map([
        ['eth0', settings()],
        ['wg0', settings({ default: 'allow', unowned: 'allow' })],
      ]),
      endpoints: [
        endpoint('a', ['eth0'], ['10.0.0.0/8', 'fd00::/8'], false, 2),
        endpoint('b', ['eth0'], ['10.1.0.0/16', '2001:db8::/32'], false, 6),
      ],
    });
    expect(a.map((x) => [x.rule, x.iface, x.pos?.line])).toEqual([
      ['deny-default', 'eth0', 2],
      ['unowned-allow', 'wg0', undefined],
    ]);
    expect(a[1]).not.toHaveProperty('pos');
  });

  it('essentials: false is a warning only under default deny and never on lo', () => {
    const rules = (name: string, s: Partial<InterfaceSettings>) =>
      adviseOn({ interfaces: new Map([[name, settings(s)]]), endpoints: [] }).map((x) => x.rule);
    expect(rules('eth0', { essentials: false })).toEqual(['deny-default', 'essentials-off']);
    expect(rules('eth0', { essentials: false, default: 'allow' })).toEqual([]);
    expect(rules('lo', { essentials: false })).toEqual(['deny-lo-dns']);
  });

  it('a range holding where DHCP clients send is said only while some interface has essentials on', () => {
    const endpoints = [endpoint('all', ['eth0'], ['0.0.0.0/0', '::/0'])];
    const dhcp = (s: Partial<InterfaceSettings>) =>
      adviseOn({ interfaces: new Map([['eth0', settings(s)]]), endpoints })
        .filter((x) => x.rule === 'dhcp-guarded')
        .map((x) => [x.endpoint, x.pos?.col]);
    expect(dhcp({})).toEqual([
      [0, 15],
      [0, 35],
    ]);
    expect(dhcp({ essentials: false })).toEqual([]);
  });

  it('hints are for the editor: adviceWarnings leaves them out and keeps positions', () => {
    const input = {
      interfaces: new Map([['eth1', settings({ default: 'allow' })]]),
      endpoints: [endpoint('web', ['eth1'], ['192.0.2.0/24'], true)],
    };
    expect(adviseOn(input).map((x) => `${x.rule}:${x.level}`)).toEqual([
      'single-family:hint',
      'allow-anyone:hint',
    ]);
    expect(adviceWarnings(input)).toEqual([]);
    const imds = { ...input, endpoints: [endpoint('imds', ['eth1'], ['169.254.169.254/32'])] };
    expect(adviceWarnings(imds)).toEqual([
      {
        severity: 'warning',
        message:
          'the metadata service is also reachable at fd00:ec2::254, which endpoint "imds" does not guard on eth1 (default: allow); add fd00:ec2::254/128',
        pos: at(4, 15),
      },
    ]);
  });

  it('helpers: range containment and the missing-interface message', () => {
    expect(rangeContains(range('169.254.0.0/16'), 4, Uint8Array.from([169, 254, 169, 254]))).toBe(true);
    expect(rangeContains(range('169.254.0.0/16'), 4, Uint8Array.from([169, 253, 0, 1]))).toBe(false);
    expect(rangeContains(range('::/0'), 4, Uint8Array.from([1, 2, 3, 4]))).toBe(false);
    expect(missingInterfaceMessage('wg0')).toBe(
      'interface "wg0" does not exist now; it is attached when it appears',
    );
  });
});

describe('advice on the metadata service, DHCP and single-family endpoints', () => {
  // The rules as first written: one search of the ranges per question (advice.ts answers them
  // all in one pass over the ranges).
  const md4 = Uint8Array.from([169, 254, 169, 254]);
  const md6 = range('fd00:ec2::254').addr;
  const bcast = Uint8Array.from([255, 255, 255, 255]);
  const dhcp6 = range('ff02::1:2').addr;
  function reference(ep: AdviceEndpoint, ifaces: Map<string, InterfaceSettings>): string[] {
    const out: string[] = [];
    const rs = ep.range;
    const guards = (f: 4 | 6, a: Uint8Array) => rs.find((r) => r.prefix >= 16 && rangeContains(r, f, a));
    const coversAtAll = (f: 4 | 6, a: Uint8Array) => rs.some((r) => rangeContains(r, f, a));
    let metadata = false;
    if (ep.iface.some((i) => ifaces.get(i)?.default === 'allow')) {
      let r = guards(4, md4);
      if (r && !coversAtAll(6, md6)) metadata = true;
      else if ((r = guards(6, md6)) && !coversAtAll(4, md4)) metadata = true;
      if (metadata) out.push(`metadata-other-family ${r!.text} ${JSON.stringify(r!.pos)}`);
    }
    if ([...ifaces.values()].some((s) => s.essentials)) {
      for (const [f, a] of [
        [4, bcast],
        [6, dhcp6],
      ] as const) {
        const r = rs.find((x) => rangeContains(x, f, a));
        if (r) out.push(`dhcp-guarded ${r.text} ${JSON.stringify(r.pos)}`);
      }
    }
    const v4 = rs.some((r) => r.family === 4);
    const v6 = rs.some((r) => r.family === 6);
    if (!metadata && v4 !== v6) out.push('single-family');
    return out;
  }

  it('are what one search per question finds (2,000 random endpoints)', () => {
    const pool = [
      '169.254.169.254/32',
      '169.254.0.0/16',
      '169.254.0.0/15',
      '169.0.0.0/8',
      '0.0.0.0/0',
      '255.255.255.255',
      '255.255.0.0/16',
      '10.0.0.0/8',
      '10.1.2.0/24',
      'fd00:ec2::254/128',
      'fd00:ec2::/32',
      'fd00::/8',
      'fd00::/16',
      '::/0',
      'ff02::1:2',
      'ff02::/16',
      'ff00::/8',
      '2001:db8::/32',
    ];
    let seed = 5;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed >>> 8) % n; // the high bits: the low ones of this generator repeat quickly
    };
    const rules = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const texts = Array.from({ length: 1 + rand(6) }, () => pool[rand(pool.length)]!);
      const ep = endpoint('e', rand(4) === 0 ? ['eth1'] : ['eth0'], texts, false, 2 + i);
      const ifaces = new Map([
        ['eth0', settings({ default: rand(3) === 0 ? 'deny' : 'allow', essentials: rand(2) === 0 })],
        ['eth1', settings({ default: 'deny', essentials: rand(2) === 0 })],
      ]);
      const got = adviseOn({ interfaces: ifaces, endpoints: [ep] })
        .filter(
          (a) =>
            a.rule === 'metadata-other-family' || a.rule === 'dhcp-guarded' || a.rule === 'single-family',
        )
        .map((a) => {
          rules.add(a.rule);
          if (a.rule === 'single-family') return a.rule;
          const r = ep.range.find((x) => JSON.stringify(x.pos) === JSON.stringify(a.pos));
          return `${a.rule} ${r?.text} ${JSON.stringify(a.pos)}`;
        });
      expect([texts, got]).toEqual([texts, reference(ep, ifaces)]);
    }
    expect([...rules].sort()).toEqual(['dhcp-guarded', 'metadata-other-family', 'single-family']);
  });
});
