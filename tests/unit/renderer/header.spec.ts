// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import type { EngineView } from '../../../electron/ipc/contract.js';
import {
  clockTime,
  durationWords,
  headerState,
  lastTrialText,
  listWords,
  secondsUntil,
} from '../../../renderer/src/logic/header.js';
import { ENFORCING, READ_ONLY } from './fake-api.js';

type Configured = EngineView['configured'][number];
const iface = (name: string, over: Partial<Configured> = {}): Configured => ({
  name,
  present: true,
  attached: true,
  mode: 'enforce',
  default: 'deny',
  ...over,
});

function view(over: Partial<EngineView> = {}): EngineView {
  return {
    loaded: true,
    policy: 7,
    configured: [iface('eth0')],
    guardOnly: { attached: 0, mode: 'enforce' },
    trial: null,
    lastTrial: null,
    owner: null,
    ...over,
  };
}

const NOW = new Date(2026, 11, 2, 14, 3, 0).getTime();
const head = (
  engine: EngineView | null,
  pending = 0,
  appState = ENFORCING,
  engineError: string | null = null,
) => headerState({ engine, engineError, appState, pending, now: NOW });

describe('header state', () => {
  it('not filtering: nothing loaded, or no policy', () => {
    expect(head(view({ loaded: false, policy: null, configured: [] }))).toMatchObject({
      tone: 'off',
      text: 'Not filtering',
    });
    expect(head(view({ policy: null }), 3).text).toBe('Not filtering · 3 pending');
  });

  it('filtering: green only when every configured interface is attached and enforcing', () => {
    expect(head(view(), 2)).toEqual({
      tone: 'ok',
      text: 'Filtering eth0 · policy 7 · 2 pending',
      role: 'enforcing',
    });
    expect(head(view({ configured: [iface('eth0'), iface('eth1')] })).text).toBe(
      'Filtering eth0 and eth1 · policy 7',
    );
    // One of two absent: still filtering, but not green.
    const partly = head(
      view({ configured: [iface('ntf0'), iface('eth0', { present: false, attached: false })] }),
    );
    expect(partly).toMatchObject({ tone: 'warn', text: 'Filtering ntf0 · eth0 is absent · policy 7' });
    const detached = head(view({ configured: [iface('ntf0'), iface('eth1', { attached: false })] }));
    expect(detached).toMatchObject({
      tone: 'warn',
      text: 'Filtering ntf0 · eth1 is not attached · policy 7',
    });
  });

  it('auditing, alone and mixed with enforcing interfaces', () => {
    expect(head(view({ configured: [iface('eth0', { mode: 'audit' })] }))).toMatchObject({
      tone: 'warn',
      text: 'Auditing eth0 · policy 7',
    });
    expect(head(view({ configured: [iface('eth0'), iface('wlan0', { mode: 'audit' })] }))).toMatchObject({
      tone: 'warn',
      text: 'Filtering eth0 · auditing wlan0 · policy 7',
    });
    // Guard-only interfaces auditing too: not green, told in the line below, not in the header.
    expect(
      head(view({ configured: [iface('eth0')], guardOnly: { attached: 1, mode: 'audit' } })),
    ).toMatchObject({ tone: 'warn', text: 'Filtering eth0 · policy 7' });
    expect(head(view({ configured: [], guardOnly: { attached: 1, mode: 'audit' } }))).toMatchObject({
      tone: 'warn',
      text: 'Auditing the guarded ranges · policy 7',
    });
  });

  it('nothing protected: every configured interface is absent (warning colour)', () => {
    const h = head(view({ configured: [iface('eth0', { present: false, attached: false })] }), 0);
    expect(h).toMatchObject({ tone: 'danger', text: 'Nothing protected: eth0 is absent · policy 7' });
    const two = head(
      view({
        configured: [
          iface('eth0', { present: false, attached: false }),
          iface('eth1', { present: false, attached: false }),
        ],
      }),
    );
    expect(two.text).toBe('Nothing protected: eth0 and eth1 are absent · policy 7');
    // The guarded ranges checked on other interfaces do not make up for it.
    const guard = head(
      view({
        configured: [iface('eth0', { present: false, attached: false })],
        guardOnly: { attached: 2, mode: 'enforce' },
      }),
    );
    expect(guard).toMatchObject({ tone: 'danger', text: 'Nothing protected: eth0 is absent · policy 7' });
    expect(head(view({ configured: [] }))).toMatchObject({
      tone: 'danger',
      text: 'Nothing protected: no interface is filtered · policy 7',
    });
    expect(head(view({ configured: [], guardOnly: { attached: 1, mode: 'enforce' } }))).toMatchObject({
      tone: 'ok',
      text: 'Guarding the listed ranges · policy 7',
    });
  });

  it('trial: the countdown follows the kernel deadline, not a local timer', () => {
    const trial = { policy: 7, previous: 6, deadline: NOW + 26_100, secondsLeft: 60, expired: false };
    expect(head(view({ trial }), 1)).toMatchObject({
      tone: 'trial',
      text: 'Trial: the previous policy returns in 27 s · 1 pending',
    });
    // Past the deadline, the kernel enforces the previous policy: the normal state.
    expect(head(view({ policy: 6, trial: { ...trial, expired: true } })).text).toBe(
      'Filtering eth0 · policy 6',
    );
  });

  it('read-only windows show what the kernel does, with their role', () => {
    expect(head(view(), 0, READ_ONLY)).toEqual({
      tone: 'ok',
      text: 'Filtering eth0 · policy 7',
      role: 'read-only',
    });
    expect(head(view({ unreadable: 'no permission on the filter state' }), 0, READ_ONLY).text).toBe(
      'Filter state unknown: no permission on the filter state',
    );
  });

  it('before the first answer, and when the engine cannot be asked', () => {
    expect(head(null)).toMatchObject({ tone: 'off', text: 'Connecting…' });
    expect(head(null, 0, ENFORCING, 'backend down').text).toBe('Filter state unknown: backend down');
  });

  it('never says epoch or pins', () => {
    const all = [
      head(view()),
      head(view({ loaded: false, policy: null })),
      head(view({ configured: [iface('eth0', { present: false })] })),
      head(view({ trial: { policy: 7, previous: 6, deadline: NOW + 5000, secondsLeft: 5, expired: false } })),
    ].map((h) => h.text);
    for (const t of all) expect(t).not.toMatch(/epoch|pins?\b/i);
  });
});

