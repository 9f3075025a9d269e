// SPDX-License-Identifier: Apache-2.0
// Environment: Node (engine worker, tests). No Electron import.
//
// The uid range of human accounts on this host, as useradd(8) allocates it: UID_MIN and UID_MAX
// from /etc/login.defs (the account picker lists those accounts first).
import { readFileSync } from 'node:fs';

export const LOGIN_DEFS = '/etc/login.defs';
/** useradd's defaults when login.defs does not say. */
export const DEFAULT_HUMAN_UIDS = { min: 1000, max: 60000 } as const;

const MAX_UID = 0xfffffffe;

/** UID_MIN/UID_MAX of a login.defs text ("KEY value" lines, '#' comments); a missing, malformed
 * or inverted value falls back to the default. */
export function parseHumanUids(text: string): { min: number; max: number } {
  const value = (key: string): number | undefined => {
    let found: number | undefined;
    for (const line of text.split('\n')) {
      const m = /^\s*([A-Z_]+)\s+([0-9]{1,10})\s*(#.*)?$/.exec(line);
      if (m?.[1] === key) {
        const n = Number(m[2]);
        if (n <= MAX_UID) found = n;
      }
    }
    return found;
  };
  const min = value('UID_MIN') ?? DEFAULT_HUMAN_UIDS.min;
  const max = value('UID_MAX') ?? DEFAULT_HUMAN_UIDS.max;
  return min <= max ? { min, max } : { ...DEFAULT_HUMAN_UIDS };
}

/** This host's range (the defaults when the file cannot be read). */
export function readHumanUids(file = LOGIN_DEFS): { min: number; max: number } {
  try {
    return parseHumanUids(readFileSync(file, 'utf8'));
  } catch {
    return { ...DEFAULT_HUMAN_UIDS };
  }
}
