// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark).
//
// Shared pieces: statistics, the benchmark's address plan and policies, the traffic tool,
// bpftool readers and a bounded child-process runner.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../electron/engine/paths.js';
import { hasErrors, loadPolicyText } from '../electron/policy/load.js';
import { loadAccountDb } from '../electron/policy/resolve.js';
import type { AccountDb } from '../electron/policy/resolve.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';

export const ALICE = 62001; // allowed by every benchmark policy
export const BOB = 62002; // listed nowhere: dropped
/** The other 99 users of a 100-user policy (numeric uids, no account needed). */
export const OTHER_UID0 = 63000;

/** Destinations of the new-flow runs: each packet of a cycle goes to another address. */
export const NEW_FLOW_ADDRS = 4096;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function minMax(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

// ---- address plan ----
// Guarded ranges live in the benchmarking blocks 198.18.0.0/15 and 2001:db8:1000::/48, which the
// client routes to the server namespace (where they are local addresses). Every range is
// followed by an unguarded gap of the same size, so nftables intervals never touch and the trie
// holds n separate leaves.

const V4_BASE = 198 * 2 ** 24 + 18 * 2 ** 16; // 198.18.0.0, kept positive (no << sign bit)
const V4_SPAN_LOG2 = 17; // a /15

function v4text(x: number): string {
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
}

/** log2 of the address block reserved for each of n IPv4 ranges (range + gap). */
function v4StrideLog2(n: number): number {
  return Math.min(V4_SPAN_LOG2, Math.floor(Math.log2((1 << V4_SPAN_LOG2) / n)));
}

export function rangeText(family: 4 | 6, n: number, i: number): string {
  if (family === 4) {
    const s = v4StrideLog2(n);
    return `${v4text(V4_BASE + i * 2 ** s)}/${32 - s + 1}`;
  }
  return `2001:db8:1000:${(2 * i).toString(16)}::/64`;
}

export function ranges(family: 4 | 6, n: number): string[] {
  if (n < 1 || (family === 4 && n > 1 << (V4_SPAN_LOG2 - 2)) || (family === 6 && n > 32768))
    throw new Error(`unsupported range count ${n}`);
  return Array.from({ length: n }, (_, i) => rangeText(family, n, i));
}

/** Address `off` (≥ 1) inside range i. */
function addrIn(family: 4 | 6, n: number, i: number, off: number): string {
  if (family === 4) return v4text(V4_BASE + i * 2 ** v4StrideLog2(n) + off);
  return `2001:db8:1000:${(2 * i).toString(16)}::${off.toString(16)}`;
}

/** The destination of established-flow and throughput traffic: inside the middle range. */
export function mainDst(family: 4 | 6, n: number): string {
  return addrIn(family, n, Math.floor(n / 2), 1);
}

/** `count` distinct destinations inside the n guarded ranges, spread over as many ranges as
 * possible (every range gets one before any gets a second). */
export function spreadDsts(family: 4 | 6, n: number, count = NEW_FLOW_ADDRS): string[] {
  return Array.from({ length: count }, (_, k) =>
    n >= count
      ? addrIn(family, n, Math.floor((k * n) / count), 1)
      : addrIn(family, n, k % n, 1 + Math.floor(k / n)),
  );
}

/** Routes the benchmark blocks from the client to the server namespace, where they are local. */
export function routeBenchBlocks(client: string, server: string): void {
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
  ip(['-n', client, 'route', 'add', '198.18.0.0/15', 'via', '192.0.2.1', 'dev', 'ntf0']);
  ip(['-n', client, '-6', 'route', 'add', '2001:db8:1000::/48', 'via', '2001:db8:1::1', 'dev', 'ntf0']);
  ip(['-n', server, 'route', 'add', 'local', '198.18.0.0/15', 'dev', 'lo']);
  ip(['-n', server, '-6', 'route', 'add', 'local', '2001:db8:1000::/48', 'dev', 'lo']);
}

/** The guard section's guarded range on ntf1's subnet (the sandbox's second link), and the
 * address the traffic goes to: a local address of the server's end, so the neighbour resolves
 * and the packets reach tc egress, where net-tc-filter drops them. */
export const GUARD_NTF1 = {
  v4: { range: '203.0.113.128/25', addr: '203.0.113.129' },
  v6: { range: '2001:db8:3:0:8000::/65', addr: '2001:db8:3:0:8000::1' },
} as const;

/** Makes GUARD_NTF1's addresses local on the server's end of ntf1 (on-link from the client). */
export function addGuardTargets(server: string): void {
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
  ip(['-n', server, 'addr', 'add', `${GUARD_NTF1.v4.addr}/32`, 'dev', 'ntf1p']);
  ip(['-n', server, '-6', 'addr', 'add', `${GUARD_NTF1.v6.addr}/128`, 'dev', 'ntf1p', 'nodad']);
}

export function userList(users: number): string[] {
  return ['alice', ...Array.from({ length: users - 1 }, (_, i) => String(OTHER_UID0 + i))];
}

/** One endpoint guarding n ranges of each family for `users` users (alice first) on ntf0;
 * default deny, no events for allowed traffic (the flow counters still count). Equivalent to
 * one endpoint per user: both compile to the same maps. `matchers`: alice's entry written
 * otherwise (e.g. `cgroup:PATH as alice`), and a `when:` window on the endpoint. */
export function policyYaml(
  n: number,
  users: number,
  families: ReadonlyArray<4 | 6> = [4, 6],
  swapOne = false,
  matchers: { alice?: string; when?: string } = {},
): string {
  const rs = families.flatMap((f) => ranges(f, n));
  // A one-range change: the first range moved into its own gap (same size, new prefix).
  if (swapOne && families[0] === 4)
    rs[0] = `${v4text(V4_BASE + 2 ** (v4StrideLog2(n) - 1))}/${32 - v4StrideLog2(n) + 1}`;
  return `endpoints:
  - bench:
      iface: [ntf0]
      range: [${rs.join(', ')}]
      allow: [${userList(users)
        .map((u) => (u === 'alice' && matchers.alice ? `"${matchers.alice}"` : `"${u}"`))
        .join(', ')}]${
        matchers.when
          ? `
      when: ["${matchers.when}"]`
          : ''
      }
interfaces:
  ntf0: { default: deny }
logging:
  allowed: off
`;
}

export const PASSWD = `alice:x:${ALICE}:${ALICE}::/:/bin/false\nbob:x:${BOB}:${BOB}::/:/bin/false\n`;
export const GROUP = `alice:x:${ALICE}:\nbob:x:${BOB}:\n`;

// ---- nftables: the same policy (IPv4), the fastest form found ----

/** Sets and per-user chains only; the hooked base chain is added and removed per round by
 * nftOn()/nftOff() so the 100 × 10,000-element sets load once. */
export function nftTable(n: number, users: number): string {
  const uids = [ALICE, ...Array.from({ length: users - 1 }, (_, i) => OTHER_UID0 + i)];
  const elems = ranges(4, n).join(', ');
  return `table inet ntfbench {
${uids.map((u) => `  set r${u} { type ipv4_addr; flags interval; elements = { ${elems} }; }`).join('\n')}
${uids.map((u) => `  chain u${u} { ip daddr @r${u} accept; drop; }`).join('\n')}
  map users { type uid : verdict; elements = { ${uids.map((u) => `${u} : jump u${u}`).join(', ')} }; }
}
`;
}

/** Users not in the map fall through to the drop: default deny on ntf0, as in the policy. */
export const NFT_ON = `add chain inet ntfbench out { type filter hook output priority 0; policy accept; }
add rule inet ntfbench out oifname "ntf0" meta skuid vmap @users
add rule inet ntfbench out oifname "ntf0" drop
`;
export const NFT_OFF = `flush chain inet ntfbench out
delete chain inet ntfbench out
`;

// ---- tools ----

export interface Tools {
  flood: string;
  empty: string;
}

/** Compiles the traffic tool and the empty tc program into `dir` (mode 0755: test uids run it). */
export function buildTools(dir: string): Tools {
  const src = join(packageRoot(), 'bench');
  const flood = join(dir, 'udpflood');
  execFileSync('cc', ['-O2', '-Wall', '-o', flood, join(src, 'udpflood.c')], { timeout: 60_000 });
  chmodSync(flood, 0o755);
  const empty = join(dir, 'empty.bpf.o');
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  execFileSync(
    'clang',
    [
      '-O2',
      '-g',
      '-target',
      'bpf',
      `-I/usr/include/${arch}-linux-gnu`,
      '-c',
      join(src, 'empty.bpf.c'),
      '-o',
      empty,
    ],
    { timeout: 60_000 },
  );
  return { flood, empty };
}

/** Writes an address list for `udpflood -a` (readable by test uids). */
export function writeAddrFile(path: string, addrs: string[]): string {
  writeFileSync(path, `${addrs.join('\n')}\n`, { mode: 0o644 });
  return path;
}

/** Cumulative run time (ns) and run count of a program (kernel.bpf_stats_enabled), from bpftool. */
export function progRunStats(id: number): { ns: number; runs: number } {
  const j = JSON.parse(
    execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8', timeout: 10_000 }),
  ) as { run_time_ns?: number; run_cnt?: number };
  return { ns: j.run_time_ns ?? 0, runs: j.run_cnt ?? 0 };
}

/** Kernel memory of each of a program's maps (bytes_memlock, as bpftool reports it). */
export function progMapBytes(id: number): Record<string, number> {
  const p = JSON.parse(
    execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8', timeout: 10_000 }),
  ) as { map_ids?: number[] };
  const out: Record<string, number> = {};
  for (const m of p.map_ids ?? []) {
    const info = JSON.parse(
      execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(m)], { encoding: 'utf8', timeout: 10_000 }),
    ) as { name?: string; bytes_memlock?: number };
    out[info.name ?? String(m)] = (out[info.name ?? String(m)] ?? 0) + (info.bytes_memlock ?? 0);
  }
  return out;
}

