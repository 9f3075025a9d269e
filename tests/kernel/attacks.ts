// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. What the bypass tests need beyond the harness: a sender
// with the socket options an unprivileged attacker may set (fixtures/sockprobe.c, compiled
// here), sysctls and extra links in the sandbox.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../electron/engine/paths.js';
import type { Env } from './harness.js';

let built: string | undefined;

/** The compiled sockprobe, readable and runnable by every test uid. */
function sockprobePath(): string {
  if (built && existsSync(built)) return built;
  const dir = mkdtempSync(join(tmpdir(), 'ntf-sockprobe-'));
  chmodSync(dir, 0o755);
  const out = join(dir, 'sockprobe');
  execFileSync('cc', ['-O2', '-Wall', '-o', out, join(packageRoot(), 'tests/kernel/fixtures/sockprobe.c')], {
    timeout: 60_000,
  });
  built = out;
  return out;
}

let floodBuilt: string | undefined;

/** bench/udpflood.c (sendmmsg as fast as one core sends; -P: a new port per datagram), built once. */
export function udpflood(): string {
  if (floodBuilt && existsSync(floodBuilt)) return floodBuilt;
  const dir = mkdtempSync(join(tmpdir(), 'ntf-udpflood-'));
  chmodSync(dir, 0o755);
  const out = join(dir, 'udpflood');
  execFileSync('cc', ['-O2', '-Wall', '-o', out, join(packageRoot(), 'bench/udpflood.c')], {
    timeout: 60_000,
  });
  floodBuilt = out;
  return out;
}

/** Runs udpflood in the client namespace as `uid`. */
export function flood(env: Env, uid: number, args: string[]): string {
  return execFileSync(
    'ip',
    [
      'netns',
      'exec',
      env.sb.client,
      'setpriv',
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      udpflood(),
      ...args,
    ],
    { encoding: 'utf8', timeout: 90_000 },
  );
}

export interface SockResult {
  sent: number;
  received: number;
  error?: string;
}

/** Runs sockprobe in the client namespace as `uid` (root when 0). */
export function sockprobe(env: Env, uid: number, args: string[]): SockResult {
  const priv = uid === 0 ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  const out = execFileSync('ip', ['netns', 'exec', env.sb.client, ...priv, sockprobePath(), ...args], {
    encoding: 'utf8',
    timeout: 15_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as SockResult;
}

export function sysctl(ns: string, setting: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', setting], { timeout: 10_000 });
}

/** A veth pair created after the engine started: `name` in the client namespace, its peer in the
 * server namespace, both up, no addresses (the peer answers ARP for its own addresses on it). */
export function addLateLink(env: Env, name: string): void {
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