describe('header words', () => {
  it('lists, durations, seconds and clock times', () => {
    expect(listWords(['a'])).toBe('a');
    expect(listWords(['a', 'b', 'c'])).toBe('a, b and c');
    expect(durationWords(27)).toBe('27 s');
    expect(durationWords(125)).toBe('2 min 5 s');
    expect(durationWords(120)).toBe('2 min');
    expect(secondsUntil(NOW + 59_001, NOW)).toBe(60);
    expect(secondsUntil(NOW - 5, NOW)).toBe(0);
    expect(clockTime(new Date(2026, 11, 2, 14, 3, 12).getTime(), NOW)).toBe('14:03:12');
    expect(clockTime(new Date(2026, 11, 1, 9, 5, 1).getTime(), NOW)).toBe('2026-12-01 09:05:01');
  });
});

describe('the kernel went back', () => {
  const at = new Date(2026, 11, 2, 14, 3, 12).getTime();
  const reverted = view({
    policy: 6,
    lastTrial: { policy: 7, outcome: 'reverted-by-kernel', time: at, historyN: 3 },
  });

  it('says so with the time and both policy numbers', () => {
    expect(lastTrialText(reverted, { previous: 6, policyThen: null, dismissed: null, now: NOW })).toBe(
      'The kernel went back to policy 6 at 14:03:12: the trial of policy 7 was not kept',
    );
    // A window that did not see the trial does not know the number it replaced.
    expect(
      lastTrialText(reverted, { previous: null, policyThen: null, dismissed: null, now: NOW }),
    ).toContain('went back to the previous policy at 14:03:12');
    const byRevert = view({
      policy: 6,
      lastTrial: { policy: 7, outcome: 'reverted', time: at, historyN: 3 },
    });
    expect(lastTrialText(byRevert, { previous: 6, policyThen: null, dismissed: null, now: NOW })).toBe(
      'Reverted to policy 6 at 14:03:12: the trial of policy 7 was not kept',
    );
  });

  it('also before any process settled it: the trial is past its deadline', () => {
    const trial = { policy: 7, previous: 6, deadline: at, secondsLeft: 0, expired: true };
    const v = view({ policy: 6, trial });
    expect(lastTrialText(v, { previous: null, policyThen: null, dismissed: null, now: NOW })).toBe(
      'The kernel went back to policy 6 at 14:03:12: the trial of policy 7 was not kept',
    );
    expect(lastTrialText(v, { previous: null, policyThen: null, dismissed: at, now: NOW })).toBeNull();
    // While a trial is pending, nothing is said about an older one.
    const pending = view({
      trial: { ...trial, expired: false, deadline: NOW + 5000 },
      lastTrial: reverted.lastTrial,
    });
    expect(lastTrialText(pending, { previous: 6, policyThen: null, dismissed: null, now: NOW })).toBeNull();
  });

  it('goes when dismissed, or once a later policy is applied', () => {
    expect(lastTrialText(reverted, { previous: 6, policyThen: null, dismissed: at, now: NOW })).toBeNull();
    // The kernel numbers the policy it put back anew (8); a later apply (9) makes it history.
    const renumbered = { ...reverted, policy: 8 };
    expect(lastTrialText(renumbered, { previous: 6, policyThen: 8, dismissed: null, now: NOW })).toContain(
      'policy 6',
    );
    expect(
      lastTrialText({ ...reverted, policy: 9 }, { previous: 6, policyThen: 8, dismissed: null, now: NOW }),
    ).toBeNull();
    expect(lastTrialText(view(), { previous: null, policyThen: null, dismissed: null, now: NOW })).toBeNull();
  });
});
