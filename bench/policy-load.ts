// SPDX-License-Identifier: Apache-2.0
// Environment: Node (benchmark; no root needed).
//
// Text → ResolvedPolicy (loadPolicyText: parse, resolve, advice) of the million-pair policies
// (bench/lib.ts pairsPolicyYaml, 1,000 users × 1,000 ranges) and of a 10,000-range one, as the
// CLI reads them. One case per process, so the peak RSS is the case's own:
//   node --expose-gc dist/bench/policy-load.js [v4|v6|v4-10k|v6-10k] [rounds]
// prints one JSON line: the median and spread of the load times, the heap the result holds and
// the process's peak RSS (CPU time too: the machine may be shared).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { hasErrors, loadPolicyText } from '../electron/policy/load.js';
import { loadAccountDb } from '../electron/policy/resolve.js';
import { median, minMax, pairsPolicyYaml } from './lib.js';

const CASES = {
  v4: { family: 4, users: 1000, perUser: 1000 },
  v6: { family: 6, users: 1000, perUser: 1000 },
  'v4-10k': { family: 4, users: 10, perUser: 1000 },
  'v6-10k': { family: 6, users: 10, perUser: 1000 },
} as const;

const name = (process.argv[2] ?? 'v4') as keyof typeof CASES;
const c = CASES[name];
if (!c) throw new Error(`unknown case ${name}; one of ${Object.keys(CASES).join(', ')}`);
const rounds = Number(process.argv[3] ?? 5);
const users = Array.from({ length: c.users }, (_, u) => (u === 0 ? 'root' : String(63000 + u)));
const text = pairsPolicyYaml(c.family, users, c.perUser);
const db = loadAccountDb();
const gc = (globalThis as { gc?: () => void }).gc;

const ms: number[] = [];
const cpuMs: number[] = [];
let heapMiB = NaN;
/** The last result, held while the heap it takes is measured. */
const held: ReturnType<typeof loadPolicyText>[] = [];
/** One load; a function of its own, so that no stack slot of the loop keeps a result alive. */
function round(): void {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const loaded = loadPolicyText(text, 'pairs.yml', db);
  const c = process.cpuUsage(c0);
  ms.push(performance.now() - t0);
  cpuMs.push((c.user + c.system) / 1000);
  if (!loaded.resolved || hasErrors(loaded.diagnostics)) throw new Error('the policy did not load');
  held.push(loaded);
}
for (let i = 0; i < rounds; i++) {
  held.length = 0;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  round();
  gc?.();
  heapMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20;
}
const [min, max] = minMax(ms);
console.log(
  JSON.stringify({
    case: name,
    bytes: text.length,
    rounds,
    medianMs: Math.round(median(ms)),
    minMs: Math.round(min),
    maxMs: Math.round(max),
    medianCpuMs: Math.round(median(cpuMs)),
    loadAvg: Number(os.loadavg()[0]?.toFixed(1)),
    retainedHeapMiB: Math.round(heapMiB),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
