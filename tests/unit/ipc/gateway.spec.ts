// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The IPC gateway: every operation refuses malformed, oversized and
// foreign requests with a typed error before any handler runs.
import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../../electron/ipc/channels.js';
import type { Operation } from '../../../electron/ipc/channels.js';
import { LARGE_REQUESTS, LIMITS, REQUEST_SCHEMAS } from '../../../electron/ipc/contract.js';
import type { Handlers, IpcResult, PolicyDoc } from '../../../electron/ipc/contract.js';
import { createGateway, HandlerError, isSameOrigin } from '../../../electron/ipc/gateway.js';
import type { SenderInfo } from '../../../electron/ipc/gateway.js';

const ORIGIN = 'app://net-tc-filter';
const OWN: SenderInfo = { url: `${ORIGIN}/index.html`, isMainFrame: true };
const DOC: PolicyDoc = {
  endpoints: [{ name: 'imdsv2', iface: ['eth0'], range: ['169.254.169.254/32'], allow: ['testuser'] }],
  interfaces: {},
  logging: {},
};

/** A valid request per operation. */
const VALID: Record<Operation, unknown> = {
  getState: undefined,
  getStatus: undefined,
  getEnforced: undefined,
  listInterfaces: undefined,
  listAccounts: undefined,
  validate: { doc: DOC },
  apply: { doc: DOC, expectEpoch: null },
  importYaml: undefined,
  exportYaml: { doc: DOC },
  nextTraffic: { after: 0 },
  stopFiltering: { confirm: 'stop-filtering' },
  getEngine: undefined,
  preview: { doc: DOC },
  confirmTrial: undefined,
  revertTrial: undefined,
  explain: { flow: { iface: 'eth0', uid: 1000, family: 4, proto: 'tcp', dst: '169.254.169.254', dport: 80 } },
  propose: undefined,
  listHistory: undefined,
  historyEntry: { n: 1 },
};

/** Malformed requests per operation: wrong types, missing and extra keys. */
const MALFORMED: Record<Operation, unknown[]> = {
  getState: [{}, 1, 'x', []],
  getStatus: [{}, true],
  getEnforced: [{ a: 1 }],
  listInterfaces: [[]],
  listAccounts: ['all'],
  validate: [undefined, {}, { doc: 1 }, { doc: { ...DOC, endpoints: 'x' } }, { doc: DOC, extra: 1 }],
  apply: [
    { doc: DOC },
    { doc: DOC, expectEpoch: null, trialSeconds: 1 },
    { doc: DOC, expectEpoch: null, trialSeconds: 100000 },
    { doc: DOC, expectEpoch: null, fromHistory: 0 },
    { doc: DOC, expectEpoch: -1 },
    { doc: DOC, expectEpoch: 1.5 },
    { doc: { ...DOC, logging: { allowed: 'everything' } }, expectEpoch: null },
    { doc: { ...DOC, interfaces: { eth0: { default: 'maybe' } } }, expectEpoch: null },
    { doc: { ...DOC, endpoints: [{ name: 'x', iface: [1], range: [], allow: [] }] }, expectEpoch: null },
    { doc: { ...DOC, endpoints: [{ ...DOC.endpoints[0], path: '/etc/shadow' }] }, expectEpoch: null },
  ],
  importYaml: [{ path: '/etc/shadow' }],
  exportYaml: [{}, { doc: DOC, path: '/etc/passwd' }],
  nextTraffic: [{}, { after: -1 }, { after: 'x' }, { after: 1, more: true }],
  stopFiltering: [undefined, {}, { confirm: true }, { confirm: 'yes' }],
  getEngine: [{}],
  preview: [undefined, {}, { doc: DOC, extra: 1 }],
  confirmTrial: [{ now: true }],
  revertTrial: [{ now: true }],
  explain: [
    {},
    { flow: { iface: 'eth0', uid: -1, family: 4, proto: 'tcp', dst: '1.2.3.4', dport: 80 } },
    { flow: { iface: 'eth0', uid: 1, family: 5, proto: 'tcp', dst: '1.2.3.4', dport: 80 } },
    { flow: { iface: 'eth0', uid: 1, family: 4, proto: 'sctp', dst: '1.2.3.4', dport: 80 } },
    { flow: { iface: 'eth0', uid: 1, family: 4, proto: 'tcp', dst: '1.2.3.4', dport: 70000 } },
  ],
  propose: [{ sinceMs: -5 }, { sinceMs: 1, all: true }, 'x'],
  listHistory: [{ n: 1 }],
  historyEntry: [undefined, {}, { n: 0 }, { n: 1.5 }, { n: '1' }],
};

function recordingHandlers(): { handlers: Handlers; calls: string[] } {
  const calls: string[] = [];
  const handlers = Object.fromEntries(
    OPERATIONS.map((op) => [
      op,
      async () => {
        calls.push(op);
        return { answered: op };
      },
    ]),
  ) as unknown as Handlers;
  return { handlers, calls };
}

function gateway(readOnly = false) {
  const { handlers, calls } = recordingHandlers();
  const g = createGateway(handlers, {
    isTrustedUrl: (url) => isSameOrigin(url, ORIGIN),
    readOnly: () => readOnly,
  });
  return { g, calls };
}

