// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import type { ObservedFlow } from '../../../electron/engine/observations.js';
import { referenceEvaluate } from '../../../electron/policy/evaluate.js';
import type { Decision } from '../../../electron/policy/evaluate.js';
import { loadPolicyText } from '../../../electron/policy/load.js';
import { proposePolicy } from '../../../electron/policy/propose.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';
import { parsePasswd } from '../../../electron/policy/resolve.js';
import { parsePolicy } from '../../../electron/policy/yaml.js';
import { formatAddr } from '../../../electron/policy/addr.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import type { ResolvedPolicy } from '../../../electron/policy/types.js';
import type { CgroupTree } from '../../../electron/policy/cgroups.js';
import { systemUnitOf } from '../../../electron/policy/units.js';
import { Rng } from './random.js';

const PASSWD = [
  'root:x:0:0::/:/bin/sh',
  'alice:x:1000:1000::/:/bin/sh',
  'bob:x:1001:1001::/:/bin/sh',
  '',
].join('\n');
const ACCOUNTS = parsePasswd(PASSWD);
/** A cgroup tree of its own for unit:/cgroup: entries: two system units (one with a worker
 * cgroup below it) and a user's session, ids by path. */
const CG_PATHS = [
  '/',
  '/system.slice',
  '/system.slice/backup.service',
  '/system.slice/backup.service/worker',
  '/system.slice/web.service',
  '/user.slice',
  '/user.slice/user-1000.slice',
  '/user.slice/user-1000.slice/session-2.scope',
];
const cgNode = (path: string) =>
  CG_PATHS.includes(path)
    ? { path, id: 100 + CG_PATHS.indexOf(path), level: path === '/' ? 0 : path.split('/').length - 1 }
    : undefined;
const TREE: CgroupTree = {
  root: '/test-cgroup',
  path: cgNode,
  unit: (name) =>
    name === 'backup.service' || name === 'web.service' ? cgNode(`/system.slice/${name}`) : undefined,
  slices: () => ['/', '/system.slice'],
};
/** A socket's cgroup and its ancestors' ids, as the kernel matches them. */
function cgChain(path: string | null | undefined): number[] | undefined {
  if (!path) return undefined;
  const parts = path === '/' ? [] : path.split('/').slice(1);
  return [cgNode('/')!.id, ...parts.map((_, i) => cgNode(`/${parts.slice(0, i + 1).join('/')}`)!.id)];
}

function db(): AccountDb {
  return {
    users: new Map(ACCOUNTS.users),
    uidToName: new Map(ACCOUNTS.uidToName),
    groups: new Map([['admins', { gid: 2000, members: ['alice'] }]]),
    cgroups: () => TREE,
  };
}
const nameOf = (uid: number) => ACCOUNTS.uidToName.get(uid);
const NOW = Date.UTC(2025, 4, 1, 12, 0, 0);

function flow(over: Partial<ObservedFlow>): ObservedFlow {
  return {
    iface: 'eth0',
    uid: 1000,
    family: 4,
    proto: 'udp',
    dst: '192.0.2.53',
    dport: 53,
    sport: 40000,
    verdict: 'would-drop',
    reason: 'default-deny',
    packets: 1,
    bytes: 60,
    firstSeen: NOW - 3_600_000,
    lastSeen: NOW - 60_000,
    ...over,
  };
}

function resolve(text: string) {
  const r = loadPolicyText(text, 'policy.yml', db());
  if (!r.resolved) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.resolved;
}

