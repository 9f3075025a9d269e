// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Program run time per packet on an interface no endpoint names (kernel.bpf_stats_enabled must
// be on). The policy names only ntf0 (default allow) and guards n ranges of each family there
// plus one range of each family on ntf1's subnet; the engine attaches the program to every
// interface, and on ntf1 it runs with the settings of ifindex 0 (NTF_IFINDEX_ANY). Traffic, as
// alice, per family:
//   unnamed-unguarded  ntf1 → its peer (203.0.113.1, 2001:db8:3::1): settings miss, ifindex 0's
//                      settings, parse, one trie lookup, pass — uncounted
//   unnamed-guarded    ntf1 → the guarded range on ntf1's subnet: the full decision (dropped,
//                      iface-not-listed; flow entry; events within the sender's budget)
//   named-allow        ntf0 → its peer (192.0.2.1, 2001:db8:1::1), unguarded, default allow:
//                      an established flow (flow-cache hit)
//   named-guarded      ntf0 → inside a guarded range, alice allowed: an established flow
// Each round measures these without net-tc-filter (an empty policy: the engine detaches from
// every interface, only the empty programs run) and under the policy for each n, the phases
// rotated per round. The empty program sits at prio 2 on ntf0 and ntf1 (the parent attaches
// it); behind ours it runs on the packets ours passes. Prints one JSON object.
import { execFileSync } from 'node:child_process';
import { Engine } from '../electron/engine/engine.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';
import type { Counters } from '../native-bridge/layouts.js';
import {
  ALICE,
  benchAccounts,
  GUARD_NTF1,
  mainDst,
  progRunStats,
  ranges,
  resolveBench,
  userList,
} from './lib.js';

export type Traffic = 'unnamed-unguarded' | 'unnamed-guarded' | 'named-allow' | 'named-guarded';
export const TRAFFIC: readonly Traffic[] = [
  'unnamed-unguarded',
  'unnamed-guarded',
  'named-allow',
  'named-guarded',
];

export interface GuardArgs {
  flood: string;
  pinDir: string;
  /** The empty program's id on each link (attached by the parent at prio 2). */
  emptyIds: { ntf0: number; ntf1: number };
  rounds: number;
  seconds: number;
  /** Guarded ranges of each family on ntf0 (each phase). */
  ns: number[];
  users: number;
  passwd: string;
  group: string;
}

/** Counter growth during one measurement. */
export type CounterDelta = Record<
  | 'allowed_packets'
  | 'dropped_packets'
  | 'flow_cache_hits'
  | 'flows_created'
  | 'events_sent'
  | 'events_suppressed'
  | 'events_lost'
  | 'nonip_packets'
  | 'unowned_packets'
  | 'essential_packets',
  number
>;

export interface GuardSample {
  round: number;
  /** 0: no net-tc-filter (empty policy, engine detached); otherwise the ranges of each family. */
  n: number;
  family: 4 | 6;
  traffic: Traffic;
  /** Datagrams the sender got through. */
  sent: number;
  /** Our program: run time and runs during the measurement (all interfaces it is attached to). */
  oursNs: number;
  oursRuns: number;
  /** The empty program on the link the traffic leaves by. */
  emptyNs: number;
  emptyRuns: number;
  counters: CounterDelta;
}

const a = JSON.parse(process.argv[2] ?? '{}') as GuardArgs;
const db = benchAccounts(a);

function policyYaml(n: number): string {
  const rs = [...ranges(4, n), ...ranges(6, n), GUARD_NTF1.v4.range, GUARD_NTF1.v6.range];
  return `endpoints:
  - bench:
      iface: [ntf0]
      range: [${rs.join(', ')}]
      allow: [${userList(a.users)
        .map((u) => `"${u}"`)
        .join(', ')}]
interfaces:
  ntf0: { default: allow }
logging:
  allowed: off
`;
}

function dst(t: Traffic, family: 4 | 6, n: number): { link: 'ntf0' | 'ntf1'; addr: string } {
  const v = family === 4 ? 'v4' : 'v6';
  switch (t) {
    case 'unnamed-unguarded':
      return { link: 'ntf1', addr: family === 4 ? '203.0.113.1' : '2001:db8:3::1' };
    case 'unnamed-guarded':
      return { link: 'ntf1', addr: GUARD_NTF1[v].addr };
    case 'named-allow':
      return { link: 'ntf0', addr: family === 4 ? '192.0.2.1' : '2001:db8:1::1' };
    case 'named-guarded':
      return { link: 'ntf0', addr: mainDst(family, Math.max(1, n)) };
  }
}

