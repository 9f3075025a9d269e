// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; Intl only, so it is bundled into the renderer too).
//
// Time windows (`when:` on an endpoint, docs/datapath.md "Time windows"): the text of one window
// (parse, validate, format), the union of an endpoint's windows as intervals of the local week
// (what the kernel matches), the host time zone as a table of UTC offsets (what the kernel adds
// to the clock), and the one evaluation of both: secondOfWeek (the kernel's arithmetic) and
// openAt (open now, and when that changes next).
//
// Meaning: a window follows the wall clock. The endpoint is open whenever the local clock, as
// the offset table gives it, reads a time inside one of its windows. So across a daylight-saving
// change nothing is special-cased: an edge in the hour the clock skips takes effect when the
// clock jumps over it (a window from 02:30 opens at 03:00 that day; one ending at 02:30 closes
// at the jump), an edge in the hour the clock repeats takes effect each time the clock reads it
// (02:30-04:00 opens at the first 02:30, closes when the clock goes back to 02:00 and opens again
// at the second 02:30), and a window wholly inside a skipped hour does not open that day.

import type { Window, WeekSegment } from './types.js';

export type { Window, WeekSegment };

/** A window without its source position (what parseWindowText gives). */
export type WindowValue = Omit<Window, 'pos'>;

/** One entry of a time zone's table: from this UTC second on, local time is UTC + offsetSec. */
export interface TzTransition {
  fromUtcSec: number;
  offsetSec: number;
}
/** Sorted by fromUtcSec; never empty. Before the first entry its offset holds too. */
export type TzTable = readonly TzTransition[];

export const DAY_SEC = 86_400;
export const WEEK_SEC = 7 * DAY_SEC;
/** Windows accepted on one endpoint. */
export const MAX_WINDOWS = 32;
/** Separate intervals of the week one endpoint's windows may make once merged (the kernel's
 * per-endpoint array). `daily 22:00-06:00` makes 8 (7 nights, the Sunday one split at Monday 00:00). */
export const MAX_WEEK_SEGMENTS = 32;
/** Transitions a time zone table holds at most (a zone with DST has 2 a year). */
export const MAX_TZ_TRANSITIONS = 64;
/** How far ahead a table reaches by default; a re-apply renews it. */
export const TZ_TABLE_YEARS = 10;

export const WINDOW_EXAMPLE = '"Mon-Fri 08:00-18:00", "Sat 10:00-12:30" or "daily 22:00-06:00"';
export const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const FULL_DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const ALL_DAYS = 0x7f;

/** What an empty `when:` list is told: it would never open. */
export const WHEN_EMPTY =
  '"when" is an empty list: the endpoint would never open; remove "when" for an endpoint that is ' +
  `always open, or list windows such as ${WINDOW_EXAMPLE}`;

// ---------------------------------------------------------------------------------------------
// One window's text.

function q(s: string): string {
  return JSON.stringify(s);
}

