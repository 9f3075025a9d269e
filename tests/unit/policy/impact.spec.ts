// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Impact preview: which recorded flows change, in which order, in which words.
import { describe, expect, it } from 'vitest';
import { parseProcNetTcp } from '../../../electron/engine/listening.js';
import { flowPacket, impactJson, impactOf, impactText } from '../../../electron/policy/impact.js';
import type { ImpactFlow, ImpactInput } from '../../../electron/policy/impact.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import type { InterfaceSettings, ResolvedEndpoint, ResolvedPolicy } from '../../../electron/policy/types.js';

const ALICE = 1000;
const BOB = 1001;
const NAMES = new Map<number, string>([
  [0, 'root'],
  [ALICE, 'alice'],
  [BOB, 'bob'],
]);
const IFINDEX: Record<string, number> = { eth0: 2, eth1: 3 };

function endpoint(
  id: number,
  name: string,
  ifaces: string[],
  ranges: string[],
  uids: number[],
): ResolvedEndpoint {
  return {
    id,
    name,
    ifaces,
    ranges: ranges.map((r) => parseRangeText(r).range ?? (undefined as never)),
    uids,
    any: false,
  };
}

function policy(
  endpoints: ResolvedEndpoint[],
  ifaces: Record<string, Partial<InterfaceSettings>>,
): ResolvedPolicy {
  const interfaces = new Map<string, InterfaceSettings>();
  const full = (s: Partial<InterfaceSettings> = {}): InterfaceSettings => ({
    default: 'deny',
    unowned: 'deny',
    essentials: true,
    mode: 'enforce',
    ...s,
  });
  for (const e of endpoints) for (const i of e.ifaces) interfaces.set(i, full(ifaces[i]));
  for (const [i, s] of Object.entries(ifaces)) interfaces.set(i, full(s));
  return { endpoints, interfaces, logAllowed: 'sample' };
}

const T0 = Date.UTC(2026, 11, 1, 22, 0, 0);

function flow(over: Partial<ImpactFlow> & { dst: string }): ImpactFlow {
  return {
    ifindex: 2,
    iface: 'eth0',
    uid: ALICE,
    family: over.dst.includes(':') ? 6 : 4,
    proto: 'udp',
    dport: 7,
    sport: 40000,
    allowedPackets: 0,
    allowedBytes: 0,
    droppedPackets: 0,
    droppedBytes: 0,
    wouldDropPackets: 0,
    wouldDropBytes: 0,
    lastSeen: T0,
    verdict: 'allow',
    reason: 'default-allow',
    endpointId: 0,
    cgroupId: 0,
    cgroup: null,
    unit: null,
    ...over,
  };
}

// Now: eth0 default allow, the metadata service for alice only.
const IMDS = endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32'], [ALICE]);
const CURRENT = policy([IMDS], { eth0: { default: 'allow' } });

function input(over: Partial<ImpactInput>): ImpactInput {
  return {
    flows: [],
    next: CURRENT,
    current: CURRENT,
    ifindexOf: (n) => IFINDEX[n],
    listening: new Map(),
    nameOf: (uid) => (uid === null ? '(unowned)' : (NAMES.get(uid) ?? String(uid))),
    ...over,
  };
}

const FLOWS: ImpactFlow[] = [
  // alice to the metadata service: allowed by imds now.
  flow({
    dst: '169.254.169.254',
    dport: 80,
    proto: 'tcp',
    allowedPackets: 10,
    allowedBytes: 1500,
    endpointId: 1,
    reason: 'endpoint',
  }),
  // bob to the metadata service: dropped now.
  flow({
    dst: '169.254.169.254',
    uid: BOB,
    dport: 80,
    proto: 'tcp',
    droppedPackets: 3,
    droppedBytes: 180,
    verdict: 'drop',
    reason: 'not-listed',
  }),
  // bob elsewhere: allowed by default.
  flow({ dst: '192.0.2.1', uid: BOB, allowedPackets: 2, allowedBytes: 9000, lastSeen: T0 + 1000 }),
  // replies of sshd (root's socket, source port 22) to the admin's laptop.
  flow({
    dst: '10.0.0.2',
    uid: 0,
    proto: 'tcp',
    dport: 51234,
    sport: 22,
    allowedPackets: 50,
    allowedBytes: 7000,
  }),
  // forwarded traffic, IPv6.
  flow({ dst: '2001:db8::1', uid: null, allowedPackets: 1, allowedBytes: 100, reason: 'default-allow' }),
];

