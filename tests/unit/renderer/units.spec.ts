// SPDX-License-Identifier: Apache-2.0
// Services and containers in the app: which sockets' cgroups a `unit:` entry can name
// (policy/units.ts), the tables' tag beside the user, the user filter by unit, the details
// pane's unit fix (a pending change, never an apply), and the editor's account check of
// `unit:… as USER`.
import { describe, expect, it } from 'vitest';
import type { ExplainResult, PolicyDoc } from '../../../electron/ipc/contract.js';
import { systemUnitOf, unitAsFor, unitEntryText } from '../../../electron/policy/units.js';
import { parseAllowText } from '../../../electron/policy/fields.js';
import { senderPlace, senderTitle } from '../../../renderer/src/logic/accounts.js';
import { actionsFor, flowQueryOf, unitEntryOf } from '../../../renderer/src/logic/actions.js';
import {
  accountWarning,
  isUnknownAccount,
  unknownAccountErrors,
} from '../../../renderer/src/logic/advice.js';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { matchFlow, matchRow, NO_FILTERS } from '../../../renderer/src/store/traffic.js';
import { flow, ok, row, standInApi } from './fake-api.js';

const BACKUP = '/system.slice/backup.service';

describe('systemUnitOf', () => {
  it('names services and scopes outside user.slice, below any slice', () => {
    expect(systemUnitOf(BACKUP)).toBe('backup.service');
    expect(systemUnitOf(`${BACKUP}/worker`)).toBe('backup.service');
    expect(systemUnitOf('/machine.slice/libpod-abc.scope/container')).toBe('libpod-abc.scope');
    expect(systemUnitOf('/a.slice/b.slice/getty@tty1.service')).toBe('getty@tty1.service');
    expect(systemUnitOf('/nginx.service')).toBe('nginx.service');
  });

  it('names nothing a unit: entry cannot find, or that separates nothing from a user', () => {
    for (const c of [
      null,
      undefined,
      '/',
      '/system.slice',
      '/user.slice/user-1000.slice/session-3.scope',
      '/user.slice/user-1000.slice/user@1000.service/app.slice/x.service',
      '/session-2.scope',
      '/docker/0123abcd',
      'system.slice/x.service',
    ])
      expect(systemUnitOf(c)).toBeNull();
  });

  it('writes entries that parse back as the same unit and account', () => {
    expect(unitEntryText('backup.service')).toBe('unit:backup.service');
    expect(unitEntryText('backup.service', 'bob')).toBe('unit:backup.service as bob');
    const e = parseAllowText(unitEntryText('backup.service', 1001)).entry;
    expect(e).toMatchObject({ kind: 'unit', unit: 'backup.service', as: { kind: 'uid', uid: 1001 } });
    // Root takes no `as`; a name that would not read back as that user is written as its uid.
    expect(unitAsFor(0, 'root')).toBeUndefined();
    expect(unitAsFor(1001, 'bob')).toBe('bob');
    expect(unitAsFor(1001, undefined)).toBe(1001);
    expect(unitAsFor(1001, '1234')).toBe(1001);
  });
});

describe('the tables and the user filter', () => {
  it('tags a system unit, or a cgroup outside user.slice, never a user session', () => {
    expect(senderPlace({ unit: 'backup.service', cgroup: BACKUP })).toBe('backup.service');
    expect(senderPlace({ unit: null, cgroup: '/docker/0123' })).toBe('/docker/0123');
    expect(
      senderPlace({ unit: 'session-3.scope', cgroup: '/user.slice/user-1000.slice/session-3.scope' }),
    ).toBe(null);
    expect(senderPlace({ unit: null, cgroup: '/' })).toBeNull();
    expect(senderPlace({ unit: null, cgroup: null })).toBeNull();
    expect(senderTitle({ uid: 1001, unit: 'backup.service', cgroup: BACKUP })).toBe(
      `uid 1001 · unit backup.service · cgroup ${BACKUP}`,
    );
  });

  it('matches a unit name or a cgroup path typed into the user filter', () => {
    const r = row({ uid: 1001, user: 'bob', unit: 'backup.service', cgroup: BACKUP });
    const other = row({
      uid: 1001,
      user: 'bob',
      unit: 'other.service',
      cgroup: '/system.slice/other.service',
    });
    expect(matchRow(r, { ...NO_FILTERS, user: 'backup' })).toBe(true);
    expect(matchRow(other, { ...NO_FILTERS, user: 'backup' })).toBe(false);
    expect(matchRow(r, { ...NO_FILTERS, user: 'system.slice/backup' })).toBe(true);
    expect(matchRow(r, { ...NO_FILTERS, user: 'bob' })).toBe(true);
    const f = flow('k', 1, { unit: 'backup.service', cgroup: BACKUP });
    expect(matchFlow(f, { ...NO_FILTERS, user: 'BACKUP.service' })).toBe(true);
    expect(matchFlow(flow('j', 1), { ...NO_FILTERS, user: 'backup' })).toBe(false);
  });
});

