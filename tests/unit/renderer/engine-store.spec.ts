// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import type { ApplyOutcome, EngineView, Preview, TrialResult } from '../../../electron/ipc/contract.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { selectDiff } from '../../../renderer/src/store/selectors.js';
import { ENFORCED, fail, ok, standInApi } from './fake-api.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function engineView(over: Partial<EngineView> = {}): EngineView {
  return {
    loaded: true,
    policy: 7,
    configured: [{ name: 'eth0', present: true, attached: true, mode: 'enforce', default: 'deny' }],
    guardOnly: { attached: 0, mode: 'enforce' },
    trial: null,
    lastTrial: null,
    owner: null,
    ...over,
  };
}

const PREVIEW: Preview = {
  diagnostics: [],
  effects: [
    {
      iface: 'eth0',
      text: 'eth0: everything except 169.254.169.254/32 is dropped for every account, root included',
      tone: 'deny',
      turnsDeny: true,
    },
  ],
  impact: {
    evaluated: 3,
    baseline: 'enforced',
    newlyDropped: [],
    newlyAllowed: [],
    newlyReported: [],
    more: 0,
  },
  trialDefault: true,
  unchanged: false,
};

function outcome(epoch: number, trial: ApplyOutcome['trial']): ApplyOutcome {
  return {
    epoch,
    trial,
    attached: ['eth0'],
    missing: [],
    changes: 1,
    activeMs: 1,
    totalMs: 2,
    diagnostics: [],
    enforced: { ...structuredClone(ENFORCED), epoch },
  };
}

async function ready(setup?: (s: ReturnType<typeof standInApi>) => void) {
  const fake = standInApi();
  fake.on('getEngine', () => ok(engineView()));
  fake.on('preview', () => ok(structuredClone(PREVIEW)));
  setup?.(fake);
  const store = createAppStore(fake.api, { enginePollMs: 10 });
  await store.getState().init();
  return { store, fake };
}

describe('engine slice: the kernel state', () => {
  it('polls getEngine while started, and stops', async () => {
    const { store, fake } = await ready();
    store.getState().startEngine();
    store.getState().startEngine(); // never a second loop
    await expect.poll(() => fake.count('getEngine')).toBeGreaterThanOrEqual(3);
    expect(store.getState().engine?.policy).toBe(7);
    store.getState().stopEngine();
    await sleep(30);
    const n = fake.count('getEngine');
    await sleep(50);
    expect(fake.count('getEngine')).toBe(n);
  });

  it('reloads what is enforced when the policy number changes (someone applied, the kernel went back)', async () => {
    let policy = 7;
    const { store, fake } = await ready((f) => f.on('getEngine', () => ok(engineView({ policy }))));
    await store.getState().refreshEngine();
    const loads = fake.count('getEnforced');
    await store.getState().refreshEngine();
    expect(fake.count('getEnforced')).toBe(loads); // unchanged: no reload
    policy = 6;
    fake.on('getEnforced', () => ok({ ...structuredClone(ENFORCED), epoch: 6 }));
    await store.getState().refreshEngine();
    expect(fake.count('getEnforced')).toBe(loads + 1);
    expect(store.getState().enforced?.epoch).toBe(6);
  });

  it('keeps the error until getEngine answers again', async () => {
    let up = false;
    const { store } = await ready((f) =>
      f.on('getEngine', () => (up ? ok(engineView()) : fail('failed', 'backend down'))),
    );
    await store.getState().refreshEngine();
    expect(store.getState().engineError).toBe('backend down');
    expect(store.getState().errors[0]?.source).toBe('getEngine');
    await store.getState().refreshEngine();
    expect(store.getState().errors.filter((e) => e.source === 'getEngine')).toHaveLength(1); // once
    up = true;
    await store.getState().refreshEngine();
    expect(store.getState().engineError).toBeNull();
  });

  it('remembers the pending trial (what a kernel revert goes back to) and the dismissal', async () => {
    const trial = { policy: 8, previous: 7, deadline: Date.now() + 60_000, secondsLeft: 60, expired: false };
    let v = engineView({ policy: 8, trial });
    const { store } = await ready((f) => f.on('getEngine', () => ok(v)));
    await store.getState().refreshEngine();
    expect(store.getState().trialSeen).toEqual(trial);
    v = engineView({
      policy: 7,
      lastTrial: { policy: 8, outcome: 'reverted-by-kernel', time: 5, historyN: 2 },
    });
    await store.getState().refreshEngine();
    expect(store.getState().trialSeen?.previous).toBe(7);
    store.getState().dismissLastTrial();
    expect(store.getState().lastTrialDismissed).toBe(5);
  });
});

