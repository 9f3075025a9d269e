// SPDX-License-Identifier: Apache-2.0
// The policy slice's issue-9 behaviour: import replace/merge, notices that belong to a state,
// propose, new endpoints' errors, unknown users, per-store selector caches, and the history slice.
import { describe, expect, it } from 'vitest';
import type {
  ApplyOutcome,
  HistoryEntryResult,
  HistoryItem,
  ProposeResult,
} from '../../../electron/ipc/contract.js';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { indexAccounts, searchAccounts } from '../../../renderer/src/logic/accounts.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { diffLines, outcomeText } from '../../../renderer/src/store/history.js';
import {
  applyBlockers,
  canApply,
  selectDiagnostics,
  selectDiff,
  selectShownDiagnostics,
  userPicks,
  validateDraft,
} from '../../../renderer/src/store/selectors.js';
import { ENFORCED, fail, ok, standInApi } from './fake-api.js';

async function ready(setup?: (s: ReturnType<typeof standInApi>) => void) {
  const fake = standInApi();
  setup?.(fake);
  const store = createAppStore(fake.api);
  await store.getState().init();
  return { store, fake };
}

const FILE: PolicyDoc = {
  endpoints: [
    { name: 'imds', iface: ['eth0'], range: ['fd00:ec2::254'], allow: ['root'] },
    { name: 'web', iface: ['eth1'], range: ['198.51.100.0/24'], allow: ['*'] },
  ],
  interfaces: { eth0: { default: 'allow' } },
  logging: {},
};

const importing = (doc: PolicyDoc) => (f: ReturnType<typeof standInApi>) =>
  f.on('importYaml', () => ok({ canceled: false as const, file: '/tmp/f.yml', doc, diagnostics: [] }));

function outcome(doc: PolicyDoc, epoch = 8): ApplyOutcome {
  return {
    epoch,
    trial: null,
    attached: ['eth0'],
    missing: [],
    changes: 1,
    activeMs: 1,
    totalMs: 2,
    diagnostics: [],
    enforced: { epoch, doc, appliedAt: 2 },
  };
}

describe('import: replace or merge', () => {
  it('merge unites same-name endpoints, appends new ones, and the file wins for its interfaces', async () => {
    const { store, fake } = await ready(importing(FILE));
    await store.getState().importYaml();
    const c = store.getState().importChoice;
    expect(c?.merge).toEqual({ added: ['web'], extended: ['imds'], settings: ['eth0'], logging: false });
    store.getState().resolveImport('merge');
    const s = store.getState();
    expect(s.draft.endpoints).toEqual([
      {
        name: 'imds',
        iface: ['eth0'],
        range: ['169.254.169.254/32', 'fd00:ec2::254'],
        allow: ['svc-deploy', 'root'],
      },
      FILE.endpoints[1],
    ]);
    expect(s.draft.interfaces).toEqual({ eth0: { default: 'allow' } });
    expect(s.importInfo).toMatchObject({ how: 'merge', replaced: true });
    expect(selectDiff(s).added.map((e) => e.name)).toEqual(['web']);
    expect(fake.count('apply')).toBe(0);
  });

  it('cancel keeps the draft; no question when merging would give the file itself', async () => {
    const { store } = await ready(importing(FILE));
    await store.getState().importYaml();
    store.getState().resolveImport('cancel');
    expect(store.getState().importChoice).toBeNull();
    expect(store.getState().draft).toEqual(ENFORCED.doc);
    expect(store.getState().importInfo).toBeNull();
    // Re-importing what the draft holds: replace and merge are the same, nothing is asked.
    const same = await ready(importing(structuredClone(ENFORCED.doc!)));
    await same.store.getState().importYaml();
    expect(same.store.getState().importChoice).toBeNull();
    expect(same.store.getState().importInfo?.how).toBe('replace');
  });

  it('the import notice leaves on a successful Apply and on Revert, not on edits', async () => {
    const { store } = await ready((f) => {
      importing(FILE)(f);
      f.on('apply', (req) => ok(outcome((req as { doc: PolicyDoc }).doc)));
    });
    await store.getState().importYaml();
    store.getState().resolveImport('replace');
    store.getState().setLogging('off');
    expect(store.getState().importInfo).not.toBeNull();
    store.getState().revert();
    expect(store.getState().importInfo).toBeNull();
    await store.getState().importYaml();
    store.getState().resolveImport('replace');
    expect(await store.getState().apply()).not.toBeNull();
    expect(store.getState().importInfo).toBeNull();
    expect(store.getState().applyResult?.text).toMatch(/^Applied policy 8/);
    expect(store.getState().applyResult?.text).not.toMatch(/epoch/);
  });
});

