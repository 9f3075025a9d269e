// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Time windows: the text, the week, time zones, and the evaluation
// the kernel's arithmetic (secondOfWeek) defines. Zones are named explicitly; the tests of the
// host default set TZ themselves.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DAY_NAMES,
  DAY_SEC,
  MAX_WEEK_SEGMENTS,
  MAX_WINDOWS,
  WEEK_SEC,
  WHEN_EMPTY,
  durationWords,
  formatWindow,
  hostEvalTime,
  hostZone,
  inSegments,
  localDayTime,
  openAt,
  openStateText,
  parseWindowText,
  secondOfWeek,
  tzTable,
  weekSegments,
  windowStatus,
  windowsError,
} from '../../../electron/policy/when.js';
import type { TzTable, WindowValue } from '../../../electron/policy/when.js';
import { parsePolicy, serializePolicy } from '../../../electron/policy/yaml.js';
import { docToPolicy, policyToDoc } from '../../../electron/policy/doc.js';
import { resolvePolicy } from '../../../electron/policy/resolve.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';
import { referenceEvaluate, referenceTrace } from '../../../electron/policy/evaluate.js';
import type { ResolvedPolicy } from '../../../electron/policy/types.js';
import { explain } from '../../../electron/policy/explain.js';
import { proposePolicy } from '../../../electron/policy/propose.js';
import type { ObservedFlow } from '../../../electron/engine/observations.js';
import type { ExplainQuery } from '../../../electron/policy/explain.js';
import { mulberry32 } from './random.js';

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number =>
  Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
const iso = (t: number | null): string | null => (t === null ? null : new Date(t * 1000).toISOString());

function win(text: string): WindowValue {
  const r = parseWindowText(text);
  if (!r.window) throw new Error(r.error);
  return r.window;
}

function errorOf(text: string): { error: string; index: number } {
  const r = parseWindowText(text);
  expect(r.window).toBeUndefined();
  return { error: r.error!, index: r.index! };
}

/** Deterministic pseudo-random numbers. */
const rng = mulberry32;

const Y2027 = utc(2027, 1, 1);
const tables = new Map<string, TzTable>();
function table(zone: string): TzTable {
  let t = tables.get(zone);
  if (!t) tables.set(zone, (t = tzTable(zone, Y2027, 2)));
  return t;
}

describe('parseWindowText', () => {
  it('reads days, day ranges (wrapping), daily, seconds and 24:00', () => {
    expect(win('Mon-Fri 08:00-18:00')).toEqual({
      text: 'Mon-Fri 08:00-18:00',
      days: 0b0011111,
      start: 8 * 3600,
      end: 18 * 3600,
    });
    expect(win('Sat 10:00-12:30')).toMatchObject({ days: 1 << 5, start: 36000, end: 45000 });
    expect(win('Mon,Wed,Fri 22:00-06:00')).toMatchObject({ days: 0b0010101, start: 79200, end: 21600 });
    expect(win('Fri-Mon 09:00-10:00').days).toBe(0b1110001);
    expect(win('daily 09:00-17:00').days).toBe(0x7f);
    expect(win('DAILY 08:00:30-24:00')).toMatchObject({ start: 28830, end: DAY_SEC });
    expect(win('monday , WED-thu 8:00 - 9:00:01')).toMatchObject({
      days: 0b0001101,
      start: 28800,
      end: 32401,
    });
    expect(win('Sun 22:00-00:00')).toMatchObject({ start: 79200, end: DAY_SEC });
    expect(win('Mon-Sun 00:00-24:00').days).toBe(0x7f);
  });

  it('says what is wrong, where in the text, and shows an example', () => {
    const cases: Array<[string, string, number]> = [
      ['Mo-Fri 08:00-18:00', '"Mo" is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)', 0],
      ['Mon-Fry 08:00-18:00', '"Fry" is not a day', 4],
      ['Mon,,Fri 08:00-18:00', 'an empty day between commas', 4],
      ['Mon-Tue-Wed 08:00-18:00', 'is not a day or a range of days such as Mon-Fri', 0],
      ['Mon- 08:00-18:00', '"Mon-" is missing a day', 4],
      ['08:00-18:00', 'it names no days (write them first)', 0],
      ['Mon-Fri', 'it has no times of day', 7],
      ['Mon-Fri08:00-18:00', 'put a space between the days and the times', 7],
      ['Mon-Fri 08:00', '"08:00" is not a time span; write HH:MM-HH:MM', 8],
      ['Mon-Fri 25:00-18:00', '"25:00": hours go from 00 to 23 (24:00 only as an end)', 8],
      ['Mon-Fri 08:00-18:60', '"18:60": minutes go from 00 to 59', 14],
      ['Mon-Fri 08:00:61-18:00', '"08:00:61": seconds go from 00 to 59', 8],
      ['Mon-Fri 8:5-18:00', 'minutes and seconds have two digits', 8],
      ['Mon-Fri 24:00-06:00', '24:00 is only an end', 8],
      ['Mon-Fri 08:00-08:00', 'it starts and ends at the same time; for the whole day write 00:00-24:00', 8],
      ['', 'it is empty', 0],
    ];
    for (const [text, why, index] of cases) {
      const e = errorOf(text);
      expect(e.error, text).toContain(`invalid time window ${JSON.stringify(text)}: `);
      expect(e.error, text).toContain(why);
      expect(e.error, text).toContain('expected e.g. "Mon-Fri 08:00-18:00"');
      expect(e.index, text).toBe(index);
    }
  });

  it('formats canonically', () => {
    expect(formatWindow(win('mon-FRI 8:00-18:00'))).toBe('Mon-Fri 08:00-18:00');
    expect(formatWindow(win('Fri-Mon 22:00-06:00:30'))).toBe('Mon,Fri-Sun 22:00-06:00:30');
    expect(formatWindow(win('Mon-Sun 09:00-10:00'))).toBe('daily 09:00-10:00');
    expect(formatWindow(win('Sat,Sun 09:00-24:00'))).toBe('Sat,Sun 09:00-24:00');
    expect(formatWindow(win('Mon,Wed,Thu,Fri 09:00-10:00'))).toBe('Mon,Wed-Fri 09:00-10:00');
    for (const t of [
      'Mon-Fri 08:00-18:00',
      'Mon,Fri-Sun 22:00-06:00:30',
      'daily 00:00-24:00',
      'Tue 23:59:59-00:00:01',
    ])
      expect(formatWindow(win(formatWindow(win(t)))), t).toBe(formatWindow(win(t)));
  });
});

