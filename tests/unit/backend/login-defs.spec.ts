// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The human accounts' uid range from /etc/login.defs.
import { describe, expect, it } from 'vitest';
import { DEFAULT_HUMAN_UIDS, parseHumanUids, readHumanUids } from '../../../electron/backend/login-defs.js';

describe('parseHumanUids', () => {
  it('reads UID_MIN and UID_MAX, ignoring comments, other keys and SYS_UID_*', () => {
    const text = [
      '# UID_MIN 1',
      'SYS_UID_MIN   101',
      'UID_MIN\t\t 500',
      'UID_MAX 29999 # local',
      'GID_MIN 500',
      '',
    ].join('\n');
    expect(parseHumanUids(text)).toEqual({ min: 500, max: 29999 });
  });

  it('falls back to 1000..60000 for a missing, malformed or inverted range', () => {
    expect(parseHumanUids('')).toEqual(DEFAULT_HUMAN_UIDS);
    expect(parseHumanUids('UID_MIN 2000')).toEqual({ min: 2000, max: 60000 });
    expect(parseHumanUids('UID_MIN abc\nUID_MAX 99999999999')).toEqual(DEFAULT_HUMAN_UIDS);
    expect(parseHumanUids('UID_MIN 70000\nUID_MAX 60000')).toEqual(DEFAULT_HUMAN_UIDS);
  });

  it('a file that cannot be read gives the defaults', () => {
    expect(readHumanUids('/nonexistent/login.defs')).toEqual(DEFAULT_HUMAN_UIDS);
  });
});
