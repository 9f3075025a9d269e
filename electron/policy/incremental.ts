// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// Range changes without a whole compile. When the next policy differs from the enforced one only
// in the ranges its endpoints list, a trie entry can change only where a changed range lies: the
// changed prefix itself and the prefixes inside it (their covers gain or lose that endpoint);
// every other prefix keeps its covering endpoints and so its user set. recompileRanges finds those
// entries in the sorted prefix table (a prefix's contents follow it directly, see nodeKey) and
// computes each one's cover from its chain of containers, as compilePolicy would, with the set ids
// of the enforced policy: its result is compilePolicy's up to set-id numbering, which the tests
// check against the compiler (tests/unit/policy/incremental.spec.ts). Anything else that changed
// (users, interfaces, windows, cgroups, settings, the interfaces' indices), or a change that
// reaches too many prefixes, returns undefined: the caller compiles the whole policy.

import {
  CapacityError,
  allSets,
  cgroupSlotsOf,
  mappingMaker,
  nodeKey,
  prefixBitsEqual,
  rangeKey,
  setEntryText,
} from './compile.js';
import type { CompileLimits, PrefixIndex } from './compile.js';
import { SET_NONE } from './types.js';
import type {
  CompiledIface,
  CompiledLpmEntry,
  CompiledPolicy,
  CompiledSetEntry,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from './types.js';

/** One endpoint gains or loses one prefix (a nodeKey). */
export interface RangeEdit {
  family: 4 | 6;
  endpoint: number;
  key: string;
  add: boolean;
}

/** A trie entry to write (`setId`) or delete (`setId` undefined). */
export interface LpmChange {
  ifindex: number;
  family: 4 | 6;
  prefix: number;
  addr: Uint8Array;
  setId: number | undefined;
}

/** Most prefix edits recompiled in place (each costs a splice of the sorted table). */
export const MAX_RANGE_EDITS = 256;
/** Most trie entries (prefix × interface) one recompile may revisit. */
export const MAX_AFFECTED_ENTRIES = 65_536;

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether two ranges are the same prefix as the compiler reads it. */
function sameRange(x: Range, y: Range): boolean {
  if (x.prefix !== y.prefix || x.family !== y.family) return false;
  for (let j = 0; j < x.addr.length; j++) if (x.addr[j] !== y.addr[j]) return false;
  return true;
}

/** The same prefixes in the same order (what the compiler reads of a range; its text may differ). */
function sameRanges(a: readonly Range[], b: readonly Range[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameRange(a[i]!, b[i]!)) return false;
  return true;
}

/** Everything of an endpoint but its ranges, as compared between two policies. */
function sameButRanges(a: ResolvedEndpoint, b: ResolvedEndpoint): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.any === b.any &&
    a.when === undefined &&
    b.when === undefined &&
    sameList(a.ifaces, b.ifaces) &&
    sameList(a.uids, b.uids) &&
    JSON.stringify(a.cgroups ?? null) === JSON.stringify(b.cgroups ?? null)
  );
}

/** Past this many ranges that differ in place, listEdits compares the two lists as sets. */
const SCAN_EDITS = 16;

/**
 * The prefixes endpoint `endpoint` loses (in `a`, not in `b`) and gains, as sets. An edit
 * usually changes a few ranges in the middle of a long list: what the two lists share at their
 * start and end is skipped, and a prefix of the rest counts only when the shared part does not
 * list it either (looked for there by length first, then as a key), so that a one-range change of
 * a 100,000-range list makes no key for every range.
 */