const DRAFT: PolicyDoc = {
  endpoints: [{ name: 'imdsv2', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] }],
  interfaces: {},
  logging: {},
};

const NOT_LISTED: ExplainResult = {
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
  lines: [],
};

const FROM_BACKUP = {
  iface: 'ntf0',
  uid: 1001,
  user: 'bob',
  family: 4 as const,
  proto: 'tcp',
  dst: '169.254.169.254',
  dport: 80,
  unit: 'backup.service',
  cgroup: BACKUP,
};

describe('the details pane: a unit fix', () => {
  it('offers the unit as bob beside bob, and sends the cgroup with the explain query', () => {
    const a = actionsFor(NOT_LISTED, FROM_BACKUP, DRAFT);
    expect(a.map((x) => x.label)).toEqual(['Allow bob in imdsv2', 'Allow backup.service as bob in imdsv2']);
    expect(a[1]).toMatchObject({
      kind: 'allow-unit',
      endpoint: 'imdsv2',
      entry: 'unit:backup.service as bob',
    });
    expect(flowQueryOf(FROM_BACKUP).cgroup).toBe(BACKUP);
    expect(flowQueryOf({ ...FROM_BACKUP, cgroup: null }).cgroup).toBeUndefined();
    // Root: the unit alone.
    expect(unitEntryOf({ ...FROM_BACKUP, uid: 0, user: 'root' })?.entry).toBe('unit:backup.service');
    // A user's session: no unit fix.
    const session = {
      ...FROM_BACKUP,
      unit: 'session-3.scope',
      cgroup: '/user.slice/user-1001.slice/session-3.scope',
    };
    expect(actionsFor(NOT_LISTED, session, DRAFT).map((x) => x.kind)).toEqual(['allow-user']);
  });

  it('is pending once the draft has it (also without .service, for any account, or as the uid)', () => {
    for (const entry of ['unit:backup.service as bob', 'unit:backup', 'unit:backup.service as 1001']) {
      const d: PolicyDoc = { ...DRAFT, endpoints: [{ ...DRAFT.endpoints[0]!, allow: ['alice', entry] }] };
      expect(actionsFor(NOT_LISTED, FROM_BACKUP, d), entry).toEqual([]);
    }
    // The unit as another account does not take bob's socket: still offered.
    const d: PolicyDoc = {
      ...DRAFT,
      endpoints: [{ ...DRAFT.endpoints[0]!, allow: ['unit:backup as carol'] }],
    };
    expect(actionsFor(NOT_LISTED, FROM_BACKUP, d)).toHaveLength(2);
  });

  it('taking it adds the entry to the draft only: no apply', async () => {
    const api = standInApi();
    api.on('getEnforced', () => ok({ epoch: 3, appliedAt: 1, doc: structuredClone(DRAFT) }));
    const store = createAppStore(api.api);
    await store.getState().loadEnforced({ replaceDraft: true });
    const unit = actionsFor(NOT_LISTED, FROM_BACKUP, store.getState().draft)[1]!;
    store.getState().takeAction(unit);
    expect(store.getState().draft.endpoints[0]?.allow).toEqual(['alice', 'unit:backup.service as bob']);
    expect(store.getState().enforced?.doc?.endpoints[0]?.allow).toEqual(['alice']);
    expect(api.count('apply')).toBe(0);
    expect(actionsFor(NOT_LISTED, FROM_BACKUP, store.getState().draft)).toEqual([]);
  });
});

describe('the editor: the account of `as`', () => {
  const acc = {
    users: [{ name: 'bob', uid: 1001 }],
    groups: [{ name: 'ops', gid: 9, members: [] }],
    truncated: false,
    humanUids: { min: 1000, max: 60000 },
  };

  it('knows bob in unit:x as bob, and flags an unknown `as` account like an unknown user', () => {
    expect(isUnknownAccount('unit:backup.service as bob', acc)).toBe(false);
    expect(isUnknownAccount('cgroup:/system.slice/x.service as @ops', acc)).toBe(false);
    expect(isUnknownAccount('unit:backup.service as 4242', acc)).toBe(false);
    expect(isUnknownAccount('unit:backup.service', acc)).toBe(false);
    expect(accountWarning('unit:backup.service as carol', acc)).toMatch(
      /^unit:backup\.service as carol: no such user carol on this system/,
    );
    expect(accountWarning('cgroup:/a as @devs', acc)).toMatch(/no such group devs/);
    const doc: PolicyDoc = {
      ...DRAFT,
      endpoints: [{ ...DRAFT.endpoints[0]!, allow: ['bob', 'unit:x as carol'] }],
    };
    expect(unknownAccountErrors(doc, acc)).toEqual([
      expect.objectContaining({ severity: 'error', path: ['endpoints', 0, 'allow', 1] }),
    ]);
  });
});
