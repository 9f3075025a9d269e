// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// Two independent predictions of the tc program's verdict for one packet (essentials aside):
//   compiledEvaluate  — the kernel's steps over compiled map entries (LPM, then set lookup);
//   referenceEvaluate — the policy's meaning, straight from the endpoints (README "Policy", docs/datapath.md "Every interface").
// Tests check that they agree; kernel tests use them to predict what the real program decides.
// Neither shares code with compile.ts, so that a bug there cannot hide in both.

import { SET_NONE, UID_ANY } from './types.js';
import type { CompiledLpmEntry, CompiledPolicy, InterfaceSettings, ResolvedPolicy } from './types.js';

export type Packet = {
  ifindex: number;
  family: 4 | 6;
  /** Destination address, network byte order (4 or 16 bytes). */
  daddr: Uint8Array;
  /** Sending user; null when the packet has no local socket (unowned). */
  uid: number | null;
};

export type DecisionReason =
  | 'endpoint'
  | 'not-listed'
  | 'default-allow'
  | 'default-deny'
  | 'unowned-allow'
  | 'unowned-deny'
  | 'iface-not-listed'
  | 'not-configured';

export type Decision = {
  verdict: 'allow' | 'drop' | 'pass';
  reason: DecisionReason;
  /** The endpoint that allowed the packet; 0 when none. */
  endpointId: number;
};

const NOT_CONFIGURED: Readonly<Decision> = Object.freeze({
  verdict: 'pass',
  reason: 'not-configured',
  endpointId: 0,
});

function decide(verdict: Decision['verdict'], reason: DecisionReason, endpointId = 0): Decision {
  return { verdict, reason, endpointId };
}

function unownedDecision(allow: boolean): Decision {
  return allow ? decide('allow', 'unowned-allow') : decide('drop', 'unowned-deny');
}

/** Bit i (0 = most significant bit of byte 0) of a network-order address. */
function bit(addr: Uint8Array, i: number): number {
  return ((addr[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
}

/** True when the first `bits` bits of a and b agree, compared one bit at a time. */
function sameLeadingBits(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) if (bit(a, i) !== bit(b, i)) return false;
  return true;
}

/** The kernel's verdict from the compiled entries (steps a, c, d, e of the tc program). */
export function compiledEvaluate(c: CompiledPolicy, pkt: Packet): Decision {
  // a. Interfaces without settings of their own use the settings and entries of ifindex 0;
  //    without those (nothing guarded) they pass untouched.
  let iface = c.ifaces.find((i) => i.ifindex === pkt.ifindex);
  const guardOnly = iface === undefined;
  iface ??= c.anyIface;
  if (iface === undefined) return { ...NOT_CONFIGURED };
  const lpmIf = iface.ifindex;

  // c. Longest prefix match within this interface and family.
  let best: CompiledLpmEntry | undefined;
  for (const e of c.lpm) {
    if (e.ifindex !== lpmIf || e.family !== pkt.family) continue;
    if (best !== undefined && e.prefix <= best.prefix) continue;
    if (sameLeadingBits(e.addr, pkt.daddr, e.prefix)) best = e;
  }

  if (best === undefined && guardOnly) return { ...NOT_CONFIGURED };

  if (best !== undefined) {
    // d. Guarded destination.
    if (pkt.uid === null) return unownedDecision(iface.unownedAllow);
    const setId = best.setId;
    if (setId === SET_NONE) return decide('drop', 'iface-not-listed');
    const uid = pkt.uid;
    const hit =
      c.sets.find((s) => s.setId === setId && s.uid === uid) ??
      c.sets.find((s) => s.setId === setId && s.uid === UID_ANY);
    return hit !== undefined ? decide('allow', 'endpoint', hit.endpointId) : decide('drop', 'not-listed');
  }

  // e. Unguarded destination.
  if (iface.defaultAllow) return decide('allow', 'default-allow');
  if (pkt.uid === null) return unownedDecision(iface.unownedAllow);
  return decide('drop', 'default-deny');
}

/** The policy's meaning, computed by brute force over the endpoints. */
export function referenceEvaluate(
  p: ResolvedPolicy,
  ifindexOf: (name: string) => number | undefined,
  pkt: Packet,
): Decision {
  let ifname: string | undefined;
  let settings: InterfaceSettings | undefined;
  for (const [name, s] of p.interfaces) {
    if (ifindexOf(name) === pkt.ifindex) {
      ifname = name;
      settings = s;
      break;
    }
  }
  // A guarded range is guarded on every interface: endpoints covering the address anywhere.
  const guarding = p.endpoints.filter((e) =>
    e.ranges.some((r) => r.family === pkt.family && sameLeadingBits(r.addr, pkt.daddr, r.prefix)),
  );
  if (ifname === undefined || settings === undefined) {
    // An interface no endpoint names: only guarded ranges are checked, and nobody may use it for them.
    if (guarding.length === 0) return { ...NOT_CONFIGURED };
    return pkt.uid === null ? unownedDecision(false) : decide('drop', 'iface-not-listed');
  }
  const name = ifname;

  const covering = guarding.filter((e) => e.ifaces.includes(name));
  const unownedAllow = settings.unowned === 'allow';

  if (guarding.length > 0 && covering.length === 0) {
    if (pkt.uid === null) return unownedDecision(unownedAllow);
    return decide('drop', 'iface-not-listed');
  }

  if (covering.length === 0) {
    if (settings.default === 'allow') return decide('allow', 'default-allow');
    if (pkt.uid === null) return unownedDecision(unownedAllow);
    return decide('drop', 'default-deny');
  }

  if (pkt.uid === null) return unownedDecision(unownedAllow);
  const uid = pkt.uid;
  // A listed uid equal to UID_ANY is reserved for '*' and does not count as an explicit listing.
  const explicit = covering.filter((e) => uid !== UID_ANY && e.uids.includes(uid)).map((e) => e.id);
  if (explicit.length > 0) return decide('allow', 'endpoint', Math.min(...explicit));
  const viaAny = covering.filter((e) => e.any).map((e) => e.id);
  if (viaAny.length > 0) return decide('allow', 'endpoint', Math.min(...viaAny));
  return decide('drop', 'not-listed');
}
