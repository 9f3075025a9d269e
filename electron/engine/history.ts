// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The history of applied policies: the last HISTORY_LIMIT policies applied through a pin
// directory, each with when, how (origin), by whom (account) and what became of it (outcome), kept
// in the state directory (statedir.ts) under history/, one JSON file per entry. The engine records
// every apply and every outcome; `net-tc-filter history` and the desktop app read it; the enforced
// policy's text is the newest entry of the kernel's effective epoch. docs/rollout.md "History".
import { readdirSync, unlinkSync } from 'node:fs';
import { createTwoFilesPatch } from 'diff';
import { escapeUntrusted } from '../../native-bridge/index.js';
import { loadAccountDb, userName } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import { MAX_POLICY_BYTES } from '../policy/yaml.js';
import { checkStateDir, readStateFile, stateSubdir, withDirLock, writeStateFile } from './statedir.js';
import type { StateDirTrust } from './statedir.js';

/** Entries kept; older ones are deleted when a new one is recorded. */
export const HISTORY_LIMIT = 50;

export const ORIGINS = ['run', 'reload', 'apply', 'app', 'revert'] as const;
/** How the policy came to be applied: `run` (its start or SIGHUP), `reload`, a one-shot `apply`
 * (also --from-history), the desktop app, or a revert that applied an earlier policy again. */
export type Origin = (typeof ORIGINS)[number];

export const OUTCOMES = [
  'applied',
  'trial',
  'confirmed',
  'reverted-by-kernel',
  'reverted',
  'replaced',
] as const;
/**
 * What became of an applied policy:
 * - `applied`: in force (applied without a trial);
 * - `trial`: in force on trial until `trial.deadline`, then the kernel goes back;
 * - `confirmed`: the trial was confirmed, in force;
 * - `reverted-by-kernel`: the deadline passed unconfirmed and the kernel went back (outcomeTime:
 *   the deadline);
 * - `reverted`: `net-tc-filter revert` (or the app) went back before the deadline;
 * - `replaced`: it was in force (applied, or a trial that was confirmed) until a later policy took
 *   its place (`replacedBy`).
 */
export type Outcome = (typeof OUTCOMES)[number];

export interface HistoryEntry {
  /** 1, 2, 3…, never reused in a history directory. */
  n: number;
  /** Opaque identity of the pinned state the epoch belongs to (given by the engine). */
  state: string;
  epoch: number;
  /** When it was applied (ISO). */
  time: string;
  origin: Origin;
  /** Who: "alice (uid 1000)", "root (uid 0, via sudo from alice)" (accountName). */
  account: string;
  outcome: Outcome;
  /** When the outcome was reached (absent for `applied` and `trial`). */
  outcomeTime?: string;
  /** When its trial was confirmed (kept when it is replaced later). */
  confirmedTime?: string;
  /** The entry whose policy replaced this one (outcome `replaced`). */
  replacedBy?: number;
  trial?: { seconds: number; deadline: string };
  /** The config file's path, or "history 12". */
  source?: string;
  /** The policy as YAML: the file's text as it was applied. */
  text: string;
}

export interface HistoryList {
  /** Newest first. */
  entries: HistoryEntry[];
  /** Files in the history directory that were skipped (corrupt, foreign, not ours), one line each. */
  warnings: string[];
  /** The state directory read (undefined: there is none yet). */
  stateDir: string | undefined;
}

/** For tests: a state root other than STATE_ROOT, and the clock. */
export interface HistoryAt {
  root?: string;
  now?: Date;
}

export type NewEntry = Omit<
  HistoryEntry,
  'n' | 'time' | 'outcome' | 'outcomeTime' | 'confirmedTime' | 'replacedBy'
> & {
  outcome?: Outcome;
};

const FORMAT = 'net-tc-filter history 1';
const ENTRY_FILE = /^([0-9]{6,15})\.json$/;
/** The last n given out, so that n is never reused even when the newest files were deleted. */
const SEQ_FILE = 'last-n';
/** A temporary file of writeFileAtomic (".000123.json.<pid>.<ms>.tmp"). */
const TEMP_FILE = /^\..*\.tmp$/;
/** An entry file holds one policy (MAX_POLICY_BYTES) plus metadata; JSON escaping has room. */
const MAX_ENTRY_BYTES = 4 * MAX_POLICY_BYTES;
const MAX_FIELD = 4096;

const entryName = (n: number) => `${String(n).padStart(6, '0')}.json`;

function isIso(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 64 && !Number.isNaN(Date.parse(s));
}

function shortString(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_FIELD;
}