// ---- child processes ----

const running = new Set<ChildProcess>();

/** Runs a command to completion (killed after timeoutMs) and resolves with its stdout; rejects
 * with its stderr on failure. Asynchronous so that SIGINT is handled while it runs. */
export function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    // Own process group: killing it also ends grandchildren (the sender started by a child).
    const p = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
      detached: true,
    });
    running.add(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => killGroup(p), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(p);
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`${cmd} ${args.join(' ').slice(0, 200)}: exit ${code ?? signal}\n${err.slice(-2000)}`),
        );
    });
  });
}

function killGroup(p: ChildProcess): void {
  if (p.pid === undefined) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills every child started by run(), with its process group (cleanup on failure or SIGINT). */
export function killChildren(): void {
  for (const p of running) killGroup(p);
  running.clear();
}

/** The last line of a child's output, parsed as JSON. */
export function lastJson<T>(out: string): T {
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as T;
}

/** The sandbox's account files, as the children receive them. */
export function benchAccounts(a: { passwd: string; group: string }): AccountDb {
  return loadAccountDb({ passwdFile: a.passwd, groupFile: a.group });
}

/** A generated policy through the same code as `net-tc-filter run`; throws if it does not load. */
export function resolveBench(yaml: string, db: AccountDb): ResolvedPolicy {
  const l = loadPolicyText(yaml, 'bench.yml', db);
  if (hasErrors(l.diagnostics) || !l.resolved) {
    throw new Error(`bench policy: ${l.diagnostics.map((d) => d.message).join('; ')}`);
  }
  return l.resolved;
}

// ---- an earlier tree (the rollout section's baseline) ----

/** The .ts sources under `dir` (recursively), for transpiling. */
function tsSources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => join(d.parentPath, d.name));
}