describe('proposePolicy', () => {
  it('keeps the policy and its comments, and adds exact endpoints with counts', () => {
    const text = `# Metadata service: only alice.
endpoints:
  - imds:
      iface: [eth0]
      range: [169.254.169.254/32]
      allow: [alice] # the deploy account

interfaces:
  eth0:
    mode: audit # watch first
  eth1: { default: allow }
`;
    const observed = [
      flow({ uid: 1001, dst: '169.254.169.254', proto: 'tcp', dport: 80, reason: 'not-listed', packets: 3 }),
      flow({ packets: 4 }),
      flow({ uid: 1234, packets: 2 }),
      flow({
        iface: 'wlan0',
        dst: '169.254.169.254',
        proto: 'tcp',
        dport: 80,
        verdict: 'drop',
        reason: 'iface-not-listed',
      }),
      flow({ uid: null, dst: '169.254.169.254', reason: 'unowned-deny' }),
      flow({ dst: '169.254.169.254', proto: 'tcp', dport: 80, reason: 'not-listed' }),
    ];
    const r = proposePolicy({
      text,
      resolved: resolve(text),
      observed,
      userName: nameOf,
      now: NOW,
    });
    expect(r.yaml).toBe(EXPECTED);
    expect(r.added).toBe(6);
    expect(r.granted).toBe(4);
    expect(r.skipped.map((x) => [x.flow.uid, x.flow.dst, x.why])).toEqual([
      [
        null,
        '169.254.169.254',
        expect.stringMatching(/^no local socket \(forwarded\): only "unowned: allow"/),
      ],
      [1000, '169.254.169.254', 'the current policy allows it already (it changed since)'],
    ]);
    // It is a valid policy, and says what it was told to.
    expect(parsePolicy(r.yaml, 'proposed.yml').diagnostics).toEqual([]);
  });

  it('adds nothing when nothing was observed, and the policy stays as it was', () => {
    const text =
      'endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [alice]\n';
    const r = proposePolicy({
      text,
      resolved: resolve(text),
      observed: [],
      userName: () => undefined,
      now: NOW,
    });
    expect(r).toMatchObject({ yaml: text, added: 0, granted: 0, skipped: [] });
  });

  it('names a uid without an account by number, and keeps "@group" entries', () => {
    const text =
      'endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [@admins]\n';
    const r = proposePolicy({
      text,
      resolved: resolve(text),
      observed: [flow({ uid: 4242, dst: '169.254.169.254', reason: 'not-listed' })],
      userName: () => undefined,
      now: NOW,
    });
    expect(r.yaml).toContain(
      '  - observed-eth0-uid4242:\n      iface: [eth0]\n      range:\n        - 169.254.169.254/32 #',
    );
    expect(r.yaml).toContain('      allow: [4242]\n');
    expect(r.yaml).not.toContain('Newly guarded');
    expect(r.yaml).toContain("      allow: ['@admins']\n");
    expect(loadPolicyText(r.yaml, 'proposed.yml', db()).resolved?.endpoints.map((e) => e.uids)).toEqual([
      [1000],
      [4242],
    ]);
  });
});

describe('proposePolicy: traffic from system units', () => {
  const text =
    'endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [alice]\n';
  const BACKUP = '/system.slice/backup.service';
  const imds = { dst: '169.254.169.254', proto: 'tcp', dport: 80, reason: 'not-listed' } as const;
  const propose = (observed: ObservedFlow[]) => {
    const r = proposePolicy({ text, resolved: resolve(text), observed, userName: nameOf, now: NOW });
    return { r, after: loadPolicyText(r.yaml, 'proposed.yml', db()).resolved! };
  };
  const verdict = (p: ResolvedPolicy, uid: number, cgroup: string | null) =>
    classOf(referenceEvaluate(p, ifindexOf, packet('eth0', uid, '169.254.169.254', cgroup)));

  it('grants a unit as its non-root account, root as the unit alone; the account elsewhere gains nothing', () => {
    const { r, after } = propose([
      flow({ ...imds, uid: 1001, cgroup: `${BACKUP}/worker`, unit: 'backup.service' }),
      flow({ ...imds, uid: 0, cgroup: '/system.slice/web.service', unit: 'web.service', dport: 443 }),
    ]);
    expect(r.yaml).toContain(
      '  - observed-eth0-backup.service-bob:\n      iface: [eth0]\n      range:\n        - 169.254.169.254/32 #',
    );
    expect(r.yaml).toContain('      allow: [unit:backup.service as bob]\n');
    expect(r.yaml).toContain('  - observed-eth0-web.service:\n');
    expect(r.yaml).toContain('      allow: [unit:web.service]\n');
    expect(r.yaml).toContain(
      'Traffic sent from a system unit is granted to the unit, not to the whole account',
    );
    expect(r).toMatchObject({ added: 2, granted: 2 });
    // bob from the unit (its cgroup or below), not from elsewhere; the unit as alice neither.
    expect(verdict(after, 1001, `${BACKUP}/worker`)).toBe('allowed');
    expect(verdict(after, 1001, BACKUP)).toBe('allowed');
    expect(verdict(after, 1001, '/user.slice/user-1000.slice/session-2.scope')).toBe('drop');
    expect(verdict(after, 1001, null)).toBe('drop');
    expect(verdict(after, 1000 + 234, BACKUP)).toBe('drop');
    // root's unit: every account in it.
    expect(verdict(after, 1234, '/system.slice/web.service')).toBe('allowed');
    expect(verdict(after, 0, BACKUP)).toBe('drop');
  });

  it("a user's session is no unit: the account is granted; a unit entry that takes it already is said", () => {
    const withUnit = text.replace('[alice]', "[alice, 'unit:backup.service']");
    const session = flow({
      ...imds,
      uid: 1001,
      cgroup: '/user.slice/user-1000.slice/session-2.scope',
      unit: 'session-2.scope',
    });
    const { r } = propose([session]);
    expect(r.yaml).toContain('      allow: [bob]\n');
    const allowed = proposePolicy({
      text: withUnit,
      resolved: resolve(withUnit),
      observed: [flow({ ...imds, uid: 1001, cgroup: BACKUP, unit: 'backup.service' })],
      userName: nameOf,
      now: NOW,
    });
    expect(allowed.skipped.map((x) => x.why)).toEqual([
      'the current policy allows it already (it changed since)',
    ]);
    expect(allowed.yaml).toContain('#   eth0 bob (backup.service) → 169.254.169.254 tcp/80:');
  });
});

