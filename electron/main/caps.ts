// SPDX-License-Identifier: Apache-2.0
// Environment: any Node process (pure; no Electron, no native code).
//
// Reading capability sets as /proc/<pid>/status prints them (CapInh, CapPrm, CapEff, CapBnd,
// CapAmb: 64-bit masks in hex).

export type CapField = 'CapInh' | 'CapPrm' | 'CapEff' | 'CapBnd' | 'CapAmb';

/** Bit numbers from linux/capability.h for the capabilities this app talks about: the one table
 * of them (native-bridge/sys.ts, the backend and the IPC contract take theirs from here). */
export const CAP_BITS = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;
export type KnownCap = keyof typeof CAP_BITS;

/** The capabilities the engine needs (and the launcher grants), in the order the app lists them. */
export const ENGINE_CAP_NAMES = ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON'] as const;
/** A capability the engine needs (AppState.caps, AppState.readOnly.missing). */
export type CapName = (typeof ENGINE_CAP_NAMES)[number];

/** The mask of the named capabilities. */
export function capMask(names: readonly KnownCap[]): bigint {
  return names.reduce((m, n) => m | (1n << BigInt(CAP_BITS[n])), 0n);
}

/** The three capabilities the engine needs, as a mask. */
export const ENGINE_CAPS = capMask(ENGINE_CAP_NAMES);

export function hasCap(mask: bigint, name: KnownCap): boolean {
  return ((mask >> BigInt(CAP_BITS[name])) & 1n) === 1n;
}

/** Which of the engine's capabilities `mask` holds. */
export function engineCaps(mask: bigint): Record<CapName, boolean> {
  return Object.fromEntries(ENGINE_CAP_NAMES.map((n) => [n, hasCap(mask, n)])) as Record<CapName, boolean>;
}

/** One capability mask from the text of a status file; 0n when the field is absent. */
export function parseCapField(status: string, field: CapField): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)\\s*$`, 'm').exec(status);
  return m?.[1] ? BigInt(`0x${m[1]}`) : 0n;
}

/** Names of the bits set in `mask` (known ones by name, others as cap_N), lowest bit first. */
export function capNames(mask: bigint): string[] {
  const known = new Map<number, string>(Object.entries(CAP_BITS).map(([n, b]) => [b, n]));
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(known.get(bit) ?? `cap_${bit}`);
  }
  return out;
}
