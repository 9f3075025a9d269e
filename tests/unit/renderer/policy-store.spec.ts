// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../renderer/src/store/index.js';
import {
  applyBlockers,
  canApply,
  selectDiagnostics,
  selectDiff,
} from '../../../renderer/src/store/selectors.js';
import { ENFORCED, READ_ONLY, fail, ok, standInApi } from './fake-api.js';

async function ready(setup?: (s: ReturnType<typeof standInApi>) => void) {
  const fake = standInApi();
  setup?.(fake);
  const store = createAppStore(fake.api);
  await store.getState().init();
  return { store, fake };
}

describe('policy slice: loading and editing', () => {
  it('starts with the enforced document as the draft and no pending changes', async () => {
    const { store } = await ready();
    const s = store.getState();
    expect(s.ready).toBe(true);
    expect(s.draft).toEqual(ENFORCED.doc);
    expect(s.draft).not.toBe(s.enforced?.doc); // a copy: editing never touches enforced
    expect(selectDiff(s).count).toBe(0);
    expect(s.selected).toBe(0);
    expect(canApply(s)).toBe(true);
  });

  it('adds, renames and removes endpoints; new endpoints get unique names and are selected', async () => {
    const { store } = await ready();
    const i = store.getState().addEndpoint();
    expect(i).toBe(1);
    expect(store.getState().selected).toBe(1);
    const j = store.getState().addEndpoint();
    const names = store.getState().draft.endpoints.map((e) => e.name);
    expect(new Set(names).size).toBe(3);
    store.getState().renameEndpoint(i, 'web');
    expect(store.getState().draft.endpoints[1]!.name).toBe('web');
    store.getState().removeEndpoint(i);
    expect(store.getState().draft.endpoints.map((e) => e.name)).toEqual(['imds', names[j]]);
    expect(store.getState().selected).toBe(1);
  });

  it('adds list items after validating them and refuses bad or duplicate ones', async () => {
    const { store } = await ready();
    const s = () => store.getState();
    expect(s().addItem(0, 'range', ' fd00:ec2::254 ')).toBeNull();
    expect(s().draft.endpoints[0]!.range).toEqual(['169.254.169.254/32', 'fd00:ec2::254']);
    expect(s().addItem(0, 'range', '10.0.0.300')).toMatch(/not a valid IP/);
    expect(s().addItem(0, 'range', 'fd00:ec2::254')).toMatch(/already listed/);
    expect(s().addItem(0, 'allow', '0755')).toMatch(/leading zero/);
    expect(s().addItem(0, 'allow', '@admins')).toBeNull();
    expect(s().addItem(0, 'iface', 'bad/name')).toMatch(/invalid interface name/);
    expect(s().addItem(0, 'iface', 'lo')).toBeNull();
    expect(s().draft.endpoints[0]!.iface).toEqual(['eth0', 'lo']);
    s().removeItem(0, 'iface', 0);
    expect(s().draft.endpoints[0]!.iface).toEqual(['lo']);
    const d = selectDiff(s());
    expect(d.changed).toEqual([
      {
        name: 'imds',
        lists: {
          iface: { added: ['lo'], removed: ['eth0'] },
          range: { added: ['fd00:ec2::254'], removed: [] },
          allow: { added: ['@admins'], removed: [] },
        },
      },
    ]);
  });

  it('edits interface settings and logging; the diff reports effective changes only', async () => {
    const { store } = await ready();
    const s = () => store.getState();
    s().setInterfaceSetting('eth0', 'default', 'deny'); // the default, written out
    expect(selectDiff(s()).count).toBe(0);
    s().setInterfaceSetting('eth0', 'default', 'allow');
    s().setInterfaceSetting('eth0', 'essentials', false);
    s().setLogging('all');
    expect(s().draft.interfaces.eth0).toEqual({ default: 'allow', essentials: false });
    const d = selectDiff(s());
    expect(d.settings).toEqual([
      { iface: 'eth0', key: 'default', from: 'deny', to: 'allow' },
      { iface: 'eth0', key: 'essentials', from: 'true', to: 'false' },
    ]);
    expect(d.logging).toEqual({ from: 'sample', to: 'all' });
    s().setInterfaceSetting('eth0', 'default', undefined);
    expect(s().draft.interfaces.eth0).toEqual({ essentials: false });
    s().removeInterfaceSettings('eth0');
    expect(s().draft.interfaces).toEqual({});
  });

  it('validation errors block Apply and say why; fixing them enables it again', async () => {
    const { store } = await ready();
    const s = () => store.getState();
    const i = s().addEndpoint(); // no iface, range or allow yet: three errors
    expect(selectDiagnostics(s()).filter((d) => d.severity === 'error')).toHaveLength(3);
    expect(canApply(s())).toBe(false);
    expect(applyBlockers(s()).join(' ')).toMatch(/Complete endpoint-2/);
    s().revealErrors();
    expect(applyBlockers(s()).join(' ')).toMatch(/Fix 3 errors/);
    s().addItem(i, 'iface', 'eth0');
    s().addItem(i, 'range', '192.0.2.0/24');
    s().addItem(i, 'allow', 'root');
    expect(canApply(s())).toBe(true);
    s().renameEndpoint(i, 'imds'); // duplicate name
    const dup = selectDiagnostics(s()).find((d) => d.severity === 'error');
    expect(dup?.path).toEqual(['endpoints', i, 'name']);
    expect(canApply(s())).toBe(false);
  });

  it('invalid text typed in an editor input blocks Apply until it is cleared', async () => {
    const { store } = await ready();
    expect(canApply(store.getState())).toBe(true);
    store.getState().setInputError('range', '"169.254.169.300" is not a valid IP address');
    expect(canApply(store.getState())).toBe(false);
    expect(applyBlockers(store.getState()).join(' ')).toMatch(/invalid value typed/);
    store.getState().setInputError('range', null);
    expect(store.getState().inputErrors).toEqual({});
    expect(canApply(store.getState())).toBe(true);
  });

  it('read-only mode blocks Apply', async () => {
    const { store } = await ready((f) => f.on('getState', () => ok(READ_ONLY)));
    expect(canApply(store.getState())).toBe(false);
    expect(applyBlockers(store.getState())[0]).toMatch(/Read-only/);
  });

  it('revert restores the enforced document', async () => {
    const { store } = await ready();
    store.getState().addEndpoint();
    store.getState().setLogging('off');
    expect(selectDiff(store.getState()).count).toBeGreaterThan(0);
    store.getState().revert();
    expect(store.getState().draft).toEqual(ENFORCED.doc);
    expect(selectDiff(store.getState()).count).toBe(0);
  });
});

