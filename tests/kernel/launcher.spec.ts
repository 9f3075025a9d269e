// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The desktop launcher for real: setpriv, a real account,
// real capability sets read back from /proc; and the main process's clearing of its ambient set.
//
// A throwaway account (uid/gid 62001) is created for the run and removed afterwards, also on
// failure. Needs `npm run build:ts` (the clearing test imports dist/native-bridge).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capNames, ENGINE_CAPS, parseCapField } from '../../electron/main/caps.js';
import { packageRoot } from '../../electron/engine/paths.js';

const UID = 62001;
const NAME = 'ntf-launcher-test';
const NO_ACCOUNT_UID = 62999;
const root = packageRoot();
const LAUNCHER = join(root, 'bin/net-tc-filter-gui');

let dir = '';
let probe = '';
let created = false;

function run(env: Record<string, string>, args: string[] = []) {
  // An explicit environment: nothing from the test runner's (it may itself run under sudo).
  const r = spawnSync(LAUNCHER, args, {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NET_TC_FILTER_GUI_EXEC: probe, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function idLine(status: string, field: 'Uid' | 'Gid'): number[] {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status);
  return (m?.[1] ?? '').trim().split(/\s+/).map(Number);
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('launcher tests need root (setpriv, useradd)');
  for (const [db, key] of [
    ['passwd', UID],
    ['group', UID],
    ['passwd', NO_ACCOUNT_UID],
  ] as const) {
    if (spawnSync('getent', [db, String(key)]).status === 0)
      throw new Error(`${db} entry ${key} exists already; the test needs it free`);
  }
  execFileSync('groupadd', ['--gid', String(UID), NAME]);
  execFileSync('useradd', [
    '--uid', String(UID), '--gid', String(UID), '--no-create-home', '--home-dir', '/nonexistent',
    '--shell', '/usr/sbin/nologin', NAME,
  ]); // prettier-ignore
  created = true;
  // Readable and executable by the test account.
  dir = mkdtempSync(join(tmpdir(), 'ntf-launcher-'));
  chmodSync(dir, 0o755);
  probe = join(dir, 'probe.sh');
  writeFileSync(
    probe,
    '#!/bin/sh\ngrep -E "^(Uid|Gid|Cap[A-Za-z]+):" /proc/self/status\necho "ARGS $*"\necho "PWD $(pwd)"\nenv | sed "s/^/ENV /"\n',
    { mode: 0o755 },
  );
});

afterAll(() => {
  if (created) {
    spawnSync('userdel', [NAME]);
    spawnSync('groupdel', [NAME]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bin/net-tc-filter-gui', () => {
  it('runs the app as the sudo user with exactly CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON (effective, permitted, inheritable, ambient)', () => {
    const r = run(
      {
        SUDO_UID: String(UID),
        SUDO_GID: String(UID),
        DISPLAY: ':7',
        XAUTHORITY: '/tmp/xauth-test',
        // Root's environment must not reach the app.
        LD_PRELOAD: 'libdoesnotexist.so',
        NODE_OPTIONS: '--require /tmp/evil.js',
        ELECTRON_RUN_AS_NODE: '1',
      },
      ['--pin-dir', '/sys/fs/bpf/some where'],
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(idLine(out, 'Uid')).toEqual([UID, UID, UID, UID]);
    expect(idLine(out, 'Gid')).toEqual([UID, UID, UID, UID]);
    for (const f of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb'] as const) {
      expect(capNames(parseCapField(out, f)), f).toEqual(['CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_BPF']);
      expect(parseCapField(out, f), f).toBe(ENGINE_CAPS);
    }
    expect(out).toContain('ARGS --pin-dir /sys/fs/bpf/some where');
    expect(out).toContain('PWD /');
    const env = new Map(
      out
        .split('\n')
        .filter((l) => l.startsWith('ENV '))
        .map((l) => {
          const kv = l.slice(4);
          const i = kv.indexOf('=');
          return [kv.slice(0, i), kv.slice(i + 1)] as const;
        }),
    );
    expect(env.get('USER')).toBe(NAME);
    expect(env.get('HOME')).toBe('/nonexistent');
    expect(env.get('DISPLAY')).toBe(':7');
    expect(env.get('XAUTHORITY')).toBe('/tmp/xauth-test');
    for (const bad of [
      'LD_PRELOAD',
      'NODE_OPTIONS',
      'ELECTRON_RUN_AS_NODE',
      'SUDO_UID',
      'NET_TC_FILTER_GUI_EXEC',
    ])
      expect(env.has(bad), bad).toBe(false);
  });

  it('takes the user from PKEXEC_UID under pkexec', () => {
    const r = run({ PKEXEC_UID: String(UID) });
    expect(r.code, r.stderr).toBe(0);
    expect(idLine(r.stdout, 'Uid')).toEqual([UID, UID, UID, UID]);
    expect(parseCapField(r.stdout, 'CapAmb')).toBe(ENGINE_CAPS);
  });

  it('refuses when it cannot tell who is asking', () => {
    const r = run({});
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/neither PKEXEC_UID nor SUDO_UID/);
    expect(r.stdout).toBe('');
  });

  it('refuses a non-numeric uid and a uid without an account', () => {
    expect(run({ SUDO_UID: '0; id' }).code).toBe(77);
    const r = run({ SUDO_UID: String(NO_ACCOUNT_UID) });
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/has no account/);
    expect(r.stdout).toBe('');
  });

  it('refuses root as the invoking user unless --allow-root, and then turns the sandbox off explicitly', () => {
    const refused = run({ SUDO_UID: '0' });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toMatch(/invoking user is root/);
    expect(refused.stdout).toBe('');

    const allowed = run({ SUDO_UID: '0' }, ['--allow-root']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/WARNING: running as root/);
    expect(idLine(allowed.stdout, 'Uid')).toEqual([0, 0, 0, 0]);
    expect(allowed.stdout).toContain('ARGS --no-sandbox --allow-root');
  });

  it('refuses to run unless it is root itself', () => {
    const r = spawnSync(
      'setpriv',
      ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', LAUNCHER],
      { env: { PATH: '/usr/bin:/bin', SUDO_UID: String(UID) }, encoding: 'utf8' },
    );
    expect(r.status).toBe(77);
    expect(r.stderr).toMatch(/pkexec or sudo/);
  });
});

describe('clearAmbientCaps (native-bridge)', () => {
  it('leaves programs started afterwards without capabilities, on the main thread and in threads created afterwards', () => {
    const bridge = join(root, 'dist/native-bridge/index.js');
    if (!existsSync(bridge)) throw new Error(`${bridge} is missing: run \`npm run build:ts\` first`);
    const script = join(dir, 'clear.mjs');
    writeFileSync(
      script,
      `import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
const { clearAmbientCaps } = await import(${JSON.stringify(pathToFileURL(bridge).href)});
const child = () => execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' });
const workerCode = \`const { execFileSync } = require('node:child_process');
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => parentPort.postMessage(execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' })));\`;
const ask = (w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage('go'); });
// A thread that exists before the clearing (like Chromium's and libuv's own threads).
const early = new Worker(workerCode, { eval: true });
const out = { before: readFileSync('/proc/thread-self/status', 'utf8'), childBefore: child() };
clearAmbientCaps();
out.after = readFileSync('/proc/thread-self/status', 'utf8');
out.childAfter = child();
const late = new Worker(workerCode, { eval: true });
out.lateWorkerChild = await ask(late);
out.earlyWorkerChild = await ask(early);
await late.terminate();
await early.terminate();
process.stdout.write(JSON.stringify(out));
`,
      { mode: 0o644 },
    );
    const caps = '-all,+bpf,+net_admin,+perfmon';
    const r = spawnSync(
      'setpriv',
      [
        `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`,
        '--', process.execPath, script,
      ], // prettier-ignore
      { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, encoding: 'utf8', timeout: 30_000, cwd: '/' },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    const cap = (k: string, f: 'CapAmb' | 'CapEff') => parseCapField(out[k] ?? '', f);
    // Started with the three as ambient: a child inherits them as effective (the control).
    expect(cap('before', 'CapAmb')).toBe(ENGINE_CAPS);
    expect(cap('childBefore', 'CapEff')).toBe(ENGINE_CAPS);
    // After clearing: this thread keeps its effective set (the engine needs it) …
    expect(cap('after', 'CapAmb')).toBe(0n);
    expect(cap('after', 'CapEff')).toBe(ENGINE_CAPS);
    // … and what it starts from now on gets nothing, also from a worker created afterwards
    // (the backend's engine worker, which runs ip and getent).
    expect(cap('childAfter', 'CapAmb')).toBe(0n);
    expect(cap('childAfter', 'CapEff')).toBe(0n);
    expect(cap('lateWorkerChild', 'CapAmb')).toBe(0n);
    expect(cap('lateWorkerChild', 'CapEff')).toBe(0n);
    // The documented limit: capabilities are per thread, so a thread that existed before keeps
    // its ambient set and its children get the capabilities (docs/desktop.md).
    expect(cap('earlyWorkerChild', 'CapEff')).toBe(ENGINE_CAPS);
  });
});