describe('weekSegments', () => {
  it('splits midnight crossings, splits the Sunday→Monday wrap, merges overlaps and touching intervals', () => {
    expect(weekSegments([win('Mon 08:00-18:00')])).toEqual([{ start: 28800, end: 64800 }]);
    // Sunday night runs into Monday: split at the week's end.
    expect(weekSegments([win('Sun 22:00-06:00')])).toEqual([
      { start: 0, end: 21600 },
      { start: 6 * DAY_SEC + 79200, end: WEEK_SEC },
    ]);
    // Overlapping and touching windows merge.
    expect(
      weekSegments([
        win('Mon 08:00-12:00'),
        win('Mon 11:00-14:00'),
        win('Mon 14:00-15:00'),
        win('Tue 01:00-02:00'),
      ]),
    ).toEqual([
      { start: 28800, end: 54000 },
      { start: DAY_SEC + 3600, end: DAY_SEC + 7200 },
    ]);
    // Nights that touch the next morning's window merge across midnight.
    expect(weekSegments([win('Mon 22:00-24:00'), win('Tue 00:00-06:00')])).toEqual([
      { start: 79200, end: DAY_SEC + 21600 },
    ]);
    // The whole week is one segment; daily nights are 8.
    expect(weekSegments([win('daily 00:00-24:00')])).toEqual([{ start: 0, end: WEEK_SEC }]);
    expect(weekSegments([win('daily 22:00-06:00')])).toHaveLength(8);
  });

  it('returns sorted, disjoint, non-touching intervals equal to the union (random windows)', () => {
    const r = rng(7);
    for (let n = 0; n < 200; n++) {
      const windows: WindowValue[] = [];
      for (let k = 0; k < 1 + Math.floor(r() * 5); k++) {
        const start = Math.floor(r() * 48) * 1800;
        let end = Math.floor(r() * 48) * 1800 + 1800;
        if (end === start) end = (end + 1800) % DAY_SEC || DAY_SEC;
        windows.push({ text: '', days: 1 + Math.floor(r() * 127), start, end });
      }
      const segs = weekSegments(windows);
      for (let i = 0; i < segs.length; i++) {
        expect(segs[i]!.start).toBeLessThan(segs[i]!.end);
        if (i > 0) expect(segs[i - 1]!.end).toBeLessThan(segs[i]!.start);
      }
      expect(segs[0]!.start).toBeGreaterThanOrEqual(0);
      expect(segs[segs.length - 1]!.end).toBeLessThanOrEqual(WEEK_SEC);
      // Every half hour of the week: in the union exactly when some window's day and time say so.
      for (let sow = 0; sow < WEEK_SEC; sow += 1800) {
        const day = Math.floor(sow / DAY_SEC);
        const tod = sow % DAY_SEC;
        const expected = windows.some((w) => {
          const today = (w.days >> day) & 1;
          const yesterday = (w.days >> ((day + 6) % 7)) & 1;
          if (w.end > w.start) return today && tod >= w.start && tod < w.end;
          return (today && tod >= w.start) || (yesterday && tod < w.end);
        });
        expect(inSegments(segs, sow), `${sow}`).toBe(expected);
      }
    }
  });
});

