// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI, main process, worker). No Electron import.
//
// The policy the kernel enforces, as explain, check --impact and propose start from (the CLI's
// and the desktop app's): the history's entry for the kernel's effective epoch, resolved against
// today's accounts. And the one composition of what propose works from: that policy, the kept
// observations merged with the live flow table, through policy/propose.ts.
import type { EngineStatus } from './status.js';
import { enforcedPolicy } from './history.js';
import type { HistoryEntry } from './history.js';
import type { FlowRow } from './flows.js';
import type { ObservedFlow, Observations } from './observations.js';
import { diagnosticText } from '../policy/diagnostics.js';
import { hasErrors, loadPolicyText } from '../policy/load.js';
import { plural, proposePolicy } from '../policy/propose.js';
import type { ProposeResult } from '../policy/propose.js';
import { userName } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import type { ResolvedPolicy } from '../policy/types.js';

export interface EnforcedLoad {
  resolved?: ResolvedPolicy;
  epoch?: number;
  /** The policy's text and its history entry. */
  text?: string;
  entry?: HistoryEntry;
  /** Why the enforced policy is not known (nothing loaded, no history, or it no longer resolves). */
  problem?: string;
}

/** What loadEnforcedPolicy needs of readStatus's answer (an engine owner has it at hand). */
export type EnforcedRef = Pick<EngineStatus, 'pinDir' | 'loaded' | 'epoch' | 'stateId'>;

/** How an epoch is named in the problem and source texts: the CLI says "epoch 7", the desktop
 * app "policy 7". */
export type EpochLabel = (epoch: number) => string;
const EPOCH: EpochLabel = (n) => `epoch ${n}`;

/** The enforced policy (the history's entry for the kernel's effective epoch), resolved
 * against today's accounts. `s`: readStatus of the pin directory (or the same facts). */
export function loadEnforcedPolicy(s: EnforcedRef, db: AccountDb, label: EpochLabel = EPOCH): EnforcedLoad {
  if (!s.loaded || s.epoch === undefined || s.stateId === undefined)
    return { problem: `the enforced policy is not known (nothing is loaded at ${s.pinDir})` };
  const found = enforcedPolicy(s.pinDir, s.stateId, s.epoch);
  if (!found) return { problem: `the enforced policy is not known (no history of ${label(s.epoch)})` };
  const where = `the enforced policy (${label(s.epoch)})`;
  const r = loadPolicyText(found.text, where, db);
  if (hasErrors(r.diagnostics) || !r.resolved) {
    const first = r.diagnostics.find((d) => d.severity === 'error');
    return { problem: `${where} no longer resolves: ${first ? diagnosticText(first) : 'unknown error'}` };
  }
  return { resolved: r.resolved, epoch: s.epoch, text: found.text, entry: found.entry };
}

export interface ProposeFrom {
  /** loadEnforcedPolicy's answer with a policy (resolved and text). */
  enforced: { resolved: ResolvedPolicy; text: string };
  /** What was kept (the host's, or a copy loaded from the state directory). */
  observations: Observations;
  /** The live flow table: merged in as deltas (Observations.observe knows the counters it saw
   * last), so nothing is counted twice. */
  flows: readonly FlowRow[];
  db: AccountDb;
  /** Only flows last seen within this many ms; undefined: all kept. */
  sinceMs?: number;
  now?: number;
}

/** The proposal from the enforced policy and what was observed, with its one-line summary. */
export function proposeFrom(p: ProposeFrom): {
  result: ProposeResult;
  observed: ObservedFlow[];
  summary: string;
} {
  p.observations.observe([...p.flows]);
  const now = p.now ?? Date.now();
  const observed = p.observations.entries({
    now,
    ...(p.sinceMs !== undefined ? { sinceMs: p.sinceMs } : {}),
  });
  const result = proposePolicy({
    text: p.enforced.text,
    resolved: p.enforced.resolved,
    observed,
    userName: (uid) => userName(p.db, uid),
    now,
  });
  const summary =
    `${plural(observed.length, 'observed flow')} → ${plural(result.added, 'endpoint')} added, ` +
    `${result.skipped.length} skipped`;
  return { result, observed, summary };
}