describe('apply results belong to the draft they were about', () => {
  it('an error result leaves at the next edit; an invalid-policy one when its errors are gone', async () => {
    const { store } = await ready((f) => f.on('apply', () => fail('failed', 'tc: device busy')));
    store.getState().setLogging('all');
    await store.getState().apply();
    expect(store.getState().applyResult?.kind).toBe('error');
    store.getState().setLogging('off');
    expect(store.getState().applyResult).toBeNull();

    const bad = await ready((f) =>
      f.on('apply', () =>
        fail('invalid-policy', 'the policy has errors', [
          { severity: 'error', message: 'x', path: ['endpoints', 0, 'range', 0] },
        ]),
      ),
    );
    const s = () => bad.store.getState();
    s().addItem(0, 'range', '192.0.2.1');
    await s().apply();
    expect(s().applyResult?.invalid).toBe(true);
    const i = s().addEndpoint(); // the draft now has errors of its own (a new, empty endpoint)
    s().renameEndpoint(i, 'half');
    expect(s().applyResult?.invalid).toBe(true);
    s().removeEndpoint(i); // no errors left
    expect(s().applyResult).toBeNull();
  });
});

describe('new endpoints and unknown users', () => {
  it('a new endpoint shows no errors until typed into (or an apply is tried), yet blocks Apply', async () => {
    const { store } = await ready();
    const s = () => store.getState();
    const i = s().addEndpoint();
    expect(selectDiagnostics(s()).filter((d) => d.severity === 'error')).toHaveLength(3);
    expect(selectShownDiagnostics(s()).filter((d) => d.path[1] === i)).toEqual([]);
    expect(canApply(s())).toBe(false);
    expect(applyBlockers(s()).join(' ')).toMatch(/Complete endpoint-2/);
    s().addItem(i, 'iface', 'eth0'); // typed into: its remaining errors show
    expect(selectShownDiagnostics(s()).filter((d) => d.path[1] === i && d.severity === 'error')).toHaveLength(
      2,
    );
    const j = s().addEndpoint();
    expect(selectShownDiagnostics(s()).some((d) => d.path[1] === j)).toBe(false);
    s().removeEndpoint(0); // indexes shift; the fresh one stays fresh
    expect(selectShownDiagnostics(s()).some((d) => d.path[1] === j - 1)).toBe(false);
    s().revealErrors();
    expect(selectShownDiagnostics(s()).some((d) => d.path[1] === j - 1)).toBe(true);
  });

  it('an unknown user is an error naming it once the accounts are known; Export is not blocked', async () => {
    const { store } = await ready();
    const s = () => store.getState();
    expect(s().addItem(0, 'allow', 'mallory')).toBeNull();
    const err = selectDiagnostics(s()).find((d) => d.path.join('.') === 'endpoints.0.allow.1');
    expect(err?.severity).toBe('error');
    expect(err?.message).toMatch(/^mallory: no such user on this system/);
    expect(canApply(s())).toBe(false);
    expect(applyBlockers(s()).join(' ')).toMatch(/Not on this system: mallory/);
    // Only the document's own errors block Export (a policy for another host).
    expect(validateDraft(s()).filter((d) => d.severity === 'error')).toEqual([]);
    s().removeItem(0, 'allow', 1);
    expect(canApply(s())).toBe(true);
    // Unknown accounts are not errors while the account list is unknown; truncated: warnings.
    const none = await ready((f) => f.on('listAccounts', () => fail('failed', 'n/a')));
    none.store.getState().addItem(0, 'allow', '@nobody-here');
    expect(canApply(none.store.getState())).toBe(true);
  });

  it('the selector caches belong to each store', async () => {
    const a = await ready();
    const b = await ready();
    const da = selectDiff(a.store.getState());
    b.store.getState().setLogging('all');
    expect(selectDiff(b.store.getState()).count).toBe(1);
    // b's work did not evict a's result.
    expect(selectDiff(a.store.getState())).toBe(da);
    expect(a.store.getState().memo).not.toBe(b.store.getState().memo);
  });
});

