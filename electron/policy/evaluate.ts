// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// Two independent predictions of the tc program's verdict for one packet (essentials aside):
//   compiledEvaluate  — the kernel's steps over compiled map entries (LPM, then set lookup);
//   referenceTrace    — the policy's meaning, straight from the endpoints (README "Policy",
//                       docs/datapath.md "Every interface"), with what the decision was based on;
//                       referenceEvaluate is its decision. It is the engine's one evaluator of a
//                       policy's meaning: impact preview (impact.ts) and explain (explain.ts) use it.
// Tests check that they agree; kernel tests use them to predict what the real program decides.
// Neither shares code with compile.ts, so that a bug there cannot hide in both.
// Audit mode: a drop on an interface in audit mode is a would-drop (same reason and endpoint);
// on interfaces no endpoint names, audit holds when every configured interface audits.

import { NTF } from '../../native-bridge/layouts.js';
import { rangeContains } from './addr.js';
import { SET_NONE, UID_ANY } from './types.js';
import { hostEvalTime, inSegments, secondOfWeek } from './when.js';
import type { EvalTime } from './when.js';
import type {
  CompiledSetEntry,
  CompiledLpmEntry,
  CompiledPolicy,
  InterfaceSettings,
  Range,
  ResolvedCgroupEntry,
  ResolvedEndpoint,
  ResolvedPolicy,
} from './types.js';