describe('engine slice: the Apply preview', () => {
  it('previews the draft, applies it as a trial through the policy slice, then reads the kernel', async () => {
    const { store, fake } = await ready((f) =>
      f.on('apply', () =>
        ok(
          outcome(8, {
            policy: 8,
            previous: 7,
            deadline: Date.now() + 30_000,
            secondsLeft: 30,
            expired: false,
          }),
        ),
      ),
    );
    store.getState().setInterfaceSetting('eth0', 'default', 'deny');
    store.getState().addItem(0, 'allow', 'root');
    await store.getState().openPreview();
    const s = store.getState();
    expect(s.previewOpen).toBe(true);
    expect(s.preview?.trialDefault).toBe(true);
    expect(fake.calls.find((c) => c.op === 'preview')?.req).toEqual({ doc: s.draft });
    const engineReads = fake.count('getEngine');
    const r = await store.getState().applyFromPreview(true, 30);
    expect(r?.epoch).toBe(8);
    const req = fake.calls.find((c) => c.op === 'apply')?.req as Record<string, unknown>;
    expect(req.trialSeconds).toBe(30);
    expect(req).not.toHaveProperty('fromHistory');
    expect(store.getState().previewOpen).toBe(false);
    expect(fake.count('getEngine')).toBe(engineReads + 1);
  });

  it('apply for good sends no trial; from history it names the entry; the default trial is 60 s', async () => {
    const { store, fake } = await ready((f) => f.on('apply', () => ok(outcome(8, null))));
    await store.getState().openPreview({ fromHistory: 4 });
    await store.getState().applyFromPreview(false);
    const req = fake.calls.filter((c) => c.op === 'apply').map((c) => c.req as Record<string, unknown>);
    expect(req[0]).not.toHaveProperty('trialSeconds');
    expect(req[0]?.fromHistory).toBe(4);
    await store.getState().openPreview();
    await store.getState().applyFromPreview(true);
    expect((fake.calls.filter((c) => c.op === 'apply')[1]?.req as Record<string, unknown>).trialSeconds).toBe(
      60,
    );
  });

  it('a failed apply keeps the preview open with the reason', async () => {
    const { store } = await ready((f) => f.on('apply', () => fail('failed', 'tc refused')));
    await store.getState().openPreview();
    expect(await store.getState().applyFromPreview(true)).toBeNull();
    expect(store.getState().previewOpen).toBe(true);
    expect(store.getState().applyResult?.text).toContain('tc refused');
  });

  it('"Guard only these ranges" sets the default to allow as a pending change and previews again', async () => {
    const { store, fake } = await ready();
    await store.getState().openPreview();
    await store.getState().guardOnlyFromPreview('eth0');
    expect(store.getState().draft.interfaces.eth0?.default).toBe('allow');
    expect(selectDiff(store.getState()).count).toBeGreaterThan(0);
    expect(fake.count('preview')).toBe(2);
    expect((fake.calls.filter((c) => c.op === 'preview')[1]?.req as { doc: unknown }).doc).toEqual(
      store.getState().draft,
    );
    expect(fake.count('apply')).toBe(0); // never applied on its own
  });

  it('a preview answer that arrives after Cancel is dropped', async () => {
    let release: () => void = () => undefined;
    const { store } = await ready((f) =>
      f.on('preview', () => new Promise((r) => (release = () => r(ok(structuredClone(PREVIEW)))))),
    );
    const p = store.getState().openPreview();
    store.getState().closePreview();
    release();
    await p;
    expect(store.getState().previewOpen).toBe(false);
    expect(store.getState().preview).toBeNull();
  });

  it('a preview that fails says why (with the diagnostics of an invalid policy)', async () => {
    const diag = {
      severity: 'error' as const,
      path: ['endpoints', 0, 'allow', 0],
      message: 'unknown user nobody2',
    };
    const { store } = await ready((f) =>
      f.on('preview', () => fail('invalid-policy', 'invalid policy', [diag])),
    );
    await store.getState().openPreview();
    expect(store.getState().previewError).toEqual({ text: 'invalid policy', diagnostics: [diag] });
  });
});