describe('policy slice: apply', () => {
  it('sends the draft with the enforced epoch and takes the outcome as enforced', async () => {
    const { store, fake } = await ready((f) =>
      f.on('apply', (req) => {
        const { doc } = req as { doc: never };
        return ok({
          epoch: 8,
          trial: null,
          attached: ['eth0'],
          missing: ['wg0'],
          changes: 1,
          activeMs: 1,
          totalMs: 3,
          diagnostics: [],
          enforced: { epoch: 8, doc, appliedAt: 2 },
        });
      }),
    );
    store.getState().setLogging('all');
    expect(await store.getState().apply()).not.toBeNull();
    const req = fake.calls.find((c) => c.op === 'apply')!.req as { expectEpoch: number; doc: unknown };
    expect(req.expectEpoch).toBe(7);
    expect(req.doc).toEqual({ ...ENFORCED.doc, logging: { allowed: 'all' } });
    const s = store.getState();
    expect(s.enforced?.epoch).toBe(8);
    expect(selectDiff(s).count).toBe(0);
    expect(s.applyResult?.kind).toBe('ok');
    expect(s.applyResult?.text).toMatch(/wg0/);
    expect(s.applying).toBe(false);
  });

  it('maps invalid-policy diagnostics to fields and keeps the draft', async () => {
    const { store } = await ready((f) =>
      f.on('apply', () =>
        fail('invalid-policy', 'the policy has errors', [
          { severity: 'error', message: 'unknown user "svc-deploy"', path: ['endpoints', 0, 'allow', 0] },
        ]),
      ),
    );
    store.getState().setLogging('all');
    expect(await store.getState().apply()).toBeNull();
    const s = store.getState();
    expect(s.serverDiagnostics).toHaveLength(1);
    expect(selectDiagnostics(s).some((d) => d.path.join('.') === 'endpoints.0.allow.0')).toBe(true);
    expect(canApply(s)).toBe(false);
    expect(s.applyResult?.kind).toBe('error');
    expect(s.errors[0]?.code).toBe('invalid-policy');
    expect(s.draft.logging).toEqual({ allowed: 'all' });
    // Any edit clears the server's verdict (it was about the old draft).
    s.setLogging('off');
    expect(store.getState().serverDiagnostics).toEqual([]);
  });

  it('on conflict reloads what is enforced but keeps the draft', async () => {
    let enforcedCalls = 0;
    const { store } = await ready((f) => {
      f.on('apply', () => fail('conflict', 'the enforced policy changed'));
      f.on('getEnforced', () => {
        enforcedCalls++;
        return ok(
          enforcedCalls === 1 ? structuredClone(ENFORCED) : { ...structuredClone(ENFORCED), epoch: 9 },
        );
      });
    });
    store.getState().setLogging('off');
    expect(await store.getState().apply()).toBeNull();
    const s = store.getState();
    expect(s.applyResult?.kind).toBe('conflict');
    expect(s.enforced?.epoch).toBe(9);
    expect(s.draft.logging).toEqual({ allowed: 'off' });
  });
});