/**
 * The engine, policy code and tc program of an earlier commit, runnable beside today's: the
 * commit's package.json, bpf/, electron/ and native-bridge/ (`git archive`) in `dir`, its tc
 * program built by its own bpf/Makefile (clang, the same flags as today's), its TypeScript
 * transpiled file by file with esbuild into `dir/dist` (the tree is verbatimModuleSyntax, so
 * this is what tsc emits, without the type check), and today's node_modules linked in. Import
 * `dist/electron/...` under the returned root to drive it; the program is `objectPath`
 * (`matchesPrebuilt`: byte for byte the commit's bpf/prebuilt/ object, which CI verifies).
 */
export function buildTreeAt(
  commit: string,
  dir: string,
): { root: string; objectPath: string; matchesPrebuilt: boolean } {
  const root = packageRoot();
  const x = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
  mkdirSync(dir, { recursive: true });
  const tar = `${dir}.tar`;
  x('git', [
    '-C',
    root,
    'archive',
    '--format=tar',
    '-o',
    tar,
    commit,
    '--',
    'package.json',
    'bpf',
    'electron',
    'native-bridge',
  ]);
  x('tar', ['-xf', tar, '-C', dir]);
  rmSync(tar);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  x('make', ['-s', '-C', join(dir, 'bpf')]);
  x(join(root, 'node_modules/.bin/esbuild'), [
    ...[join(dir, 'electron'), join(dir, 'native-bridge')].flatMap(tsSources),
    `--outdir=${join(dir, 'dist')}`,
    `--outbase=${dir}`,
    '--format=esm',
    '--platform=node',
    '--target=node20',
    '--log-level=warning',
  ]);
  const objectPath = join(dir, 'bpf/build/net_tc_filter.bpf.o');
  const prebuilt = join(dir, 'bpf/prebuilt/net_tc_filter.bpf.o');
  const matchesPrebuilt = existsSync(prebuilt) && readFileSync(objectPath).equals(readFileSync(prebuilt));
  return { root: dir, objectPath, matchesPrebuilt };
}