const EXPECTED = `# Metadata service: only alice.
endpoints:
  - imds:
      iface: [eth0]
      range: [169.254.169.254/32]
      allow: [alice] # the deploy account

  # Proposed by "net-tc-filter propose" at 2025-05-01T12:00:00Z from 6 observed flows (dropped or
  # would-drop): 6 endpoints added so that the 4 interface/user/address combinations seen would be
  # allowed. Exact addresses only; nothing the policy above allows is taken away, except as said
  # here. Review it, then apply it in audit mode or as a trial (apply --confirm SECONDS).
  # Newly guarded: 192.0.2.53/32. A guarded address is guarded on every interface: through an
  # interface no endpoint names (also one that appears later) nobody may reach it any more; on
  # eth1, wlan0 (default: allow) it stays open (the last endpoints).
  - observed-eth0-alice:
      iface: [eth0]
      range:
        - 192.0.2.53/32 # 4 would-drop packets, last seen 2025-05-01T11:59:00Z; udp/53; default-deny
      allow: [alice]

  - observed-eth0-bob:
      iface: [eth0]
      range:
        - 169.254.169.254/32 # 3 would-drop packets, last seen 2025-05-01T11:59:00Z; tcp/80; not-listed
      allow: [bob]

  - observed-eth0-uid1234:
      iface: [eth0]
      range:
        - 192.0.2.53/32 # 2 would-drop packets, last seen 2025-05-01T11:59:00Z; udp/53; default-deny
      allow: [1234]

  - observed-wlan0-alice:
      iface: [wlan0]
      range:
        - 169.254.169.254/32 # 1 dropped packet, last seen 2025-05-01T11:59:00Z; tcp/80; iface-not-listed
      allow: [alice]

  # Keeps open on eth1 (default: allow) what the endpoints above guard for the first time: a
  # guarded address is guarded on every interface, so without this endpoint nobody could reach it
  # through eth1 any more. Forwarded packets (no local socket) to it through eth1, passed by
  # "default: allow" so far, are decided by its "unowned: deny" then: dropped.
  - observed-eth1-any:
      iface: [eth1]
      range:
        - 192.0.2.53/32 # guarded by observed-eth0-alice, observed-eth0-uid1234
      allow: ['*']

  # Keeps open on wlan0 (default: allow) what the endpoints above guard for the first time: a
  # guarded address is guarded on every interface, so without this endpoint nobody could reach it
  # through wlan0 any more. Forwarded packets (no local socket) to it through wlan0, passed by
  # "default: allow" so far, are decided by its "unowned: deny" then: dropped.
  - observed-wlan0-any:
      iface: [wlan0]
      range:
        - 192.0.2.53/32 # guarded by observed-eth0-alice, observed-eth0-uid1234
      allow: ['*']

interfaces:
  eth0:
    mode: audit # watch first
  eth1: {default: allow}
  # wlan0: no endpoint named it, so only the guarded ranges were checked there. Naming it in an
  # endpoint configures it, by default with "default: deny", which would drop all its other
  # traffic; "default: allow" and "unowned: deny" keep it as it was.
  wlan0:
    default: allow
    unowned: deny

# Not proposed: 2 observed flows.
#   eth0 (unowned) → 169.254.169.254 udp/53: 1 would-drop packet, last seen 2025-05-01T11:59:00Z:
#     no local socket (forwarded): only "unowned: allow" on eth0 would let it through, and with
#     it every forwarded packet to every guarded range there
#   eth0 alice → 169.254.169.254 tcp/80: 1 would-drop packet, last seen 2025-05-01T11:59:00Z:
#     the current policy allows it already (it changed since)
`;

