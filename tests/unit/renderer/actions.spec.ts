// SPDX-License-Identifier: Apache-2.0
// The details pane's fixes: which are offered for an explained row (actionsFor), and what
// taking one does to the draft (the details slice through the policy slice's edit actions):
// a pending change, never an apply.
import { describe, expect, it } from 'vitest';
import type { EndpointDoc, ExplainResult, PolicyDoc } from '../../../electron/ipc/contract.js';
import {
  actionsFor,
  allowValueOf,
  endpointNameFor,
  flowQueryOf,
} from '../../../renderer/src/logic/actions.js';
import { decisionTarget } from '../../../renderer/src/store/details.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { fail, ok, row, standInApi } from './fake-api.js';

const DRAFT: PolicyDoc = {
  endpoints: [{ name: 'imdsv2', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] }],
  interfaces: {},
  logging: {},
};

function explained(over: Partial<ExplainResult> = {}): ExplainResult {
  return {
    source: 'the enforced policy (policy 3)',
    unknown: false,
    verdict: 'drop',
    reason: 'not-listed',
    user: 'bob',
    destination: '169.254.169.254:80',
    endpoint: null,
    guarding: ['imdsv2'],
    covering: ['imdsv2'],
    iface: { name: 'ntf0', default: 'deny', mode: 'enforce' },
    audit: false,
    lines: ["DROP: bob is not in imdsv2's users."],
    ...over,
  };
}

const BOB = {
  iface: 'ntf0',
  uid: 1001,
  user: 'bob',
  family: 4 as const,
  proto: 'tcp',
  dst: '169.254.169.254',
  dport: 80,
  unit: null,
  cgroup: null,
};
const TO_WEB = { ...BOB, dst: '203.0.113.5', dport: 443 };

describe('actionsFor', () => {
  it('not-listed: allow the sender in the endpoint that guards and covers the interface', () => {
    const a = actionsFor(explained(), BOB, DRAFT);
    expect(a.map((x) => x.label)).toEqual(['Allow bob in imdsv2']);
    expect(a[0]).toMatchObject({ kind: 'allow-user', endpoint: 'imdsv2', user: 'bob' });
  });

  it('offers nothing when the fix is pending already, the endpoint is gone from the draft, or it was allowed', () => {
    const pending: PolicyDoc = { ...DRAFT, endpoints: [{ ...DRAFT.endpoints[0]!, allow: ['alice', 'bob'] }] };
    expect(actionsFor(explained(), BOB, pending)).toEqual([]);
    expect(actionsFor(explained(), BOB, { ...DRAFT, endpoints: [] })).toEqual([]);
    expect(
      actionsFor(explained({ verdict: 'allow', reason: 'endpoint', endpoint: 'imdsv2' }), BOB, DRAFT),
    ).toEqual([]);
    expect(actionsFor(explained({ unknown: true }), BOB, DRAFT)).toEqual([]);
  });

  it('default-deny: a new endpoint for the sender and the address, and guard-only', () => {
    const r = explained({
      reason: 'default-deny',
      guarding: [],
      covering: [],
      destination: '203.0.113.5:443',
    });
    const a = actionsFor(r, TO_WEB, DRAFT);
    expect(a.map((x) => x.label)).toEqual([
      'Allow bob to 203.0.113.5 on ntf0',
      'Guard only the listed ranges on ntf0',
    ]);
    expect(a[0]).toMatchObject({
      kind: 'new-endpoint',
      endpoint: { name: 'bob-203.0.113.5', iface: ['ntf0'], range: ['203.0.113.5/32'], allow: ['bob'] },
      configure: null,
    });
    expect(a[1]).toMatchObject({ kind: 'guard-only', iface: 'ntf0' });
    // Once ntf0 allows by default in the draft, the draft allows it: nothing more is offered.
    const allowing = { ...DRAFT, interfaces: { ntf0: { default: 'allow' as const } } };
    expect(actionsFor(r, TO_WEB, allowing)).toEqual([]);
    // Nor once the new endpoint is pending.
    const added = { ...DRAFT, endpoints: [...DRAFT.endpoints, (a[0] as { endpoint: EndpointDoc }).endpoint] };
    expect(actionsFor(r, TO_WEB, added)).toEqual([]);
  });

  it('default-deny where a draft endpoint guards it on the interface: add the sender there', () => {
    const draft: PolicyDoc = {
      ...DRAFT,
      endpoints: [
        ...DRAFT.endpoints,
        { name: 'web', iface: ['ntf0'], range: ['203.0.113.0/24'], allow: ['alice'] },
      ],
    };
    const a = actionsFor(explained({ reason: 'default-deny', guarding: [], covering: [] }), TO_WEB, draft);
    expect(a.map((x) => x.label)).toEqual(['Allow bob in web']);
  });

  it('IPv6 addresses become a /128 and a valid, unused endpoint name', () => {
    const v6 = { ...BOB, family: 6 as const, dst: 'fd00:ec2::254' };
    const a = actionsFor(explained({ reason: 'default-deny', guarding: [], covering: [] }), v6, DRAFT);
    expect(a[0]).toMatchObject({ endpoint: { name: 'bob-fd00_ec2__254', range: ['fd00:ec2::254/128'] } });
    const taken: PolicyDoc = { ...DRAFT, endpoints: [{ ...DRAFT.endpoints[0]!, name: 'bob-203.0.113.5' }] };
    expect(endpointNameFor(taken, 'bob', '203.0.113.5')).toBe('bob-203.0.113.5-2');
  });

  it('iface-not-listed on an interface the draft does not configure: the new endpoint keeps it allowing', () => {
    const eth1 = { ...BOB, iface: 'eth1' };
    const r = explained({ reason: 'iface-not-listed', covering: [], iface: null, audit: true });
    const a = actionsFor(r, eth1, DRAFT);
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ kind: 'new-endpoint', configure: { mode: 'audit' } });
    expect(a[0]!.label).toBe('Allow bob to 169.254.169.254 on eth1');
  });

  it('unowned rows get no per-user action; an uid without account is allowed by number', () => {
    const unowned = { ...TO_WEB, uid: null, user: '(unowned)' };
    expect(actionsFor(explained(), unowned, DRAFT)).toEqual([]);
    const r = explained({ reason: 'unowned-deny', guarding: [], covering: [] });
    expect(actionsFor(r, unowned, DRAFT).map((x) => x.kind)).toEqual(['guard-only']);
    expect(allowValueOf({ uid: 4242, user: '4242' })).toBe('4242');
    expect(actionsFor(explained(), { ...BOB, uid: 4242, user: '4242' }, DRAFT)[0]!.label).toBe(
      'Allow uid 4242 in imdsv2',
    );
  });

  it('the explain request of a row', () => {
    expect(flowQueryOf({ ...BOB, sport: 40000 })).toEqual({
      iface: 'ntf0',
      uid: 1001,
      family: 4,
      proto: 'tcp',
      dst: '169.254.169.254',
      dport: 80,
      sport: 40000,
    });
    expect(flowQueryOf({ ...BOB, proto: 'icmpv6', dport: 0, sport: 0 })).toMatchObject({ proto: 'icmp' });
    expect(flowQueryOf({ ...BOB, proto: 'sctp' }).proto).toBe('other');
  });
});