/** A link's received packets (`ip -s link`) in a named network namespace. */
export function rxPackets(netns: string, dev: string): number {
  const j = JSON.parse(
    execFileSync('ip', ['-n', netns, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8', timeout: 10_000 }),
  ) as Array<{ stats64?: { rx?: { packets?: number } } }>;
  return j[0]?.stats64?.rx?.packets ?? NaN;
}

// ---- a million (range, user) pairs ----
// Each user has ranges of its own (distinct, never nested, each followed by a gap of its size):
// IPv4 /29s every 16 addresses in PAIRS_BLOCK.v4 (10.0.0.0/8: 1,048,576 of them), IPv6 /64s every
// other /64 in PAIRS_BLOCK.v6.

export const PAIRS_BLOCK = { v4: '10.0.0.0/8', v6: '2001:db8:1000::/40' } as const;

/** Range i (0 ≤ i < 2²⁰) of the pairs policy, and an address inside it (`inside`: host `host`,
 * 1 ≤ host ≤ 7; `gap`: in the gap after it, guarded by nobody). */
export function pairRange(
  family: 4 | 6,
  i: number,
  host = 1,
): { text: string; inside: string; gap: string; gapText: string } {
  if (!Number.isInteger(i) || i < 0 || i >= 2 ** 20) throw new Error(`unsupported pair range ${i}`);
  if (!Number.isInteger(host) || host < 1 || host > 7) throw new Error(`unsupported host ${host}`);
  if (family === 4) {
    const base = 10 * 2 ** 24 + i * 16;
    return {
      text: `${v4text(base)}/29`,
      inside: v4text(base + host),
      gap: v4text(base + 9),
      gapText: `${v4text(base + 8)}/29`,
    };
  }
  const n = 2 * i;
  const net = (k: number) => `2001:db8:${(0x1000 + (k >> 16)).toString(16)}:${(k & 0xffff).toString(16)}`;
  return {
    text: `${net(n)}::/64`,
    inside: `${net(n)}::${host}`,
    gap: `${net(n + 1)}::1`,
    gapText: `${net(n + 1)}::/64`,
  };
}

/** Section 3b's million pairs: this many users, each with this many ranges of its own. */
export const MILLION_USERS = 1000;
export const MILLION_PER_USER = 1000;

/** The pairs policy's users: alice first (she sends the bench's allowed traffic), then uids
 * without an account (63001, 63002, …). */
export function pairsUsers(count: number): string[] {
  return Array.from({ length: count }, (_, u) => (u === 0 ? 'alice' : String(63_000 + u)));
}

/**
 * `users.length` × `perUser` (range, user) pairs, one endpoint per user on ntf0 with its own
 * ranges (user u has ranges u·perUser … (u+1)·perUser − 1), `default: allow` (so that a probe
 * outside every range shows the default), no events for allowed traffic. `change`: the first
 * range of the first user moved into its gap (a one-range change).
 */
export function pairsPolicyYaml(
  family: 4 | 6,
  users: readonly string[],
  perUser: number,
  change = false,
): string {
  const parts = ['endpoints:\n'];
  users.forEach((u, k) => {
    const rs: string[] = [];
    for (let j = 0; j < perUser; j++) rs.push(pairRange(family, k * perUser + j).text);
    if (change && k === 0) rs[0] = pairRange(family, 0).gapText;
    parts.push(`  - u${k}:\n      iface: [ntf0]\n      range: [${rs.join(', ')}]\n      allow: [${u}]\n`);
  });
  parts.push('interfaces:\n  ntf0: { default: allow }\nlogging:\n  allowed: off\n');
  return parts.join('');
}

/** The address alice's established flows go to under the pairs policy: inside her middle range. */
export function pairsMainDst(family: 4 | 6, perUser: number): string {
  return pairRange(family, perUser / 2).inside;
}

/** `count` distinct destinations inside the first user's `perUser` ranges of the pairs policy
 * (every range gets one before any gets a second): new flows that user may send. */
export function pairsDsts(family: 4 | 6, perUser: number, count = NEW_FLOW_ADDRS): string[] {
  if (count > 7 * perUser) throw new Error(`${count} destinations do not fit in ${perUser} ranges`);
  return Array.from(
    { length: count },
    (_, k) => pairRange(family, k % perUser, 1 + Math.floor(k / perUser)).inside,
  );
}

/** Routes PAIRS_BLOCK from the client to the server namespace, where its addresses are local. */
export function routePairsBlocks(client: string, server: string): void {
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
  ip(['-n', client, 'route', 'add', PAIRS_BLOCK.v4, 'via', '192.0.2.1', 'dev', 'ntf0']);
  ip(['-n', client, '-6', 'route', 'add', PAIRS_BLOCK.v6, 'via', '2001:db8:1::1', 'dev', 'ntf0']);
  ip(['-n', server, 'route', 'add', 'local', PAIRS_BLOCK.v4, 'dev', 'lo']);
  ip(['-n', server, '-6', 'route', 'add', 'local', PAIRS_BLOCK.v6, 'dev', 'lo']);
}
