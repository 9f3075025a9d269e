// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Time windows through the IPC contract, merge and the pending diff.
import { describe, expect, it } from 'vitest';
import { PolicyDocSchema } from '../../../electron/ipc/contract.js';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { MAX_WINDOWS } from '../../../electron/policy/when.js';
import { diffPolicy } from '../../../renderer/src/logic/diff.js';
import { additions, mergeDocs, sameDoc } from '../../../renderer/src/logic/merge.js';

const doc = (when?: string[]): PolicyDoc => ({
  endpoints: [
    {
      name: 'imds',
      iface: ['eth0'],
      range: ['169.254.169.254/32'],
      allow: ['alice'],
      ...(when ? { when } : {}),
    },
  ],
  interfaces: {},
  logging: {},
});

describe('time windows in the app', () => {
  it('pass the IPC contract, up to MAX_WINDOWS', () => {
    expect(PolicyDocSchema.safeParse(doc(['Mon-Fri 08:00-18:00'])).success).toBe(true);
    expect(PolicyDocSchema.safeParse(doc()).success).toBe(true);
    expect(PolicyDocSchema.safeParse(doc(Array.from({ length: MAX_WINDOWS + 1 }, () => 'x'))).success).toBe(
      false,
    );
  });

  it('show in the pending changes', () => {
    const d = diffPolicy(doc(['Mon-Fri 08:00-18:00']), doc(['Sat 10:00-12:00']));
    expect(d.count).toBe(2);
    expect(d.changed).toEqual([
      { name: 'imds', lists: { when: { added: ['Sat 10:00-12:00'], removed: ['Mon-Fri 08:00-18:00'] } } },
    ]);
    expect(diffPolicy(doc(['Mon-Fri 08:00-18:00']), doc()).changed[0]!.lists.when).toEqual({
      added: [],
      removed: ['Mon-Fri 08:00-18:00'],
    });
    expect(sameDoc(doc(['Mon-Fri 08:00-18:00']), doc())).toBe(false);
    expect(sameDoc(doc(['Mon-Fri 08:00-18:00']), doc(['Mon-Fri 08:00-18:00']))).toBe(true);
  });

  it('merge as a union (either always open: always open) and are kept on copies', () => {
    const both = mergeDocs(doc(['Mon-Fri 08:00-18:00']), doc(['Sat 10:00-12:00']));
    expect(both.doc.endpoints[0]!.when).toEqual(['Mon-Fri 08:00-18:00', 'Sat 10:00-12:00']);
    expect(both.summary.extended).toEqual(['imds']);
    const open = mergeDocs(doc(['Mon-Fri 08:00-18:00']), doc());
    expect(open.doc.endpoints[0]).not.toHaveProperty('when');
    expect(open.summary.extended).toEqual(['imds']);
    expect(mergeDocs(doc(), doc(['Sat 10:00-12:00'])).summary.extended).toEqual([]);
    const added = mergeDocs({ endpoints: [], interfaces: {}, logging: {} }, doc(['Sat 10:00-12:00']));
    expect(added.doc.endpoints[0]!.when).toEqual(['Sat 10:00-12:00']);
    expect(additions(doc(['Sat 10:00-12:00']), doc(['Sat 10:00-12:00'])).endpoints).toEqual([]);
    expect(additions(doc(['Sat 10:00-12:00']), doc()).endpoints).toHaveLength(1);
  });
});