describe('impactOf', () => {
  it('lists nothing when FILE decides every flow as now', () => {
    const r = impactOf(input({ flows: FLOWS }));
    expect(r).toEqual({ evaluated: 5, baseline: 'enforced', changed: [] });
    expect(impactText(r, 'same.yml', 'the enforced policy (epoch 3)')).toBe(
      'same.yml against 5 recorded flow(s); now: the enforced policy (epoch 3).\n' +
        'No recorded flow changes its verdict under same.yml.\n',
    );
  });

  it('lists exactly the flows whose verdict changes, biggest first, with a warning for sshd replies', () => {
    // FILE: default deny on eth0, the metadata service for bob instead of alice.
    const next = policy([endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32'], [BOB])], {});
    const r = impactOf(input({ flows: FLOWS, next, listening: new Map([[22, 'sshd']]) }));
    expect(
      r.changed.map((c) => `${c.user} ${c.dst} ${c.before.verdict}→${c.after.verdict} ${c.after.reason}`),
    ).toEqual([
      'bob 192.0.2.1 allow→drop default-deny',
      'root 10.0.0.2 allow→drop default-deny',
      'alice 169.254.169.254 allow→drop not-listed',
      'bob 169.254.169.254 drop→allow endpoint',
      '(unowned) 2001:db8::1 allow→drop unowned-deny',
    ]);
    expect(r.changed[1]?.server).toEqual({ port: 22, command: 'sshd' });
    expect(impactText(r, 'next.yml', 'the enforced policy (epoch 3)')).toBe(
      [
        'next.yml against 5 recorded flow(s); now: the enforced policy (epoch 3).',
        '5 flow(s) change, biggest first:',
        'IFACE    USER           PROTO  DESTINATION                      PACKETS        BYTES  LAST SEEN     NOW → WITH FILE',
        'eth0     bob            udp    192.0.2.1:7                            2         9000  22:00:01.000  allow (default-allow) → DROP (default-deny)',
        'eth0     root           tcp    10.0.0.2:51234                        50         7000  22:00:00.000  allow (default-allow) → DROP (default-deny)',
        'eth0     alice          tcp    169.254.169.254:80                    10         1500  22:00:00.000  allow (endpoint imds) → DROP (not-listed)',
        'eth0     bob            tcp    169.254.169.254:80                     3          180  22:00:00.000  DROP (not-listed) → allow (endpoint imds)',
        'eth0     (unowned)      udp    [2001:db8::1]:7                        1          100  22:00:00.000  allow (default-allow) → DROP (unowned-deny)',
        'WARNING: replies of the service listening on TCP port 22 (sshd) to 10.0.0.2 on eth0 would be DROPPED: this may be your own SSH session',
        '',
      ].join('\n'),
    );
    const j = impactJson(r, 'next.yml');
    expect(j).toMatchObject({ config: 'next.yml', baseline: 'enforced', evaluated: 5 });
    expect((j.changed as unknown[])[1]).toEqual({
      iface: 'eth0',
      uid: 0,
      user: 'root',
      family: 4,
      proto: 'tcp',
      dst: '10.0.0.2',
      dport: 51234,
      sport: 22,
      packets: 50,
      bytes: 7000,
      lastSeen: '2026-12-01T22:00:00.000Z',
      before: { verdict: 'allow', reason: 'default-allow', endpointId: 0, endpoint: null },
      after: { verdict: 'drop', reason: 'default-deny', endpointId: 0, endpoint: null },
      server: { port: 22, command: 'sshd' },
      warning:
        'WARNING: replies of the service listening on TCP port 22 (sshd) to 10.0.0.2 on eth0 would be DROPPED: this may be your own SSH session',
    });
  });

  it('words audit: allow → would-drop, would-drop → allow, and would-drop → drop when audit ends', () => {
    const audit = policy([IMDS], { eth0: { mode: 'audit' } });
    const enforce = policy([IMDS], {});
    const flows = [
      flow({ dst: '192.0.2.1', uid: BOB, allowedPackets: 4, allowedBytes: 400 }),
      flow({
        dst: '10.0.0.2',
        uid: 0,
        proto: 'tcp',
        dport: 40001,
        sport: 8080,
        allowedPackets: 1,
        allowedBytes: 60,
      }),
    ];
    const toAudit = impactOf(input({ flows, next: audit, listening: new Map([[8080, undefined]]) }));
    expect(toAudit.changed.map((c) => `${c.before.verdict}→${c.after.verdict}`)).toEqual([
      'allow→would-drop',
      'allow→would-drop',
    ]);
    expect(toAudit.changed[1]?.warning).toBe(
      'NOTE: replies of the service listening on TCP port 8080 to 10.0.0.2 on eth0 would be reported as WOULD-DROP (audit mode: they still pass; enforcing would cut them off)',
    );
    const back = impactOf(input({ flows, current: audit, next: CURRENT }));
    expect(back.changed.map((c) => `${c.before.verdict}→${c.after.verdict}`)).toEqual([
      'would-drop→allow',
      'would-drop→allow',
    ]);
    const enforcing = impactOf(
      input({ flows, current: audit, next: enforce, listening: new Map([[8080, 'node']]) }),
    );
    expect(enforcing.changed.map((c) => `${c.before.verdict}→${c.after.verdict}`)).toEqual([
      'would-drop→drop',
      'would-drop→drop',
    ]);
    expect(enforcing.changed[1]?.warning).toBe(
      'WARNING: replies of the service listening on TCP port 8080 (node) to 10.0.0.2 on eth0 would be DROPPED: clients connected from 10.0.0.2 would lose the connection',
    );
  });

  it('guesses sshd on port 22 when the listener is not known; no warning for UDP or other ports', () => {
    const next = policy([IMDS], {});
    const flows = [
      flow({ dst: '10.0.0.2', uid: 0, proto: 'tcp', dport: 50000, sport: 22, allowedPackets: 2 }),
      flow({ dst: '10.0.0.3', uid: 0, proto: 'udp', dport: 50000, sport: 22, allowedPackets: 1 }),
      flow({ dst: '10.0.0.4', uid: 0, proto: 'tcp', dport: 50000, sport: 2222, allowedPackets: 1 }),
    ];
    const r = impactOf(input({ flows, next, listening: new Map([[22, undefined]]) }));
    expect(r.changed.map((c) => c.warning ?? null)).toEqual([
      'WARNING: replies of the service listening on TCP port 22 (sshd?) to 10.0.0.2 on eth0 would be DROPPED: this may be your own SSH session',
      null,
      null,
    ]);
  });

  it('compares with the recorded verdicts when the enforced policy is not known', () => {
    const stale = flow({ dst: '192.0.2.1', verdict: 'drop', reason: 'default-deny', droppedPackets: 1 });
    const r = impactOf(input({ flows: [stale], current: undefined }));
    expect(r.baseline).toBe('recorded');
    expect(r.changed).toHaveLength(1);
    expect(r.changed[0]?.before).toEqual({
      verdict: 'drop',
      reason: 'default-deny',
      endpointId: 0,
      endpoint: null,
    });
    expect(r.changed[0]?.after).toEqual({
      verdict: 'allow',
      reason: 'default-allow',
      endpointId: 0,
      endpoint: null,
    });
  });

  it('treats an untouched pass (interface no endpoint names, unguarded) as an allow', () => {
    const f = flow({ dst: '192.0.2.1', ifindex: 9, iface: 'wlan0', allowedPackets: 1 });
    expect(impactOf(input({ flows: [f] })).changed).toEqual([]);
  });

  it('refuses a flow whose destination is not an address of its family', () => {
    expect(() => flowPacket(flow({ dst: '192.0.2.1', family: 6 }))).toThrow(
      'flow on eth0: destination 192.0.2.1 is not an IPv6 address',
    );
    expect(() => flowPacket(flow({ dst: 'nonsense' }))).toThrow('flow on eth0: invalid destination nonsense');
  });
});

describe('parseProcNetTcp', () => {
  it('returns the listening sockets (state 0A) with port and inode, IPv4 and IPv6 alike', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1607 1 0 100 0 0 10 0',
      '   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 100 0 0 10 0',
      '   2: 0202000A:0016 0200000A:C822 01 00000000:00000000 02:000A7C1B 00000000     0        0 3003 4 0 20 4 30 10 -1',
      'garbage',
      '',
    ].join('\n');
    expect(parseProcNetTcp(tcp)).toEqual([
      { port: 22, inode: 1607 },
      { port: 631, inode: 2001 },
    ]);
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0',
    ].join('\n');
    expect(parseProcNetTcp(tcp6)).toEqual([{ port: 8080, inode: 4242 }]);
  });
});

