// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter history [--show N] [--json]`: the applied policies, newest first
// (electron/engine/history.ts keeps them; docs/rollout.md "History").
import { escapeUntrusted } from '../../native-bridge/index.js';
import { historyDiff, listHistory } from '../engine/history.js';
import type { HistoryEntry, HistoryList } from '../engine/history.js';
import { PinTrustError, UNTRUSTED_EXIT } from '../engine/pintrust.js';

export interface HistoryOptions {
  pinDir: string;
  show?: number;
  json: boolean;
  /** For tests: a state root other than STATE_ROOT, and the clock (a trial's deadline passed?). */
  stateRoot?: string;
  now?: Date;
}

/** Exit status when the pin directory has no history (as `status` with nothing loaded). */
export const NO_HISTORY_EXIT = 3;

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local date and time, "2026-12-01 12:03:04". */
export function localDateTime(iso: string): string {
  const d = new Date(iso);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** `iso` in local time, only the time of day when it falls on the same local day as `ref`. */
function localNear(iso: string, ref: string): string {
  const t = localDateTime(iso);
  return t.slice(0, 10) === localDateTime(ref).slice(0, 10) ? t.slice(11) : t;
}

/** What became of the entry, in words: "trial until 12:03:04", "reverted by the kernel at …". */
export function outcomeText(e: HistoryEntry, now: Date = new Date()): string {
  const at = e.outcomeTime ? ` at ${localNear(e.outcomeTime, e.time)}` : '';
  switch (e.outcome) {
    case 'applied':
      return 'applied';
    case 'trial': {
      if (!e.trial) return 'trial';
      const until = `trial until ${localNear(e.trial.deadline, e.time)}`;
      return Date.parse(e.trial.deadline) <= now.getTime() ? `${until} (passed; see status)` : until;
    }
    case 'confirmed':
      return `confirmed${at}`;
    case 'reverted-by-kernel':
      return `reverted by the kernel${at}`;
    case 'reverted':
      return `reverted${at}`;
    case 'replaced':
      return (
        `replaced${e.replacedBy !== undefined ? ` by ${e.replacedBy}` : ''}${at}` +
        (e.confirmedTime ? ` (trial confirmed at ${localNear(e.confirmedTime, e.time)})` : '')
      );
  }
}

/** The table `history` prints. */
export function historyTable(entries: HistoryEntry[], now: Date = new Date()): string {
  const rows = [
    ['N', 'TIME', 'ORIGIN', 'ACCOUNT', 'EPOCH', 'OUTCOME', 'SOURCE'],
    ...entries.map((e) => [
      String(e.n),
      localDateTime(e.time),
      e.origin,
      escapeUntrusted(e.account),
      String(e.epoch),
      outcomeText(e, now),
      e.source !== undefined ? escapeUntrusted(e.source) : '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/**
 * One entry as `history --show N` prints it: its metadata as YAML comments, the policy, then the
 * diff against `previous` as comments too — so the output is itself a policy file (the one
 * applied) that `check` and `apply --config` take.
 */
export function showText(
  pinDir: string,
  e: HistoryEntry,
  previous: HistoryEntry | undefined,
  now = new Date(),
): string {
  const meta: Array<[string, string]> = [
    ['time', `${localDateTime(e.time)} (${e.time})`],
    ['origin', e.origin],
    ['account', escapeUntrusted(e.account)],
    ['epoch', `${e.epoch} (pinned state ${escapeUntrusted(e.state)})`],
  ];
  if (e.trial) meta.push(['trial', `${e.trial.seconds} s, until ${localDateTime(e.trial.deadline)}`]);
  meta.push(['outcome', outcomeText(e, now)]);
  if (e.source !== undefined) meta.push(['source', escapeUntrusted(e.source)]);
  const lines = [`# history ${e.n} of ${pinDir}`, ...meta.map(([k, v]) => `# ${`${k}:`.padEnd(9)}${v}`)];
  let out = `${lines.join('\n')}\n${e.text}${e.text.endsWith('\n') || e.text === '' ? '' : '\n'}`;
  if (!previous) return `${out}# no earlier entry to compare with\n`;
  const diff = historyDiff(previous.text, e.text, `history ${previous.n}`, `history ${e.n}`);
  if (diff === '') return `${out}# the same text as history ${previous.n}\n`;
  out += `# changes from history ${previous.n}:\n`;
  for (const line of diff.replace(/\n$/, '').split('\n')) out += `# ${escapeUntrusted(line)}\n`;
  return out;
}

/** "3–52" or "3–52 (47 entries)" when some are missing. */
function rangeText(entries: HistoryEntry[]): string {
  const newest = entries[0]!.n;
  const oldest = entries[entries.length - 1]!.n;
  const span = newest === oldest ? `${newest}` : `${oldest}–${newest}`;
  return newest - oldest + 1 === entries.length ? span : `${span} (${entries.length} entries)`;
}

function withoutText(e: HistoryEntry): Omit<HistoryEntry, 'text'> {
  const { text: _text, ...rest } = e;
  return rest;
}

export async function historyCommand(o: HistoryOptions): Promise<number> {
  const now = o.now ?? new Date();
  let list: HistoryList;
  try {
    list = listHistory(o.pinDir, o.stateRoot !== undefined ? { root: o.stateRoot } : {});
  } catch (err) {
    if (!(err instanceof PinTrustError)) throw err;
    process.stderr.write(`net-tc-filter: ${err.message}\n`);
    return UNTRUSTED_EXIT;
  }
  for (const w of list.warnings) process.stderr.write(`net-tc-filter: warning: ${escapeUntrusted(w)}\n`);
  const { entries } = list;
  if (entries.length === 0) {
    process.stderr.write(
      `net-tc-filter: no history for ${o.pinDir}` +
        (list.stateDir ? ` (nothing recorded in ${list.stateDir}/history)` : ' (no state directory yet)') +
        '\n',
    );
    return NO_HISTORY_EXIT;
  }
  if (o.show === undefined) {
    process.stdout.write(
      o.json
        ? `${JSON.stringify({ pinDir: o.pinDir, stateDir: list.stateDir, entries: entries.map(withoutText), warnings: list.warnings }, null, 2)}\n`
        : historyTable(entries, now),
    );
    return 0;
  }
  const i = entries.findIndex((e) => e.n === o.show);
  const e = entries[i];
  if (!e) {
    process.stderr.write(`net-tc-filter: history has no entry ${o.show}; it holds ${rangeText(entries)}\n`);
    return 1;
  }
  const previous = entries[i + 1];
  if (o.json) {
    const diff = previous
      ? historyDiff(previous.text, e.text, `history ${previous.n}`, `history ${e.n}`)
      : null;
    process.stdout.write(
      `${JSON.stringify({ pinDir: o.pinDir, stateDir: list.stateDir, entry: e, previous: previous?.n ?? null, diff, warnings: list.warnings }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(showText(o.pinDir, e, previous, now));
  }
  return 0;
}