describe('caps and empty lists', () => {
  it('refuses an empty list (it would never open), too many windows and too many segments, naming the limit', () => {
    expect(windowsError([])).toBe(WHEN_EMPTY);
    expect(WHEN_EMPTY).toContain('would never open');
    const many = Array.from({ length: MAX_WINDOWS + 1 }, () => win('Mon 08:00-09:00'));
    expect(windowsError(many)).toContain(`at most ${MAX_WINDOWS} (MAX_WINDOWS)`);
    expect(windowsError(many.slice(0, MAX_WINDOWS))).toBeUndefined();
    // Five daily windows: 35 separate intervals.
    const fragmented = [1, 3, 5, 7, 9].map((h) => win(`daily 0${h}:00-0${h}:30`.replace(/0(\d\d)/g, '$1')));
    expect(windowsError(fragmented)).toContain(
      `make 35 separate intervals of the week; at most ${MAX_WEEK_SEGMENTS} (MAX_WEEK_SEGMENTS)`,
    );
    expect(windowsError(fragmented.slice(0, 4))).toBeUndefined();
  });
});

describe('tzTable', () => {
  it('Europe/Berlin 2027: CET, CEST from Mar 28 01:00 UTC, CET from Oct 31 01:00 UTC', () => {
    expect(tzTable('Europe/Berlin', Y2027, 1)).toEqual([
      { fromUtcSec: Y2027, offsetSec: 3600 },
      { fromUtcSec: utc(2027, 3, 28, 1), offsetSec: 7200 },
      { fromUtcSec: utc(2027, 10, 31, 1), offsetSec: 3600 },
    ]);
  });
  it('America/New_York 2027: Mar 14 07:00 UTC and Nov 7 06:00 UTC', () => {
    expect(tzTable('America/New_York', Y2027, 1)).toEqual([
      { fromUtcSec: Y2027, offsetSec: -5 * 3600 },
      { fromUtcSec: utc(2027, 3, 14, 7), offsetSec: -4 * 3600 },
      { fromUtcSec: utc(2027, 11, 7, 6), offsetSec: -5 * 3600 },
    ]);
  });
  it('Asia/Kolkata: one entry (+05:30, no DST) for ten years', () => {
    expect(tzTable('Asia/Kolkata', Y2027)).toEqual([{ fromUtcSec: Y2027, offsetSec: 19800 }]);
  });
  it('Australia/Lord_Howe: a 30-minute DST (+11:00 / +10:30)', () => {
    expect(tzTable('Australia/Lord_Howe', Y2027, 1)).toEqual([
      { fromUtcSec: Y2027, offsetSec: 39600 },
      { fromUtcSec: utc(2027, 4, 3, 15), offsetSec: 37800 },
      { fromUtcSec: utc(2027, 10, 2, 15, 30), offsetSec: 39600 },
    ]);
  });
  it('covers ten years with two transitions a year, sorted, and refuses an unknown zone', () => {
    const t = tzTable('Europe/Berlin', Y2027);
    expect(t).toHaveLength(21);
    for (let i = 1; i < t.length; i++) {
      expect(t[i]!.fromUtcSec).toBeGreaterThan(t[i - 1]!.fromUtcSec);
      expect(t[i]!.offsetSec).not.toBe(t[i - 1]!.offsetSec);
    }
    expect(iso(t[t.length - 1]!.fromUtcSec)).toBe('2036-10-26T01:00:00.000Z');
    expect(() => tzTable('Mars/Olympus_Mons', Y2027)).toThrow('unknown time zone "Mars/Olympus_Mons"');
  });
});

describe('secondOfWeek', () => {
  it('is the kernel arithmetic: 1970-01-01 (a Thursday) and a Monday midnight in Berlin', () => {
    const u: TzTable = [{ fromUtcSec: 0, offsetSec: 0 }];
    expect(secondOfWeek(0, u)).toBe(3 * DAY_SEC);
    expect(secondOfWeek(utc(2027, 3, 29, 0, 0, 1), u)).toBe(1); // Monday
    // Monday 2027-03-29 00:00 CEST is Sunday 22:00 UTC.
    expect(secondOfWeek(utc(2027, 3, 28, 22), table('Europe/Berlin'))).toBe(0);
    expect(secondOfWeek(utc(2027, 3, 28, 21, 59, 59), table('Europe/Berlin'))).toBe(WEEK_SEC - 1);
    // Before the table's first entry its offset holds (a clock stepped back).
    expect(secondOfWeek(Y2027 - 3600, table('Asia/Kolkata'))).toBe(
      secondOfWeek(Y2027 - 3600, [{ fromUtcSec: 0, offsetSec: 19800 }]),
    );
  });

  it('agrees with Intl on the local weekday and time (random instants, four zones)', () => {
    const r = rng(11);
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
      const fmt = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      });
      for (let n = 0; n < 300; n++) {
        const t = Y2027 + Math.floor(r() * 2 * 365 * DAY_SEC);
        const sow = secondOfWeek(t, table(zone));
        const two = (n: number) => String(n).padStart(2, '0');
        const tod = sow % DAY_SEC;
        const ours = `${DAY_NAMES[Math.floor(sow / DAY_SEC)]} ${two(Math.floor(tod / 3600))}:${two(Math.floor(tod / 60) % 60)}:${two(tod % 60)}`;
        expect(ours, `${zone} ${iso(t)}`).toBe(fmt.format(new Date(t * 1000)).replace(/^(\w+),? /, '$1 '));
        expect(localDayTime(t, table(zone))).toBe(ours.replace(/:00$/, ''));
      }
    }
  });
});