describe('impactOf with unit:/cgroup: entries', () => {
  // Next: imds also lets backup.service's processes (any account) reach the metadata service.
  const unitEntry = {
    text: 'unit:backup.service',
    kind: 'unit' as const,
    name: 'backup.service',
    now: { path: '/system.slice/backup.service', id: 55, level: 2 },
    uids: undefined,
  };
  const NEXT = policy([{ ...IMDS, cgroups: [unitEntry] }], { eth0: { default: 'allow' } });
  const fromUnit = flow({
    dst: '169.254.169.254',
    uid: 1001,
    dport: 80,
    proto: 'tcp',
    droppedPackets: 4,
    droppedBytes: 240,
    verdict: 'drop',
    reason: 'not-listed',
    cgroup: '/system.slice/backup.service',
    unit: 'backup.service',
  });
  const ids = (path: string) => (path === '/system.slice/backup.service' ? [1, 7, 55] : undefined);

  it("matches a flow's cgroup against the entries: newly allowed, named by its unit", () => {
    const r = impactOf(input({ flows: [fromUnit], next: NEXT, cgroupIds: ids }));
    expect(r.changed).toEqual([
      expect.objectContaining({
        uid: 1001,
        unit: 'backup.service',
        cgroup: '/system.slice/backup.service',
        before: expect.objectContaining({ verdict: 'drop' }),
        after: expect.objectContaining({ verdict: 'allow', endpoint: 'imds' }),
      }),
    ]);
  });

  it('without the cgroup ids no unit entry takes the flow (nothing changes)', () => {
    expect(impactOf(input({ flows: [fromUnit], next: NEXT })).changed).toEqual([]);
  });
});
