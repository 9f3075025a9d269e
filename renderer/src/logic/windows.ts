// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure but for the clock: when.ts's host evaluation). An endpoint's `when:`
// windows as the editor and the endpoint list show them: open now or not, and the next change,
// in this computer's time zone (the backend's: Electron's renderer and main share it).
import {
  hostEvalTime,
  localDayTime,
  openAt,
  openStateText,
  parseWindowText,
  weekSegments,
  type EvalTime,
} from '../../../electron/policy/when.js';

export interface WindowsNow {
  open: boolean;
  /** The UTC second it changes; null: never. */
  nextChange: number | null;
  /** openStateText's words: `open now, closes Mon 18:00 (in 2 h 13 min)`. */
  text: string;
  /** For the endpoint list: `open now, until Mon 18:00` / `closed now, opens Mon 08:00`. */
  short: string;
}

/** The state of an endpoint's windows at `at` (now); null without windows (always open). The
 * texts that do not parse are left out (the editor shows their errors). */
export function windowsNow(
  texts: readonly string[] | undefined,
  at: EvalTime = hostEvalTime(),
): WindowsNow | null {
  if (!texts || texts.length === 0) return null;
  const windows = texts.flatMap((t) => parseWindowText(t).window ?? []);
  const s = openAt(weekSegments(windows), at.nowSec, at.tz);
  const text = openStateText(s, at.nowSec, at.tz);
  const short =
    s.nextChange === null
      ? text
      : `${s.open ? 'open now, until' : 'closed now, opens'} ${localDayTime(s.nextChange, at.tz)}`;
  return { open: s.open, nextChange: s.nextChange, text, short };
}
