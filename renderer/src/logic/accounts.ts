// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; renderer).
//
// The host's accounts as the UI names and searches them: one place that says how a sender is
// named ("root", "alice, alice2 (uid 1000)", "uid 4242 (no account)", "(unowned)"), which uids a
// user filter means (the uid behind any of its names), and what the users picker offers (human
// accounts first, then system ones).
import type { Accounts } from '../../../electron/ipc/contract.js';
import { systemUnitOf } from '../../../electron/policy/units.js';

/** How a packet without a local socket is named (the engine's UNOWNED_NAME). */
export const UNOWNED_LABEL = '(unowned)';

export interface AccountPick {
  /** What goes into an endpoint's `allow:` list: a user name or `@group`. */
  value: string;
  /** "alice (uid 1000)", "@admins (group 1500, 3 members)". */
  label: string;
  /** In the host's human id range (login.defs UID_MIN..UID_MAX). */
  human: boolean;
}

export interface AccountIndex {
  readonly source: Accounts;
  /** Every name of a uid, in database order. */
  readonly namesByUid: ReadonlyMap<number, readonly string[]>;
  /** Every user and group, human ones first, then by name. */
  readonly picks: readonly AccountPick[];
  /** Lower-cased name of each pick (same order), for matching. */
  readonly keys: readonly string[];
}

const cache = new WeakMap<Accounts, AccountIndex>();

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The index of an account list (cached per list object: call it freely on every render). */
export function indexAccounts(a: Accounts): AccountIndex {
  const hit = cache.get(a);
  if (hit) return hit;
  const { min, max } = a.humanUids;
  const human = (id: number) => id >= min && id <= max;
  const namesByUid = new Map<number, string[]>();
  for (const u of a.users) {
    const names = namesByUid.get(u.uid);
    if (names) names.push(u.name);
    else namesByUid.set(u.uid, [u.name]);
  }
  const picks: AccountPick[] = [
    ...a.users.map((u) => ({ value: u.name, label: `${u.name} (uid ${u.uid})`, human: human(u.uid) })),
    ...a.groups.map((g) => ({
      value: `@${g.name}`,
      label: `@${g.name} (group ${g.gid}${g.members.length ? `, ${plural(g.members.length, 'member')}` : ''})`,
      human: human(g.gid),
    })),
  ];
  picks.sort((x, y) => Number(y.human) - Number(x.human) || x.value.localeCompare(y.value));
  const idx: AccountIndex = { source: a, namesByUid, picks, keys: picks.map((p) => p.value.toLowerCase()) };
  cache.set(a, idx);
  return idx;
}

/** How the UI names a sender. `fallback` (the engine's name) is used while accounts are unknown. */
export function senderLabel(idx: AccountIndex | null, uid: number | null, fallback: string): string {
  if (uid === null) return UNOWNED_LABEL;
  if (!idx) return fallback;
  const names = idx.namesByUid.get(uid);
  if (!names || names.length === 0) return `uid ${uid} (no account)`;
  if (names.length === 1) return names[0] as string;
  return `${names.join(', ')} (uid ${uid})`;
}

/** Where a sender's socket is, as the tables name it beside the user: its system unit (what a
 * `unit:` entry can name), else its cgroup path outside user.slice; null for the root cgroup, a
 * user's own cgroups (sessions, user@UID.service: the user is the boundary there; the details
 * pane names them) and when it is not known. */
export function senderPlace(row: { unit: string | null; cgroup: string | null }): string | null {
  const c = row.cgroup;
  if (c === null || c === '/' || c === '/user.slice' || c.startsWith('/user.slice/')) return null;
  return systemUnitOf(c) ?? c;
}

/** The sender cell's tooltip: uid, unit and cgroup as far as known. */
export function senderTitle(row: { uid: number | null; unit: string | null; cgroup: string | null }): string {
  const parts = [row.uid === null ? 'no local socket' : `uid ${row.uid}`];
  if (row.unit) parts.push(`unit ${row.unit}`);
  if (row.cgroup) parts.push(`cgroup ${row.cgroup}`);
  return parts.join(' · ');
}

/** The uids a user filter's text means: the uid typed, and the uid behind every name that
 * contains the text (so "alice2" also finds rows the engine named "alice"). null: no filter. */
export function uidsMatching(idx: AccountIndex | null, text: string): ReadonlySet<number> | null {
  const t = text.trim().toLowerCase();
  if (t === '') return null;
  const out = new Set<number>();
  if (/^[0-9]+$/.test(t)) out.add(Number(t));
  if (idx)
    for (const [uid, names] of idx.namesByUid)
      if (names.some((n) => n.toLowerCase().includes(t))) out.add(uid);
  return out;
}

/** The picker's offer for what is typed: names containing it (or the exact uid/gid), names
 * starting with it first, human accounts before system ones; `more`: matches beyond `limit`. */
export function searchAccounts(
  idx: AccountIndex | null,
  query: string,
  limit: number,
): { picks: AccountPick[]; more: number } {
  if (!idx) return { picks: [], more: 0 };
  const q = query
    .trim()
    .toLowerCase()
    .replace(/^@/, query.trim().startsWith('@') ? '@' : '');
  const id = /^[0-9]+$/.test(q) ? q : undefined;
  const starts: AccountPick[] = [];
  const contains: AccountPick[] = [];
  idx.picks.forEach((p, i) => {
    const key = idx.keys[i] as string;
    const bare = key.startsWith('@') ? key.slice(1) : key;
    if (q === '' || key.startsWith(q) || bare.startsWith(q)) starts.push(p);
    else if (key.includes(q) || (id !== undefined && p.label.includes(` ${id}`) && idMatches(p, id)))
      contains.push(p);
  });
  const all = [...starts, ...contains];
  return { picks: all.slice(0, Math.max(0, limit)), more: Math.max(0, all.length - limit) };
}

function idMatches(p: AccountPick, id: string): boolean {
  return new RegExp(`\\((?:uid|group) ${id}[,)]`).test(p.label);
}