// ---- property: random policies and observations, checked with the evaluator ----

/** eth0–eth2 may be configured; eth8 and eth9 never are (eth9 also has observed traffic). */
const IFINDEX: Record<string, number> = { eth0: 1, eth1: 2, eth2: 3, eth8: 8, eth9: 9 };
const IFNAMES = Object.keys(IFINDEX);
const ifindexOf = (n: string) => IFINDEX[n];
/** root, alice, bob, and a uid without an account. */
const UIDS = [0, 1000, 1001, 1234] as const;
const ALLOW_TEXT = ['root', 'alice', 'bob', '1234', "'*'"] as const;

function randomAddr(rng: Rng, family: 4 | 6): string {
  return family === 4 ? `10.0.0.${rng.int(0, 15)}` : `2001:db8::${rng.int(0, 15).toString(16)}`;
}

function randomRangeText(rng: Rng): string {
  const family: 4 | 6 = rng.chance(0.7) ? 4 : 6;
  const prefix = family === 4 ? rng.int(28, 32) : rng.int(124, 128);
  const a = randomAddr(rng, family);
  // host bits cleared, so that no warning is printed
  const r = parseRangeText(`${a}/${prefix}`).range!;
  return `${formatAddr(family, r.addr)}/${prefix}`;
}

/** unit:/cgroup: entries the policies of the unit property may list. */
const CGROUP_ALLOW_TEXT = [
  "'unit:backup.service'",
  "'unit:web.service as alice'",
  "'cgroup:/system.slice/backup.service/worker as bob'",
  "'unit:backup.service as root'",
] as const;
/** Where the unit property's senders are: no cgroup known, the root, two system units (one
 * deeper than its unit), a user's session. */
const SENDER_CGROUPS = [
  null,
  '/',
  '/system.slice/backup.service',
  '/system.slice/backup.service/worker',
  '/system.slice/web.service',
  '/user.slice/user-1000.slice/session-2.scope',
] as const;

function randomPolicyText(rng: Rng, units = false): string {
  const lines = ['# random policy', 'endpoints:'];
  const n = rng.int(1, 4);
  for (let i = 1; i <= n; i++) {
    const allow = [...rng.subset(ALLOW_TEXT, 1, 2), ...(units ? rng.subset(CGROUP_ALLOW_TEXT, 0, 2) : [])];
    lines.push(
      `  - ep${i}: # endpoint ${i}`,
      `      iface: [${rng.subset(['eth0', 'eth1', 'eth2'], 1, 2).join(', ')}]`,
      `      range: [${Array.from({ length: rng.int(1, 3) }, () => randomRangeText(rng)).join(', ')}]`,
      `      allow: [${allow.join(', ')}]`,
    );
  }
  const settings: string[] = [];
  const auditAll = rng.chance(0.3);
  for (const name of ['eth0', 'eth1', 'eth2']) {
    if (!rng.chance(0.6)) continue;
    const kv = [
      `default: ${rng.chance(0.5) ? 'allow' : 'deny'}`,
      `unowned: ${rng.chance(0.3) ? 'allow' : 'deny'}`,
      ...(auditAll || rng.chance(0.3) ? ['mode: audit'] : []),
    ];
    settings.push(`  ${name}: { ${kv.join(', ')} }`);
  }
  if (settings.length > 0) lines.push('interfaces:', ...settings);
  return `${lines.join('\n')}\n`;
}

type Class = 'allowed' | 'drop' | 'would-drop';
function classOf(d: Decision): Class {
  return d.verdict === 'allow' || d.verdict === 'pass' ? 'allowed' : d.verdict;
}

function packet(iface: string, uid: number | null, dst: string, cgroup?: string | null) {
  const r = parseRangeText(dst).range!;
  const cgroups = uid === null ? undefined : cgChain(cgroup);
  return { ifindex: IFINDEX[iface]!, family: r.family, daddr: r.addr, uid, ...(cgroups ? { cgroups } : {}) };
}

/** The system unit's cgroup path a sender's cgroup is in (what propose grants), or ''. */
function unitPathOf(cgroup: string | null | undefined): string {
  const u = systemUnitOf(cgroup);
  if (u === null || !cgroup) return '';
  const parts = cgroup.split('/');
  return parts.slice(0, parts.indexOf(u) + 1).join('/');
}