function listEdits(a: readonly Range[], b: readonly Range[], endpoint: number): RangeEdit[] {
  let head = 0;
  while (head < a.length && head < b.length && sameRange(a[head]!, b[head]!)) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    sameRange(a[a.length - 1 - tail]!, b[b.length - 1 - tail]!)
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const keys = (rs: readonly Range[]) => new Map(rs.map((r) => [rangeKey(r), r]));
  const out: RangeEdit[] = [];
  if (midA.length + midB.length > SCAN_EDITS) {
    const ka = keys(a);
    const kb = keys(b);
    for (const [key, r] of ka) if (!kb.has(key)) out.push({ family: r.family, endpoint, key, add: false });
    for (const [key, r] of kb) if (!ka.has(key)) out.push({ family: r.family, endpoint, key, add: true });
    return out;
  }
  // The shared part is the same in both lists (a's start and end).
  const inShared = (r: Range) => {
    for (let j = 0; j < a.length; j++) {
      if (j === head) j = a.length - tail;
      if (j >= a.length) break;
      const x = a[j]!;
      if (x.prefix === r.prefix && x.family === r.family && prefixBitsEqual(x.addr, r.addr, r.prefix))
        return true;
    }
    return false;
  };
  const ka = keys(midA);
  const kb = keys(midB);
  for (const [key, r] of ka)
    if (!kb.has(key) && !inShared(r)) out.push({ family: r.family, endpoint, key, add: false });
  for (const [key, r] of kb)
    if (!ka.has(key) && !inShared(r)) out.push({ family: r.family, endpoint, key, add: true });
  return out;
}

/** Digests of range lists (rememberRanges), by list. */
const DIGESTS = new WeakMap<readonly Range[], string>();

/**
 * Remembers `digest` (of the lists' prefixes in order, e.g. SHA-256: equal digests must mean equal
 * lists) for a range list, and freezes the list so that the digest cannot go stale. The resolver
 * does this while the parser's ranges are fresh in memory: comparing a million ranges of two
 * policies one by one afterwards costs about a second (every Range is three scattered objects),
 * comparing two digests per endpoint nothing.
 */
export function rememberRanges(ranges: readonly Range[], digest: string): void {
  Object.freeze(ranges);
  DIGESTS.set(ranges, digest);
}

/**
 * The prefix edits that turn `prev` into `next`, or undefined when they differ in anything but
 * the ranges of their endpoints, use time windows, or need more than `max` edits.
 */
export function rangeEdits(
  prev: ResolvedPolicy,
  next: ResolvedPolicy,
  max: number = MAX_RANGE_EDITS,
): RangeEdit[] | undefined {
  if (prev.logAllowed !== next.logAllowed || prev.endpoints.length !== next.endpoints.length)
    return undefined;
  if (JSON.stringify([...prev.interfaces]) !== JSON.stringify([...next.interfaces])) return undefined;
  const out: RangeEdit[] = [];
  for (let i = 0; i < next.endpoints.length; i++) {
    const a = prev.endpoints[i]!;
    const b = next.endpoints[i]!;
    if (!sameButRanges(a, b)) return undefined;
    if (a.ranges === b.ranges) continue;
    const digest = DIGESTS.get(a.ranges);
    if (digest !== undefined && digest === DIGESTS.get(b.ranges)) continue;
    if (sameRanges(a.ranges, b.ranges)) continue;
    out.push(...listEdits(a.ranges, b.ranges, i));
    if (out.length > max) return undefined;
  }
  return out;
}

/** First position in sorted `keys` whose key is not below `k`. */
function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const prefixOf = (k: string) => k.charCodeAt(k.length - 1);

/** True when prefix `x` lies inside prefix `k` (or is it); both nodeKeys of one family. */
function within(k: string, x: string): boolean {
  const bits = prefixOf(k);
  if (prefixOf(x) < bits) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (k.charCodeAt(i) !== x.charCodeAt(i)) return false;
  const rem = bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (k.charCodeAt(full) & mask) === (x.charCodeAt(full) & mask);
}

/** The address bytes of a nodeKey. */
function addrOf(k: string): Uint8Array {
  const out = new Uint8Array(k.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = k.charCodeAt(i);
  return out;
}

/** The nodeKey of `addr` cut to `bits` (bits ≤ its prefix). */
function cut(addr: Uint8Array, family: 4 | 6, bits: number): string {
  const a = addr.slice();
  const full = bits >> 3;
  const rem = bits & 7;
  if (full < a.length) {
    a[full] = rem === 0 ? 0 : (a[full] as number) & ((0xff << (8 - rem)) & 0xff);
    a.fill(0, full + 1);
  }
  return nodeKey(family, a, bits);
}

/** Sorted insert into a sorted, duplicate-free list. */
function insertSorted(list: number[], x: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > x) i--;
  if (list[i - 1] !== x) list.splice(i, 0, x);
}

