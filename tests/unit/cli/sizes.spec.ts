// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The size knobs: --max-policy-bytes (the input cap), --range-entries
// and --set-entries (the kernel maps' size), their checks and their messages, in process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, MAX_POLICY_BYTES_FLAG, parseCommand, sizes, USAGE } from '../../../electron/cli/main.js';
import { CapacityError, DEFAULT_LIMITS } from '../../../electron/policy/compile.js';
import { MAX_POLICY_BYTES } from '../../../electron/policy/yaml.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-sizes-'));
  writeFileSync(join(dir, 'passwd'), 'testuser:x:1000:1000::/home/testuser:/bin/sh\n');
  writeFileSync(join(dir, 'group'), 'testuser:x:1000:\n');
  vi.stubEnv('NET_TC_FILTER_PASSWD', join(dir, 'passwd'));
  vi.stubEnv('NET_TC_FILTER_GROUP', join(dir, 'group'));
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const POLICY =
  'endpoints:\n  - ep:\n      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [testuser]\n';

describe('size flags', () => {
  it('run and apply take all three, check only the input cap', () => {
    const flags = ['--max-policy-bytes', '2048', '--range-entries', '10', '--set-entries', '20'];
    expect(sizes(parseCommand(['run', '--config', 'x', ...flags]).values)).toEqual({
      maxPolicyBytes: 2048,
      rangeEntries: 10,
      setEntries: 20,
    });
    expect(sizes(parseCommand(['apply', '--config', 'x', ...flags]).values).rangeEntries).toBe(10);
    expect(sizes(parseCommand(['check', '--config', 'x', '--max-policy-bytes', '4096']).values)).toEqual({
      maxPolicyBytes: 4096,
      rangeEntries: undefined,
      setEntries: undefined,
    });
    expect(() => parseCommand(['check', '--config', 'x', '--range-entries', '10'])).toThrow(
      /'check' does not take --range-entries/,
    );
    expect(sizes(parseCommand(['check', '--config', 'x']).values).maxPolicyBytes).toBe(MAX_POLICY_BYTES);
  });

  it.each([
    ['--max-policy-bytes', '1023', /--max-policy-bytes must be a whole number in \[1024, 268435456\]/],
    ['--max-policy-bytes', String(MAX_POLICY_BYTES_FLAG + 1), /--max-policy-bytes must be a whole number/],
    ['--range-entries', '0', /--range-entries must be a whole number in \[1, 1073741824\]/],
    ['--set-entries', '1e6', /--set-entries must be a whole number/],
  ])('refuses %s %s', async (flag, value, message) => {
    const r = await capture(['run', '--config', 'x', flag, value]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(message);
  });

  it('the usage names them with their defaults', () => {
    expect(USAGE).toContain(
      `--max-policy-bytes N] the largest policy file read (default ${MAX_POLICY_BYTES}`,
    );
    expect(USAGE).toContain('[--range-entries N] [--set-entries N]');
    expect(USAGE).toContain(`(default ${DEFAULT_LIMITS.lpm4}`);
    expect(USAGE).toContain(`and ${DEFAULT_LIMITS.sets})`);
  });

  it('check refuses a file over --max-policy-bytes, naming the cap and the flag', async () => {
    const file = join(dir, 'p.yml');
    writeFileSync(file, `${POLICY}# ${'x'.repeat(2000)}\n`);
    expect((await capture(['check', '--config', file])).code).toBe(0);
    const r = await capture(['check', '--config', file, '--max-policy-bytes', '2048']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${file}:1:1: error: the file is larger than 2048 bytes (2 KiB), the most a policy may be here; net-tc-filter check/apply/run take --max-policy-bytes N to raise it`,
    );
  });
});

describe('the capacity error', () => {
  it('names the limit, the map and the knob', () => {
    expect(new CapacityError('lpm4', 1000).message).toBe(
      'the policy needs more than 1000 IPv4 range entries (ntf_lpm4; one per range per interface, plus one for the other interfaces), the most one policy may use here; raise it with --range-entries N (net-tc-filter run/apply), which sizes the kernel maps when they are created: existing maps keep their size until net-tc-filter unload',
    );
    expect(new CapacityError('lpm6', 7).message).toMatch(
      /more than 7 IPv6 range entries \(ntf_lpm6;.*--range-entries N/,
    );
    expect(new CapacityError('sets', 9).message).toMatch(
      /more than 9 user-set entries \(ntf_sets;.*--set-entries N/,
    );
  });
});