function errorCode(r: IpcResult<unknown>): string | undefined {
  return r.ok ? undefined : r.error.code;
}

describe('IPC gateway', () => {
  it('has a schema and test data for every operation', () => {
    expect(Object.keys(REQUEST_SCHEMAS).sort()).toEqual([...OPERATIONS].sort());
    expect(Object.keys(VALID).sort()).toEqual([...OPERATIONS].sort());
  });

  it.each(OPERATIONS)('%s: a valid request from our page reaches its handler', async (op) => {
    const { g, calls } = gateway();
    const r = await g.dispatch(op, OWN, VALID[op]);
    expect(r).toEqual({ ok: true, value: { answered: op } });
    expect(calls).toEqual([op]);
  });

  it.each(OPERATIONS)('%s: malformed requests are refused as bad-request', async (op) => {
    const { g, calls } = gateway();
    for (const req of MALFORMED[op]) {
      const r = await g.dispatch(op, OWN, req);
      expect(errorCode(r), JSON.stringify(req)).toBe('bad-request');
      if (!r.ok) expect(r.error.message).toContain(op);
    }
    expect(calls).toEqual([]);
  });

  it.each(OPERATIONS)('%s: oversized requests are refused before parsing', async (op) => {
    const { g, calls } = gateway();
    const big = 'x'.repeat(LIMITS.policyBytes + 1);
    const small = 'x'.repeat(LIMITS.smallBytes + 1);
    const oversized = LARGE_REQUESTS.has(op)
      ? [{ padding: big }, { doc: { ...DOC, endpoints: [{ ...DOC.endpoints[0], name: big }] } }]
      : [{ padding: small }, small, { doc: DOC, padding: small }];
    for (const req of oversized) {
      expect(errorCode(await g.dispatch(op, OWN, req))).toBe('too-large');
    }
    expect(calls).toEqual([]);
  });

  it('a policy of close to 1 MiB is accepted where policies go', async () => {
    const { g, calls } = gateway();
    const endpoints = Array.from({ length: 700 }, (_, i) => ({
      name: `ep${i}`,
      iface: ['eth0'],
      range: Array.from({ length: 60 }, (_, j) => `10.${i % 250}.${j}.0/24`),
      allow: ['root'],
    }));
    const req = { doc: { endpoints, interfaces: {}, logging: {} }, expectEpoch: null };
    expect(JSON.stringify(req).length).toBeGreaterThan(LIMITS.policyBytes / 2);
    expect((await g.dispatch('apply', OWN, req)).ok).toBe(true);
    expect(calls).toEqual(['apply']);
  });

  it.each(OPERATIONS)('%s: foreign senders are refused', async (op) => {
    const { g, calls } = gateway();
    const foreign: SenderInfo[] = [
      { url: 'https://example.com/', isMainFrame: true },
      { url: 'app://net-tc-filter.evil/index.html', isMainFrame: true },
      { url: 'file:///work/main/dist/renderer/index.html', isMainFrame: true },
      { url: `${ORIGIN}/index.html`, isMainFrame: false }, // an iframe of our own origin
      { url: undefined, isMainFrame: true }, // frame gone
      { url: 'not a url', isMainFrame: true },
      { url: 'about:blank', isMainFrame: true },
    ];
    for (const s of foreign)
      expect(errorCode(await g.dispatch(op, s, VALID[op])), s.url).toBe('forbidden-sender');
    expect(calls).toEqual([]);
  });

  it('unknown operations are refused', async () => {
    const { g, calls } = gateway();
    for (const op of ['__proto__', 'constructor', 'toString', 'ntf:apply', 'runAsRoot', '']) {
      expect(errorCode(await g.dispatch(op, OWN, undefined))).toBe('unknown-operation');
    }
    expect(calls).toEqual([]);
  });

  it('read-only mode refuses the operations that change the kernel, and only those', async () => {
    const { g, calls } = gateway(true);
    const changing = ['apply', 'stopFiltering', 'confirmTrial', 'revertTrial'] as const;
    for (const op of changing) expect(errorCode(await g.dispatch(op, OWN, VALID[op])), op).toBe('read-only');
    for (const op of OPERATIONS.filter((o) => !(changing as readonly string[]).includes(o))) {
      expect((await g.dispatch(op, OWN, VALID[op])).ok, op).toBe(true);
    }
    for (const op of changing) expect(calls).not.toContain(op);
  });

  it('handler errors come back typed; unexpected throws as "failed"', async () => {
    const { handlers } = recordingHandlers();
    handlers.apply = async () => {
      throw new HandlerError('invalid-policy', 'bad', [
        { severity: 'error', message: 'm', path: ['endpoints', 0] },
      ]);
    };
    handlers.getStatus = async () => {
      throw new Error('EPERM');
    };
    const g = createGateway(handlers, { isTrustedUrl: () => true, readOnly: () => false });
    expect(await g.dispatch('apply', OWN, VALID.apply)).toEqual({
      ok: false,
      error: {
        code: 'invalid-policy',
        message: 'bad',
        diagnostics: [{ severity: 'error', message: 'm', path: ['endpoints', 0] }],
      },
    });
    expect(await g.dispatch('getStatus', OWN, undefined)).toEqual({
      ok: false,
      error: { code: 'failed', message: 'getStatus: EPERM' },
    });
  });
});