const entryKey = (ifindex: number, key: string) => `${ifindex}|${key}`;

/** Spans of a prefix table rewritten with one splice (larger: one splice per changed prefix). */
const SPAN = 4096;

/**
 * Gives the prefixes in `changed` their new owners in the sorted table `t` (no owner: the prefix
 * goes). Every splice of a million-entry table moves what follows it, so nearby changes (a range
 * moved into the gap beside it: one prefix goes, one comes) are made as one splice of the span
 * they lie in, which moves nothing when as many prefixes come as go.
 */
function updateTable(t: PrefixIndex, changed: ReadonlyMap<string, number[]>): void {
  if (changed.size === 0) return;
  const keys = [...changed.keys()].sort();
  const lo = lowerBound(t.keys, keys[0]!);
  const last = keys[keys.length - 1]!;
  const hi = lowerBound(t.keys, last) + (t.keys[lowerBound(t.keys, last)] === last ? 1 : 0);
  if (hi - lo <= SPAN) {
    const outKeys: string[] = [];
    const outOwners: number[][] = [];
    let i = lo;
    for (const k of keys) {
      for (; i < hi && t.keys[i]! < k; i++) {
        outKeys.push(t.keys[i]!);
        outOwners.push(t.owners[i]!);
      }
      if (i < hi && t.keys[i] === k) i++;
      const o = changed.get(k)!;
      if (o.length > 0) {
        outKeys.push(k);
        outOwners.push(o);
      }
    }
    for (; i < hi; i++) {
      outKeys.push(t.keys[i]!);
      outOwners.push(t.owners[i]!);
    }
    t.keys.splice(lo, hi - lo, ...outKeys);
    t.owners.splice(lo, hi - lo, ...outOwners);
    return;
  }
  for (const k of keys) {
    const at = lowerBound(t.keys, k);
    const o = changed.get(k)!;
    const found = t.keys[at] === k;
    if (found && o.length > 0) t.owners[at] = o;
    else if (found) {
      t.keys.splice(at, 1);
      t.owners.splice(at, 1);
    } else if (o.length > 0) {
      t.keys.splice(at, 0, k);
      t.owners.splice(at, 0, o);
    }
  }
}

/**
 * What recompileRanges needs of the enforced policy beyond the policy itself: its prefix tables
 * and, per set id, how many trie entries use it and what it grants. Built from a compile
 * (`compilePolicy(…, { index: true })`); recompileRanges changes it to the next policy's, so it
 * must be dropped when the next policy is not applied after all.
 */
export class RangeIndex {
  private constructor(
    private readonly fam: Record<4 | 6, PrefixIndex>,
    private readonly refs: Map<number, number>,
    private readonly textOf: Map<number, string>,
    private readonly idOf: Map<string, number>,
    private readonly counts: { 4: number; 6: number },
    /** Entries of the full compile the lazy `lpm` lists start from, and what changed since. */
    private readonly base: readonly CompiledLpmEntry[],
    private readonly changed: Map<string, CompiledLpmEntry | null>,
  ) {}

  static build(prefixes: Record<4 | 6, PrefixIndex>, compiled: CompiledPolicy): RangeIndex {
    const refs = new Map<number, number>();
    const counts = { 4: 0, 6: 0 };
    for (const e of compiled.lpm) {
      counts[e.family]++;
      if (e.setId !== SET_NONE) refs.set(e.setId, (refs.get(e.setId) ?? 0) + 1);
    }
    const textOf = allSets(compiled);
    const idOf = new Map([...textOf].map(([id, text]) => [text, id]));
    return new RangeIndex(prefixes, refs, textOf, idOf, counts, compiled.lpm, new Map());
  }

  /** Trie entries per family. */
  entries(): number {
    return this.counts[4] + this.counts[6];
  }