describe('the users picker searches every account', () => {
  it('human accounts first, system ones after, with how many more match', () => {
    const users = [
      { name: 'root', uid: 0 },
      ...Array.from({ length: 40 }, (_, i) => ({ name: `svc${i}`, uid: 100 + i })),
      { name: 'alice', uid: 1000 },
      { name: 'bob', uid: 1001 },
    ];
    const idx = indexAccounts({
      users,
      groups: [{ name: 'admins', gid: 1500, members: ['alice'] }],
      truncated: false,
      humanUids: { min: 1000, max: 60000 },
    });
    const all = searchAccounts(idx, '', 8);
    expect(all.picks.slice(0, 3).map((p) => p.value)).toEqual(['@admins', 'alice', 'bob']);
    expect(all.more).toBe(users.length + 1 - 8);
    const svc = searchAccounts(idx, 'svc1', 8);
    expect(svc.picks.every((p) => p.value.startsWith('svc1'))).toBe(true);
    expect(svc.more).toBe(11 - 8); // svc1, svc10..svc19
  });
});

describe("the editor's users picker (userPicks)", () => {
  const acc = {
    users: [
      { name: 'root', uid: 0 },
      ...Array.from({ length: 30 }, (_, i) => ({ name: `svc${i}`, uid: 100 + i })),
      { name: 'alice', uid: 1000 },
      { name: 'alice2', uid: 1000 },
    ],
    groups: [{ name: 'admins', gid: 1500, members: ['alice', 'bob', 'carol'] }],
    truncated: false,
    humanUids: { min: 1000, max: 60000 },
  };

  it('leaves out what is listed, still fills the row, and counts the rest', () => {
    const r = userPicks(acc, '', 8, new Set(['alice']));
    expect(r.picks.map((p) => p.value).slice(0, 2)).toEqual(['@admins', 'alice2']);
    expect(r.picks).toHaveLength(8);
    expect(r.more).toBe(acc.users.length + 1 - 1 - 8);
    expect(r.picks[0]!.label).toBe('(group 1500, 3 members)');
    expect(r.picks[1]!.label).toBe('(uid 1000)');
  });

  it('offers a uid without an account as itself, named as such; none while accounts are unknown', () => {
    expect(userPicks(acc, '4242', 8, new Set()).picks[0]).toEqual({
      value: '4242',
      label: 'uid 4242 (no account)',
    });
    expect(userPicks(acc, '1000', 8, new Set()).picks.map((p) => p.value)).toEqual(['alice', 'alice2']);
    expect(userPicks(null, 'a', 8, new Set())).toEqual({ picks: [], more: 0 });
  });
});

describe('propose', () => {
  const proposal = (doc: PolicyDoc | null, over: Partial<ProposeResult> = {}): ProposeResult => ({
    doc,
    observed: 12,
    added: doc ? 1 : 0,
    granted: 3,
    skipped: [{ iface: 'eth0', user: '(unowned)', dst: '192.0.2.9', why: 'no local socket' }],
    message: 'proposed',
    ...over,
  });

  it("merges the proposal's new endpoints into the draft as pending changes; nothing is applied", async () => {
    const doc = structuredClone(ENFORCED.doc!);
    doc.endpoints.push({ name: 'bob-eth0', iface: ['eth0'], range: ['203.0.113.5/32'], allow: ['bob'] });
    const { store, fake } = await ready((f) => f.on('propose', () => ok(proposal(doc))));
    store.getState().setInterfaceSetting('eth0', 'default', 'allow'); // a pending edit of the admin
    await store.getState().propose();
    const s = store.getState();
    expect(s.draft.endpoints.map((e) => e.name)).toEqual(['imds', 'bob-eth0']);
    expect(s.draft.interfaces.eth0).toEqual({ default: 'allow' });
    expect(selectDiff(s).added.map((e) => e.name)).toEqual(['bob-eth0']);
    expect(s.proposeInfo?.kind).toBe('ok');
    expect(s.proposeInfo?.text).toMatch(/12 observed flows: added bob-eth0/);
    expect(s.proposeInfo?.text).toMatch(/1 skipped/);
    expect(s.selected).toBe(1);
    expect(fake.count('apply')).toBe(0);
  });

  it('says so when there is nothing to propose, and records a failure', async () => {
    const { store } = await ready((f) =>
      f.on('propose', () => ok(proposal(null, { message: 'No dropped flows were observed.' }))),
    );
    const before = store.getState().draft;
    await store.getState().propose();
    expect(store.getState().draft).toBe(before);
    expect(store.getState().proposeInfo).toMatchObject({
      kind: 'none',
      text: 'No dropped flows were observed.',
    });
    const failing = await ready((f) => f.on('propose', () => fail('failed', 'no observations')));
    await failing.store.getState().propose();
    expect(failing.store.getState().proposeInfo?.kind).toBe('error');
    expect(failing.store.getState().errors[0]?.source).toBe('propose');
  });
});

