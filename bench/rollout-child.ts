// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// One cell of the rollout section: the established-flow cost per packet and the throughput of
// one variant. Each cell starts from nothing: it opens an engine (today's, or the one of an
// earlier tree built by lib.ts buildTreeAt(), with that tree's own program and policy code),
// applies the policy (for a trial, measures the run time, then applies it again with a deadline
// an hour away; for audit, measures the drop path, then applies it with ntf0 in audit mode), sends
// 0.1 s to resolve the neighbour and create the flow's entry, then:
//   run time    bpf_stats on (if the parent says it was off), Δrun_time_ns / Δrun_cnt of our
//               program over `estSeconds` of one flow, every packet a flow-cache hit
//   throughput  bpf_stats off again, `window` s of the same flow: delivered traffic as the
//               server end's rx_packets per second, dropped traffic as the sender's rate
// and unloads everything. Counters read around the run-time part show the path taken.
// Prints one JSON object (RolloutSample).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as EngineModule from '../electron/engine/engine.js';
import type * as LoadModule from '../electron/policy/load.js';
import type * as ResolveModule from '../electron/policy/resolve.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';
import type { Counters } from '../native-bridge/layouts.js';
import {
  ALICE,
  BOB,
  benchAccounts,
  mainDst,
  policyYaml,
  progRunStats,
  resolveBench,
  rxPackets,
} from './lib.js';

/** (a) / (a′): the program and engine before the issue; the others today's. */
export type RolloutVariant = 'old-allow' | 'allow' | 'trial' | 'audit' | 'drop' | 'old-drop';

export interface RolloutArgs {
  variant: RolloutVariant;
  /** The package root whose dist/ engine and policy code drive the cell. */
  root: string;
  /** Its tc program (undefined: the engine's default, today's build). */
  objectPath?: string;
  flood: string;
  pinDir: string;
  /** The server namespace (its ntf0p receives what ntf0 passes). */
  server: string;
  /** Ranges and users of the policy (IPv4 only). */
  n: number;
  users: number;
  estSeconds: number;
  window: number;
  /** Turn kernel.bpf_stats_enabled on for the run-time part only (it was off). */
  toggleStats: boolean;
  passwd: string;
  group: string;
}

export interface RolloutSample {
  variant: RolloutVariant;
  /** Our program: ns per packet and runs during the run-time part. */
  ns: number;
  runs: number;
  /** Throughput part: delivered packets/s (rx at the far end) and the sender's datagrams/s. */
  rxPps: number;
  sentPps: number;
  /** Counter growth during the run-time part. */
  hits: number;
  allowed: number;
  dropped: number;
  wouldDrop: number;
  /** Seconds left on the pending trial after the cell (null: no trial). */
  trialLeft: number | null;
  /** trial and audit cells: ns per packet of the same flow measured in the same cell just
   * before the trial / audit apply (no trial / enforce, i.e. b / b′), seconds apart. */
  beforeNs: number | null;
}

const a = JSON.parse(process.argv[2] ?? '{}') as RolloutArgs;
const OLD = a.variant === 'old-allow' || a.variant === 'old-drop';
const sender = a.variant === 'audit' || a.variant.endsWith('drop') ? BOB : ALICE;
const dst = mainDst(4, a.n);
const yaml = policyYaml(a.n, a.users, [4]);

const mod = <T>(p: string) => import(pathToFileURL(join(a.root, 'dist', p)).href) as Promise<T>;
const { Engine } = await mod<typeof EngineModule>('electron/engine/engine.js');