/** The entry in a file's text, or why it is not one. */
function parseEntry(text: string, n: number): HistoryEntry | string {
  let j: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
    j = v as Record<string, unknown>;
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (j.format !== FORMAT) return `not a history entry (format is not '${FORMAT}')`;
  if (j.n !== n) return `its number ${JSON.stringify(j.n)} is not the one in its name (${n})`;
  const bad = (field: string) => `bad field '${field}': ${JSON.stringify(j[field])?.slice(0, 80)}`;
  if (!shortString(j.state) || j.state === '') return bad('state');
  if (!Number.isSafeInteger(j.epoch) || (j.epoch as number) < 0) return bad('epoch');
  if (!isIso(j.time)) return bad('time');
  if (!ORIGINS.includes(j.origin as Origin)) return bad('origin');
  if (!shortString(j.account)) return bad('account');
  if (!OUTCOMES.includes(j.outcome as Outcome)) return bad('outcome');
  if (j.outcomeTime !== undefined && !isIso(j.outcomeTime)) return bad('outcomeTime');
  if (j.confirmedTime !== undefined && !isIso(j.confirmedTime)) return bad('confirmedTime');
  if (j.replacedBy !== undefined && !(Number.isSafeInteger(j.replacedBy) && (j.replacedBy as number) > 0))
    return bad('replacedBy');
  if (j.source !== undefined && !shortString(j.source)) return bad('source');
  if (typeof j.text !== 'string') return bad('text');
  let trial: HistoryEntry['trial'];
  if (j.trial !== undefined) {
    const t = j.trial as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || !Number.isSafeInteger(t.seconds) || !isIso(t.deadline))
      return bad('trial');
    trial = { seconds: t.seconds as number, deadline: t.deadline };
  }
  return {
    n,
    state: j.state,
    epoch: j.epoch as number,
    time: j.time,
    origin: j.origin as Origin,
    account: j.account,
    outcome: j.outcome as Outcome,
    ...(j.outcomeTime !== undefined ? { outcomeTime: j.outcomeTime as string } : {}),
    ...(j.confirmedTime !== undefined ? { confirmedTime: j.confirmedTime as string } : {}),
    ...(j.replacedBy !== undefined ? { replacedBy: j.replacedBy as number } : {}),
    ...(trial ? { trial } : {}),
    ...(j.source !== undefined ? { source: j.source } : {}),
    text: j.text,
  };
}

function entryJson(e: HistoryEntry): string {
  const { n, ...rest } = e;
  return `${JSON.stringify({ format: FORMAT, n, ...rest }, null, 2)}\n`;
}

interface Scan {
  entries: HistoryEntry[];
  warnings: string[];
  /** Every entry file's number, readable or not (the bound counts them all). */
  numbers: number[];
  /** The largest n given out so far. */
  last: number;
  temps: string[];
}

function scan(trust: StateDirTrust, dir: string): Scan {
  const s: Scan = { entries: [], warnings: [], numbers: [], last: 0, temps: [] };
  for (const name of readdirSync(dir).sort()) {
    const path = `${dir}/${name}`;
    const m = ENTRY_FILE.exec(name);
    if (name === SEQ_FILE) {
      try {
        const t = readStateFile(trust, path, 64)?.trim() ?? '';
        if (/^[0-9]{1,15}$/.test(t)) s.last = Math.max(s.last, Number(t));
        else s.warnings.push(`${path}: not a number (ignored)`);
      } catch (err) {
        s.warnings.push(`${path}: ${(err as Error).message} (ignored)`);
      }
      continue;
    }
    if (TEMP_FILE.test(name)) {
      s.temps.push(path);
      continue;
    }
    if (!m || entryName(Number(m[1])) !== name) {
      s.warnings.push(`${escapeUntrusted(path)}: not a history entry (skipped)`);
      continue;
    }
    const n = Number(m[1]);
    s.numbers.push(n);
    s.last = Math.max(s.last, n);
    let text: string | undefined;
    try {
      text = readStateFile(trust, path, MAX_ENTRY_BYTES);
    } catch (err) {
      s.warnings.push(`${path}: ${(err as Error).message} (skipped)`);
      continue;
    }
    if (text === undefined) continue; // deleted meanwhile
    const e = parseEntry(text, n);
    if (typeof e === 'string') s.warnings.push(`${path}: ${e} (skipped)`);
    else s.entries.push(e);
  }
  s.entries.sort((a, b) => b.n - a.n);
  return s;
}

/** Deletes a file of ours (a symlink: the link). What cannot be deleted (a planted directory) stays,
 * and every listing warns about it. */
function remove(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or not a file: listHistory reports it
  }
}

function historyDir(pinDir: string, create: boolean, at: HistoryAt) {
  const trust = checkStateDir(pinDir, { create, ...(at.root !== undefined ? { root: at.root } : {}) });
  if (!trust) return undefined;
  const dir = stateSubdir(trust, 'history', create);
  return dir ? { trust, dir } : undefined;
}