  /**
   * The next policy compiled from the enforced one and the edits that lead to it (rangeEdits), and
   * the trie entries that change; undefined when the change reaches more than MAX_AFFECTED_ENTRIES
   * entries (compile the whole policy then). `setIdAt` reads the enforced trie entry (undefined:
   * none). Throws CapacityError like compilePolicy. Updates the index to the next policy.
   */
  recompile(
    prevCompiled: CompiledPolicy,
    next: ResolvedPolicy,
    edits: readonly RangeEdit[],
    setIdAt: (ifindex: number, family: 4 | 6, prefix: number, addr: Uint8Array) => number | undefined,
    limits: CompileLimits,
  ): { compiled: CompiledPolicy; changes: LpmChange[] } | undefined {
    // The cgroups as they are now (a restarted unit moves its slot; a new level needs a compile).
    const slots = cgroupSlotsOf(next);
    if (
      JSON.stringify(slots) !==
      JSON.stringify({ cgroups: prevCompiled.cgroups, cgLevels: prevCompiled.cgLevels })
    )
      return undefined;
    const ifaces: CompiledIface[] = [...prevCompiled.ifaces];
    const anyIfindex = prevCompiled.anyIface?.ifindex;
    // 1. The prefix tables of the next policy, and the prefixes whose owners changed.
    const touched: Record<4 | 6, Set<string>> = { 4: new Set(), 6: new Set() };
    const owners: Record<4 | 6, Map<string, number[]>> = { 4: new Map(), 6: new Map() };
    for (const e of edits) {
      const t = this.fam[e.family];
      let o = owners[e.family].get(e.key);
      if (o === undefined) {
        const at = lowerBound(t.keys, e.key);
        o = t.keys[at] === e.key ? [...t.owners[at]!] : [];
        owners[e.family].set(e.key, o);
      }
      if (e.add) insertSorted(o, e.endpoint);
      else {
        const i = o.indexOf(e.endpoint);
        if (i < 0) throw new Error(`range index out of step: ${e.key.length} ${prefixOf(e.key)}`);
        o.splice(i, 1);
      }
      touched[e.family].add(e.key);
    }
    for (const family of [4, 6] as const) updateTable(this.fam[family], owners[family]);
    const guards = this.fam[4].keys.length + this.fam[6].keys.length > 0;
    if (guards !== (anyIfindex !== undefined)) return undefined; // the other interfaces come or go
    // 2. Every prefix inside a changed one, with the endpoints covering it.
    const make = mappingMaker(next, limits.sets);
    const byCover = new Map<string, number>();
    const newSets: CompiledSetEntry[] = [];
    let setEntries = prevCompiled.sets.length;
    let free = 1;
    const idFor = (cover: number[]): number => {
      if (cover.length === 0) return SET_NONE;
      const ck = cover.join(',');
      const known = byCover.get(ck);
      if (known !== undefined) return known;
      const mapping = make(cover);
      const text = mapping.map(setEntryText).sort().join(',');
      let id = this.idOf.get(text);
      if (id === undefined) {
        while (this.textOf.has(free)) free++;
        id = free;
        this.textOf.set(id, text);
        this.idOf.set(text, id);
        setEntries += mapping.length;
        if (setEntries > limits.sets) throw new CapacityError('sets', limits.sets);
        for (const m of mapping) newSets.push({ ...m, setId: id });
      }
      byCover.set(ck, id);
      return id;
    };
    const changes: LpmChange[] = [];
    const dropped = new Set<number>();
    const use = (id: number, by: number) => {
      if (id === SET_NONE) return;
      const n = (this.refs.get(id) ?? 0) + by;
      if (n > 0) this.refs.set(id, n);
      else {
        this.refs.delete(id);
        dropped.add(id);
      }
    };
    let affected = 0;
    for (const family of [4, 6] as const) {
      const t = this.fam[family];
      const seen = new Set<string>();
      for (const k of touched[family]) {
        const addr = addrOf(k);
        const prefix = prefixOf(k);
        if (t.keys[lowerBound(t.keys, k)] !== k) {
          // Gone from every endpoint: its entry goes from every interface.
          for (const ifindex of [
            ...ifaces.map((i) => i.ifindex),
            ...(anyIfindex === undefined ? [] : [anyIfindex]),
          ]) {
            const old = setIdAt(ifindex, family, prefix, addr);
            if (old === undefined) continue;
            use(old, -1);
            this.counts[family]--;
            changes.push({ ifindex, family, prefix, addr, setId: undefined });
            this.changed.set(entryKey(ifindex, k), null);
          }
        }
        for (let i = lowerBound(t.keys, k); i < t.keys.length && within(k, t.keys[i]!); i++) {
          const x = t.keys[i]!;
          if (seen.has(x)) continue;
          seen.add(x);
          affected += ifaces.length + 1;
          if (affected > MAX_AFFECTED_ENTRIES) return undefined;
          // The endpoints listing x or a prefix containing it.
          const xa = addrOf(x);
          const xp = prefixOf(x);
          const all = new Set<number>(t.owners[i]);
          for (let bits = xp - 1; bits >= 0; bits--) {
            const ak = cut(xa, family, bits);
            const at = lowerBound(t.keys, ak);
            if (t.keys[at] === ak) for (const o of t.owners[at]!) all.add(o);
          }
          const covering = [...all].sort((a, b) => a - b);
          const put = (ifindex: number, setId: number) => {
            const old = setIdAt(ifindex, family, xp, xa);
            if (old === setId) return;
            if (old === undefined) this.counts[family]++;
            else use(old, -1);
            use(setId, 1);
            changes.push({ ifindex, family, prefix: xp, addr: xa, setId });
            this.changed.set(entryKey(ifindex, x), { ifindex, family, prefix: xp, addr: xa, setId });
          };
          for (const iface of ifaces)
            put(
              iface.ifindex,
              idFor(covering.filter((idx) => next.endpoints[idx]!.ifaces.includes(iface.name))),
            );
          if (anyIfindex !== undefined) put(anyIfindex, SET_NONE);
        }
      }
      const limit = family === 4 ? limits.lpm4 : limits.lpm6;
      if (this.counts[family] > limit) throw new CapacityError(family === 4 ? 'lpm4' : 'lpm6', limit);
    }
    // 3. Sets no entry uses any more go; new ones were added by idFor.
    for (const id of dropped) {
      if (this.refs.has(id)) continue;
      const text = this.textOf.get(id);
      this.textOf.delete(id);
      if (text !== undefined) this.idOf.delete(text);
    }
    const sets = prevCompiled.sets
      .filter((s) => !dropped.has(s.setId) || this.refs.has(s.setId))
      .concat(newSets);
    const base = this.base;
    const changed = new Map(this.changed);
    let lpm: CompiledLpmEntry[] | undefined;
    // Not `...prevCompiled`: that would read its lpm (a whole list when it is one of these).
    const compiled: CompiledPolicy = {
      get lpm(): CompiledLpmEntry[] {
        lpm ??= materialize(base, changed);
        return lpm;
      },
      sets,
      ifaces,
      anyIface: prevCompiled.anyIface,
      endpointNames: new Map(next.endpoints.map((e) => [e.id, e.name])),
      cgroups: prevCompiled.cgroups,
      cgLevels: prevCompiled.cgLevels,
      schedules: prevCompiled.schedules,
    };
    return { compiled, changes };
  }
}

/** The trie entries of a full compile with the entries changed since put in. */
function materialize(
  base: readonly CompiledLpmEntry[],
  changed: ReadonlyMap<string, CompiledLpmEntry | null>,
): CompiledLpmEntry[] {
  const out: CompiledLpmEntry[] = [];
  const done = new Set<string>();
  for (const e of base) {
    const k = entryKey(e.ifindex, nodeKey(e.family, e.addr, e.prefix));
    const c = changed.get(k);
    if (c === undefined) out.push(e);
    else {
      done.add(k);
      if (c !== null) out.push(c);
    }
  }
  for (const [k, c] of changed) if (c !== null && !done.has(k)) out.push(c);
  return out;
}