/** The policy as the cell's own tree reads it (an earlier tree has its own types and loader). */
async function resolved(): Promise<ResolvedPolicy> {
  if (!OLD) return resolveBench(yaml, benchAccounts(a));
  const load = await mod<typeof LoadModule>('electron/policy/load.js');
  const { loadAccountDb } = await mod<typeof ResolveModule>('electron/policy/resolve.js');
  const l = load.loadPolicyText(
    yaml,
    'bench.yml',
    loadAccountDb({ passwdFile: a.passwd, groupFile: a.group }),
  );
  if (load.hasErrors(l.diagnostics) || !l.resolved)
    throw new Error(`bench policy (${a.root}): ${l.diagnostics.map((d) => d.message).join('; ')}`);
  return l.resolved;
}

/** The same policy with every interface in audit mode. */
function audit(p: ResolvedPolicy): ResolvedPolicy {
  return {
    ...p,
    interfaces: new Map([...p.interfaces].map(([k, v]) => [k, { ...v, mode: 'audit' as const }])),
  };
}

function flood(args: string[]): { offered: number; sent: number } {
  const out = execFileSync(
    'setpriv',
    [`--reuid=${sender}`, `--regid=${sender}`, '--clear-groups', a.flood, '-s', '64', ...args],
    { encoding: 'utf8', timeout: 70_000 },
  );
  const [offered, sent] = out.trim().split(' ').map(Number);
  return { offered: offered ?? NaN, sent: sent ?? NaN };
}

const stats = (on: boolean) => {
  if (a.toggleStats) writeFileSync('/proc/sys/kernel/bpf_stats_enabled', on ? '1' : '0');
};

// An earlier tree's counters lack the fields added since (would-drop): read as 0.
const count = (c: Partial<Counters>, k: keyof Counters) => Number(c[k] ?? 0n);

const policy = await resolved();
const e = Engine.open({ pinDir: a.pinDir, ...(a.objectPath ? { objectPath: a.objectPath } : {}) });
/** Run time of the established flow: ns per packet, runs, and the counters around it. */
function measure(): { ns: number; runs: number; c0: Counters; c1: Counters } {
  flood(['-t', '0.1', dst]); // the neighbour, and the flow's entry under this policy
  e.drainRaw(1 << 20); // drops and would-drops are reported (within the budget): keep the ring empty
  stats(true);
  const c0 = e.counters();
  const s0 = progRunStats(e.programId);
  flood(['-t', String(a.estSeconds), dst]);
  const s1 = progRunStats(e.programId);
  const c1 = e.counters();
  stats(false);
  e.drainRaw(1 << 20);
  return {
    ns: s1.runs > s0.runs ? (s1.ns - s0.ns) / (s1.runs - s0.runs) : NaN,
    runs: s1.runs - s0.runs,
    c0,
    c1,
  };
}

let sample: RolloutSample;
try {
  e.apply(policy);
  let beforeNs: number | null = null;
  if (a.variant === 'trial') {
    beforeNs = measure().ns;
    e.apply(policy, { trialSeconds: 3600 });
    if (!e.trial() || e.trial()?.expired) throw new Error('trial: no pending trial after apply');
  } else if (a.variant === 'audit') {
    beforeNs = measure().ns;
    e.apply(audit(policy));
  }
  const { ns, runs, c0, c1 } = measure();
  const rx0 = rxPackets(a.server, 'ntf0p');
  const t = flood(['-t', String(a.window), dst]);
  const rx = rxPackets(a.server, 'ntf0p') - rx0;
  e.drainRaw(1 << 20);
  const d = (k: keyof Counters) => count(c1, k) - count(c0, k);
  const trial = OLD ? undefined : e.trial();
  sample = {
    variant: a.variant,
    ns,
    runs,
    rxPps: rx / a.window,
    sentPps: t.offered / a.window,
    hits: d('flow_cache_hits'),
    allowed: d('allowed_packets'),
    dropped: d('dropped_packets'),
    wouldDrop: d('would_drop_packets'),
    trialLeft: trial ? trial.secondsLeft : null,
    beforeNs,
  };
} finally {
  stats(false);
  e.close({ unload: true });
}
process.stdout.write(`${JSON.stringify(sample)}\n`);
