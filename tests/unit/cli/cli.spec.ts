// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The CLI's argument handling and `check`, in process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, parseCommand, UsageError } from '../../../electron/cli/main.js';
import { packageRoot } from '../../../electron/engine/paths.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-cli-'));
  writeFileSync(join(dir, 'passwd'), 'testuser:x:1000:1000::/home/testuser:/bin/sh\n');
  writeFileSync(join(dir, 'group'), 'testuser:x:1000:\n');
  writeFileSync(join(dir, 'subuid'), 'testuser:296608:65536\n');
  vi.stubEnv('NET_TC_FILTER_PASSWD', join(dir, 'passwd'));
  vi.stubEnv('NET_TC_FILTER_GROUP', join(dir, 'group'));
  vi.stubEnv('NET_TC_FILTER_SUBUID', join(dir, 'subuid')); // not the host's /etc/subuid
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

afterEach(() => vi.restoreAllMocks());

describe('argument errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['run'], /'run' needs --config FILE/],
    [['check'], /'check' needs --config FILE/],
    [['run', '--config', 'x.yml', '--log', 'xml'], /--log must be text or json, not 'xml'/],
    [['run', '--config', 'x.yml', '--bogus'], /Unknown option '--bogus'/],
    [['status', '--config', 'x.yml'], /'status' does not take --config/],
    [['unload', '--pin-dir', '/tmp/evil'], /--pin-dir must be a directory directly under \/sys\/fs\/bpf/],
    [['unload', '--pin-dir', '/sys/fs/bpf/../../etc'], /--pin-dir must be a directory directly under/],
    [['unload', '--pin-dir', '/sys/fs/bpf/.'], /--pin-dir must be a directory directly under/],
    [['unload', '--pin-dir', '/sys/fs/bpf/..'], /--pin-dir must be a directory directly under/],
    [['status', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [argv, msg] of cases) {
    it(`${argv.join(' ') || '(nothing)'} → ${msg.source}`, async () => {
      expect(() => parseCommand(argv)).toThrow(UsageError);
      const r = await capture(argv);
      expect(r.code).toBe(64);
      expect(r.err).toMatch(msg);
      expect(r.err).toMatch(/usage: net-tc-filter/);
    });
  }
  it('rejects non-numeric and out-of-range numbers', async () => {
    expect((await capture(['run', '--config', 'x.yml', '--stats-interval', 'soon'])).err).toMatch(
      /--stats-interval must be a number/,
    );
    expect((await capture(['demo', '--duration', '0'])).err).toMatch(/--duration must be a number/);
    for (const bad of ['-1', 'soon', '', '86401'])
      expect((await capture(['run', '--config', 'x.yml', `--log-interval=${bad}`])).err).toMatch(
        /--log-interval must be a number in \[0, 86400\]/,
      );
    expect(parseCommand(['run', '--config', 'x.yml', '--log-interval', '0']).values['log-interval']).toBe(
      '0',
    );
    expect((await capture(['check', '--config', 'x.yml', '--log-interval', '5'])).err).toMatch(
      /'check' does not take --log-interval/,
    );
  });
  it('prints help with --help and exits 0', async () => {
    const r = await capture(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/commands:/);
    expect(r.out).toMatch(/--log-interval SEC/);
  });
});

describe('check', () => {
  it('accepts the original tool config unchanged', async () => {
    const r = await capture(['check', '--config', join(packageRoot(), 'conf/net-tc-filter.yml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/OK — 1 endpoint\(s\), 1 interface\(s\), 1 range\(s\)/);
  });
  it('reports errors as file:line:col and exits 1', async () => {
    const f = join(dir, 'bad.yml');
    writeFileSync(
      f,
      'endpoints:\n  - imds:\n      iface: [eth0]\n      range: [10.0.0.300/8]\n      allow: [nobody-here]\n',
    );
    const r = await capture(['check', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${f}:4:15: error: .*10\\.0\\.0\\.300/8`));
  });
  it('rejects a FIFO at once instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.yml');
    execFileSync('mkfifo', [fifo]);
    const r = await capture(['check', '--config', fifo]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not a regular file/);
  });

  it('warns, and still accepts, a listed uid inside another user’s subordinate range', async () => {
    const f = join(dir, 'borrowed.yml');
    writeFileSync(
      f,
      "endpoints:\n  - imds:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [root, '296614']\n",
    );
    writeFileSync(
      join(dir, 'passwd'),
      'testuser:x:1000:1000::/home/testuser:/bin/sh\nroot:x:0:0::/root:/bin/sh\n',
    );
    try {
      const r = await capture(['check', '--config', f]);
      expect(r.code).toBe(0);
      expect(r.err).toContain(
        `${f}:5:21: warning: uid 296614 listed in endpoint "imds" lies in testuser's subordinate range ` +
          `296608-362143 (${join(dir, 'subuid')}): testuser can act as that uid inside a user namespace`,
      );
      expect(r.out).toMatch(/OK — 1 endpoint/);
    } finally {
      writeFileSync(join(dir, 'passwd'), 'testuser:x:1000:1000::/home/testuser:/bin/sh\n');
    }
  });

  it('reports a missing file without a stack trace', async () => {
    const r = await capture(['check', '--config', join(dir, 'missing.yml')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read .*missing\.yml/);
  });
});
