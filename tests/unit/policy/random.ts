// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit tests). No Electron import.
//
// Random resolved policies for the compiler's property tests (compile.spec.ts, incremental.spec.ts):
// a seeded generator, so that a failing case can be replayed from its seed, over a small address
// universe so that ranges nest and overlap often.

import type {
  InterfaceSettings,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from '../../../electron/policy/types.js';

/** The interfaces the generator configures, by name. */
export const IFINDEX: Record<string, number> = { eth0: 1, eth1: 2, eth2: 3 };

/** A copy of `b` with every bit after the first `prefix` cleared. */
export function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let i = 0; i < out.length * 8; i++) {
    if (i >= prefix) out[i >> 3] = (out[i >> 3] ?? 0) & ~(0x80 >> (i & 7));
  }
  return out;
}

/** mulberry32: a tiny seeded PRNG, so that a failing case can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)] as T;
  }
  subset<T>(xs: readonly T[], min: number, max: number): T[] {
    const copy = [...xs];
    this.shuffle(copy);
    return copy.slice(0, this.int(min, Math.min(max, xs.length)));
  }
  shuffle<T>(xs: T[]): void {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
    }
  }
}

export const IFNAMES = ['eth0', 'eth1', 'eth2'] as const;
export const UID_POOL = [0, 1000, 1001, 1002, 65534] as const;

/** A small address universe so that ranges overlap often: around 10.0.0.0/24 and 2001:db8::/120. */
export function randomAddr(rng: Rng, family: 4 | 6): Uint8Array {
  if (family === 4) {
    // Mostly inside 10.0.0.0/24; sometimes elsewhere in 10.0.0.0/20 (covered only by /20–/23) or outside.
    const third = rng.chance(0.8) ? 0 : rng.chance(0.8) ? rng.int(1, 15) : rng.int(16, 255);
    return Uint8Array.from([10, 0, third, rng.int(0, 255)]);
  }
  const a = new Uint8Array(16);
  a.set([0x20, 0x01, 0x0d, 0xb8]);
  a[14] = rng.chance(0.85) ? 0 : rng.int(1, 255);
  a[15] = rng.int(0, 255);
  return a;
}

export function randomRange(rng: Rng): Range {
  const family: 4 | 6 = rng.chance(0.6) ? 4 : 6;
  if (rng.chance(0.03)) {
    return {
      family,
      addr: new Uint8Array(family === 4 ? 4 : 16),
      prefix: 0,
      text: family === 4 ? '0.0.0.0/0' : '::/0',
    };
  }
  const prefix = family === 4 ? rng.int(20, 32) : rng.int(112, 128);
  // Drawn inside the /24 (/120) universe, then masked: short prefixes reach around it.
  const base = randomAddr(rng, family);
  if (family === 4) base[2] = 0;
  else base[14] = 0;
  const addr = maskBytes(base, prefix);
  return { family, addr, prefix, text: `${addr.join('.')}/${prefix}` };
}

export function randomPolicy(rng: Rng): { p: ResolvedPolicy; ifindexOf: (n: string) => number | undefined } {
  const count = rng.int(1, 6);
  const endpoints: ResolvedEndpoint[] = [];
  for (let id = 1; id <= count; id++) {
    const ranges = Array.from({ length: rng.int(1, 6) }, () => randomRange(rng));
    endpoints.push({
      id,
      name: `ep${id}`,
      ifaces: rng.subset(IFNAMES, 1, 3),
      ranges,
      uids: rng.subset(UID_POOL, 0, 3).sort((a, b) => a - b),
      any: rng.chance(0.2),
    });
  }
  // Ids are positions in the config, but the compiler must not rely on array order.
  rng.shuffle(endpoints);
  const interfaces = new Map<string, InterfaceSettings>();
  const names = new Set(endpoints.flatMap((e) => e.ifaces));
  if (rng.chance(0.3)) names.add(rng.pick(IFNAMES)); // configured under interfaces: only
  const auditAll = rng.chance(0.25);
  for (const n of IFNAMES) {
    if (!names.has(n)) continue;
    interfaces.set(n, {
      default: rng.chance(0.5) ? 'allow' : 'deny',
      unowned: rng.chance(0.5) ? 'allow' : 'deny',
      essentials: rng.chance(0.5),
      // Often every interface audits (then the interfaces no endpoint names audit too).
      mode: auditAll || rng.chance(0.3) ? 'audit' : 'enforce',
    });
  }
  // Sometimes one configured interface does not exist on the system.
  const absent = rng.chance(0.15) ? rng.pick(IFNAMES) : undefined;
  const ifindexOf = (n: string): number | undefined => (n === absent ? undefined : IFINDEX[n]);
  return { p: { endpoints, interfaces, logAllowed: rng.pick(['off', 'sample', 'all'] as const) }, ifindexOf };
}
