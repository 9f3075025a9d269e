// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Naming the endpoint of a not-listed row from the enforced policy.
import { describe, expect, it } from 'vitest';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { guardingEndpoints, notListedEndpoint } from '../../../renderer/src/logic/guarding.js';

const DOC: PolicyDoc = {
  endpoints: [
    { name: 'imdsv2', iface: ['eth0'], range: ['169.254.169.254/32', 'fd00:ec2::254/128'], allow: ['alice'] },
    { name: 'net10', iface: ['eth0', 'wg0'], range: ['10.0.0.0/8'], allow: ['bob'] },
    { name: 'lab', iface: ['eth0'], range: ['10.1.0.0/16'], allow: ['carol'] },
  ],
  interfaces: {},
  logging: {},
};

const row = (over: Partial<{ reason: string; iface: string; dst: string; endpoint: string | null }>) => ({
  reason: 'not-listed',
  iface: 'eth0',
  dst: '169.254.169.254',
  endpoint: null,
  ...over,
});

describe('guarding endpoints', () => {
  it('finds the endpoints naming the interface whose ranges hold the address, v4 and v6', () => {
    expect(guardingEndpoints(DOC, 'eth0', '169.254.169.254')).toEqual(['imdsv2']);
    expect(guardingEndpoints(DOC, 'eth0', 'fd00:ec2::254')).toEqual(['imdsv2']);
    expect(guardingEndpoints(DOC, 'eth0', '10.1.2.3')).toEqual(['net10', 'lab']);
    expect(guardingEndpoints(DOC, 'wg0', '10.1.2.3')).toEqual(['net10']);
    expect(guardingEndpoints(DOC, 'wg0', '169.254.169.254')).toEqual([]);
    expect(guardingEndpoints(DOC, 'eth0', '192.0.2.1')).toEqual([]);
    expect(guardingEndpoints(DOC, 'eth0', 'not an address')).toEqual([]);
    expect(guardingEndpoints(null, 'eth0', '169.254.169.254')).toEqual([]);
  });
  it('names a not-listed row, keeps what the kernel reported, leaves other reasons alone', () => {
    expect(notListedEndpoint(row({}), DOC)).toBe('imdsv2');
    expect(notListedEndpoint(row({ dst: '10.1.2.3' }), DOC)).toBe('net10 or lab');
    expect(notListedEndpoint(row({ endpoint: 'kernel-said' }), DOC)).toBe('kernel-said');
    expect(notListedEndpoint(row({ reason: 'default-deny' }), DOC)).toBeNull();
    expect(notListedEndpoint(row({}), null)).toBeNull();
  });
});
