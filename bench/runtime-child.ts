// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Program run time per packet (kernel.bpf_stats_enabled must be on). One engine; each round
// applies every configuration in turn (rotated per round, so drift hits them alike) and sends,
// as alice, an established flow and then a burst of new flows in each family. The empty
// program, attached by the parent behind ours (prio 2), runs on exactly the packets ours
// passes: its run time per packet is the floor (the hook plus bpf_stats' own clock reads).
// Prints one JSON object.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine } from '../electron/engine/engine.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';
import { TestCgroups } from '../tests/kernel/cgroups.js';
import {
  ALICE,
  benchAccounts,
  mainDst,
  NEW_FLOW_ADDRS,
  pairsDsts,
  pairsMainDst,
  pairsPolicyYaml,
  pairsUsers,
  policyYaml,
  progRunStats,
  resolveBench,
  spreadDsts,
  writeAddrFile,
} from './lib.js';

export interface RuntimeArgs {
  flood: string;
  dir: string;
  pinDir: string;
  emptyId: number;
  rounds: number;
  estSeconds: number;
  newFlowPackets: number;
  configs: RuntimeConfig[];
  /** The cgroup (below the cgroup v2 root) that `cgroup` cells send from, made by the parent. */
  cgroup?: { tag: string; path: string };
  passwd: string;
  group: string;
}

/** n ranges × users; `cgroup`: alice allowed as `cgroup:PATH as alice`, sending from that
 * cgroup; `when`: the endpoint open now through a `when:` window (OPEN_WINDOW); `pairs`: n
 * (range, user) pairs, n / users ranges of their own per user (bench/lib.ts pairsPolicyYaml),
 * one family per policy, each measured under its own. */
export interface RuntimeConfig {
  n: number;
  users: number;
  kind?: 'cgroup' | 'when' | 'pairs';
}

export const configKey = (c: RuntimeConfig) => `${c.n}x${c.users}${c.kind ? `-${c.kind}` : ''}`;

export interface RuntimeSample {
  n: number;
  users: number;
  kind?: RuntimeConfig['kind'];
  family: 4 | 6;
  /** ns per packet: ours and the empty program behind it, established flow and new flows. */
  est: number;
  estEmpty: number;
  fresh: number;
  freshEmpty: number;
  estPackets: number;
  freshPackets: number;
  /** Flow-cache hits counted by the program during each part (proof of the path taken). */
  estHits: number;
  freshHits: number;
}

const a = JSON.parse(process.argv[2] ?? '{}') as RuntimeArgs;
const db = benchAccounts(a);

const cgroups = a.cgroup && new TestCgroups(a.cgroup.tag);

/** Open now and for two days either side, closed on one day of the week: a window the compiler
 * keeps (an all-week one grants like no window at all), so the verdicts are timed. */
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const today = (new Date().getDay() + 6) % 7; // Monday 0, local time as the policy reads it
const OPEN_WINDOW = `${DAYS[(today + 4) % 7]}-${DAYS[(today + 2) % 7]} 00:00-24:00`;

function policy(c: RuntimeConfig, family: 4 | 6): ResolvedPolicy {
  if (c.kind === 'pairs')
    return resolveBench(pairsPolicyYaml(family, pairsUsers(c.users), c.n / c.users), db);
  const matchers =
    c.kind === 'cgroup'
      ? { alice: `cgroup:${a.cgroup?.path} as alice` }
      : c.kind === 'when'
        ? { when: OPEN_WINDOW }
        : {};
  return resolveBench(policyYaml(c.n, c.users, [4, 6], false, matchers), db);
}

/** alice's udpflood; in a `cgroup` cell started inside the bench's cgroup. */
let inCgroup = false;
function flood(args: string[]): number {
  const argv = [
    'setpriv',
    `--reuid=${ALICE}`,
    `--regid=${ALICE}`,
    '--clear-groups',
    a.flood,
    '-s',
    '64',
    ...args,
  ];
  const [cmd, ...rest] = inCgroup && cgroups && a.cgroup ? cgroups.enter(a.cgroup.path, argv) : argv;
  const out = execFileSync(cmd as string, rest, { encoding: 'utf8', timeout: 70_000 });
  return Number(out.trim().split(' ')[1]);
}

