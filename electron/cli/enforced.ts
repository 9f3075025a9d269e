// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// The policy the kernel enforces, as explain, check --impact and propose start from: the
// history's entry for the kernel's effective epoch, resolved against today's accounts.
import type { EngineStatus } from '../engine/status.js';
import { enforcedPolicy } from '../engine/history.js';
import type { HistoryEntry } from '../engine/history.js';
import { hasErrors, loadPolicyText } from '../policy/load.js';
import type { AccountDb } from '../policy/resolve.js';
import type { ResolvedPolicy } from '../policy/types.js';
import { diagnosticText } from './format.js';

export interface EnforcedLoad {
  resolved?: ResolvedPolicy;
  epoch?: number;
  /** The policy's text and its history entry. */
  text?: string;
  entry?: HistoryEntry;
  /** Why the enforced policy is not known (nothing loaded, no history, or it no longer resolves). */
  problem?: string;
}

/** The enforced policy (the history's entry for the kernel's effective epoch), resolved
 * against today's accounts. `s`: readStatus of the pin directory. */
export function loadEnforcedPolicy(s: EngineStatus, db: AccountDb): EnforcedLoad {
  if (!s.loaded || s.epoch === undefined || s.stateId === undefined)
    return { problem: `the enforced policy is not known (nothing is loaded at ${s.pinDir})` };
  const found = enforcedPolicy(s.pinDir, s.stateId, s.epoch);
  if (!found) return { problem: `the enforced policy is not known (no history of epoch ${s.epoch})` };
  const where = `the enforced policy (epoch ${s.epoch})`;
  const r = loadPolicyText(found.text, where, db);
  if (hasErrors(r.diagnostics) || !r.resolved) {
    const first = r.diagnostics.find((d) => d.severity === 'error');
    return { problem: `${where} no longer resolves: ${first ? diagnosticText(first) : 'unknown error'}` };
  }
  return { resolved: r.resolved, epoch: s.epoch, text: found.text, entry: found.entry };
}