/** Every state change from t over `days`, by chaining openAt. */
function changes(w: WindowValue[], from: number, to: number, tz: TzTable): string[] {
  const out: string[] = [];
  let t = from;
  for (;;) {
    const s = openAt(w, t, tz);
    if (s.nextChange === null || s.nextChange > to) return out;
    out.push(`${iso(s.nextChange)} ${s.open ? 'closes' : 'opens'}`);
    t = s.nextChange;
  }
}

describe('openAt', () => {
  const berlin = () => table('Europe/Berlin');

  it('is open inside a window and says when it closes; closed outside and says when it opens', () => {
    const w = [win('Mon-Fri 08:00-18:00')];
    // Wednesday 2027-06-16 10:00 CEST = 08:00 UTC.
    expect(openAt(w, utc(2027, 6, 16, 8), berlin())).toEqual({
      open: true,
      nextChange: utc(2027, 6, 16, 16),
    });
    // Friday 19:00 CEST: opens Monday 08:00 CEST.
    expect(openAt(w, utc(2027, 6, 18, 17), berlin())).toEqual({
      open: false,
      nextChange: utc(2027, 6, 21, 6),
    });
    // At the edge itself the new state holds.
    expect(openAt(w, utc(2027, 6, 21, 6), berlin()).open).toBe(true);
    expect(openAt(w, utc(2027, 6, 21, 6) - 1, berlin())).toEqual({
      open: false,
      nextChange: utc(2027, 6, 21, 6),
    });
    // Always and never.
    expect(openAt([win('daily 00:00-24:00')], Y2027, berlin())).toEqual({ open: true, nextChange: null });
    expect(openAt([], Y2027, berlin())).toEqual({ open: false, nextChange: null });
  });

  it('spring forward (Berlin, Sun 2027-03-28 02:00 CET → 03:00 CEST): edges in the skipped hour take effect at the jump', () => {
    const day = [utc(2027, 3, 27, 12), utc(2027, 3, 28, 12)] as const;
    // 02:30 does not exist that night: the window opens when the clock jumps to 03:00.
    expect(changes([win('daily 02:30-04:00')], ...day, berlin())).toEqual([
      '2027-03-28T01:00:00.000Z opens',
      '2027-03-28T02:00:00.000Z closes',
    ]);
    // An end in the skipped hour closes at the jump.
    expect(changes([win('daily 01:00-02:30')], ...day, berlin())).toEqual([
      '2027-03-28T00:00:00.000Z opens',
      '2027-03-28T01:00:00.000Z closes',
    ]);
    // A window wholly inside the skipped hour does not open that day.
    expect(openAt([win('Sun 02:10-02:50')], day[0], berlin())).toEqual({
      open: false,
      nextChange: utc(2027, 4, 4, 0, 10), // the next Sunday, 02:10 CEST
    });
  });

  it('fall back (Berlin, Sun 2027-10-31 03:00 CEST → 02:00 CET): an edge in the repeated hour takes effect each time', () => {
    const day = [utc(2027, 10, 30, 12), utc(2027, 10, 31, 12)] as const;
    expect(changes([win('daily 02:30-04:00')], ...day, berlin())).toEqual([
      '2027-10-31T00:30:00.000Z opens', // 02:30 CEST
      '2027-10-31T01:00:00.000Z closes', // the clock goes back to 02:00 (CET)
      '2027-10-31T01:30:00.000Z opens', // 02:30 CET
      '2027-10-31T03:00:00.000Z closes', // 04:00 CET
    ]);
    // A window around the repeated hour stays open through it (one hour longer that night).
    expect(changes([win('daily 01:00-04:00')], ...day, berlin())).toEqual([
      '2027-10-30T23:00:00.000Z opens',
      '2027-10-31T03:00:00.000Z closes',
    ]);
  });

  it('Lord Howe: a 30-minute shift moves an edge by 30 minutes', () => {
    const lh = table('Australia/Lord_Howe');
    // Sunday 2027-04-04 02:00 +11 → 01:30 +10:30 (at 2027-04-03 15:00 UTC).
    expect(changes([win('daily 01:45-03:00')], utc(2027, 4, 3, 12), utc(2027, 4, 4, 0), lh)).toEqual([
      '2027-04-03T14:45:00.000Z opens', // 01:45 +11
      '2027-04-03T15:00:00.000Z closes', // back to 01:30
      '2027-04-03T15:15:00.000Z opens', // 01:45 +10:30
      '2027-04-03T16:30:00.000Z closes', // 03:00 +10:30
    ]);
  });

  it('agrees with secondOfWeek at random instants: the state holds until nextChange, and flips there', () => {
    const r = rng(3);
    const texts = [
      'Mon-Fri 08:00-18:00',
      'daily 02:30-04:00',
      'Sun 22:00-06:00',
      'Fri-Mon 01:15:30-02:45',
      'Sat 00:00-24:00',
    ];
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      const tz = table(zone);
      for (let n = 0; n < 400; n++) {
        const w = texts.filter(() => r() < 0.5).map(win);
        if (w.length === 0) continue;
        const segs = weekSegments(w);
        const t = Y2027 + Math.floor(r() * 700 * DAY_SEC);
        const s = openAt(segs, t, tz);
        expect(openAt(w, t, tz)).toEqual(s);
        const at = (x: number) => inSegments(segs, secondOfWeek(x, tz));
        expect(s.open).toBe(at(t));
        expect(s.nextChange).not.toBeNull();
        const next = s.nextChange!;
        expect(next).toBeGreaterThan(t);
        expect(at(next)).toBe(!s.open);
        expect(at(next - 1)).toBe(s.open);
        for (let k = 0; k < 20; k++) expect(at(t + Math.floor(r() * (next - t)))).toBe(s.open);
      }
    }
  });

  it('finds every change a minute-by-minute scan of a DST week finds', () => {
    for (const [zone, from] of [
      ['Europe/Berlin', utc(2027, 3, 25)],
      ['Europe/Berlin', utc(2027, 10, 28)],
      ['America/New_York', utc(2027, 11, 4)],
      ['Australia/Lord_Howe', utc(2027, 9, 29)],
    ] as const) {
      const tz = table(zone);
      const w = [win('daily 01:30-02:15'), win('Sun 02:45-03:10')];
      const segs = weekSegments(w);
      const scanned: string[] = [];
      let prev = inSegments(segs, secondOfWeek(from, tz));
      for (let t = from + 60; t <= from + 7 * DAY_SEC; t += 60) {
        const now = inSegments(segs, secondOfWeek(t, tz));
        if (now !== prev) scanned.push(`${iso(t)} ${now ? 'opens' : 'closes'}`);
        prev = now;
      }
      expect(changes(w, from, from + 7 * DAY_SEC, tz), zone).toEqual(scanned);
    }
  });

  it('words the state', () => {
    const w = [win('Mon-Fri 08:00-18:00')];
    const now = utc(2027, 6, 16, 13, 47); // Wednesday 15:47 CEST
    expect(openStateText(openAt(w, now, berlin()), now, berlin())).toBe(
      'open now, closes Wed 18:00 (in 2 h 13 min)',
    );
    const fri = utc(2027, 6, 18, 17); // Friday 19:00 CEST
    expect(openStateText(openAt(w, fri, berlin()), fri, berlin())).toBe(
      'closed now, opens Mon 08:00 (in 2 d 13 h)',
    );
    expect(openStateText({ open: true, nextChange: null }, 0, berlin())).toBe('open now (at all times)');
    expect(durationWords(59)).toBe('59 s');
    expect(durationWords(3600)).toBe('1 h');
  });
});

