// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  capMask,
  capNames,
  ENGINE_CAP_NAMES,
  ENGINE_CAPS,
  engineCaps,
  hasCap,
  parseCapField,
} from '../../../electron/main/caps.js';

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

  it('the engine needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: bits 39, 12 and 38', () => {
    expect(ENGINE_CAP_NAMES).toEqual(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON']);
    expect(ENGINE_CAPS).toBe((1n << 39n) | (1n << 12n) | (1n << 38n));
    expect(capMask(['CAP_SYS_ADMIN'])).toBe(1n << 21n);
    expect(hasCap(ENGINE_CAPS, 'CAP_PERFMON')).toBe(true);
    expect(hasCap(ENGINE_CAPS, 'CAP_SYS_ADMIN')).toBe(false);
    expect(engineCaps(parseCapField(STATUS, 'CapEff'))).toEqual({
      CAP_BPF: true,
      CAP_NET_ADMIN: true,
      CAP_PERFMON: true,
    });
    expect(engineCaps(1n << 12n)).toEqual({ CAP_BPF: false, CAP_NET_ADMIN: true, CAP_PERFMON: false });
  });
});