// New flows: every packet goes to another (address, port); ports move on between bursts so no
// flow of an earlier burst is ever seen again.
const portsPerBurst = Math.ceil(a.newFlowPackets / NEW_FLOW_ADDRS);
let nextPort = 1024;
function newFlows(file: string, packets: number): number {
  if (nextPort + portsPerBurst + 1 > 65535) nextPort = 1024; // long since evicted from the LRU
  const p = nextPort;
  nextPort += Math.ceil(packets / NEW_FLOW_ADDRS);
  return flood(['-n', String(packets), '-t', '30', '-a', file, '-p', String(p), '-P', String(nextPort - p)]);
}

// One policy for both families, or (pairs) one per family.
const policyKey = (c: RuntimeConfig, family: 4 | 6) =>
  `${configKey(c)}${c.kind === 'pairs' ? `-v${family}` : ''}`;
const policies = new Map<string, ResolvedPolicy>();
for (const c of a.configs)
  for (const f of c.kind === 'pairs' ? ([4, 6] as const) : ([4] as const))
    policies.set(policyKey(c, f), policy(c, f));
const policyOf = (c: RuntimeConfig, family: 4 | 6) => policies.get(policyKey(c, family)) as ResolvedPolicy;
const dstOf = (c: RuntimeConfig, family: 4 | 6) =>
  c.kind === 'pairs' ? pairsMainDst(family, c.n / c.users) : mainDst(family, c.n);
const files = new Map<string, string>();
const fileKey = (c: RuntimeConfig, family: 4 | 6) => `${family}-${c.n}${c.kind === 'pairs' ? '-pairs' : ''}`;
for (const c of a.configs) {
  for (const f of [4, 6] as const) {
    const key = fileKey(c, f);
    if (!files.has(key))
      files.set(
        key,
        writeAddrFile(
          join(a.dir, `dsts-${key}.txt`),
          c.kind === 'pairs' ? pairsDsts(f, c.n / c.users) : spreadDsts(f, c.n),
        ),
      );
  }
}

const e = Engine.open({ pinDir: a.pinDir });
const samples: RuntimeSample[] = [];
try {
  const first = a.configs[0];
  if (!first) throw new Error('no configurations');
  e.apply(policyOf(first, 4));
  // Fill the flow LRU once, so every new-flow burst runs in the same state: each insert evicts.
  newFlows(files.get(fileKey(first, 4)) as string, 70_000);

  for (let r = 0; r < a.rounds; r++) {
    const order = a.configs.map((_, i) => a.configs[(i + r) % a.configs.length] as RuntimeConfig);
    for (const c of order) {
      if (c.kind !== 'pairs') e.apply(policyOf(c, 4));
      inCgroup = c.kind === 'cgroup';
      for (const family of r % 2 ? ([6, 4] as const) : ([4, 6] as const)) {
        if (c.kind === 'pairs') e.apply(policyOf(c, family));
        const dst = dstOf(c, family);
        flood(['-t', '0.1', dst]); // the flow's entry under this policy, and the neighbour
        const hits0 = e.counters().flow_cache_hits;
        const s0 = progRunStats(e.programId);
        const z0 = progRunStats(a.emptyId);
        flood(['-t', String(a.estSeconds), dst]);
        const s1 = progRunStats(e.programId);
        const z1 = progRunStats(a.emptyId);
        const hits1 = e.counters().flow_cache_hits;
        newFlows(files.get(fileKey(c, family)) as string, a.newFlowPackets);
        const s2 = progRunStats(e.programId);
        const z2 = progRunStats(a.emptyId);
        const hits2 = e.counters().flow_cache_hits;
        const per = (x: { ns: number; runs: number }, y: { ns: number; runs: number }) =>
          (y.ns - x.ns) / Math.max(1, y.runs - x.runs);
        samples.push({
          n: c.n,
          users: c.users,
          ...(c.kind ? { kind: c.kind } : {}),
          family,
          est: per(s0, s1),
          estEmpty: per(z0, z1),
          fresh: per(s1, s2),
          freshEmpty: per(z1, z2),
          estPackets: s1.runs - s0.runs,
          freshPackets: s2.runs - s1.runs,
          estHits: Number(hits1 - hits0),
          freshHits: Number(hits2 - hits1),
        });
      }
    }
  }
} finally {
  e.close({ unload: true });
}
process.stdout.write(`${JSON.stringify(samples)}\n`);