describe('the host time zone (TZ)', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  it('follows TZ', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(['Asia/Kolkata', 'Asia/Calcutta']).toContain(hostZone()); // ICU may name the alias
    const t = hostEvalTime();
    expect(t.tz).toEqual([{ fromUtcSec: expect.any(Number) as number, offsetSec: 19800 }]);
    process.env.TZ = 'America/New_York';
    expect(hostZone()).toBe('America/New_York');
    expect(hostEvalTime().tz.length).toBeGreaterThan(1);
  });
  it('reads zone names, :names and zoneinfo paths, and refuses what Intl would misread', () => {
    process.env.TZ = ':Europe/Berlin';
    expect(hostZone()).toBe('Europe/Berlin');
    // Intl itself reads a path as a fixed offset (no DST): the name is taken from the path.
    process.env.TZ = '/usr/share/zoneinfo/Europe/Berlin';
    expect(hostZone()).toBe('Europe/Berlin');
    process.env.TZ = 'UTC0';
    expect(hostZone()).toBe('UTC');
    // A POSIX rule: libc follows it, Intl would say UTC.
    process.env.TZ = 'EST5EDT,M3.2.0,M11.1.0';
    expect(() => hostZone()).toThrow(
      'TZ="EST5EDT,M3.2.0,M11.1.0" is not a time zone name (POSIX rules and other files are not read here); ' +
        'set TZ to a zone name such as Europe/Berlin, or unset it to use /etc/localtime',
    );
    process.env.TZ = 'Mars/Olympus';
    expect(() => hostZone()).toThrow('TZ="Mars/Olympus" is not a time zone name');
  });
});

// ---------------------------------------------------------------------------------------------
// The model: YAML, the editor document, resolution and the evaluator.

const POLICY = (when: string): string =>
  'endpoints:\n' +
  '  - imdsv2:\n' +
  '      iface: [eth0]\n' +
  '      range: [169.254.169.254/32]\n' +
  '      allow: [alice]\n' +
  when;