describe('policy slice: import and export', () => {
  it('an imported document becomes the draft as pending changes and is not applied', async () => {
    const imported = {
      endpoints: [{ name: 'web', iface: ['eth1'], range: ['198.51.100.0/24'], allow: ['*'] }],
      interfaces: {},
      logging: {},
    };
    const { store, fake } = await ready((f) =>
      f.on('importYaml', () =>
        ok({
          canceled: false as const,
          file: '/tmp/p.yml',
          doc: imported,
          diagnostics: [
            {
              severity: 'warning' as const,
              message: 'host bits',
              pos: { file: '/tmp/p.yml', line: 3, col: 7 },
            },
          ],
        }),
      ),
    );
    await store.getState().importYaml();
    // The draft has content: Import asks whether to replace it or merge into it.
    expect(store.getState().importChoice?.file).toBe('/tmp/p.yml');
    expect(store.getState().draft).toEqual(ENFORCED.doc);
    store.getState().resolveImport('replace');
    const s = store.getState();
    expect(s.importChoice).toBeNull();
    expect(s.draft).toEqual(imported);
    expect(s.enforced?.doc).toEqual(ENFORCED.doc);
    expect(selectDiff(s).added.map((e) => e.name)).toEqual(['web']);
    expect(selectDiff(s).removed.map((e) => e.name)).toEqual(['imds']);
    expect(s.importInfo).toEqual({
      file: '/tmp/p.yml',
      diagnostics: expect.any(Array),
      replaced: true,
      how: 'replace',
    });
    expect(fake.count('apply')).toBe(0);
  });

  it('import errors are kept with line and column and the draft is not replaced', async () => {
    const { store } = await ready((f) =>
      f.on('importYaml', () =>
        ok({
          canceled: false as const,
          file: '/tmp/bad.yml',
          doc: null,
          diagnostics: [
            {
              severity: 'error' as const,
              message: 'invalid range',
              pos: { file: '/tmp/bad.yml', line: 4, col: 9 },
            },
          ],
        }),
      ),
    );
    const before = store.getState().draft;
    await store.getState().importYaml();
    const s = store.getState();
    expect(s.draft).toBe(before);
    expect(s.importInfo?.replaced).toBe(false);
    expect(s.importInfo?.diagnostics[0]?.pos).toEqual({ file: '/tmp/bad.yml', line: 4, col: 9 });
  });

  it('a canceled import changes nothing', async () => {
    const { store } = await ready((f) => f.on('importYaml', () => ok({ canceled: true as const })));
    const before = store.getState().draft;
    await store.getState().importYaml();
    expect(store.getState().draft).toBe(before);
    expect(store.getState().importInfo).toBeNull();
  });

  it('export sends the draft and reports where it went; failures are recorded', async () => {
    const { store, fake } = await ready((f) =>
      f.on('exportYaml', () => ok({ canceled: false as const, file: '/tmp/out.yml', bytes: 99 })),
    );
    await store.getState().exportYaml();
    expect((fake.calls.find((c) => c.op === 'exportYaml')!.req as { doc: unknown }).doc).toEqual(
      ENFORCED.doc,
    );
    expect(store.getState().notice?.text).toMatch(/\/tmp\/out\.yml/);
    fake.on('exportYaml', () => fail('failed', 'disk full'));
    await store.getState().exportYaml();
    expect(store.getState().notice).toEqual({ kind: 'error', text: 'Export failed: disk full' });
    expect(store.getState().errors[0]).toMatchObject({ source: 'exportYaml', message: 'disk full' });
  });
});

describe('app and system slices', () => {
  it('init finishes (ready) even when calls fail, and records the failures', async () => {
    const { store } = await ready((f) => f.on('listAccounts', () => fail('failed', 'getent timed out')));
    const s = store.getState();
    expect(s.ready).toBe(true);
    expect(s.accounts).toBeNull();
    expect(s.interfaces).toHaveLength(2);
    expect(s.errors.map((e) => e.source)).toEqual(['listAccounts']);
  });

  it('a bridge that throws instead of answering becomes a recorded ApiError', async () => {
    const { store } = await ready((f) =>
      f.on('getState', () => {
        throw new Error('channel closed');
      }),
    );
    expect(store.getState().appState).toBeNull();
    expect(store.getState().errors[0]).toMatchObject({
      source: 'getState',
      message: 'channel closed',
      code: 'failed',
    });
  });

  it('stopFiltering confirms with the literal and refreshes the state afterwards', async () => {
    const { store, fake } = await ready((f) => {
      f.on('stopFiltering', () => ok({ filtersRemoved: ['eth0'], pinsRemoved: 5 }));
      f.on('getStatus', () => fail('failed', 'n/a'));
    });
    const before = fake.count('getState');
    expect(await store.getState().stopFiltering()).toBe(true);
    expect(fake.calls.find((c) => c.op === 'stopFiltering')!.req).toEqual({ confirm: 'stop-filtering' });
    expect(fake.count('getState')).toBe(before + 1);
    expect(store.getState().stopResult?.pinsRemoved).toBe(5);
  });
});