describe('engine slice: keep and revert', () => {
  const result = (outcome: TrialResult['outcome']): TrialResult => ({
    outcome,
    policy: 8,
    inForce: outcome === 'confirmed' ? 8 : 7,
    at: 1,
    message: outcome === 'confirmed' ? 'Policy 8 is kept.' : 'Back to policy 7.',
    enforced: structuredClone(ENFORCED),
  });

  it('keep: the outcome is the notice (until the next apply); the kernel and the enforced policy are read', async () => {
    const { store, fake } = await ready((f) => f.on('confirmTrial', () => ok(result('confirmed'))));
    const reads = fake.count('getEnforced');
    const r = await store.getState().confirmTrial();
    expect(r?.outcome).toBe('confirmed');
    expect(store.getState().notice).toMatchObject({ kind: 'ok', text: 'Policy 8 is kept.', scope: 'apply' });
    expect(fake.count('getEngine')).toBeGreaterThan(0);
    expect(fake.count('getEnforced')).toBe(reads + 1);
    // Changing the view does not drop it; the next apply does.
    store.getState().setView('traffic');
    expect(store.getState().notice).not.toBeNull();
    store.getState().clearNotices('apply');
    expect(store.getState().notice).toBeNull();
  });

  it('revert: reloads what is enforced; a failure is said', async () => {
    let fails = false;
    const { store, fake } = await ready((f) =>
      f.on('revertTrial', () => (fails ? fail('failed', 'no trial') : ok(result('reverted')))),
    );
    const reads = fake.count('getEnforced');
    expect((await store.getState().revertTrial())?.inForce).toBe(7);
    expect(fake.count('getEnforced')).toBe(reads + 1);
    fails = true;
    expect(await store.getState().revertTrial()).toBeNull();
    expect(store.getState().notice).toMatchObject({ kind: 'error', text: 'Revert failed: no trial' });
  });
});

describe('notices belong to a state', () => {
  it('a view notice goes with the view; re-selecting the same view keeps it', async () => {
    const { store } = await ready();
    store.getState().setNotice({ kind: 'ok', text: 'Exported to /tmp/x.yml (10 bytes).' });
    store.getState().setView('policy');
    expect(store.getState().notice).not.toBeNull();
    store.getState().setView('status');
    expect(store.getState().notice).toBeNull();
  });
});

describe('engine slice: a call that never answers', () => {
  it('does not stop the poll; a late answer older than the one shown is dropped', async () => {
    let n = 0;
    let releaseFirst: (v: ReturnType<typeof ok<EngineView>>) => void = () => undefined;
    const { store } = await ready((f) =>
      f.on('getEngine', () => {
        n++;
        if (n === 1) return new Promise((r) => (releaseFirst = r));
        return ok(engineView({ policy: 9 }));
      }),
    );
    store.getState().startEngine();
    await expect.poll(() => store.getState().engine?.policy, { timeout: 2000 }).toBe(9);
    releaseFirst(ok(engineView({ policy: 1 })));
    await sleep(20);
    expect(store.getState().engine?.policy).toBe(9);
    store.getState().stopEngine();
  });
});

describe('engine slice: the trial this window applied', () => {
  it('is remembered until the next apply (for good: none)', async () => {
    let trial: ApplyOutcome['trial'] = {
      policy: 8,
      previous: 7,
      deadline: 1,
      secondsLeft: 1,
      expired: false,
    };
    const { store } = await ready((f) => f.on('apply', () => ok(outcome(8, trial))));
    await store.getState().openPreview();
    await store.getState().applyFromPreview(true, 10);
    expect(store.getState().appliedTrial).toBe(8);
    trial = null;
    await store.getState().openPreview();
    await store.getState().applyFromPreview(false);
    expect(store.getState().appliedTrial).toBeNull();
  });
});
