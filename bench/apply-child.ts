// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Apply time and kernel memory of 10,000 ranges × 100 users through the real engine, from the
// same YAML the CLI would read. Prints one JSON object.
import { performance } from 'node:perf_hooks';
import { Engine } from '../electron/engine/engine.js';
import type { ApplyResult } from '../electron/engine/engine.js';
import type { ResolvedPolicy } from '../electron/policy/types.js';
import { benchAccounts, median, policyYaml, progMapBytes, resolveBench } from './lib.js';

export interface ApplyArgs {
  rounds: number;
  pinDir: string;
  passwd: string;
  group: string;
}

const a = JSON.parse(process.argv[2] ?? '{}') as ApplyArgs;
const db = benchAccounts(a);
const N = 10_000;
const USERS = 100;

const loadMs: number[] = [];
function load(text: string): ResolvedPolicy {
  const t0 = performance.now();
  const r = resolveBench(text, db);
  loadMs.push(performance.now() - t0);
  return r;
}

const yaml = policyYaml(N, USERS, [4]);
const big = load(yaml);
const changed = load(policyYaml(N, USERS, [4], true));
for (let i = 0; i < a.rounds; i++) load(yaml);

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

// Alternating between the two policies makes every apply a one-range change; the identical
// re-apply shows the floor (compile, diff, flip, RCU wait) with nothing to write.
const one: ApplyResult[] = [];
const same: ApplyResult[] = [];
const e = Engine.open({ pinDir: a.pinDir });
try {
  e.apply(big);
  for (let i = 0; i < a.rounds * 2; i++) {
    one.push(e.apply(i % 2 === 0 ? changed : big));
    same.push(e.apply(i % 2 === 0 ? changed : big));
  }
} finally {
  e.close({ unload: true });
}

const med = (rs: ApplyResult[], k: 'activeMs' | 'totalMs' | 'changes') => median(rs.map((r) => r[k]));
process.stdout.write(
  `${JSON.stringify({
    yamlBytes: yaml.length,
    loadMs: median(loadMs),
    lpmEntries: full[0]?.lpmEntries,
    setEntries: full[0]?.setEntries,
    full: { activeMs: med(full, 'activeMs'), totalMs: med(full, 'totalMs'), changes: med(full, 'changes') },
    one: { activeMs: med(one, 'activeMs'), totalMs: med(one, 'totalMs'), changes: med(one, 'changes') },
    same: { activeMs: med(same, 'activeMs'), totalMs: med(same, 'totalMs'), changes: med(same, 'changes') },
    memEmpty: sum(memEmpty),
    memLoaded: sum(memLoaded),
    memByMap: memLoaded,
  })}\n`,
);