function assertNewEntry(e: NewEntry): void {
  const bad = (what: string) => {
    throw new Error(`history: cannot record an apply: ${what}`);
  };
  if (!shortString(e.state) || e.state === '') bad(`bad state ${JSON.stringify(e.state)}`);
  if (!Number.isSafeInteger(e.epoch) || e.epoch < 0) bad(`bad epoch ${e.epoch}`);
  if (!ORIGINS.includes(e.origin)) bad(`bad origin ${JSON.stringify(e.origin)}`);
  if (!shortString(e.account)) bad('the account name is too long');
  if (e.source !== undefined && !shortString(e.source)) bad('the source is too long');
  if (e.outcome !== undefined && !OUTCOMES.includes(e.outcome))
    bad(`bad outcome ${JSON.stringify(e.outcome)}`);
  if (typeof e.text !== 'string' || Buffer.byteLength(e.text) > MAX_POLICY_BYTES)
    bad(`the policy text is not a string of at most ${MAX_POLICY_BYTES} bytes`);
  if (e.trial && (!Number.isSafeInteger(e.trial.seconds) || e.trial.seconds <= 0 || !isIso(e.trial.deadline)))
    bad(`bad trial ${JSON.stringify(e.trial)}`);
}

/** The policy in `by` has taken force: every earlier entry still in force is `replaced` — also
 * entries of an earlier pinned state (which is gone), and its trials that never ended. */
function replaceEarlier(trust: StateDirTrust, dir: string, entries: HistoryEntry[], by: HistoryEntry): void {
  for (const e of entries) {
    if (e.n >= by.n) continue;
    const inForce =
      e.outcome === 'applied' || e.outcome === 'confirmed' || (e.outcome === 'trial' && e.state !== by.state);
    if (!inForce) continue;
    const updated: HistoryEntry = {
      ...e,
      outcome: 'replaced',
      outcomeTime: by.outcomeTime ?? by.time,
      replacedBy: by.n,
    };
    writeStateFile(trust, `${dir}/${entryName(e.n)}`, entryJson(updated));
  }
}

/**
 * Records an applied policy (in the state directory of `pinDir`, made when missing) and returns
 * the entry: the next n, the time now, outcome `trial` when `e.trial` is given, else `applied`
 * (unless `e.outcome` says otherwise). A policy that takes force without a trial replaces the
 * ones before it (outcome `replaced`). The oldest entries beyond HISTORY_LIMIT are deleted.
 */
export function recordApply(pinDir: string, e: NewEntry, at: HistoryAt = {}): HistoryEntry {
  assertNewEntry(e);
  const h = historyDir(pinDir, true, at);
  if (!h) throw new Error(`history: no state directory for ${pinDir}`); // create: never
  return withDirLock(h.dir, () => {
    const s = scan(h.trust, h.dir);
    for (const t of s.temps) remove(t); // every write holds the lock: a temp file now is a crash's
    const { outcome, ...fields } = e;
    const entry: HistoryEntry = {
      ...fields,
      n: s.last + 1,
      time: (at.now ?? new Date()).toISOString(),
      outcome: outcome ?? (e.trial ? 'trial' : 'applied'),
    };
    writeStateFile(h.trust, `${h.dir}/${entryName(entry.n)}`, entryJson(entry));
    writeStateFile(h.trust, `${h.dir}/${SEQ_FILE}`, `${entry.n}\n`);
    if (entry.outcome === 'applied' || entry.outcome === 'confirmed')
      replaceEarlier(h.trust, h.dir, s.entries, entry);
    const numbers = [...s.numbers, entry.n].sort((a, b) => b - a);
    for (const n of numbers.slice(HISTORY_LIMIT)) remove(`${h.dir}/${entryName(n)}`);
    return entry;
  });
}

/**
 * Sets the outcome of the newest entry applied as `match.epoch` of `match.state` and returns it;
 * undefined when there is none (or no history). `at.now` is the outcome's time (for a kernel
 * revert: the deadline). An entry that already has this outcome is returned unchanged (the engine
 * may notice the same kernel revert at every start). `confirmed` replaces the policies before it.
 */
export function setOutcome(
  pinDir: string,
  match: { state: string; epoch: number },
  outcome: Outcome,
  at: HistoryAt = {},
): HistoryEntry | undefined {
  if (!OUTCOMES.includes(outcome)) throw new Error(`history: bad outcome ${JSON.stringify(outcome)}`);
  const h = historyDir(pinDir, false, at);
  if (!h) return undefined;
  return withDirLock(h.dir, () => {
    const s = scan(h.trust, h.dir);
    const e = s.entries.find((x) => x.state === match.state && x.epoch === match.epoch);
    if (!e) return undefined;
    if (e.outcome === outcome) return e;
    const time = (at.now ?? new Date()).toISOString();
    const updated: HistoryEntry = { ...e, outcome, outcomeTime: time };
    if (outcome === 'confirmed') updated.confirmedTime = time;
    if (outcome !== 'replaced') delete updated.replacedBy;
    writeStateFile(h.trust, `${h.dir}/${entryName(e.n)}`, entryJson(updated));
    if (outcome === 'confirmed') replaceEarlier(h.trust, h.dir, s.entries, updated);
    return updated;
  });
}

