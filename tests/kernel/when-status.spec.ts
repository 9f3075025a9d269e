// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. `status` of a running `run` lists each endpoint with
// `when:` windows, open or closed now and when that changes, in the host's time zone (TZ), read
// from the enforced policy the history keeps.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { cleanup, setup } from './harness.js';
import type { Env } from './harness.js';

let env: Env | undefined;
const savedTz = process.env.TZ;
afterEach(async () => {
  const pinDir = env?.pinDir;
  await cleanup(env);
  env = undefined;
  if (pinDir) rmSync(stateDirFor(pinDir), { recursive: true, force: true });
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

/** Asia/Kolkata is UTC+05:30 all year. */
const KOLKATA = 19800;
const two = (n: number) => String(n).padStart(2, '0');
const tod = (s: number) => {
  const x = ((s % 86400) + 86400) % 86400;
  return `${two(Math.floor(x / 3600))}:${two(Math.floor(x / 60) % 60)}:${two(x % 60)}`;
};

type Status = {
  windows?: Array<{
    endpoint: string;
    when: string[];
    open: boolean;
    nextChange: string | null;
    state: string;
  }>;
};

describe('status with time windows', () => {
  it('says which windowed endpoint is open now and when each changes, in TZ', async () => {
    process.env.TZ = 'Asia/Kolkata'; // the CLI's zone (env.cli passes the environment on)
    const now = Math.floor(Date.now() / 1000);
    const local = now + KOLKATA;
    // One window around now (closes in 2 h), one later today or tomorrow (opens in 3 h).
    const openWin = `daily ${tod(local - 3600)}-${tod(local + 7200)}`;
    const closedWin = `daily ${tod(local + 3 * 3600)}-${tod(local + 4 * 3600)}`;
    env = await setup(1);
    await env.run(`endpoints:
  - during:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
      when: ['${openWin}']
  - later:
      iface: [ntf0]
      range: [203.0.113.0/24]
      allow: [bob]
      when: ['${closedWin}']
  - always:
      iface: [ntf0]
      range: [198.51.100.0/24]
      allow: [bob]
`);
    const json = env.cli(['status', '--json', '--pin-dir', env.pinDir]);
    expect(json.code, json.stderr).toBe(0);
    const s = JSON.parse(json.stdout) as Status;
    expect(s.windows).toEqual([
      {
        endpoint: 'during',
        when: [openWin],
        open: true,
        nextChange: new Date((now + 7200) * 1000).toISOString(),
        state: expect.stringMatching(
          /^open now, closes \w{3} \d\d:\d\d(:\d\d)? \(in (1 h 59 min|2 h)\)$/,
        ) as string,
      },
      {
        endpoint: 'later',
        when: [closedWin],
        open: false,
        nextChange: new Date((now + 3 * 3600) * 1000).toISOString(),
        state: expect.stringMatching(
          /^closed now, opens \w{3} \d\d:\d\d(:\d\d)? \(in (2 h 59 min|3 h)\)$/,
        ) as string,
      },
    ]);
    const text = env.cli(['status', '--pin-dir', env.pinDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`window:    during (${openWin}): open now, closes `);
    expect(text.stdout).toContain(`window:    later (${closedWin}): closed now, opens `);
    expect(text.stdout).not.toContain('window:    always');
  });
});