/** Parses one window, e.g. `Mon-Fri 08:00-18:00`. On error, `index` is where in `text` it is. */
export function parseWindowText(text: string): { window?: WindowValue; error?: string; index?: number } {
  const fail = (why: string, index: number) => ({
    error: `invalid time window ${q(text)}: ${why}; expected e.g. ${WINDOW_EXAMPLE}`,
    index,
  });
  const firstDigit = text.search(/[0-9]/);
  const daysPart = firstDigit < 0 ? text : text.slice(0, firstDigit);
  const lead = daysPart.length - daysPart.trimStart().length;
  if (daysPart.trim() === '') {
    if (text.trim() === '') return fail('it is empty', 0);
    return fail('it names no days (write them first)', lead);
  }
  if (firstDigit < 0) return fail('it has no times of day (HH:MM-HH:MM after the days)', text.length);
  if (!/\s$/.test(daysPart)) return fail('put a space between the days and the times', firstDigit);

  // Days: `daily`, or a comma list of days and day ranges (`Fri-Mon` wraps).
  let days = 0;
  const dayText = daysPart.trim();
  if (dayText.toLowerCase() === 'daily') {
    days = ALL_DAYS;
  } else {
    let offset = lead;
    for (const raw of dayText.split(',')) {
      const itemAt = offset + (raw.length - raw.trimStart().length);
      offset += raw.length + 1;
      const item = raw.trim();
      if (item === '') return fail('an empty day between commas', itemAt);
      const ends = item.split('-');
      if (ends.length > 2) return fail(`${q(item)} is not a day or a range of days such as Mon-Fri`, itemAt);
      const idx: number[] = [];
      let endAt = itemAt;
      for (const e of ends) {
        const name = e.trim();
        const i = dayIndex(name);
        if (i === undefined) {
          const why =
            name === ''
              ? `${q(item)} is missing a day`
              : `${q(name)} is not a day; use ${DAY_NAMES.join(', ')} (or daily)`;
          return fail(why, endAt + (e.length - e.trimStart().length));
        }
        idx.push(i);
        endAt += e.length + 1;
      }
      const from = idx[0]!;
      const to = idx[idx.length - 1]!;
      for (let d = from; ; d = (d + 1) % 7) {
        days |= 1 << d;
        if (d === to) break;
      }
    }
  }

  // Times: HH:MM[:SS]-HH:MM[:SS]; 24:00 only as the end; an end at or before the start crosses midnight.
  const timePart = text.slice(firstDigit);
  const m = /^([0-9]{1,2}(?::[0-9]{1,2}){1,2})\s*-\s*([0-9]{1,2}(?::[0-9]{1,2}){1,2})\s*$/.exec(timePart);
  if (!m) {
    return fail(
      `${q(timePart.trim())} is not a time span; write HH:MM-HH:MM (seconds optional: HH:MM:SS)`,
      firstDigit,
    );
  }
  const startText = m[1]!;
  const endText = m[2]!;
  const endAt = firstDigit + timePart.indexOf(endText, startText.length);
  const start = timeOfDay(startText, false);
  if (typeof start === 'string') return fail(start, firstDigit);
  const end = timeOfDay(endText, true);
  if (typeof end === 'string') return fail(end, endAt);
  if (start === end) {
    return fail('it starts and ends at the same time; for the whole day write 00:00-24:00', firstDigit);
  }
  // `22:00-00:00` is `22:00-24:00`.
  return { window: { text, days, start, end: end === 0 ? DAY_SEC : end } };
}

function dayIndex(name: string): number | undefined {
  const n = name.toLowerCase();
  const i = DAY_NAMES.findIndex((d) => d.toLowerCase() === n);
  if (i >= 0) return i;
  const j = FULL_DAY_NAMES.indexOf(n);
  return j >= 0 ? j : undefined;
}

/** Seconds since midnight of `HH:MM[:SS]`, or why it is not a time. */
function timeOfDay(t: string, isEnd: boolean): number | string {
  const parts = t.split(':').map(Number);
  const [h, min, s = 0] = parts as [number, number, number?];
  const twoDigits = t
    .split(':')
    .slice(1)
    .every((p) => p.length === 2);
  if (!twoDigits) return `${q(t)}: minutes and seconds have two digits (08:05, not 8:5)`;
  if (h === 24 && min === 0 && s === 0) {
    return isEnd ? DAY_SEC : `${q(t)}: 24:00 is only an end; a window starting at midnight starts at 00:00`;
  }
  if (h > 23) return `${q(t)}: hours go from 00 to 23 (24:00 only as an end)`;
  if (min > 59) return `${q(t)}: minutes go from 00 to 59`;
  if (s > 59) return `${q(t)}: seconds go from 00 to 59`;
  return h * 3600 + min * 60 + s;
}

/** Why this list of windows cannot be used (empty, too many, too fragmented), or undefined. */
export function windowsError(windows: readonly WindowValue[]): string | undefined {
  if (windows.length === 0) return WHEN_EMPTY;
  if (windows.length > MAX_WINDOWS) {
    return `"when" lists ${windows.length} windows; at most ${MAX_WINDOWS} (MAX_WINDOWS) are allowed per endpoint`;
  }
  const n = weekSegments(windows).length;
  if (n > MAX_WEEK_SEGMENTS) {
    return (
      `these windows make ${n} separate intervals of the week; at most ${MAX_WEEK_SEGMENTS} ` +
      '(MAX_WEEK_SEGMENTS) are allowed per endpoint: merge or widen some of them'
    );
  }
  return undefined;
}