/** The history of `pinDir`, newest first, with a warning for every file skipped. Read-only: a
 * missing state directory is an empty history, never created. */
export function listHistory(pinDir: string, at: HistoryAt = {}): HistoryList {
  const trust = checkStateDir(pinDir, { create: false, ...(at.root !== undefined ? { root: at.root } : {}) });
  if (!trust) return { entries: [], warnings: [], stateDir: undefined };
  const dir = stateSubdir(trust, 'history', false);
  if (!dir) return { entries: [], warnings: [], stateDir: trust.dir };
  const s = scan(trust, dir);
  return { entries: s.entries, warnings: s.warnings, stateDir: trust.dir };
}

/** Entry `n`, or undefined when it does not exist or cannot be read (listHistory says why). */
export function historyEntry(pinDir: string, n: number, at: HistoryAt = {}): HistoryEntry | undefined {
  return listHistory(pinDir, at).entries.find((e) => e.n === n);
}

/** The policy enforced when the kernel's effective epoch of `state` is `epoch`: the newest entry
 * applied as that epoch. Undefined when the history does not have it. */
export function enforcedPolicy(
  pinDir: string,
  state: string,
  epoch: number,
  at: HistoryAt = {},
): { text: string; entry: HistoryEntry } | undefined {
  const entry = listHistory(pinDir, at).entries.find((e) => e.state === state && e.epoch === epoch);
  return entry ? { text: entry.text, entry } : undefined;
}

/**
 * The account behind this process, for an entry's `account`: "alice (uid 1000)", and who elevated
 * it when sudo or pkexec did (their variables: SUDO_UID/SUDO_USER, PKEXEC_UID), e.g.
 * "root (uid 0, via sudo from alice)". Names come from the account database (a uid without one
 * is shown as "uid N"); a name only the environment gives is escaped.
 */
export function accountName(opts: { db?: AccountDb; uid?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const uid = opts.uid ?? process.geteuid?.() ?? 0;
  const env = opts.env ?? process.env;
  let db = opts.db;
  if (!db) {
    try {
      db = loadAccountDb();
    } catch {
      // No names: uids only.
    }
  }
  const nameOf = (u: number) => (db ? userName(db, u) : undefined);
  const idOf = (s: string | undefined) =>
    s !== undefined && /^[0-9]{1,10}$/.test(s) ? Number(s) : undefined;
  const via: string[] = [];
  const sudoUid = idOf(env.SUDO_UID);
  const sudoName = (sudoUid !== undefined ? nameOf(sudoUid) : undefined) ?? env.SUDO_USER;
  if (sudoName) via.push(`via sudo from ${escapeUntrusted(sudoName)}`);
  else if (sudoUid !== undefined) via.push(`via sudo from uid ${sudoUid}`);
  const pkexecUid = idOf(env.PKEXEC_UID);
  if (pkexecUid !== undefined) {
    const n = nameOf(pkexecUid);
    via.push(`via pkexec from ${n ? escapeUntrusted(n) : `uid ${pkexecUid}`}`);
  }
  const name = nameOf(uid);
  if (name) return `${escapeUntrusted(name)} (${[`uid ${uid}`, ...via].join(', ')})`;
  return via.length ? `uid ${uid} (${via.join(', ')})` : `uid ${uid}`;
}

/** Lines changed beyond which two policies are not diffed: the diff's cost grows with the square
 * of the changes (20,000 unlike lines a side took minutes), and such a diff is not read anyway. */
export const MAX_DIFF_EDITS = 3000;

/** Unified diff from `older` to `newer` (YAML texts), headed with their names; '' when equal; a
 * one-line note when more than MAX_DIFF_EDITS lines changed. */
export function historyDiff(older: string, newer: string, olderName = 'older', newerName = 'newer'): string {
  if (older === newer) return '';
  const patch = createTwoFilesPatch(olderName, newerName, older, newer, '', '', {
    context: 3,
    maxEditLength: MAX_DIFF_EDITS,
  });
  if (patch === undefined)
    return `${olderName} and ${newerName} differ in more than ${MAX_DIFF_EDITS} lines: too many to compare here (the policy as applied is shown in full)\n`;
  // jsdiff heads the patch with a line of '=' (and "Index:" for equal names): not diff -u's.
  return patch.replace(/^(Index: [^\n]*\n)?=+\n/, '');
}