describe('details slice', () => {
  async function setup() {
    const api = standInApi();
    api.on('getEnforced', () => ok({ epoch: 3, appliedAt: 1, doc: structuredClone(DRAFT) }));
    const store = createAppStore(api.api);
    await store.getState().loadEnforced({ replaceDraft: true });
    return { api, store };
  }

  it('opens on a row, asks the engine with the row as the query, and shows its lines', async () => {
    const { api, store } = await setup();
    api.on('explain', () => ok(explained()));
    const r = row({
      iface: 'ntf0',
      uid: 1001,
      user: 'bob',
      verdict: 'drop',
      reason: 'not-listed',
      endpoint: 'imdsv2',
    });
    await store.getState().openDetails(decisionTarget(r));
    const d = store.getState().details!;
    expect(d.loading).toBe(false);
    expect(d.explain?.lines[0]).toContain('imdsv2');
    const req = api.calls.find((c) => c.op === 'explain')?.req as { flow: unknown };
    expect(req.flow).toEqual({
      iface: 'ntf0',
      uid: 1001,
      family: 4,
      proto: 'tcp',
      dst: r.dst,
      dport: 80,
      sport: 40000,
    });
    store.getState().closeDetails();
    expect(store.getState().details).toBeNull();
  });

  it('keeps the error when explain fails, and drops a late answer for a row no longer open', async () => {
    const { api, store } = await setup();
    api.on('explain', () => fail('failed', 'explain: not implemented yet'));
    await store.getState().openDetails(decisionTarget(row()));
    expect(store.getState().details?.explainError).toBe('explain: not implemented yet');
    let release: () => void = () => undefined;
    api.on('explain', () => new Promise((res) => (release = () => res(ok(explained())))));
    const first = store.getState().openDetails(decisionTarget(row()));
    const second = row({ user: 'carol' });
    api.on('explain', () => ok(explained({ user: 'carol' })));
    await store.getState().openDetails(decisionTarget(second));
    release();
    await first;
    expect(store.getState().details?.target.row).toBe(second);
    expect(store.getState().details?.explain?.user).toBe('carol');
  });

  it('"Allow bob in imdsv2" adds bob to the draft only: no apply', async () => {
    const { api, store } = await setup();
    api.on('explain', () => ok(explained()));
    await store.getState().openDetails(decisionTarget(row({ iface: 'ntf0', uid: 1001, user: 'bob' })));
    const [a] = actionsFor(store.getState().details!.explain!, { ...BOB }, store.getState().draft);
    store.getState().takeAction(a!);
    expect(store.getState().draft.endpoints[0]?.allow).toEqual(['alice', 'bob']);
    expect(store.getState().enforced?.doc?.endpoints[0]?.allow).toEqual(['alice']);
    expect(store.getState().details?.added).toBe("bob added to imdsv2's users");
    expect(api.count('apply')).toBe(0);
    // The fix is pending now: it is no longer offered.
    expect(actionsFor(store.getState().details!.explain!, BOB, store.getState().draft)).toEqual([]);
  });

  it('a new endpoint and guard-only become draft edits', async () => {
    const { api, store } = await setup();
    const r = explained({ reason: 'default-deny', guarding: [], covering: [] });
    const [add, guard] = actionsFor(r, TO_WEB, store.getState().draft);
    store.getState().takeAction(add!);
    expect(store.getState().draft.endpoints[1]).toEqual({
      name: 'bob-203.0.113.5',
      iface: ['ntf0'],
      range: ['203.0.113.5/32'],
      allow: ['bob'],
    });
    store.getState().takeAction(guard!);
    expect(store.getState().draft.interfaces.ntf0).toEqual({ default: 'allow' });
    // An interface the draft did not configure keeps allowing everything else.
    const eth1 = actionsFor(
      explained({ reason: 'iface-not-listed', covering: [], iface: null }),
      { ...BOB, iface: 'eth1' },
      store.getState().draft,
    );
    store.getState().takeAction(eth1[0]!);
    expect(store.getState().draft.interfaces.eth1).toEqual({ default: 'allow' });
    expect(store.getState().draft.endpoints[2]?.iface).toEqual(['eth1']);
    expect(api.count('apply')).toBe(0);
  });
});
