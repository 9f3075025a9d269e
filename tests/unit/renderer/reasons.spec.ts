// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { reasonDetail, reasonText } from '../../../renderer/src/logic/reasons.js';

const r = (reason: string, endpoint: string | null = null, iface = 'ntf0') =>
  reasonText({ reason, iface, endpoint });

describe('reasons in plain words', () => {
  it('names the endpoint that allowed it', () => {
    expect(r('endpoint', 'imdsv2')).toBe('imdsv2');
  });

  it('not-listed names the guarding endpoint when the kernel reports it', () => {
    expect(r('not-listed', 'imdsv2')).toBe("not in imdsv2's users");
    expect(r('not-listed')).toBe('not a listed user of the endpoint guarding it');
  });

  it('defaults say that no endpoint guards it and what the interface does', () => {
    expect(r('default-deny')).toBe('no endpoint guards it; ntf0 denies by default');
    expect(r('default-allow', null, 'eth0')).toBe('no endpoint guards it; eth0 allows by default');
  });

  it('unowned, essentials, interface not listed, routing header', () => {
    expect(r('unowned-allow')).toBe('no local socket (forwarded or kernel traffic); allowed on ntf0');
    expect(r('unowned-deny')).toBe('no local socket (forwarded or kernel traffic); denied on ntf0');
    expect(r('essential')).toBe('DHCP/ND essential');
    expect(r('iface-not-listed', null, 'eth1')).toBe('guarded range; no endpoint guarding it names eth1');
    expect(r('routing-header')).toBe('IPv6 routing header (destination could be rewritten)');
  });

  it('never shows a known code as such; an unknown one is passed through', () => {
    for (const code of [
      'endpoint',
      'not-listed',
      'default-allow',
      'default-deny',
      'unowned-allow',
      'unowned-deny',
      'essential',
      'iface-not-listed',
      'routing-header',
    ]) {
      const text = r(code, 'imdsv2');
      expect(text).not.toBe(code);
      if (code.includes('-')) expect(text).not.toContain(code);
      expect(reasonDetail({ reason: code, iface: 'ntf0', endpoint: 'imdsv2' }).length).toBeGreaterThan(20);
    }
    expect(r('something-new')).toBe('something-new');
  });
});
