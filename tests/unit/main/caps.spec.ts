// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { capNames, ENGINE_CAPS, parseCapField } from '../../../electron/main/caps.js';

const STATUS = `Name:\tnode
CapInh:\t0000000000000000
CapPrm:\t000000c000001000
CapEff:\t000000c000001000
CapBnd:\t000001ffffffffff
CapAmb:\t000000c000001000
`;

describe('capability sets from /proc/<pid>/status', () => {
  it('parses each field', () => {
    expect(parseCapField(STATUS, 'CapEff')).toBe(ENGINE_CAPS);
    expect(parseCapField(STATUS, 'CapAmb')).toBe(ENGINE_CAPS);
    expect(parseCapField(STATUS, 'CapInh')).toBe(0n);
    expect(parseCapField('Name:\tx\n', 'CapAmb')).toBe(0n);
  });

  it('names the bits', () => {
    expect(capNames(ENGINE_CAPS)).toEqual(['CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_BPF']);
    expect(capNames((1n << 21n) | 1n)).toEqual(['cap_0', 'CAP_SYS_ADMIN']);
    expect(capNames(0n)).toEqual([]);
  });
});
