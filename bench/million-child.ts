// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// A million (range, user) pairs through the real engine, from the YAML the CLI would read:
// 1,000 users × 1,000 ranges of their own on ntf0, one family. Fresh applies (new maps each),
// then one-range changes and identical re-applies on one engine, and the kernel memory of the
// maps (bytes_memlock). Prints one JSON object.
import { performance } from 'node:perf_hooks';
import { Engine } from '../electron/engine/engine.js';
import type { ApplyResult } from '../electron/engine/engine.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';
import {
  benchAccounts,
  median,
  MILLION_PER_USER,
  MILLION_USERS,
  pairsPolicyYaml,
  pairsUsers,
  progMapBytes,
  resolveBench,
} from './lib.js';

export interface MillionArgs {
  family: 4 | 6;
  rounds: number;
  pinDir: string;
  passwd: string;
  group: string;
}

const a = JSON.parse(process.argv[2] ?? '{}') as MillionArgs;
const db = benchAccounts(a);
const users = pairsUsers(MILLION_USERS);

const loadMs: number[] = [];
function load(text: string): ResolvedPolicy {
  const t0 = performance.now();
  const r = resolveBench(text, db);
  loadMs.push(performance.now() - t0);
  return r;
}
const yaml = pairsPolicyYaml(a.family, users, MILLION_PER_USER);
const big = load(yaml);
const changed = load(pairsPolicyYaml(a.family, users, MILLION_PER_USER, true));

const sum = (m: Record<string, number>) => Object.values(m).reduce((x, y) => x + y, 0);
const full: ApplyResult[] = [];
let memEmpty: Record<string, number> = {};
let memLoaded: Record<string, number> = {};
for (let i = 0; i < a.rounds; i++) {
  const e = Engine.open({ pinDir: a.pinDir });
  try {
    if (i === 0) memEmpty = progMapBytes(e.programId);
    full.push(e.apply(big));
    if (i === 0) memLoaded = progMapBytes(e.programId);
  } finally {
    e.close({ unload: true });
  }
}

const one: ApplyResult[] = [];
const same: ApplyResult[] = [];
const e = Engine.open({ pinDir: a.pinDir });
try {
  e.apply(big);
  // Cheap next to a fresh apply, and subject to the collector's pauses: three times the rounds.
  for (let i = 0; i < 3 * a.rounds; i++) {
    one.push(e.apply(i % 2 === 0 ? changed : big));
    same.push(e.apply(i % 2 === 0 ? changed : big));
  }
} finally {
  e.close({ unload: true });
}

const med = (rs: ApplyResult[], k: 'activeMs' | 'totalMs' | 'changes') => median(rs.map((r) => r[k]));
process.stdout.write(
  `${JSON.stringify({
    family: a.family,
    pairs: MILLION_USERS * MILLION_PER_USER,
    yamlBytes: Buffer.byteLength(yaml),
    loadMs: median(loadMs),
    lpmEntries: full[0]?.lpmEntries,
    setEntries: full[0]?.setEntries,
    full: { activeMs: med(full, 'activeMs'), totalMs: med(full, 'totalMs'), changes: med(full, 'changes') },
    one: {
      activeMs: med(one, 'activeMs'),
      totalMs: med(one, 'totalMs'),
      changes: med(one, 'changes'),
      incremental: one.every((r) => r.incremental),
    },
    same: { activeMs: med(same, 'activeMs'), totalMs: med(same, 'totalMs'), changes: med(same, 'changes') },
    memEmpty: sum(memEmpty),
    memLoaded: sum(memLoaded),
    memByMap: memLoaded,
  })}\n`,
);
