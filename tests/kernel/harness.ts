// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Kernel tests: real namespaces, real program, real uids.
//
// Each test gets its own sandbox (namespaces, veths) and pin directory, removed afterwards even
// when the test fails. These tests never skip: without root or bpffs they fail with the reason.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../../electron/demo/sandbox.js';
import type { EngineProcess } from '../../electron/demo/sandbox.js';
import { packageRoot } from '../../electron/engine/paths.js';
import { stateDirFor } from '../../electron/engine/statedir.js';

export const ALICE = 62001;
export const BOB = 62002;
export const CAROL = 62003; // primary group "ops"
export const DAVE = 62004; // supplementary member of "ops"
export const NOBODY = 65534;

export const PASSWD = [
  `alice:x:${ALICE}:${ALICE}::/nonexistent:/usr/sbin/nologin`,
  `bob:x:${BOB}:${BOB}::/nonexistent:/usr/sbin/nologin`,
  `carol:x:${CAROL}:62100::/nonexistent:/usr/sbin/nologin`,
  `dave:x:${DAVE}:${DAVE}::/nonexistent:/usr/sbin/nologin`,
  `testuser:x:${ALICE}:${ALICE}::/nonexistent:/usr/sbin/nologin`,
  `nobody:x:${NOBODY}:${NOBODY}::/nonexistent:/usr/sbin/nologin`,
  '',
].join('\n');
export const GROUP = ['alice:x:62001:', 'bob:x:62002:', 'ops:x:62100:dave', 'nogroup:x:65534:', ''].join(
  '\n',
);

let counter = 0;

export function cliPath(): string {
  const p = join(packageRoot(), 'dist/electron/cli/main.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  return p;
}

export function assertPrivileged(): void {
  if (process.getuid?.() !== 0)
    throw new Error('kernel tests need root (they create namespaces and load BPF)');
  if (!existsSync('/sys/fs/bpf'))
    throw new Error('/sys/fs/bpf is missing; mount bpffs: mount -t bpf -o mode=0700 bpf /sys/fs/bpf');
}

export interface Env {
  sb: Sandbox;
  pinDir: string;
  engines: EngineProcess[];
  /** Starts `run --config <yaml>` and waits for "ready". */
  run(yaml: string, extra?: string[]): Promise<EngineProcess>;
  /** Starts `run --config <file>` (a file the test rewrites) and waits for "ready". */
  runFile(file: string, extra?: string[]): Promise<EngineProcess>;
  config(yaml: string): string;
  cli(args: string[]): { code: number; stdout: string; stderr: string };
}

/** Creates a sandbox with `links` veth pairs and a peer; call `cleanup` in afterEach. */
export async function setup(links = 1): Promise<Env> {
  assertPrivileged();
  const tag = `ntft${process.pid % 100000}x${++counter}`;
  const sb = Sandbox.create(tag, links);
  const pinDir = `/sys/fs/bpf/${tag}`;
  const engines: EngineProcess[] = [];
  const passwd = sb.writeFile('passwd', PASSWD);
  const group = sb.writeFile('group', GROUP);
  const envVars = { NET_TC_FILTER_PASSWD: passwd, NET_TC_FILTER_GROUP: group };
  try {
    await sb.startPeer();
  } catch (err) {
    sb.destroy();
    throw err;
  }
  const env: Env = {
    sb,
    pinDir,
    engines,
    config: (yaml) => sb.writeFile(`policy-${++counter}.yml`, yaml),
    run: (yaml, extra = []) => env.runFile(env.config(yaml), extra),
    async runFile(file, extra = []) {
      const e = sb.startEngine(
        cliPath(),
        // --log-interval 0: every decision on its own line (tests count them); `extra` may override.
        ['run', '--config', file, '--log', 'json', '--pin-dir', pinDir, '--stats-interval', '3600'].concat(
          ['--log-interval', '0'],
          extra,
        ),
        envVars,
      );
      engines.push(e);
      await e.waitFor((l) => l.type === 'ready');
      return e;
    },
    cli(args) {
      try {
        const stdout = execFileSync(
          sb.nsenter()[0] as string,
          [...sb.nsenter().slice(1), process.execPath, cliPath(), ...args],
          {
            encoding: 'utf8',
            env: { ...process.env, ...envVars },
            stdio: ['ignore', 'pipe', 'pipe'],
            timeout: 30_000,
          },
        );
        return { code: 0, stdout, stderr: '' };
      } catch (err) {
        const e = err as { status: number; stdout: string; stderr: string };
        return { code: e.status, stdout: e.stdout, stderr: e.stderr };
      }
    },
  };
  return env;
}

export async function cleanup(env: Env | undefined): Promise<void> {
  if (!env) return;
  for (const e of env.engines) {
    if (e.proc.exitCode === null && e.proc.signalCode === null) {
      e.signal('SIGKILL');
      await e.exited;
    }
  }
  // Remove the filter and pins even when the test failed half-way.
  try {
    if (existsSync(env.pinDir)) env.cli(['unload', '--pin-dir', env.pinDir]);
  } finally {
    env.sb.destroy();
    // The engine's state directory of this pin dir (history, observations, requests).
    rmSync(stateDirFor(env.pinDir), { recursive: true, force: true });
  }
}

/** Stops an engine with SIGTERM and returns its lines once it exited. */
export async function stop(e: EngineProcess): Promise<Record<string, unknown>[]> {
  e.signal('SIGTERM');
  const code = await e.exited;
  if (code !== 0) throw new Error(`engine exited with ${code}: ${e.stderr}`);
  return e.lines;
}

export function decisions(
  lines: Record<string, unknown>[],
  pred: (d: Record<string, unknown>) => boolean = () => true,
) {
  return lines.filter((l) => l.type === 'decision' && pred(l));
}

export function udp(env: Env, uid: number, host: string, count = 3): { sent: number; received: number } {
  return env.sb.probe(uid, ['udp', host, '7', String(count), '400']) as { sent: number; received: number };
}

export function http(env: Env, uid: number, url: string): { ok: boolean; status?: number; error?: string } {
  return env.sb.probe(uid, ['http', url, '700']) as { ok: boolean; status?: number; error?: string };
}

export function pinsLeft(prefix: string): string[] {
  return execFileSync('ls', ['/sys/fs/bpf'], { encoding: 'utf8' })
    .split('\n')
    .filter((n) => n.startsWith(prefix));
}

/** The engine's exit code, or 'running' (then killed) if it is still running after `ms`. */
export async function exitWithin(e: EngineProcess, ms: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), ms)));
  const r = await Promise.race([e.exited, late]);
  clearTimeout(timer);
  if (r === 'running') {
    e.signal('SIGKILL');
    await e.exited;
  }
  return r;
}