function errorsOf(text: string): string[] {
  const r = parsePolicy(text, 'w.yml');
  expect(r.policy).toBeUndefined();
  return r.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.pos?.line}:${d.pos?.col} ${d.message}`);
}

describe('when: in the policy file', () => {
  it('parses windows with positions and exports them as written', () => {
    const text = POLICY("      when:\n        - mon-fri 8:00-18:00\n        - 'Sat 10:00-12:30'\n");
    const r = parsePolicy(text, 'w.yml');
    expect(r.diagnostics).toEqual([]);
    const ep = r.policy!.endpoints[0]!;
    expect(ep.when).toEqual([
      {
        text: 'mon-fri 8:00-18:00',
        days: 31,
        start: 28800,
        end: 64800,
        pos: { file: 'w.yml', line: 7, col: 11 },
      },
      {
        text: 'Sat 10:00-12:30',
        days: 32,
        start: 36000,
        end: 45000,
        pos: { file: 'w.yml', line: 8, col: 11 },
      },
    ]);
    const out = serializePolicy(r.policy!);
    expect(out).toContain('      when: [mon-fri 8:00-18:00, Sat 10:00-12:30]\n');
    const again = parsePolicy(out, 'out.yml');
    expect(again.policy!.endpoints[0]!.when!.map((w) => w.text)).toEqual([
      'mon-fri 8:00-18:00',
      'Sat 10:00-12:30',
    ]);
    expect(serializePolicy(again.policy!)).toBe(out);
    // A single window without a list.
    expect(
      parsePolicy(POLICY('      when: daily 09:00-17:00\n'), 'w.yml').policy!.endpoints[0]!.when,
    ).toHaveLength(1);
  });

  it('leaves endpoints without when: as they were (always open, nothing exported)', () => {
    const r = parsePolicy(POLICY(''), 'w.yml');
    expect(r.policy!.endpoints[0]!.when).toBeUndefined();
    expect(serializePolicy(r.policy!)).not.toContain('when');
  });

  it('points at the wrong character in file:line:col', () => {
    // Plain: "Fry" is at column 18 (the item starts at 14, "Mon-" is 4 characters).
    expect(errorsOf(POLICY('      when: [Mon-Fry 08:00-18:00]\n'))).toEqual([
      expect.stringMatching(/^6:18 invalid time window "Mon-Fry 08:00-18:00": "Fry" is not a day/),
    ]);
    // Quoted: one more for the quote.
    expect(errorsOf(POLICY('      when:\n        - "Mon-Fri 08:00-25:00"\n'))[0]).toMatch(
      /^7:26 invalid time window "Mon-Fri 08:00-25:00": "25:00": hours go from 00 to 23/,
    );
    expect(errorsOf(POLICY('      when: []\n'))).toEqual([`6:13 ${WHEN_EMPTY}`]);
    expect(errorsOf(POLICY('      when:\n'))).toEqual([`6:7 ${WHEN_EMPTY}`]);
    expect(errorsOf(POLICY('      when: {Mon: 1}\n'))[0]).toMatch(
      /^6:13 "when" must be a list of time windows/,
    );
    expect(errorsOf(POLICY('      when: [[Mon]]\n'))[0]).toMatch(/^6:14 expected a time window such as/);
    const many = Array.from({ length: MAX_WINDOWS + 1 }, () => '"Mon 08:00-09:00"').join(', ');
    expect(errorsOf(POLICY(`      when: [${many}]\n`))).toEqual([
      expect.stringMatching(/^6:7 "when" lists 33 windows; at most 32 \(MAX_WINDOWS\)/),
    ]);
    expect(errorsOf(POLICY('      whn: [daily 09:00-10:00]\n'))[0]).toMatch(
      /^6:7 unknown key "whn" in endpoint "imdsv2"; allowed keys: iface, range, allow, when$/,
    );
  });
});

describe('when in the editor document', () => {
  it('round-trips through policyToDoc and docToPolicy, with errors by path', () => {
    const p = parsePolicy(POLICY('      when: [Mon-Fri 08:00-18:00]\n'), 'w.yml').policy!;
    const doc = policyToDoc(p);
    expect(doc.endpoints[0]!.when).toEqual(['Mon-Fri 08:00-18:00']);
    expect(docToPolicy(doc).policy!.endpoints[0]!.when).toEqual([
      { text: 'Mon-Fri 08:00-18:00', days: 31, start: 28800, end: 64800 },
    ]);
    expect(policyToDoc(parsePolicy(POLICY(''), 'w.yml').policy!).endpoints[0]).not.toHaveProperty('when');
    const bad = docToPolicy({
      ...doc,
      endpoints: [{ ...doc.endpoints[0]!, when: ['Mon 08:00-18:00', 'Mon 8'] }],
    });
    expect(bad.policy).toBeUndefined();
    expect(bad.diagnostics).toEqual([
      {
        severity: 'error',
        path: ['endpoints', 0, 'when', 1],
        message: expect.stringContaining('"8" is not a time span') as string,
      },
    ]);
    const empty = docToPolicy({ ...doc, endpoints: [{ ...doc.endpoints[0]!, when: [] }] });
    expect(empty.diagnostics).toEqual([
      { severity: 'error', path: ['endpoints', 0, 'when'], message: WHEN_EMPTY },
    ]);
  });
});

describe('evaluation with windows', () => {
  const db: AccountDb = {
    users: new Map([
      ['alice', { uid: 1000, gid: 1000 }],
      ['bob', { uid: 1001, gid: 1001 }],
    ]),
    uidToName: new Map([
      [1000, 'alice'],
      [1001, 'bob'],
    ]),
    groups: new Map(),
  };
  const resolved = (text: string): ResolvedPolicy => {
    const p = parsePolicy(text, 'w.yml');
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const r = resolvePolicy(p.policy!, db);
    expect(r.resolved).toBeDefined();
    return r.resolved!;
  };
  const text =
    'endpoints:\n' +
    '  - imdsv2:\n' +
    '      iface: [eth0]\n' +
    '      range: [169.254.169.254/32]\n' +
    '      allow: [alice]\n' +
    '      when: [Mon-Fri 08:00-18:00]\n' +
    '  - anyone:\n' +
    '      iface: [eth0]\n' +
    '      range: [10.0.0.0/8]\n' +
    '      allow: ["*"]\n' +
    "      when: ['Sat,Sun 00:00-24:00']\n" +
    'interfaces:\n' +
    '  eth0: {default: allow}\n';
  const ifindexOf = (n: string) => (n === 'eth0' ? 2 : undefined);
  const pkt = (d: number[], uid: number) => ({
    ifindex: 2,
    family: 4 as const,
    daddr: Uint8Array.from(d),
    uid,
  });
  const imds = [169, 254, 169, 254];

  it('resolve carries the windows and their week segments', () => {
    const p = resolved(text);
    expect(p.endpoints[0]!.when).toEqual({
      windows: ['Mon-Fri 08:00-18:00'],
      segments: weekSegments([win('Mon-Fri 08:00-18:00')]),
    });
  });

  it('an endpoint grants inside its windows and nothing outside, and still guards its ranges', () => {
    const p = resolved(text);
    const tz = table('Europe/Berlin');
    const wed10 = { nowSec: utc(2027, 6, 16, 8), tz };
    const wed19 = { nowSec: utc(2027, 6, 16, 17), tz };
    expect(referenceEvaluate(p, ifindexOf, pkt(imds, 1000), wed10)).toEqual({
      verdict: 'allow',
      reason: 'endpoint',
      endpointId: 1,
    });
    // Closed: the destination stays guarded (default allow does not apply), nobody is listed.
    expect(referenceEvaluate(p, ifindexOf, pkt(imds, 1000), wed19)).toEqual({
      verdict: 'drop',
      reason: 'not-listed',
      endpointId: 0,
    });
    const trace = referenceTrace(p, ifindexOf, pkt(imds, 1000), wed19);
    expect(trace.closed.map((e) => e.name)).toEqual(['imdsv2']);
    expect(trace.covering.map((e) => e.name)).toEqual(['imdsv2']);
    // `*` on weekends only.
    const sat = { nowSec: utc(2027, 6, 19, 10), tz };
    expect(referenceEvaluate(p, ifindexOf, pkt([10, 1, 2, 3], 1001), sat).verdict).toBe('allow');
    expect(referenceEvaluate(p, ifindexOf, pkt([10, 1, 2, 3], 1001), wed10).reason).toBe('not-listed');
    // Unguarded traffic is untouched by windows.
    expect(referenceEvaluate(p, ifindexOf, pkt([192, 0, 2, 1], 1001), wed19).reason).toBe('default-allow');
  });

  it('without an explicit time, evaluates now (Date.now) in the host zone (TZ)', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const p = resolved(text);
      vi.setSystemTime(utc(2027, 6, 16, 4) * 1000); // Wednesday 09:30 IST
      expect(referenceEvaluate(p, ifindexOf, pkt(imds, 1000)).verdict).toBe('allow');
      vi.setSystemTime(utc(2027, 6, 16, 13) * 1000); // Wednesday 18:30 IST
      expect(referenceEvaluate(p, ifindexOf, pkt(imds, 1000)).verdict).toBe('drop');
      vi.setSystemTime(utc(2027, 6, 16, 12, 29, 59) * 1000); // 17:59:59 IST
      expect(referenceEvaluate(p, ifindexOf, pkt(imds, 1000)).verdict).toBe('allow');
    } finally {
      vi.useRealTimers();
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('explain with windows', () => {
  const db: AccountDb = {
    users: new Map([['alice', { uid: 1000, gid: 1000 }]]),
    uidToName: new Map([[1000, 'alice']]),
    groups: new Map(),
  };
  const p = resolvePolicy(
    parsePolicy(POLICY('      when: [Mon-Fri 08:00-18:00]\n'), 'w.yml').policy!,
    db,
  ).resolved!;
  const query = (nowSec: number): ExplainQuery => ({
    policy: p,
    source: 'w.yml',
    uid: 1000,
    nameOf: (u) => db.uidToName.get(u),
    family: 4,
    daddr: Uint8Array.from([169, 254, 169, 254]),
    iface: 'eth0',
    at: { nowSec, tz: table('Europe/Berlin') },
  });

  it('says a granting endpoint is closed now and when it opens', () => {
    const e = explain(query(utc(2027, 6, 18, 17))); // Friday 19:00 CEST
    expect(e.verdict).toBe('drop');
    expect(e.reason).toBe('not-listed');
    expect(e.lines).toContain(
      '  imdsv2 (169.254.169.254/32) lets alice reach it through eth0, only Mon-Fri 08:00-18:00: ' +
        'closed now, opens Mon 08:00 (in 2 d 13 h).',
    );
    expect(e.lines).toContain(
      'imdsv2 would allow alice, but only Mon-Fri 08:00-18:00: closed now, opens Mon 08:00 (in 2 d 13 h); ' +
        'outside its windows it grants nothing.',
    );
  });

  it('says when an open endpoint closes', () => {
    const e = explain(query(utc(2027, 6, 16, 13, 47))); // Wednesday 15:47 CEST
    expect(e.verdict).toBe('allow');
    expect(e.endpoint).toBe('imdsv2');
    expect(e.lines.join('\n')).toContain(
      'only Mon-Fri 08:00-18:00: open now, closes Wed 18:00 (in 2 h 13 min).',
    );
    expect(e.lines.join('\n')).not.toContain('would allow');
  });
});

describe('windowStatus (status)', () => {
  it('lists each windowed endpoint, open or closed now, with its next change', () => {
    const p = parsePolicy(
      POLICY('      when: [Mon-Fri 08:00-18:00]\n') +
        '  - always:\n      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: ["*"]\n' +
        '  - nights:\n      iface: [eth0]\n      range: [10.1.0.0/16]\n      allow: ["*"]\n' +
        "      when: ['daily 22:00-06:00', 'Sat 10:00-12:30']\n",
      'w.yml',
    ).policy!;
    const at = { nowSec: utc(2027, 6, 16, 13, 47), tz: table('Europe/Berlin') }; // Wed 15:47 CEST
    expect(windowStatus(p.endpoints, at)).toEqual([
      {
        endpoint: 'imdsv2',
        when: ['Mon-Fri 08:00-18:00'],
        open: true,
        nextChange: '2027-06-16T16:00:00.000Z',
        state: 'open now, closes Wed 18:00 (in 2 h 13 min)',
      },
      {
        endpoint: 'nights',
        when: ['daily 22:00-06:00', 'Sat 10:00-12:30'],
        open: false,
        nextChange: '2027-06-16T20:00:00.000Z',
        state: 'closed now, opens Wed 22:00 (in 6 h 13 min)',
      },
    ]);
  });
});

describe('the documented examples', () => {
  const root = new URL('../../../', import.meta.url);
  const yamlBlock = (file: string, after: string): string => {
    const text = readFileSync(new URL(file, root), 'utf8');
    const from = text.indexOf(after);
    const m = /```yaml\n([\s\S]*?)```/.exec(text.slice(from));
    if (from < 0 || !m) throw new Error(`no yaml block after ${after} in ${file}`);
    return m[1]!;
  };
  it("README's policy example and docs/datapath.md's Time windows example parse, with their windows", () => {
    const readme = parsePolicy(yamlBlock('README.md', '## Policy'), 'README.md');
    expect(readme.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(readme.policy!.endpoints[0]!.when!.map((w) => w.text)).toEqual(['Mon-Fri 08:00-18:00']);
    const fragment = yamlBlock('docs/datapath.md', '## Time windows');
    const doc = parsePolicy(`endpoints:\n${fragment.replace(/^/gm, '  ')}`, 'datapath.md');
    expect(doc.diagnostics).toEqual([]);
    expect(doc.policy!.endpoints[0]!.when!.map(formatWindow)).toEqual([
      'Mon-Fri 08:00-18:00',
      'Sat 10:00-12:30',
      'Mon,Wed,Fri 22:00-06:00',
    ]);
  });
});

describe('propose with windows', () => {
  const db: AccountDb = {
    users: new Map([['alice', { uid: 1000, gid: 1000 }]]),
    uidToName: new Map([[1000, 'alice']]),
    groups: new Map(),
  };
  const text = POLICY('      when: [Mon-Fri 08:00-18:00]\n');
  const flow = (lastSeen: number): ObservedFlow => ({
    iface: 'eth0',
    uid: 1000,
    family: 4,
    proto: 'tcp',
    dst: '169.254.169.254',
    dport: 80,
    sport: 40000,
    verdict: 'drop',
    reason: 'not-listed',
    packets: 3,
    bytes: 180,
    firstSeen: lastSeen - 60_000,
    lastSeen,
  });
  const run = (nowMs: number) => {
    const saved = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
    try {
      return proposePolicy({
        text,
        resolved: resolvePolicy(parsePolicy(text, 'w.yml').policy!, db).resolved!,
        observed: [flow(nowMs - 1000)],
        userName: (u) => db.uidToName.get(u),
        now: nowMs,
      });
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  };

  it('does not propose an always-open grant for a flow denied only outside an endpoint’s windows', () => {
    const r = run(utc(2027, 6, 18, 17) * 1000); // Friday 19:00 CEST: closed
    expect(r.added).toBe(0);
    expect(r.skipped.map((x) => x.why)).toEqual([
      'imdsv2 allows it only Mon-Fri 08:00-18:00; widen its windows to allow it at other times',
    ]);
    // Inside the window the policy allows it already.
    expect(run(utc(2027, 6, 16, 8) * 1000).skipped.map((x) => x.why)).toEqual([
      'the current policy allows it already (it changed since)',
    ]);
  });
});