function guardedBy(p: ResolvedPolicy, dst: string): boolean {
  const r = parseRangeText(dst).range!;
  return p.endpoints.some((e) =>
    e.ranges.some((x) => {
      if (x.family !== r.family) return false;
      for (let i = 0; i < x.prefix; i++) {
        const bit = (a: Uint8Array) => ((a[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
        if (bit(x.addr) !== bit(r.addr)) return false;
      }
      return true;
    }),
  );
}

describe('proposePolicy: property', () => {
  const BASE_SEED = Number(process.env['NTF_PROPERTY_SEED'] ?? 0x9a0b);
  const POLICIES = 300;
  const SAMPLES = 300;

  /** Random policies and observations; with `units`, unit:/cgroup: entries in the policies and
   * senders in cgroups (flows from a system unit are granted to the unit). */
  function property(units: boolean): {
    granted: number;
    unitGrants: number;
    newlyGuarded: number;
    skips: string[];
  } {
    let grantedTotal = 0;
    let unitGrantsTotal = 0;
    let newlyGuardedTotal = 0;
    const skipReasons = new Set<string>();
    for (let n = 0; n < POLICIES; n++) {
      const seed = (BASE_SEED + n + (units ? 0x10000 : 0)) >>> 0;
      const rng = new Rng(seed);
      const text = randomPolicyText(rng, units);
      const before = resolve(text);
      const where = `seed ${seed} (replay: NTF_PROPERTY_SEED=${seed - (units ? 0x10000 : 0)})\n${text}`;

      const observed: ObservedFlow[] = [];
      const tries = rng.int(1, 10);
      for (let i = 0; i < tries; i++) {
        const iface = rng.pick(['eth0', 'eth1', 'eth2', 'eth9']);
        const uid = rng.chance(0.1) ? null : rng.pick(UIDS);
        const family: 4 | 6 = rng.chance(0.7) ? 4 : 6;
        const dst = randomAddr(rng, family);
        const cgroup = units && uid !== null ? rng.pick(SENDER_CGROUPS) : null;
        const d = referenceEvaluate(before, ifindexOf, packet(iface, uid, dst, cgroup));
        // Mostly what the kernel would have reported; sometimes a flow the policy allows by now.
        if (classOf(d) === 'allowed' && !rng.chance(0.1)) continue;
        observed.push(
          flow({
            iface,
            uid,
            family,
            dst,
            proto: rng.pick(['tcp', 'udp']),
            dport: rng.pick([53, 80, 443]),
            verdict: d.verdict === 'would-drop' ? 'would-drop' : 'drop',
            reason: rng.chance(0.05) ? 'routing-header' : d.reason,
            packets: rng.int(1, 100),
            ...(units ? { cgroup, unit: systemUnitOf(cgroup) } : {}),
          }),
        );
      }

      const r = proposePolicy({
        text,
        resolved: before,
        observed,
        userName: nameOf,
        now: NOW,
      });
      const loaded = loadPolicyText(r.yaml, 'proposed.yml', db());
      expect(
        loaded.diagnostics.filter((d) => d.severity === 'error'),
        `${where}\n${r.yaml}`,
      ).toEqual([]);
      const after = loaded.resolved!;
      // Comments and endpoints of the policy are kept.
      expect(r.yaml.startsWith('# random policy\nendpoints:\n'), where).toBe(true);
      for (const e of before.endpoints) {
        expect(r.yaml, where).toContain(`  - ${e.name}:`);
        expect(r.yaml, where).toContain(`# endpoint ${e.id}\n`);
      }

      const skipped = new Set(r.skipped.map((s) => s.flow));
      /** Grants to an account: iface|uid|dst. */
      const grantKeys = new Set<string>();
      /** Grants to a unit: iface|unit path|dst|uid, and iface|unit path|dst for root's (no `as`). */
      const unitKeys = new Set<string>();
      const plainUnitKeys = new Set<string>();
      const grants = new Set<string>();
      for (const f of observed) {
        const dAfter = referenceEvaluate(after, ifindexOf, packet(f.iface, f.uid, f.dst, f.cgroup));
        if (skipped.has(f)) {
          const why = r.skipped.find((s) => s.flow === f)!.why;
          skipReasons.add(why.split(':')[0]!.split(' (')[0]!);
          if (f.uid === null || f.reason === 'routing-header') continue;
          // Skipped only because the policy allows it already.
          expect(
            classOf(referenceEvaluate(before, ifindexOf, packet(f.iface, f.uid, f.dst, f.cgroup))),
            where,
          ).toBe('allowed');
          continue;
        }
        expect(f.uid, where).not.toBeNull();
        expect(
          classOf(dAfter),
          `${f.iface} uid ${f.uid} (${f.cgroup}) → ${f.dst}: ${dAfter.reason}\n${where}\n${r.yaml}`,
        ).toBe('allowed');
        const unit = unitPathOf(f.cgroup);
        grants.add(`${f.iface}|${f.uid}|${unit}|${f.dst}`);
        if (unit === '') grantKeys.add(`${f.iface}|${f.uid}|${f.dst}`);
        else {
          unitKeys.add(`${f.iface}|${unit}|${f.dst}|${f.uid}`);
          if (f.uid === 0) plainUnitKeys.add(`${f.iface}|${unit}|${f.dst}`);
        }
      }
      expect(r.granted, where).toBe(grants.size);
      grantedTotal += grants.size;
      unitGrantsTotal += unitKeys.size;

      // Addresses guarded for the first time, and the interfaces configured after.
      const grantedAddrs = new Set([...grants].map((k) => k.split('|')[3]!));
      const newlyGuarded = new Set([...grantedAddrs].filter((a) => !guardedBy(before, a)));
      newlyGuarded.forEach((a) => expect(guardedBy(after, a), where).toBe(true));
      newlyGuardedTotal += newlyGuarded.size;

      const addrs = [...grantedAddrs, ...observed.map((f) => f.dst)];
      for (let i = 0; i < SAMPLES; i++) {
        const iface = rng.pick(IFNAMES);
        const uid = rng.chance(0.15) ? null : rng.pick(UIDS);
        const family: 4 | 6 = rng.chance(0.7) ? 4 : 6;
        const dst = addrs.length > 0 && rng.chance(0.6) ? rng.pick(addrs) : randomAddr(rng, family);
        const cgroup = units && uid !== null ? rng.pick(SENDER_CGROUPS) : null;
        const was = classOf(referenceEvaluate(before, ifindexOf, packet(iface, uid, dst, cgroup)));
        const now = classOf(referenceEvaluate(after, ifindexOf, packet(iface, uid, dst, cgroup)));
        if (was === now) continue;
        const what = `${iface} uid ${uid} (${cgroup}) → ${dst}: ${was} → ${now}\n${where}\n${r.yaml}`;
        if (now === 'allowed') {
          // Only the observed flows become allowed: the account's, or the unit's (as that
          // account; root's: any account in the unit).
          const unit = unitPathOf(cgroup);
          const byUnit =
            unit !== '' &&
            (unitKeys.has(`${iface}|${unit}|${dst}|${uid}`) || plainUnitKeys.has(`${iface}|${unit}|${dst}`));
          expect(grantKeys.has(`${iface}|${uid}|${dst}`) || byUnit, what).toBe(true);
          continue;
        }
        // What the proposal takes away, as its comments say: a newly guarded address on an
        // interface no endpoint names, or forwarded packets to it where `unowned: deny` decides.
        expect(was, what).toBe('allowed');
        expect(newlyGuarded.has(dst), what).toBe(true);
        const s = after.interfaces.get(iface);
        expect(s === undefined || (uid === null && s.default === 'allow' && s.unowned === 'deny'), what).toBe(
          true,
        );
      }
    }
    return {
      granted: grantedTotal,
      unitGrants: unitGrantsTotal,
      newlyGuarded: newlyGuardedTotal,
      skips: [...skipReasons].sort(),
    };
  }

  const SKIPS = [
    'judged by an address in its IPv6 routing header',
    'no local socket',
    'the current policy allows it already',
  ];

  it(`allows every observed flow and changes nothing else (${POLICIES} policies × ${SAMPLES} packets)`, () => {
    const r = property(false);
    // The generator reaches every case.
    expect(r.granted).toBeGreaterThan(POLICIES);
    expect(r.newlyGuarded).toBeGreaterThan(POLICIES / 10);
    expect(r.skips).toEqual(SKIPS);
  });

  it(`with senders in cgroups: a system unit's traffic is granted to the unit, nothing else changes (${POLICIES} × ${SAMPLES})`, () => {
    const r = property(true);
    expect(r.granted).toBeGreaterThan(POLICIES);
    expect(r.unitGrants).toBeGreaterThan(POLICIES / 2);
    expect(r.newlyGuarded).toBeGreaterThan(POLICIES / 10);
    expect(r.skips).toEqual(SKIPS);
  });
});
