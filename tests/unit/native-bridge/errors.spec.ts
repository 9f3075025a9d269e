// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The hints an administrator reads when a libbpf call fails.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BpfError, check, ERRNO, errnoName } from '../../../native-bridge/errors.js';

const { EACCES, EPERM, ENOENT } = constants.errno;

describe('BpfError hints', () => {
  it('blames file permissions, not capabilities, when a pin path refuses access', () => {
    for (const op of ['bpf_obj_get', 'bpf_obj_pin']) {
      const e = new BpfError(op, EACCES, { context: '/sys/fs/bpf/net-tc-filter/ntf_state' });
      expect(e.code).toBe('EACCES');
      expect(e.hint).toContain('file permissions');
      expect(e.hint).not.toContain('CAP_BPF');
      expect(e.message).toBe(`${op}(/sys/fs/bpf/net-tc-filter/ntf_state): EACCES — ${e.hint ?? ''}`);
    }
  });

  it('names the missing capability for EPERM and for tc operations', () => {
    expect(new BpfError('bpf_obj_get', EPERM).hint).toContain('CAP_BPF');
    expect(new BpfError('bpf_map_create', EACCES).hint).toContain('CAP_BPF');
    expect(new BpfError('bpf_tc_attach', EPERM).hint).toContain('CAP_NET_ADMIN');
  });

  it('check() returns non-negative results and throws the typed error otherwise', () => {
    expect(check('bpf_obj_get', 7)).toBe(7);
    expect(() => check('bpf_obj_get', -ENOENT, '/x')).toThrow(
      /bpf_obj_get\(\/x\): ENOENT — nothing is pinned there/,
    );
  });
});

describe('ERRNO', () => {
  it("is libc's errno table plus the kernel's ENOTSUPP, which error messages name", () => {
    for (const [name, value] of Object.entries(constants.errno))
      expect({ name, value: ERRNO[name as keyof typeof ERRNO] }).toEqual({ name, value });
    expect(ERRNO.ENOTSUPP).toBe(524);
    expect(errnoName(ERRNO.ENOTSUPP)).toBe('ENOTSUPP');
    expect(new BpfError('bpf_map_lookup_batch', ERRNO.ENOTSUPP).hint).toContain('does not support');
    expect(errnoName(ERRNO.ENOENT)).toBe('ENOENT');
  });
});