/** A time of day as `HH:MM`, with `:SS` when it has seconds (86400 is 24:00). */
export function formatTimeOfDay(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}${s ? `:${two(s)}` : ''}`;
}

/** A set of days (bit 0 = Monday) as written canonically: `daily`, `Mon-Fri`, `Mon,Wed,Fri`, `Sat-Sun`. */
export function formatDays(days: number): string {
  if ((days & ALL_DAYS) === ALL_DAYS) return 'daily';
  const out: string[] = [];
  for (let d = 0; d < 7; d++) {
    if (!(days & (1 << d)) || (d > 0 && days & (1 << (d - 1)))) continue;
    let e = d;
    while (e + 1 < 7 && days & (1 << (e + 1))) e++;
    out.push(e === d ? DAY_NAMES[d]! : `${DAY_NAMES[d]}${e === d + 1 ? ',' : '-'}${DAY_NAMES[e]}`);
  }
  return out.join(',');
}

/** A window in canonical form (export keeps `text`, the form the admin wrote). */
export function formatWindow(w: WindowValue): string {
  return `${formatDays(w.days)} ${formatTimeOfDay(w.start)}-${formatTimeOfDay(w.end)}`;
}

// ---------------------------------------------------------------------------------------------
// The week.

/**
 * The union of windows as sorted, merged, non-overlapping [start, end) seconds of the local week
 * (Monday 00:00 = 0 … WEEK_SEC). A window crossing midnight runs into the next day; one crossing
 * Sunday→Monday is split at WEEK_SEC. Touching intervals merge, except across the week's end.
 */
export function weekSegments(windows: readonly WindowValue[]): WeekSegment[] {
  const raw: WeekSegment[] = [];
  for (const w of windows) {
    for (let d = 0; d < 7; d++) {
      if (!(w.days & (1 << d))) continue;
      const start = d * DAY_SEC + w.start;
      const end = (w.end > w.start ? d : d + 1) * DAY_SEC + w.end;
      if (end <= WEEK_SEC) raw.push({ start, end });
      else {
        raw.push({ start, end: WEEK_SEC });
        raw.push({ start: 0, end: end - WEEK_SEC });
      }
    }
  }
  raw.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: WeekSegment[] = [];
  for (const s of raw) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

/** True when the week second lies in one of the segments. */
export function inSegments(segments: readonly WeekSegment[], sow: number): boolean {
  // Few segments (MAX_WEEK_SEGMENTS): a scan is what the kernel does too.
  for (const s of segments) if (sow >= s.start && sow < s.end) return true;
  return false;
}

/** Points of the week where membership changes, sorted (the Sunday/Monday join is not one). */
function edgesOf(segments: readonly WeekSegment[]): number[] {
  const first = segments[0];
  const last = segments[segments.length - 1];
  const joined = first !== undefined && last !== undefined && first.start === 0 && last.end === WEEK_SEC;
  const edges: number[] = [];
  for (const s of segments) {
    if (!(joined && s === first)) edges.push(s.start);
    if (!(joined && s === last)) edges.push(s.end % WEEK_SEC);
  }
  return [...new Set(edges)].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Time zones.

function validZone(zone: string | undefined): zone is string {
  if (!zone || zone === 'Etc/Unknown') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The process's time zone (TZ, else /etc/localtime), as Intl resolves it. TZ may name a zone
 * (`Europe/Berlin`, `:Europe/Berlin`) or its file under /usr/share/zoneinfo; a POSIX rule
 * (`EST5EDT,M3.2.0,M11.1.0`), which Intl would silently read as UTC while libc follows it, or
 * anything else Intl does not know is an error that says so.
 */
export function hostZone(): string {
  const resolved = new Intl.DateTimeFormat().resolvedOptions().timeZone as string | undefined;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const tz = env?.TZ;
  if (tz === undefined) {
    if (validZone(resolved)) return resolved;
    throw new Error(
      "the host's time zone is not known (Intl cannot read /etc/localtime); set TZ to a zone name such as Europe/Berlin",
    );
  }
  if (/^:?(UTC|GMT)0?$/.test(tz)) return 'UTC';
  const name = tz.replace(/^:/, '').replace(/^\/usr\/share\/zoneinfo\//, '');
  if (validZone(name)) return validZone(resolved) ? resolved : name;
  throw new Error(
    `TZ=${q(tz)} is not a time zone name (POSIX rules and other files are not read here); ` +
      'set TZ to a zone name such as Europe/Berlin, or unset it to use /etc/localtime',
  );
}

/** UTC offset (seconds) of a zone at one instant, through Intl. */
function offsetReader(zone: string): (utcSec: number) => number {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  } catch {
    throw new Error(`unknown time zone ${q(zone)}; expected an IANA name such as Europe/Berlin`);
  }
  return (utcSec) => {
    const v: Record<string, string> = {};
    for (const p of fmt.formatToParts(new Date(utcSec * 1000))) v[p.type] = p.value;
    let year = Number(v.year);
    if (v.era === 'BC' || v.era === 'B') year = 1 - year;
    const local = Date.UTC(
      year,
      Number(v.month) - 1,
      Number(v.day),
      Number(v.hour),
      Number(v.minute),
      Number(v.second),
    );
    return Math.round(local / 1000) - utcSec;
  };
}

/**
 * The zone's UTC offsets from `fromUtcSec` for `years`: the offset in force then, then every
 * change, each found by sampling daily and bisecting to the second. A zone without changes has
 * one entry. At most MAX_TZ_TRANSITIONS entries (the table then ends earlier).
 */
export function tzTable(zone: string, fromUtcSec: number, years = TZ_TABLE_YEARS): TzTransition[] {
  if (!(years > 0 && years <= 100)) throw new Error(`a time zone table covers 0 to 100 years, not ${years}`);
  const off = offsetReader(zone);
  const from = Math.floor(fromUtcSec);
  const until = from + Math.ceil(years * 365.2425 * DAY_SEC);
  const table: TzTransition[] = [{ fromUtcSec: from, offsetSec: off(from) }];
  let t = from;
  let cur = table[0]!.offsetSec;
  while (t < until && table.length < MAX_TZ_TRANSITIONS) {
    const n = Math.min(t + DAY_SEC, until);
    if (off(n) === cur) {
      t = n;
      continue;
    }
    // The first second in (t, n] whose offset differs from cur.
    let lo = t;
    let hi = n;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (off(mid) === cur) lo = mid;
      else hi = mid;
    }
    cur = off(hi);
    table.push({ fromUtcSec: hi, offsetSec: cur });
    t = hi;
  }
  return table;
}

/** The index of the table entry in force at utcSec (the first when utcSec precedes it). */
function entryAt(table: TzTable, utcSec: number): number {
  let lo = 0;
  let hi = table.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (table[mid]!.fromUtcSec <= utcSec) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The UTC offset the table gives at utcSec. */
export function offsetAt(table: TzTable, utcSec: number): number {
  if (table.length === 0) throw new Error('empty time zone table');
  return table[entryAt(table, utcSec)]!.offsetSec;
}

/**
 * The second of the local week (Monday 00:00 = 0) at a UTC second: the kernel's arithmetic.
 * local = utc + offset of the last transition ≤ utc; 1970-01-01 was a Thursday, so +3 makes
 * Monday day 0: (floor(local / 86400) + 3) mod 7 × 86400 + local mod 86400.
 */
export function secondOfWeek(utcSec: number, table: TzTable): number {
  const local = Math.floor(utcSec) + offsetAt(table, utcSec);
  const day = Math.floor(local / DAY_SEC);
  const mod = (a: number, b: number) => ((a % b) + b) % b;
  return mod(day + 3, 7) * DAY_SEC + mod(local, DAY_SEC);
}

export interface OpenState {
  open: boolean;
  /** The next UTC second at which `open` changes; null: never (within the table it holds forever). */
  nextChange: number | null;
}

function segmentsOf(x: readonly WindowValue[] | readonly WeekSegment[]): readonly WeekSegment[] {
  const first = x[0];
  return first !== undefined && 'days' in first
    ? weekSegments(x as readonly WindowValue[])
    : (x as readonly WeekSegment[]);
}

/**
 * Whether windows (or their segments) are open at a UTC second, and the next second that
 * changes it. Exactly secondOfWeek's meaning: open iff inSegments(secondOfWeek(t)), so a
 * daylight-saving transition is an edge when it moves the clock across one.
 */
export function openAt(
  windows: readonly WindowValue[] | readonly WeekSegment[],
  utcSec: number,
  table: TzTable,
): OpenState {
  const segments = segmentsOf(windows);
  const t0 = Math.floor(utcSec);
  const open = inSegments(segments, secondOfWeek(t0, table));
  const edges = edgesOf(segments);
  let cur = t0;
  for (let guard = 0; guard <= table.length + 1; guard++) {
    const i = entryAt(table, cur);
    const nextT = i + 1 < table.length ? table[i + 1]!.fromUtcSec : Infinity;
    if (edges.length > 0) {
      const sow = secondOfWeek(cur, table);
      const e = edges.find((x) => x > sow) ?? edges[0]! + WEEK_SEC;
      const at = cur + (e - sow);
      if (at < nextT) return { open, nextChange: at };
    }
    if (nextT === Infinity) return { open, nextChange: null };
    if (inSegments(segments, secondOfWeek(nextT, table)) !== open) return { open, nextChange: nextT };
    cur = nextT;
  }
  return { open, nextChange: null };
}

// ---------------------------------------------------------------------------------------------
// The host's clock, for evaluations without an explicit time.

/** When an evaluation happens: a UTC second and the offsets to read it with. */
export interface EvalTime {
  nowSec: number;
  tz: TzTable;
}

let hostCache: { zone: string; table: TzTransition[]; until: number } | undefined;

/** The host zone's table covering `nowSec` (computed once per zone and 9 years). */
export function hostTzTable(nowSec: number): TzTable {
  const zone = hostZone();
  if (
    !hostCache ||
    hostCache.zone !== zone ||
    nowSec < hostCache.table[0]!.fromUtcSec ||
    nowSec > hostCache.until
  ) {
    const table = tzTable(zone, nowSec - DAY_SEC);
    hostCache = { zone, table, until: nowSec + (TZ_TABLE_YEARS - 1) * 365 * DAY_SEC };
  }
  return hostCache.table;
}

/** Now, in the host's zone. */
export function hostEvalTime(): EvalTime {
  const nowSec = Math.floor(Date.now() / 1000);
  return { nowSec, tz: hostTzTable(nowSec) };
}

// ---------------------------------------------------------------------------------------------
// Words.

/** A UTC second as the local weekday and time the table gives: `Mon 18:00`. */
export function localDayTime(utcSec: number, table: TzTable): string {
  const sow = secondOfWeek(utcSec, table);
  return `${DAY_NAMES[Math.floor(sow / DAY_SEC)]} ${formatTimeOfDay(sow % DAY_SEC)}`;
}

/** A duration ahead in words: `45 s`, `12 min`, `2 h 13 min`, `3 d 4 h`. */
export function durationWords(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `open now, closes Mon 18:00 (in 2 h 13 min)` / `closed now, opens Mon 08:00 (in 14 h)`. */
export function openStateText(s: OpenState, nowSec: number, table: TzTable): string {
  if (s.nextChange === null) return s.open ? 'open now (at all times)' : 'closed now (never opens)';
  const when = `${localDayTime(s.nextChange, table)} (in ${durationWords(s.nextChange - Math.floor(nowSec))})`;
  return s.open ? `open now, closes ${when}` : `closed now, opens ${when}`;
}

/** An endpoint's windows and their state, as status shows them. */
export interface WindowStatus {
  endpoint: string;
  when: string[];
  open: boolean;
  /** ISO 8601 (UTC) of the next change; null: none. */
  nextChange: string | null;
  /** openStateText's words. */
  state: string;
}

/** The windowed endpoints of a policy, each open or closed at `at` and when that changes. */
export function windowStatus(
  endpoints: ReadonlyArray<{ name: string; when?: readonly WindowValue[] }>,
  at: EvalTime,
): WindowStatus[] {
  const out: WindowStatus[] = [];
  for (const e of endpoints) {
    if (!e.when) continue;
    const s = openAt(weekSegments(e.when), at.nowSec, at.tz);
    out.push({
      endpoint: e.name,
      when: e.when.map((w) => w.text),
      open: s.open,
      nextChange: s.nextChange === null ? null : new Date(s.nextChange * 1000).toISOString(),
      state: openStateText(s, at.nowSec, at.tz),
    });
  }
  return out;
}
