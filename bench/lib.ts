// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark).
//
// Shared pieces: statistics, policy generation, the traffic tool, program run-time counters.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../electron/engine/paths.js';
import type { ResolvedPolicy, Range } from '../electron/policy/types.js';

export const ALICE = 62001; // allowed
export const BOB = 62002; // not listed

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** `n` distinct guarded ranges of one family, none containing the benchmark destinations. */
export function ranges(n: number, family: 4 | 6): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(family === 4 ? `10.${(i >> 8) & 255}.${i & 255}.0/24` : `2001:db8:ff:${i.toString(16)}::/64`);
  }
  return out;
}

export const DST = { 4: '192.0.2.1', 6: '2001:db8:1::1' } as const;

/** YAML: one endpoint guarding `n` ranges plus the destination's subnet for alice and `users - 1`
 * other uids; default deny, no allowed-traffic events (the flow counters still count). */
export function policyYaml(n: number, users: number, family: 4 | 6): string {
  const rs = [...ranges(Math.max(0, n - 1), family), family === 4 ? '192.0.2.0/24' : '2001:db8:1::/64'];
  const us = ['alice', ...Array.from({ length: users - 1 }, (_, i) => `"${3000 + i}"`)];
  return `endpoints:
  - bench:
      iface: [ntf0]
      range: [${rs.join(', ')}]
      allow: [${us.join(', ')}]
interfaces:
  ntf0: { default: deny }
logging:
  allowed: off
`;
}

/** The same policy as a ResolvedPolicy, for in-process engine benchmarks (no YAML). */
export function resolvedPolicy(n: number, users: number, family: 4 | 6, extra = false): ResolvedPolicy {
  const text = [...ranges(Math.max(0, n - 1), family), family === 4 ? '192.0.2.0/24' : '2001:db8:1::/64'];
  if (extra) text.push(family === 4 ? '198.51.100.0/24' : '2001:db8:2::/64');
  const rs: Range[] = text.map((t) => {
    const [a, p] = t.split('/') as [string, string];
    const bytes =
      family === 4
        ? Uint8Array.from(a.split('.').map(Number))
        : (() => {
            const b = new Uint8Array(16);
            const parts = a.replace('::', '').split(':');
            parts.forEach((h, i) => {
              b[i * 2] = parseInt(h, 16) >> 8;
              b[i * 2 + 1] = parseInt(h, 16) & 255;
            });
            return b;
          })();
    return { family, addr: bytes, prefix: Number(p), text: t };
  });
  const uids = [ALICE, ...Array.from({ length: users - 1 }, (_, i) => 3000 + i)].sort((a, b) => a - b);
  return {
    endpoints: [{ id: 1, name: 'bench', ifaces: ['ntf0'], ranges: rs, uids, any: false }],
    interfaces: new Map([['ntf0', { default: 'deny', unowned: 'deny', essentials: true }]]),
    logAllowed: 'off',
  };
}

/** Compiles the traffic tool and the empty tc program into `dir` (readable by test uids). */
export function buildTools(dir: string): { flood: string; empty: string } {
  const src = join(packageRoot(), 'bench');
  const flood = join(dir, 'udpflood');
  execFileSync('cc', ['-O2', '-o', flood, join(src, 'udpflood.c')]);
  chmodSync(flood, 0o755);
  const empty = join(dir, 'empty.bpf.o');
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    `-I/usr/include/${arch}-linux-gnu`,
    '-c',
    join(src, 'empty.bpf.c'),
    '-o',
    empty,
  ]);
  return { flood, empty };
}

/** Cumulative run time (ns) and run count of a program, from bpftool. */
export function progRunStats(id: number): { ns: number; runs: number } {
  const j = JSON.parse(
    execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' }),
  ) as {
    run_time_ns?: number;
    run_cnt?: number;
  };
  return { ns: j.run_time_ns ?? 0, runs: j.run_cnt ?? 0 };
}

/** Kernel memory of a program's maps (bytes_memlock, as bpftool reports it). */
export function progMapBytes(id: number): number {
  const p = JSON.parse(
    execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' }),
  ) as {
    map_ids?: number[];
  };
  let sum = 0;
  for (const m of p.map_ids ?? []) {
    const info = JSON.parse(
      execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(m)], { encoding: 'utf8' }),
    ) as {
      bytes_memlock?: number;
    };
    sum += info.bytes_memlock ?? 0;
  }
  return sum;
}
