// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure). Derived state, memoised on the identity of its inputs. The caches
// belong to the store instance (`memo`, created with the policy slice), so two stores (two
// windows, two tests) never evict or share each other's results.
import type { Accounts } from '../../../electron/ipc/contract.js';
import type { DocPath, EndpointDoc, FieldDiagnostic, PolicyDoc } from '../../../electron/policy/doc.js';
import { docToPolicy } from '../../../electron/policy/doc.js';
import { indexAccounts, searchAccounts, senderLabel } from '../logic/accounts.js';
import { adviseOn, unknownAccountErrors, type Advice } from '../logic/advice.js';
import { diffPolicy, type PolicyDiff } from '../logic/diff.js';
import type { Store } from './types.js';

/** One store's selector caches (never replaced; mutated only here). */
export interface SelectorMemo {
  docDiags: WeakMap<PolicyDoc, FieldDiagnostic[]>;
  advice: WeakMap<PolicyDoc, Advice[]>;
  diff: { base: PolicyDoc | null; draft: PolicyDoc; diff: PolicyDiff } | null;
  accounts: { draft: PolicyDoc; accounts: Accounts | null; diags: FieldDiagnostic[] } | null;
  diags: {
    doc: FieldDiagnostic[];
    acc: FieldDiagnostic[];
    server: FieldDiagnostic[];
    all: FieldDiagnostic[];
  } | null;
  visible: {
    all: FieldDiagnostic[];
    draft: PolicyDoc;
    fresh: ReadonlySet<EndpointDoc>;
    shown: FieldDiagnostic[];
  } | null;
}

export function createSelectorMemo(): SelectorMemo {
  return {
    docDiags: new WeakMap(),
    advice: new WeakMap(),
    diff: null,
    accounts: null,
    diags: null,
    visible: null,
  };
}

type Memo = { memo: SelectorMemo };

function cached<R>(map: WeakMap<PolicyDoc, R>, doc: PolicyDoc, fn: (d: PolicyDoc) => R): R {
  let r = map.get(doc);
  if (r === undefined) {
    r = fn(doc);
    map.set(doc, r);
  }
  return r;
}

/** docToPolicy's diagnostics for the draft: the document's own errors (what blocks Export). */
export function validateDraft(s: Pick<Store, 'draft'> & Memo): FieldDiagnostic[] {
  return cached(s.memo.docDiags, s.draft, (d) => docToPolicy(d).diagnostics);
}

/** The advice on the draft. Pass the store's state; a bare document is advised without a cache. */
export function adviceFor(s: Pick<Store, 'draft'> & Memo): Advice[] {
  return cached(s.memo.advice, s.draft, adviseOn);
}

export function selectDiff(s: Pick<Store, 'enforced' | 'draft'> & Memo): PolicyDiff {
  const base = s.enforced?.doc ?? null;
  const m = s.memo.diff;
  if (m && m.base === base && m.draft === s.draft) return m.diff;
  const diff = diffPolicy(base, s.draft);
  s.memo.diff = { base, draft: s.draft, diff };
  return diff;
}

function accountErrors(s: Pick<Store, 'draft' | 'accounts'> & Memo): FieldDiagnostic[] {
  const m = s.memo.accounts;
  if (m && m.draft === s.draft && m.accounts === s.accounts) return m.diags;
  const diags = unknownAccountErrors(s.draft, s.accounts);
  s.memo.accounts = { draft: s.draft, accounts: s.accounts, diags };
  return diags;
}

const key = (d: FieldDiagnostic) => `${d.path.join('\u0000')}\u0001${d.message}`;

/** Every problem of the draft: the document's own, users and groups this host does not have
 * (errors once the accounts are known, as Apply would refuse them), and what the main process
 * returned for the last apply. */
export function selectDiagnostics(
  s: Pick<Store, 'draft' | 'serverDiagnostics' | 'accounts'> & Memo,
): FieldDiagnostic[] {
  const doc = validateDraft(s);
  const acc = accountErrors(s);
  const server = s.serverDiagnostics;
  const m = s.memo.diags;
  if (m && m.doc === doc && m.acc === acc && m.server === server) return m.all;
  const seen = new Set(doc.map(key));
  const all: FieldDiagnostic[] = [...doc];
  for (const d of [...acc, ...server]) {
    const k = key(d);
    // The server's words for an unknown user are the same fact as ours: keep one.
    if (
      seen.has(k) ||
      (d.severity === 'error' && all.some((x) => samePath(x.path, d.path) && x.severity === 'error'))
    )
      continue;
    seen.add(k);
    all.push(d);
  }
  s.memo.diags = { doc, acc, server, all };
  return all;
}

/** The diagnostics the editor shows: those of a new endpoint nobody typed into yet are held back
 * (they still block Apply) until it is edited or an apply is attempted. */
