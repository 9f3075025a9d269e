// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Apply time and kernel memory of 10,000 ranges x 100 users through the real engine.
// Prints one JSON object.
import { Engine } from '../electron/engine/engine.js';
import { median, progMapBytes, resolvedPolicy } from './lib.js';

const rounds = Number(process.argv[2] ?? 5);
const pinDir = process.argv[3] ?? '/sys/fs/bpf/ntf-bench-apply';
const big = resolvedPolicy(10_000, 100, 4);
const bigPlusOne = resolvedPolicy(10_000, 100, 4, true);

const full: number[] = [];
const fullActive: number[] = [];
let memEmpty = 0;
let memLoaded = 0;
for (let i = 0; i < rounds; i++) {
  const e = Engine.open({ pinDir });
  try {
    if (i === 0) memEmpty = progMapBytes(e.programId);
    const r = e.apply(big);
    full.push(r.totalMs);
    fullActive.push(r.activeMs);
    if (i === 0) memLoaded = progMapBytes(e.programId);
  } finally {
    e.close({ unload: true });
  }
}

const e = Engine.open({ pinDir });
const one: number[] = [];
const oneActive: number[] = [];
let changes = 0;
try {
  e.apply(big);
  for (let i = 0; i < rounds * 2; i++) {
    const r = e.apply(i % 2 === 0 ? bigPlusOne : big);
    one.push(r.totalMs);
    oneActive.push(r.activeMs);
    changes = r.changes;
  }
} finally {
  e.close({ unload: true });
}
process.stdout.write(
  `${JSON.stringify({
    fullMs: median(full),
    fullActiveMs: median(fullActive),
    oneRangeMs: median(one),
    oneRangeActiveMs: median(oneActive),
    oneRangeChanges: changes,
    memEmptyBytes: memEmpty,
    memLoadedBytes: memLoaded,
  })}\n`,
);