export type Packet = {
  ifindex: number;
  family: 4 | 6;
  /** Destination address, network byte order (4 or 16 bytes). */
  daddr: Uint8Array;
  /** Sending user; null when the packet has no local socket (unowned). */
  uid: number | null;
  /** The sending socket's cgroup v2 id and its ancestors', by level (index 0: the root); absent:
   * not known (no unit:/cgroup: entry can match). */
  cgroups?: readonly number[];
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
  /** would-drop: audit mode's drop (the packet passes and is reported). pass: untouched (not-configured). */
  verdict: 'allow' | 'drop' | 'would-drop' | 'pass';
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

/** An audited interface's drop becomes a would-drop: same reason and endpoint. */
function audited(d: Decision, audit: boolean): Decision {
  return audit && d.verdict === 'drop' ? { ...d, verdict: 'would-drop' } : d;
}

/** The kernel's verdict from the compiled entries (steps a, c, d, e of the tc program). */
export function compiledEvaluate(c: CompiledPolicy, pkt: Packet, at?: EvalTime): Decision {
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
  return audited(compiledDecide(c, iface.defaultAllow, iface.unownedAllow, best, pkt, at), iface.audit);
}

function compiledDecide(
  c: CompiledPolicy,
  defaultAllow: boolean,
  unownedAllow: boolean,
  best: CompiledLpmEntry | undefined,
  pkt: Packet,
  at: EvalTime | undefined,
): Decision {
  if (best !== undefined) {
    // d. Guarded destination.
    if (pkt.uid === null) return unownedDecision(unownedAllow);
    const setId = best.setId;
    if (setId === SET_NONE) return decide('drop', 'iface-not-listed');
    const uid = pkt.uid;
    // An entry with a schedule grants through the endpoint of the segment the local time of the
    // week falls in, or not at all (then the next lookup is tried, as in the kernel).
    let time = at;
    const grants = (s: CompiledSetEntry | undefined): CompiledSetEntry | undefined => {
      if (!s?.schedule) return s;
      time ??= hostEvalTime();
      const sow = secondOfWeek(time.nowSec, time.tz);
      const seg = c.schedules
        .find((x) => x.id === s.schedule)
        ?.segments.find((g) => g.start <= sow && sow < g.end);
      return seg ? { ...s, endpointId: seg.endpointId } : undefined;
    };
    const lookup = (cg: number) =>
      grants(c.sets.find((s) => s.setId === setId && s.uid === uid && s.cg === cg)) ??
      grants(c.sets.find((s) => s.setId === setId && s.uid === UID_ANY && s.cg === cg));
    let hit = lookup(NTF.CG_ANY);
    // The socket's cgroup and its ancestors, shallowest first, at the levels the policy names.
    for (let level = 0; hit === undefined && level < NTF.CG_LEVELS; level++) {
      if ((c.cgLevels & (1 << level)) === 0) continue;
      const id = pkt.cgroups?.[level];
      if (id === undefined) break;
      const slot = c.cgroups.find((g) => g.id === id);
      if (slot) hit = lookup(slot.slot);
    }
    return hit !== undefined ? decide('allow', 'endpoint', hit.endpointId) : decide('drop', 'not-listed');
  }

  // e. Unguarded destination.
  if (defaultAllow) return decide('allow', 'default-allow');
  if (pkt.uid === null) return unownedDecision(unownedAllow);
  return decide('drop', 'default-deny');
}

/** Audit mode on interfaces no endpoint names: only when every configured interface audits. */
export function guardOnlyAudit(interfaces: ReadonlyMap<string, InterfaceSettings>): boolean {
  return interfaces.size > 0 && [...interfaces.values()].every((s) => s.mode === 'audit');
}

/** A decision and what it was based on (the reference evaluator's reasoning). */
export interface Trace {
  decision: Decision;
  /** The configured interface the packet leaves by; undefined: one no endpoint names and
   * `interfaces:` does not configure (only the guarded ranges are checked there). */
  iface: { name: string; settings: InterfaceSettings } | undefined;
  /** Audit mode holds for this interface (for one no endpoint names: every configured one audits). */
  audit: boolean;
  /** Every endpoint with a range containing the address, on any interface (a guarded range is
   * guarded everywhere), in policy order, each with its ranges that contain it. */
  guarding: Array<{ endpoint: ResolvedEndpoint; ranges: Range[] }>;
  /** Of those, the endpoints that name this interface. */
  covering: ResolvedEndpoint[];
  /** Of those, the ones that list the sender's uid (none for unowned packets or uid UID_ANY). */
  listing: ResolvedEndpoint[];
  /** Of those covering, the ones that list '*'. */
  listingAny: ResolvedEndpoint[];
  /** Of those covering, the unit:/cgroup: entries the sending socket's cgroup is in (its own or
   * an ancestor's) and whose `as` (if any) names the sender: shallowest cgroup first, then those
   * limited to the sender before those for any account, then endpoint order. */
  listingCgroup: Array<{ endpoint: ResolvedEndpoint; entry: ResolvedCgroupEntry }>;
  /** Of those covering, the ones outside their `when:` windows at the evaluation time: they still
   * guard, but grant nothing (not in listing or listingAny). */
  closed: ResolvedEndpoint[];
}

/** The policy's meaning for one packet, by brute force over the endpoints, with its reasons.
 * `at`: when it is sent (for `when:` windows); default now, in the host's time zone. */
export function referenceTrace(
  p: ResolvedPolicy,
  ifindexOf: (name: string) => number | undefined,
  pkt: Packet,
  at?: EvalTime,
): Trace {
  let iface: Trace['iface'];
  for (const [name, settings] of p.interfaces) {
    if (ifindexOf(name) === pkt.ifindex) {
      iface = { name, settings };
      break;
    }
  }
  // A guarded range is guarded on every interface: endpoints covering the address anywhere.
  const guarding = p.endpoints
    .map((endpoint) => ({
      endpoint,
      ranges: endpoint.ranges.filter((r) => rangeContains(r, pkt.family, pkt.daddr)),
    }))
    .filter((g) => g.ranges.length > 0);
  const covering = iface ? guarding.map((g) => g.endpoint).filter((e) => e.ifaces.includes(iface.name)) : [];
  const uid = pkt.uid;
  // Outside its windows an endpoint grants nothing (the time is read only when one has windows).
  let time = at;
  const closed = covering.filter((e) => {
    if (!e.when) return false;
    time ??= hostEvalTime();
    return !inSegments(e.when.segments, secondOfWeek(time.nowSec, time.tz));
  });
  const granting = closed.length === 0 ? covering : covering.filter((e) => !closed.includes(e));
  // A listed uid equal to UID_ANY is reserved for '*' and does not count as an explicit listing.
  const listing = uid === null || uid === UID_ANY ? [] : granting.filter((e) => e.uids.includes(uid));
  const listingAny = granting.filter((e) => e.any);
  const listingCgroup = cgroupListing(granting, pkt);
  const audit = iface ? iface.settings.mode === 'audit' : guardOnlyAudit(p.interfaces);
  const trace = { iface, audit, guarding, covering, listing, listingAny, listingCgroup, closed };
  return { ...trace, decision: audited(referenceDecide(trace, uid), audit) };
}

function referenceDecide(t: Omit<Trace, 'decision'>, uid: number | null): Decision {
  if (t.iface === undefined) {
    // An interface no endpoint names: only guarded ranges are checked, and nobody may use it for them.
    if (t.guarding.length === 0) return { ...NOT_CONFIGURED };
    return uid === null ? unownedDecision(false) : decide('drop', 'iface-not-listed');
  }
  const settings = t.iface.settings;
  const unownedAllow = settings.unowned === 'allow';

  if (t.guarding.length > 0 && t.covering.length === 0) {
    if (uid === null) return unownedDecision(unownedAllow);
    return decide('drop', 'iface-not-listed');
  }

  if (t.covering.length === 0) {
    if (settings.default === 'allow') return decide('allow', 'default-allow');
    if (uid === null) return unownedDecision(unownedAllow);
    return decide('drop', 'default-deny');
  }

  if (uid === null) return unownedDecision(unownedAllow);
  if (t.listing.length > 0) return decide('allow', 'endpoint', Math.min(...t.listing.map((e) => e.id)));
  if (t.listingAny.length > 0) return decide('allow', 'endpoint', Math.min(...t.listingAny.map((e) => e.id)));
  const first = t.listingCgroup[0];
  if (first) return decide('allow', 'endpoint', first.endpoint.id);
  return decide('drop', 'not-listed');
}

/** Trace.listingCgroup: the granting endpoints' unit:/cgroup: entries that take the packet. */
function cgroupListing(granting: ResolvedEndpoint[], pkt: Packet): Trace['listingCgroup'] {
  const uid = pkt.uid;
  const ids = pkt.cgroups;
  if (uid === null || !ids) return [];
  const out: Array<{ endpoint: ResolvedEndpoint; entry: ResolvedCgroupEntry; level: number }> = [];
  for (const endpoint of granting)
    for (const entry of endpoint.cgroups ?? []) {
      const now = entry.now;
      if (!now || ids[now.level] !== now.id) continue;
      if (entry.uids && (uid === UID_ANY || !entry.uids.includes(uid))) continue;
      out.push({ endpoint, entry, level: now.level });
    }
  const rank = (x: (typeof out)[number]) => (x.entry.uids ? 0 : 1);
  return out
    .sort((a, b) => a.level - b.level || rank(a) - rank(b) || a.endpoint.id - b.endpoint.id)
    .map(({ endpoint, entry }) => ({ endpoint, entry }));
}

/** The policy's meaning for one packet: referenceTrace's decision. */
export function referenceEvaluate(
  p: ResolvedPolicy,
  ifindexOf: (name: string) => number | undefined,
  pkt: Packet,
  at?: EvalTime,
): Decision {
  return referenceTrace(p, ifindexOf, pkt, at).decision;
}
