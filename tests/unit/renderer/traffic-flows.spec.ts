// SPDX-License-Identifier: Apache-2.0
// The flow filter beside the decision filter, the user filter by the uid behind any name, and
// the memo caches that belong to each store.
import { describe, expect, it } from 'vitest';
import type { Accounts } from '../../../electron/ipc/contract.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { selectVisibleFlows, selectVisibleRows } from '../../../renderer/src/store/traffic.js';
import { batch, flow, ok, row, standInApi } from './fake-api.js';

const ACCOUNTS: Accounts = {
  users: [
    { name: 'root', uid: 0 },
    { name: 'alice', uid: 1000 },
    { name: 'alice2', uid: 1000 },
    { name: 'bob', uid: 1001 },
  ],
  groups: [],
  truncated: false,
  humanUids: { min: 1000, max: 60000 },
};

async function storeWithAccounts() {
  const api = standInApi();
  api.on('listAccounts', () => ok(ACCOUNTS));
  const store = createAppStore(api.api);
  await store.getState().refreshSystem();
  return store;
}

describe('flow filter (selectVisibleFlows)', () => {
  const flows = [
    flow('a', 5, { user: 'alice', uid: 1000, allowedPackets: 3 }),
    flow('b', 4, {
      user: 'bob',
      uid: 1001,
      allowedPackets: 0,
      droppedPackets: 2,
      verdict: 'drop',
      reason: 'not-listed',
      endpoint: 'imdsv2',
      dst: '169.254.169.254',
      dport: 80,
    }),
    flow('c', 3, {
      user: 'bob',
      uid: 1001,
      verdict: 'would-drop',
      wouldDropPackets: 3,
      reason: 'default-deny',
      iface: 'wg0',
    }),
    flow('d', 2, { user: '(unowned)', uid: null, verdict: 'drop', allowedPackets: 0, droppedPackets: 1 }),
    flow('e', 1, { user: '4242', uid: 4242, sport: 22 }),
  ];

  it('filters by verdict (allowed / dropped / would drop), last seen first', async () => {
    const store = await storeWithAccounts();
    store.getState().ingest(batch(1, { flows }));
    const keys = () => selectVisibleFlows(store.getState()).map((f) => f.key);
    expect(keys()).toEqual(['a', 'b', 'c', 'd', 'e']);
    store.getState().setFilter({ verdict: 'allow' });
    expect(keys()).toEqual(['a', 'c', 'e']);
    store.getState().setFilter({ verdict: 'drop' });
    expect(keys()).toEqual(['b', 'd']);
    store.getState().setFilter({ verdict: 'would-drop' });
    expect(keys()).toEqual(['c']);
  });

  it('filters by interface and text (address, port, endpoint, reason, local port)', async () => {
    const store = await storeWithAccounts();
    store.getState().ingest(batch(1, { flows }));
    const keys = () => selectVisibleFlows(store.getState()).map((f) => f.key);
    store.getState().setFilter({ iface: 'wg' });
    expect(keys()).toEqual(['c']);
    store.getState().setFilter({ iface: '', text: 'imdsv2' });
    expect(keys()).toEqual(['b']);
    store.getState().setFilter({ text: '169.254.169.254:80' });
    expect(keys()).toEqual(['b']);
    store.getState().setFilter({ text: 'not-listed' });
    expect(keys()).toEqual(['b']);
  });

  it('the user filter matches the uid behind any of its names, or the uid typed', async () => {
    const store = await storeWithAccounts();
    store
      .getState()
      .ingest(
        batch(1, { flows, decisions: [row({ uid: 1000, user: 'alice' }), row({ uid: 1001, user: 'bob' })] }),
      );
    const keys = () => selectVisibleFlows(store.getState()).map((f) => f.key);
    const users = () => selectVisibleRows(store.getState()).map((r) => r.user);
    // "alice2" is another name of uid 1000, which the engine named "alice".
    store.getState().setFilter({ user: 'alice2' });
    expect(keys()).toEqual(['a']);
    expect(users()).toEqual(['alice']);
    store.getState().setFilter({ user: '1001' });
    expect(keys()).toEqual(['b', 'c']);
    expect(users()).toEqual(['bob']);
    store.getState().setFilter({ user: '4242' });
    expect(keys()).toEqual(['e']);
    store.getState().setFilter({ user: 'unowned' });
    expect(keys()).toEqual(['d']);
  });

  it('memoises per store: same inputs give the same array; two stores never share a cache', async () => {
    const s1 = await storeWithAccounts();
    const s2 = await storeWithAccounts();
    s1.getState().ingest(batch(1, { flows: flows.slice(0, 2), decisions: [row()] }));
    s2.getState().ingest(batch(1, { flows: flows.slice(2), decisions: [row(), row()] }));
    const f1 = selectVisibleFlows(s1.getState());
    const r1 = selectVisibleRows(s1.getState());
    // Interleaved calls on another store do not evict the first store's results.
    expect(selectVisibleFlows(s2.getState()).map((f) => f.key)).toEqual(['c', 'd', 'e']);
    expect(selectVisibleRows(s2.getState())).toHaveLength(2);
    expect(selectVisibleFlows(s1.getState())).toBe(f1);
    expect(selectVisibleRows(s1.getState())).toBe(r1);
    // A change of the inputs gives a new result.
    s1.getState().ingest(batch(2, { flows: [flow('z', 99)] }));
    const f2 = selectVisibleFlows(s1.getState());
    expect(f2).not.toBe(f1);
    expect(f2[0]?.key).toBe('z');
    s1.getState().setFilter({ user: 'bob' });
    expect(selectVisibleFlows(s1.getState()).map((f) => f.key)).toEqual(['b']);
    expect(s1.getState().trafficMemo).not.toBe(s2.getState().trafficMemo);
  });
});
