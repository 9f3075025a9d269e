// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure). Derived state, memoised on the identity of its inputs.
import type { DocPath, FieldDiagnostic, PolicyDoc } from '../../../electron/policy/doc.js';
import { docToPolicy } from '../../../electron/policy/doc.js';
import { adviseOn, type Advice } from '../logic/advice.js';
import { diffPolicy, type PolicyDiff } from '../logic/diff.js';
import type { Store } from './types.js';

function memo1<A extends object, R>(fn: (a: A) => R): (a: A) => R {
  const cache = new WeakMap<A, R>();
  return (a) => {
    let r = cache.get(a);
    if (r === undefined) {
      r = fn(a);
      cache.set(a, r);
    }
    return r;
  };
}

/** docToPolicy's diagnostics for the draft. */
export const validateDraft = memo1((draft: PolicyDoc): FieldDiagnostic[] => docToPolicy(draft).diagnostics);

export const adviceFor = memo1((draft: PolicyDoc): Advice[] => adviseOn(draft));

let diffMemo: { base: PolicyDoc | null; draft: PolicyDoc; diff: PolicyDiff } | null = null;

export function selectDiff(s: Pick<Store, 'enforced' | 'draft'>): PolicyDiff {
  const base = s.enforced?.doc ?? null;
  if (diffMemo && diffMemo.base === base && diffMemo.draft === s.draft) return diffMemo.diff;
  const diff = diffPolicy(base, s.draft);
  diffMemo = { base, draft: s.draft, diff };
  return diff;
}

let diagMemo: { local: FieldDiagnostic[]; server: FieldDiagnostic[]; all: FieldDiagnostic[] } | null = null;

/** The draft's own diagnostics plus those the main process returned for the last apply. */
export function selectDiagnostics(s: Pick<Store, 'draft' | 'serverDiagnostics'>): FieldDiagnostic[] {
  const local = validateDraft(s.draft);
  const server = s.serverDiagnostics;
  if (diagMemo && diagMemo.local === local && diagMemo.server === server) return diagMemo.all;
  const seen = new Set(local.map((d) => `${d.path.join('\u0000')}\u0001${d.message}`));
  const all = [...local, ...server.filter((d) => !seen.has(`${d.path.join('\u0000')}\u0001${d.message}`))];
  diagMemo = { local, server, all };
  return all;
}

export function selectErrorCount(s: Pick<Store, 'draft' | 'serverDiagnostics'>): number {
  return selectDiagnostics(s).filter((d) => d.severity === 'error').length;
}

/** Why Apply is disabled now (empty: it is enabled). */
export function applyBlockers(s: Store): string[] {
  const why: string[] = [];
  if (s.appState?.mode !== 'enforcing')
    why.push(s.appState ? 'Read-only mode: this window cannot change the filter.' : 'Connecting…');
  if (s.applying) why.push('Applying…');
  const errors = selectErrorCount(s);
  if (errors) why.push(`Fix ${errors} error${errors === 1 ? '' : 's'} first.`);
  const typed = Object.keys(s.inputErrors).length;
  if (typed) why.push('Correct or clear the invalid value typed in the editor.');
  return why;
}

export function canApply(s: Store): boolean {
  return applyBlockers(s).length === 0;
}

/** The first error or warning message located exactly at `path`. */
export function diagnosticAt(
  diags: FieldDiagnostic[],
  path: DocPath,
  severity: 'error' | 'warning',
): string | undefined {
  return diags.find(
    (d) => d.severity === severity && d.path.length === path.length && d.path.every((p, i) => p === path[i]),
  )?.message;
}

/** Whether any error is located at or under `prefix`. */
export function hasErrorUnder(diags: FieldDiagnostic[], prefix: DocPath): boolean {
  return diags.some((d) => d.severity === 'error' && prefix.every((p, i) => d.path[i] === p));
}
