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