function flood(args: string[]): number {
  const out = execFileSync(
    'setpriv',
    [`--reuid=${ALICE}`, `--regid=${ALICE}`, '--clear-groups', a.flood, '-s', '64', ...args],
    { encoding: 'utf8', timeout: 70_000 },
  );
  return Number(out.trim().split(' ')[1]);
}

function delta(c0: Counters, c1: Counters): CounterDelta {
  const d = (k: keyof CounterDelta) => Number(c1[k] - c0[k]);
  return {
    allowed_packets: d('allowed_packets'),
    dropped_packets: d('dropped_packets'),
    flow_cache_hits: d('flow_cache_hits'),
    flows_created: d('flows_created'),
    events_sent: d('events_sent'),
    events_suppressed: d('events_suppressed'),
    events_lost: d('events_lost'),
    nonip_packets: d('nonip_packets'),
    unowned_packets: d('unowned_packets'),
    essential_packets: d('essential_packets'),
  };
}

/** Our filter's program id on a link, from tc (undefined: not attached). */
function attachedIds(link: string): number[] {
  const f = JSON.parse(
    execFileSync('tc', ['-j', 'filter', 'show', 'dev', link, 'egress'], { encoding: 'utf8' }),
  ) as Array<{
    options?: { prog?: { id?: number } };
  }>;
  return f.flatMap((x) => (x.options?.prog?.id ? [x.options.prog.id] : []));
}

// No endpoint, no interface: the engine detaches from every interface (checked below with tc).
// The YAML cannot say this (an empty endpoint list is refused); the engine's API can.
const none: ResolvedPolicy = { endpoints: [], interfaces: new Map(), logAllowed: 'off' };
const policies = new Map(a.ns.map((n) => [n, resolveBench(policyYaml(n), db)]));
const e = Engine.open({ pinDir: a.pinDir }); // the default event budget: what an admin runs
const samples: GuardSample[] = [];
const attached: Record<string, string[]> = {};
try {
  const phases = [0, ...a.ns];
  for (let r = 0; r < a.rounds; r++) {
    for (let i = 0; i < phases.length; i++) {
      const n = phases[(i + r) % phases.length] as number;
      e.apply(n === 0 ? none : (policies.get(n) as ResolvedPolicy));
      // What is attached where, as tc reports it (proof of the phase: ours on both links or none).
      for (const link of ['ntf0', 'ntf1']) {
        const ours = attachedIds(link).includes(e.programId);
        if (ours !== (n !== 0))
          throw new Error(`phase ${n}: our program ${ours ? 'is' : 'is not'} on ${link}`);
      }
      if (r === 0) attached[String(n)] = e.attachments().map((x) => x.name);
      for (const family of r % 2 ? ([6, 4] as const) : ([4, 6] as const)) {
        for (let j = 0; j < TRAFFIC.length; j++) {
          const t = TRAFFIC[(j + r) % TRAFFIC.length] as Traffic;
          const { link, addr } = dst(t, family, n);
          const emptyId = a.emptyIds[link];
          flood(['-t', '0.1', addr]); // the neighbour, and the flow's entry under this policy
          e.drainRaw(1 << 20); // nobody else reads the ring here: keep it from filling
          const c0 = e.counters();
          const s0 = progRunStats(e.programId);
          const z0 = progRunStats(emptyId);
          const sent = flood(['-t', String(a.seconds), addr]);
          const s1 = progRunStats(e.programId);
          const z1 = progRunStats(emptyId);
          const c1 = e.counters();
          e.drainRaw(1 << 20);
          samples.push({
            round: r,
            n,
            family,
            traffic: t,
            sent,
            oursNs: s1.runs > s0.runs ? (s1.ns - s0.ns) / (s1.runs - s0.runs) : NaN,
            oursRuns: s1.runs - s0.runs,
            emptyNs: z1.runs > z0.runs ? (z1.ns - z0.ns) / (z1.runs - z0.runs) : NaN,
            emptyRuns: z1.runs - z0.runs,
            counters: delta(c0, c1),
          });
        }
      }
    }
  }
} finally {
  e.close({ unload: true });
}
process.stdout.write(`${JSON.stringify({ samples, attached })}\n`);
