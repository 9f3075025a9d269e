// SPDX-License-Identifier: Apache-2.0
// Environment: unit tests. A stand-in for the preload's NetTcFilterApi: every operation answers
// from a handler the test sets, and every call is recorded. Not a model of the backend.
import { OPERATIONS } from '../../../electron/ipc/channels.js';
import type {
  AppState,
  Enforced,
  FlowWire,
  IpcError,
  IpcResult,
  NetTcFilterApi,
  Responses,
  TrafficBatch,
  TrafficRow,
} from '../../../electron/ipc/contract.js';

type Op = keyof NetTcFilterApi;
type Handler<K extends Op> = (req: unknown) => Promise<IpcResult<Responses[K]>> | IpcResult<Responses[K]>;

export const ok = <T>(value: T): IpcResult<T> => ({ ok: true, value });
export const fail = (code: IpcError['code'], message: string, diagnostics?: IpcError['diagnostics']) =>
  ({ ok: false, error: { code, message, ...(diagnostics ? { diagnostics } : {}) } }) as const;

export const ENFORCING: AppState = {
  mode: 'enforcing',
  uid: 1000,
  user: 'admin',
  caps: { CAP_BPF: true, CAP_NET_ADMIN: true, CAP_PERFMON: true },
  pinDir: '/sys/fs/bpf/net-tc-filter',
  policyFile: '/var/lib/net-tc-filter/policy.yml',
};

export const READ_ONLY: AppState = {
  ...ENFORCING,
  mode: 'read-only',
  caps: { CAP_BPF: false, CAP_NET_ADMIN: false, CAP_PERFMON: false },
  readOnly: {
    reason: 'capabilities',
    message: 'missing capabilities',
    howTo: 'pkexec net-tc-filter',
    missing: ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON'],
  },
};

export const ENFORCED: Enforced = {
  epoch: 7,
  appliedAt: 1,
  doc: {
    endpoints: [{ name: 'imds', iface: ['eth0'], range: ['169.254.169.254/32'], allow: ['svc-deploy'] }],
    interfaces: {},
    logging: {},
  },
};

export interface StandIn {
  api: NetTcFilterApi;
  calls: Array<{ op: Op; req: unknown }>;
  on<K extends Op>(op: K, h: Handler<K>): void;
  count(op: Op): number;
}

export function standInApi(): StandIn {
  const calls: StandIn['calls'] = [];
  const handlers: Partial<Record<Op, Handler<Op>>> = {
    getState: () => ok(ENFORCING),
    getEnforced: () => ok(structuredClone(ENFORCED)),
    listInterfaces: () =>
      ok([
        { name: 'lo', index: 1, state: 'unknown', up: true, loopback: true, linkType: 'loopback' },
        { name: 'eth0', index: 2, state: 'up', up: true, loopback: false, linkType: 'ether' },
      ]),
    listAccounts: () =>
      ok({
        users: [
          { name: 'root', uid: 0 },
          { name: 'svc-deploy', uid: 998 },
        ],
        groups: [{ name: 'admins', gid: 1500, members: [] }],
        truncated: false,
        humanUids: { min: 1000, max: 60000 },
      }),
  };
  const api = {} as Record<Op, (req?: unknown) => Promise<unknown>>;
  for (const op of OPERATIONS) {
    api[op] = async (req?: unknown) => {
      calls.push({ op, req });
      const h = handlers[op];
      if (!h) return fail('failed', `${op}: no stand-in handler`);
      return h(req);
    };
  }
  return {
    api: api as unknown as NetTcFilterApi,
    calls,
    on: (op, h) => {
      handlers[op] = h as unknown as Handler<Op>;
    },
    count: (op) => calls.filter((c) => c.op === op).length,
  };
}

let seq = 0;
/** A flow entry as the main process sends it (`over` replaces fields). */
export function flow(key: string, lastSeen: number, over: Partial<FlowWire> = {}): FlowWire {
  return {
    key,
    iface: 'eth0',
    uid: 1000,
    user: 'alice',
    family: 4,
    proto: 'tcp',
    dst: '192.0.2.1',
    dport: 443,
    sport: 40000,
    allowedPackets: 1,
    allowedBytes: 60,
    droppedPackets: 0,
    droppedBytes: 0,
    wouldDropPackets: 0,
    wouldDropBytes: 0,
    firstSeen: 0,
    lastSeen,
    verdict: 'allow',
    reason: 'default-allow',
    endpoint: null,
    unit: null,
    cgroup: null,
    ...over,
  };
}

export function row(over: Partial<TrafficRow> = {}): TrafficRow {
  seq++;
  return {
    seq,
    time: 1_700_000_000_000 + seq,
    iface: 'eth0',
    uid: 1000,
    user: 'alice',
    family: 4,
    proto: 'tcp',
    src: '10.0.0.5',
    sport: 40000,
    dst: '169.254.169.254',
    dport: 80,
    bytes: 60,
    verdict: 'allow',
    reason: 'endpoint',
    endpoint: 'imds',
    unit: null,
    cgroup: null,
    ...over,
  };
}

export function batch(n: number, over: Partial<TrafficBatch> = {}): TrafficBatch {
  return { seq: n, time: 1_700_000_000_000 + n * 1000, decisions: [], flows: [], counters: null, ...over };
}
