// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { diffPolicy, NOT_FILTERED } from '../../../renderer/src/logic/diff.js';
import { additions, mergeDocs } from '../../../renderer/src/logic/merge.js';

const draft = (): PolicyDoc => ({
  endpoints: [
    { name: 'imds', iface: ['eth0'], range: ['169.254.169.254/32'], allow: ['svc'] },
    { name: 'web', iface: ['eth0'], range: ['198.51.100.0/24'], allow: ['*'] },
  ],
  interfaces: { eth0: { default: 'allow' }, lo: { default: 'allow' } },
  logging: { allowed: 'off' },
});

describe('mergeDocs', () => {
  it('unites the lists of endpoints of the same name and appends new ones, inputs untouched', () => {
    const base = draft();
    const before = structuredClone(base);
    const incoming: PolicyDoc = {
      endpoints: [
        {
          name: 'imds',
          iface: ['eth0', 'ens5'],
          range: ['fd00:ec2::254', '169.254.169.254/32'],
          allow: ['bob'],
        },
        { name: 'db', iface: ['eth1'], range: ['10.0.0.5'], allow: ['@dba'] },
      ],
      interfaces: {},
      logging: {},
    };
    const { doc, summary } = mergeDocs(base, incoming);
    expect(doc.endpoints.map((e) => e.name)).toEqual(['imds', 'web', 'db']);
    expect(doc.endpoints[0]).toEqual({
      name: 'imds',
      iface: ['eth0', 'ens5'],
      range: ['169.254.169.254/32', 'fd00:ec2::254'],
      allow: ['svc', 'bob'],
    });
    expect(summary).toEqual({ added: ['db'], extended: ['imds'], settings: [], logging: false });
    expect(base).toEqual(before);
    doc.endpoints[2]!.allow.push('x');
    expect(incoming.endpoints[1]!.allow).toEqual(['@dba']);
  });

  it("the incoming file's settings win for the interfaces it names; logging when it sets one", () => {
    const { doc, summary } = mergeDocs(draft(), {
      endpoints: [],
      interfaces: { eth0: { default: 'deny', mode: 'audit' }, lo: { default: 'allow' }, wg0: {} },
      logging: { allowed: 'all' },
    });
    expect(doc.interfaces).toEqual({
      eth0: { default: 'deny', mode: 'audit' },
      lo: { default: 'allow' },
      wg0: {},
    });
    expect(summary.settings).toEqual(['eth0']); // wg0's empty entry changes no setting
    expect(summary.logging).toBe(true);
    expect(doc.logging).toEqual({ allowed: 'all' });
    expect(mergeDocs(draft(), { endpoints: [], interfaces: {}, logging: {} }).doc.logging).toEqual({
      allowed: 'off',
    });
  });

  it('an interface named __proto__ is data', () => {
    const incoming = JSON.parse(
      '{"endpoints":[],"interfaces":{"__proto__":{"default":"allow"}},"logging":{}}',
    ) as PolicyDoc;
    const { doc } = mergeDocs(draft(), incoming);
    expect(Object.keys(doc.interfaces)).toContain('__proto__');
    expect(Object.getPrototypeOf(doc.interfaces)).toBe(Object.prototype);
  });

  it('merging a document into itself changes nothing', () => {
    const { doc, summary } = mergeDocs(draft(), draft());
    expect(doc).toEqual(draft());
    expect(summary).toEqual({ added: [], extended: [], settings: [], logging: false });
  });
});

describe('additions (what a proposal adds to the policy it extends)', () => {
  it('keeps new and changed endpoints and differing settings only', () => {
    const enforced = draft();
    const proposed = draft();
    proposed.endpoints.push({ name: 'bob-eth0', iface: ['eth0'], range: ['203.0.113.5/32'], allow: ['bob'] });
    proposed.endpoints[1]!.allow.push('carol');
    proposed.interfaces.eth1 = { default: 'allow' };
    const add = additions(enforced, proposed);
    expect(add.endpoints.map((e) => e.name)).toEqual(['web', 'bob-eth0']);
    expect(add.interfaces).toEqual({ eth1: { default: 'allow' } });
    expect(add.logging).toEqual({});
    expect(additions(null, proposed).endpoints).toHaveLength(3);
  });

  it("merged into an edited draft, a proposal does not undo the draft's pending edits", () => {
    const enforced = draft();
    const edited = draft();
    edited.interfaces.eth0 = { default: 'deny' }; // a pending edit
    const proposed = draft();
    proposed.endpoints.push({ name: 'p1', iface: ['eth0'], range: ['203.0.113.5/32'], allow: ['bob'] });
    const { doc, summary } = mergeDocs(edited, additions(enforced, proposed));
    expect(doc.interfaces.eth0).toEqual({ default: 'deny' });
    expect(summary.added).toEqual(['p1']);
  });
});

describe('diffPolicy: interface settings only where a policy filters', () => {
  it('a newly filtered interface shows what the draft sets against "not filtered"', () => {
    const draft: PolicyDoc = {
      endpoints: [{ name: 'imds', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] }],
      interfaces: { ntf0: { default: 'allow' } },
      logging: {},
    };
    expect(diffPolicy(null, draft).settings).toEqual([
      { iface: 'ntf0', key: 'default', from: NOT_FILTERED, to: 'allow' },
    ]);
    // No longer filtered: the settings it had that were not defaults.
    expect(diffPolicy(draft, { endpoints: [], interfaces: {}, logging: {} }).settings).toEqual([
      { iface: 'ntf0', key: 'default', from: 'allow', to: NOT_FILTERED },
    ]);
    // Audit mode is a setting change like the others.
    const audit = structuredClone(draft);
    audit.interfaces.ntf0 = { default: 'allow', mode: 'audit' };
    expect(diffPolicy(draft, audit).settings).toEqual([
      { iface: 'ntf0', key: 'mode', from: 'enforce', to: 'audit' },
    ]);
  });
});