export function selectShownDiagnostics(
  s: Pick<Store, 'draft' | 'serverDiagnostics' | 'accounts' | 'freshEndpoints'> & Memo,
): FieldDiagnostic[] {
  const all = selectDiagnostics(s);
  const m = s.memo.visible;
  if (m && m.all === all && m.draft === s.draft && m.fresh === s.freshEndpoints) return m.shown;
  const hidden = new Set<number>();
  s.draft.endpoints.forEach((e, i) => {
    if (s.freshEndpoints.has(e)) hidden.add(i);
  });
  const shown = hidden.size
    ? all.filter(
        (d) => !(d.path[0] === 'endpoints' && typeof d.path[1] === 'number' && hidden.has(d.path[1])),
      )
    : all;
  s.memo.visible = { all, draft: s.draft, fresh: s.freshEndpoints, shown };
  return shown;
}

export function selectErrorCount(s: Pick<Store, 'draft' | 'serverDiagnostics' | 'accounts'> & Memo): number {
  return selectDiagnostics(s).filter((d) => d.severity === 'error').length;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Why Apply is disabled now (empty: it is enabled). */
export function applyBlockers(s: Store): string[] {
  const why: string[] = [];
  if (s.appState?.mode !== 'enforcing')
    why.push(s.appState ? 'Read-only mode: this window cannot change the filter.' : 'Connecting…');
  if (s.applying) why.push('Applying…');
  const all = selectDiagnostics(s).filter((d) => d.severity === 'error');
  const shown = new Set(selectShownDiagnostics(s));
  const unknown = new Set(accountErrors(s));
  const names = [...new Set(all.filter((d) => unknown.has(d)).map((d) => allowTextAt(s.draft, d.path)))];
  if (names.length)
    why.push(
      `Not on this system: ${names.join(', ')} (remove ${names.length === 1 ? 'it' : 'them'} or create the account first).`,
    );
  const rest = all.filter((d) => !unknown.has(d) && shown.has(d)).length;
  if (rest > 0) why.push(`Fix ${plural(rest, 'error')} first.`);
  if (all.some((d) => !shown.has(d))) {
    const fresh = s.draft.endpoints.filter((e) => s.freshEndpoints.has(e)).map((e) => e.name);
    why.push(`Complete ${fresh.join(', ')}: an endpoint needs an interface, a range and users.`);
  }
  const typed = Object.keys(s.inputErrors).length;
  if (typed) why.push('Correct or clear the invalid value typed in the editor.');
  return why;
}

function allowTextAt(doc: PolicyDoc, path: DocPath): string {
  const [, i, , j] = path;
  return (typeof i === 'number' && typeof j === 'number' && doc.endpoints[i]?.allow[j]) || '?';
}

export function canApply(s: Store): boolean {
  return applyBlockers(s).length === 0;
}

function samePath(a: DocPath, b: DocPath): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** The first error or warning message located exactly at `path`. */
export function diagnosticAt(
  diags: FieldDiagnostic[],
  path: DocPath,
  severity: 'error' | 'warning',
): string | undefined {
  return diags.find((d) => d.severity === severity && samePath(d.path, path))?.message;
}

/** Whether any error is located at or under `prefix`. */
export function hasErrorUnder(diags: FieldDiagnostic[], prefix: DocPath): boolean {
  return diags.some((d) => d.severity === 'error' && prefix.every((p, i) => d.path[i] === p));
}

export interface UserPick {
  value: string;
  /** "(uid 1000)", "(group 1500, 3 members)", "uid 4242 (no account)". */
  label: string;
}

/** The users picker's offer for what is typed: every user and @group of the account database
 * (human accounts first, logic/accounts.ts searchAccounts), without those already `listed`, at
 * most `limit`, and how many more match. A uid typed that has no account is offered as itself,
 * named "uid 4242 (no account)". */
export function userPicks(
  accounts: Accounts | null,
  text: string,
  limit: number,
  listed: ReadonlySet<string>,
): { picks: UserPick[]; more: number } {
  if (!accounts) return { picks: [], more: 0 };
  const idx = indexAccounts(accounts);
  const t = text.trim();
  const found = searchAccounts(idx, t, limit + listed.size);
  const fresh: UserPick[] = found.picks
    .filter((p) => !listed.has(p.value))
    .map((p) => ({
      value: p.value,
      label: p.label.startsWith(`${p.value} `) ? p.label.slice(p.value.length + 1) : p.label,
    }));
  if (/^[0-9]+$/.test(t) && !idx.namesByUid.has(Number(t)) && !listed.has(t))
    fresh.unshift({ value: t, label: senderLabel(idx, Number(t), t) });
  const picks = fresh.slice(0, limit);
  return { picks, more: found.more + fresh.length - picks.length };
}