describe('history', () => {
  const item = (n: number, over: Partial<HistoryItem> = {}): HistoryItem => ({
    n,
    policy: n + 6,
    time: 1_700_000_000_000 + n * 1000,
    origin: 'app',
    account: 'admin (uid 1000)',
    outcome: 'replaced',
    current: false,
    ...over,
  });
  const entryOf = (n: number, doc: PolicyDoc | null): HistoryEntryResult => ({
    entry: item(n),
    text: 'endpoints: []\n',
    doc,
    diagnostics: [],
    previous: n > 1 ? n - 1 : null,
    diff: n > 1 ? '--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n' : '',
  });

  it('lists newest first, opens the newest, goes back to one as pending changes with the preview', async () => {
    const first: PolicyDoc = {
      endpoints: [{ name: 'old', iface: ['eth0'], range: ['192.0.2.0/24'], allow: ['root'] }],
      interfaces: {},
      logging: {},
    };
    const { store, fake } = await ready((f) => {
      f.on('listHistory', () =>
        ok({ entries: [item(2, { outcome: 'applied', current: true }), item(1)], warnings: [] }),
      );
      f.on('historyEntry', (req) => {
        const n = (req as { n: number }).n;
        return ok(entryOf(n, n === 1 ? first : ENFORCED.doc));
      });
      f.on('preview', () => fail('failed', 'not in this test'));
    });
    await store.getState().refreshHistory();
    expect(store.getState().historySelected).toBe(2);
    expect(store.getState().historyEntry?.entry.n).toBe(2);
    expect(await store.getState().goBackTo(1)).toBe(true);
    const s = store.getState();
    expect(s.draft).toEqual(first);
    expect(s.draftFromHistory).toBe(1);
    expect(s.view).toBe('policy');
    expect(s.previewOpen).toBe(true);
    expect(s.previewFor).toEqual({ fromHistory: 1 });
    expect(fake.count('apply')).toBe(0);
    // Applied from there: the request names the entry, and the list is read again.
    fake.on('apply', (req) => ok(outcome((req as { doc: PolicyDoc }).doc, 9)));
    const lists = fake.count('listHistory');
    expect(await store.getState().apply({ trialSeconds: 60 })).not.toBeNull();
    const req = fake.calls.filter((c) => c.op === 'apply').at(-1)!.req;
    expect(req).toMatchObject({ fromHistory: 1, trialSeconds: 60, expectEpoch: 7 });
    await expect.poll(() => fake.count('listHistory')).toBe(lists + 1);
  });

  it('words outcomes and splits diffs', () => {
    const list = [item(3), item(2), item(1)];
    expect(outcomeText(item(1), list)).toBe('replaced by #2');
    expect(outcomeText(item(3, { outcome: 'applied' }), list)).toBe('kept');
    expect(outcomeText(item(3, { outcome: 'reverted-by-kernel', outcomeTime: 0 }), list)).toMatch(
      /^reverted by the kernel at \d\d:\d\d:\d\d$/,
    );
    expect(outcomeText(item(3, { outcome: 'trial' }), list)).toBe('trial — pending');
    expect(diffLines('--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n').map((l) => l.kind)).toEqual([
      'meta',
      'meta',
      'hunk',
      'del',
      'add',
      'same',
    ]);
  });
});
