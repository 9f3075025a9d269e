// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. What the bypass tests need beyond the harness: a sender
// with the socket options an unprivileged attacker may set (fixtures/sockprobe.c, compiled
// here), sysctls and extra links in the sandbox.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { packageRoot } from '../../electron/engine/paths.js';
import type { Env } from './harness.js';

let toolDir: string | undefined;
const built = new Map<string, string>();

/** Compiles a C tool of the repository once per test process, where every test uid can run it
 * (removed when the process exits). */
function tool(source: string): string {
  const have = built.get(source);
  if (have && existsSync(have)) return have;
  if (!toolDir) {
    const dir = mkdtempSync(join(tmpdir(), 'ntf-tools-'));
    chmodSync(dir, 0o755);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    toolDir = dir;
  }
  const out = join(toolDir, basename(source, '.c'));
  execFileSync('cc', ['-O2', '-Wall', '-o', out, join(packageRoot(), source)], { timeout: 60_000 });
  built.set(source, out);
  return out;
}

/** Runs a command in the client namespace as `uid` (root when 0) and returns its stdout. */
function asUser(env: Env, uid: number, argv: string[], timeout = 15_000): string {
  const priv = uid === 0 ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  return execFileSync('ip', ['netns', 'exec', env.sb.client, ...priv, ...argv], {
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** bench/udpflood.c (sendmmsg as fast as one core sends; -P: a new port per datagram) as `uid`. */
export function flood(env: Env, uid: number, args: string[]): string {
  return asUser(env, uid, [tool('bench/udpflood.c'), ...args], 90_000);
}

export interface SockResult {
  sent: number;
  received: number;
  error?: string;
}

/** Runs fixtures/sockprobe.c in the client namespace as `uid` (root when 0). */
export function sockprobe(env: Env, uid: number, args: string[]): SockResult {
  const out = asUser(env, uid, [tool('tests/kernel/fixtures/sockprobe.c'), ...args]);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as SockResult;
}

export function sysctl(ns: string, setting: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', setting], { timeout: 10_000 });
}

/** A veth pair created after the engine started: `name` in the client namespace, its peer in the
 * server namespace, no addresses (the peer answers ARP for its own addresses on it); up unless
 * `up: false` (then upLateLink). */
export function addLateLink(env: Env, name: string, opts: { up?: boolean } = {}): void {
  execFileSync(
    'ip',
    [
      '-n',
      env.sb.client,
      'link',
      'add',
      name,
      'type',
      'veth',
      'peer',
      'name',
      `${name}p`,
      'netns',
      env.sb.server,
    ],
    { timeout: 10_000 },
  );
  if (opts.up !== false) upLateLink(env, name);
}

export function upLateLink(env: Env, name: string): void {
  execFileSync('ip', ['-n', env.sb.client, 'link', 'set', name, 'up'], { timeout: 10_000 });
  execFileSync('ip', ['-n', env.sb.server, 'link', 'set', `${name}p`, 'up'], { timeout: 10_000 });
}

/** Whether our filter (handle 0x4e54) sits on the egress hook of `dev` in the client namespace. */
export function filtered(env: Env, dev: string): boolean {
  const out = env.sb.execClient(['tc', 'filter', 'show', 'dev', dev, 'egress']);
  return /handle 0x4e54/.test(out);
}

/** Polls `cond` every 100 ms for at most `ms`. */
export async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 100) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}
