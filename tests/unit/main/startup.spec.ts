// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  decideStartup,
  EXIT_REFUSED,
  EXIT_USAGE,
  parseFlags,
  userArgs,
} from '../../../electron/main/startup.js';

const USER = 1000;

describe('decideStartup', () => {
  it('runs as a normal user with no flags', () => {
    const d = decideStartup({ uid: USER, args: [] });
    expect(d).toEqual({
      kind: 'run',
      flags: { allowRoot: false, noSandbox: false, help: false },
      warnings: [],
    });
  });

  it('refuses uid 0 without --allow-root, naming the launcher', () => {
    const d = decideStartup({ uid: 0, args: [] });
    expect(d.kind).toBe('refuse');
    if (d.kind !== 'refuse') return;
    expect(d.exitCode).toBe(EXIT_REFUSED);
    expect(d.message).toMatch(/net-tc-filter-gui/);
    expect(d.message).toMatch(/--allow-root/);
  });

  it('refuses uid 0 with --allow-root but without --no-sandbox (Chromium needs it on the command line)', () => {
    const d = decideStartup({ uid: 0, args: ['--allow-root'] });
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') expect(d.message).toMatch(/--no-sandbox/);
  });

  it('runs uid 0 with --allow-root --no-sandbox, with a loud warning about the sandbox', () => {
    const d = decideStartup({ uid: 0, args: ['--no-sandbox', '--allow-root'] });
    expect(d.kind).toBe('run');
    if (d.kind !== 'run') return;
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(/sandbox/);
    expect(d.warnings[0]).toMatch(/CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON/);
  });

  it('refuses --no-sandbox for a normal user', () => {
    const d = decideStartup({ uid: USER, args: ['--no-sandbox'] });
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') expect(d.exitCode).toBe(EXIT_REFUSED);
  });

  it('warns that --allow-root does nothing for a normal user', () => {
    const d = decideStartup({ uid: USER, args: ['--allow-root'] });
    expect(d.kind === 'run' && d.warnings[0]).toMatch(/no effect/);
  });

  it('answers --help before anything else', () => {
    expect(decideStartup({ uid: 0, args: ['--help'] }).kind).toBe('help');
  });

  it('refuses usage errors with exit code 64', () => {
    for (const args of [['--pin-dir'], ['--pin-dir', 'relative/dir'], ['stray'], ['--policy-file=']]) {
      const d = decideStartup({ uid: USER, args });
      expect(d.kind, args.join(' ')).toBe('refuse');
      if (d.kind === 'refuse') expect(d.exitCode).toBe(EXIT_USAGE);
    }
  });
});

describe('parseFlags', () => {
  it('reads --pin-dir and --policy-file in both forms, normalised', () => {
    const { flags, errors } = parseFlags([
      '--pin-dir',
      '/sys/fs/bpf/x/../ntf',
      '--policy-file=/etc/ntf/p.yml',
    ]);
    expect(errors).toEqual([]);
    expect(flags.pinDir).toBe('/sys/fs/bpf/ntf');
    expect(flags.policyFile).toBe('/etc/ntf/p.yml');
  });

  it("passes Chromium's and Electron's switches through", () => {
    const { flags, errors } = parseFlags(['--ozone-platform=wayland', '--enable-logging', '--pin-dir=/p']);
    expect(errors).toEqual([]);
    expect(flags.pinDir).toBe('/p');
  });

  it('does not take the next switch as a value', () => {
    const { errors } = parseFlags(['--pin-dir', '--allow-root']);
    expect(errors).toEqual(['--pin-dir needs a value']);
  });
});

describe('userArgs', () => {
  it('drops the executable, and the app path when not packaged', () => {
    expect(userArgs(['/opt/net-tc-filter/net-tc-filter-app', '--x'], true)).toEqual(['--x']);
    expect(userArgs(['/repo/node_modules/electron/dist/electron', '/repo', '--x'], false)).toEqual(['--x']);
  });
});
