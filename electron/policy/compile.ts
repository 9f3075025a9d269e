// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// ResolvedPolicy → CompiledPolicy: the entries of the LPM tries and the user-set hash that the tc
// program looks up (docs/datapath.md). For every distinct prefix P on an interface we store the union of
// the users of every endpoint whose ranges contain P. The prefixes containing an address form a
// chain, so the longest matching prefix then carries exactly the union over every endpoint that
// covers the address: one trie lookup gives the union semantics.

import { NTF } from '../../native-bridge/layouts.js';
import { LOG_ALLOWED_CODE, SET_NONE, UID_ANY } from './types.js';
import { inSegments, WEEK_SEC } from './when.js';
import type {
  CompiledCgroup,
  CompiledSchedule,
  CompiledIface,
  CompiledLpmEntry,
  CompiledPolicy,
  CompiledSetEntry,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from './types.js';

/** Entries a policy may use per generation (both generations stay populated: half of each map). */
export interface CompileLimits {
  lpm4: number;
  lpm6: number;
  sets: number;
}

export const DEFAULT_LIMITS: Readonly<CompileLimits> = Object.freeze({
  lpm4: NTF.LPM4_ENTRIES / 2,
  lpm6: NTF.LPM6_ENTRIES / 2,
  sets: NTF.SET_ENTRIES / 2,
});

/** The policy needs more map entries than the kernel maps hold. Thrown as soon as the output
 * exceeds the limit, so a small hostile file cannot make the compiler build millions of entries.
 * The message names the limit, the map and the knob that sizes it (the CLI's flags; the maps are
 * sized when they are created, docs/datapath.md "Policy size"). */
export class CapacityError extends Error {
  constructor(
    readonly map: 'lpm4' | 'lpm6' | 'sets',
    readonly limit: number,
  ) {
    const what =
      map === 'sets'
        ? `user-set entries (ntf_sets; one per user per distinct combination of endpoints covering a range)`
        : `IPv${map === 'lpm4' ? 4 : 6} range entries (ntf_${map}; one per range per interface, plus one for the other interfaces)`;
    const knob = map === 'sets' ? '--set-entries' : '--range-entries';
    super(
      `the policy needs more than ${limit} ${what}, the most one policy may use here; raise it with ` +
        `${knob} N (net-tc-filter run/apply), which sizes the kernel maps when they are created: ` +
        `existing maps keep their size until net-tc-filter unload`,
    );
    this.name = 'CapacityError';
  }
}

export interface CompileResult {
  compiled: CompiledPolicy;
  /** Configured interface names that have no ifindex (absent from the system); nothing is compiled for them. */
  missingIfaces: string[];
  /** With `{ index: true }`: the prefix tables, for recompiling range changes (incremental.ts). */
  prefixes?: Record<4 | 6, PrefixIndex>;
}

/** What will change between two compiled policies, in counts (for "pending changes" displays). */
export interface CompiledDiff {
  /** Prefixes (per interface and family) guarded only in `b`. */
  lpmAdded: number;
  /** Prefixes guarded only in `a`. */
  lpmRemoved: number;
  /** Prefixes guarded in both whose user→endpoint mapping differs. */
  lpmChanged: number;
  /** Distinct user→endpoint mappings present only in `b` (compared by content: set ids are not stable). */
  setsAdded: number;
  setsRemoved: number;
  /** Interfaces added, removed, or with different settings. */
  ifacesChanged: number;
}

// ---- address helpers (Uint8Array, network byte order) ----

function familyBytes(family: 4 | 6): number {
  return family === 4 ? 4 : 16;
}

/** True when the first `bits` bits of a and b are equal. */
export function prefixBitsEqual(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rem = bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((a[full] ?? 0) & mask) === ((b[full] ?? 0) & mask);
}

/** A copy of addr with every bit after the first `bits` cleared. */
export function maskAddr(addr: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  const full = bits >> 3;
  out.set(addr.subarray(0, full));
  const rem = bits & 7;
  if (rem !== 0 && full < addr.length) out[full] = (addr[full] ?? 0) & ((0xff << (8 - rem)) & 0xff);
  return out;
}

/** Lexicographic order of two equal-length addresses. */
export function compareAddr(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function checkRange(e: ResolvedEndpoint, r: Range): void {
  const bytes = familyBytes(r.family);
  if (r.addr.length !== bytes || !Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > bytes * 8) {
    throw new Error(`endpoint ${e.name}: malformed range ${r.text} (family ${r.family}, prefix ${r.prefix})`);
  }
}

// ---- compiler ----

/** Sorted union of two sorted, duplicate-free index lists; returns `a` itself when b adds nothing. */
function mergeSorted(a: number[], b: number[]): number[] {
  if (b.every((x) => a.includes(x))) return a;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as number);
      i++;
    } else if (x === undefined || y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

/**
 * Assigns set ids. Two levels of memo: the set of covering endpoints (cheap key, hit for almost every
 * prefix) → set id, and the resulting uid→endpoint mapping → set id, so that different endpoint sets
 * with the same meaning share one set.
 */
class SetTable {
  readonly entries: CompiledSetEntry[] = [];
  private readonly byCover = new Map<string, number>();
  private readonly byMapping = new Map<string, number>();
  private nextId = 1;

  constructor(
    private readonly endpoints: readonly ResolvedEndpoint[],
    private readonly limit: number,
    private readonly slots: CgroupSlots,
    private readonly schedules: Schedules,
  ) {}

  /** Per (uid, cgroup slot) every covering endpoint that grants it, in id order, made into an
   * endpoint or a schedule (Schedules.grant: the lowest id without time windows). `plain`: the
   * listed uids and '*' too, else only the unit:/cgroup: entries. */
  private grantMapping(cover: number[], plain: boolean): CompiledSetEntry[] {
    const grants = new Map<string, { uid: number; cg: number; ids: number[] }>();
    const add = (uid: number, cg: number, id: number) => {
      const key = `${cg}:${uid}`;
      const g = grants.get(key);
      if (g) {
        if (!g.ids.includes(id)) g.ids.push(id);
      } else grants.set(key, { uid, cg, ids: [id] });
      if (grants.size > this.limit) throw new CapacityError('sets', this.limit);
    };
    for (const idx of cover) {
      const e = this.endpoints[idx] as ResolvedEndpoint;
      if (plain) {
        for (const uid of e.uids) if (uid !== UID_ANY) add(uid, NTF.CG_ANY, e.id);
        if (e.any) add(UID_ANY, NTF.CG_ANY, e.id);
      }
      for (const c of e.cgroups ?? [])
        for (const uid of c.uids ?? [UID_ANY]) add(uid, this.slots.slotOf(c.kind, c.name), e.id);
    }
    const out: CompiledSetEntry[] = [];
    for (const g of grants.values()) {
      const { endpointId, schedule } = this.schedules.grant(g.ids.sort((a, b) => a - b));
      out.push({ setId: 0, uid: g.uid, cg: g.cg, endpointId, ...(schedule ? { schedule } : {}) });
    }
    // By cgroup slot (the plain entries first), then uid ('*', UID_ANY, last).
    return out.sort((a, b) => a.cg - b.cg || a.uid - b.uid);
  }

  setIdFor(cover: number[]): number {
    if (cover.length === 0) return SET_NONE;
    const coverKey = cover.join(',');
    const known = this.byCover.get(coverKey);
    if (known !== undefined) return known;
    return this.store(coverKey, this.mappingFor(cover));
  }

  /** What a set of covering endpoints (indices, ascending, not empty) grants: its set entries
   * with set id 0. */
  mappingFor(cover: number[]): CompiledSetEntry[] {
    if (this.schedules.any && cover.some((idx) => this.endpoints[idx]?.when))
      return this.grantMapping(cover, true);

    // Reported endpoint: the lowest id among covering endpoints that list the uid; '*' (UID_ANY)
    // likewise gets the lowest id among covering endpoints with any. The kernel tries the uid before
    // UID_ANY, so an explicit listing wins over '*'.
    const byUid = new Map<number, number>();
    let anyId: number | undefined;
    for (const idx of cover) {
      const e = this.endpoints[idx] as ResolvedEndpoint;
      for (const uid of e.uids) {
        // (uid_t)-1 is reserved for '*' in the set map; a listed uid of that value cannot be a real user.
        if (uid === UID_ANY) continue;
        const cur = byUid.get(uid);
        if (cur === undefined || e.id < cur) byUid.set(uid, e.id);
      }
      if (e.any && (anyId === undefined || e.id < anyId)) anyId = e.id;
      // Stop before building a mapping that could not be stored on its own (whether it is new
      // is known only once it is complete: checked against what is stored below).
      if (byUid.size > this.limit) throw new CapacityError('sets', this.limit);
    }
    const mapping: CompiledSetEntry[] = [];
    for (const uid of [...byUid.keys()].sort((x, y) => x - y)) {
      mapping.push({ setId: 0, uid, cg: NTF.CG_ANY, endpointId: byUid.get(uid) as number });
    }
    if (anyId !== undefined) mapping.push({ setId: 0, uid: UID_ANY, cg: NTF.CG_ANY, endpointId: anyId });
    if (this.slots.any) mapping.push(...this.grantMapping(cover, false));
    return mapping;
  }

  /** The set id of a mapping (a new set when no other cover had the same), for this cover. */
  private store(coverKey: string, mapping: CompiledSetEntry[]): number {
    const mappingKey = mapping.map(setEntryText).join(',');
    let setId = this.byMapping.get(mappingKey);
    if (setId === undefined) {
      setId = this.nextId++;
      this.byMapping.set(mappingKey, setId);
      if (this.entries.length + mapping.length > this.limit) throw new CapacityError('sets', this.limit);
      for (const m of mapping) this.entries.push({ ...m, setId });
    }
    this.byCover.set(coverKey, setId);
    return setId;
  }
}

/** A set entry's meaning, without its set id ("uid:endpoint", "uid/slot:endpoint", "…@schedule"). */
export function setEntryText(m: CompiledSetEntry): string {
  const who = m.cg === NTF.CG_ANY ? `${m.uid}` : `${m.uid}/${m.cg}`;
  return `${who}:${m.endpointId}${m.schedule ? `@${m.schedule}` : ''}`;
}

/**
 * Time windows: which of the endpoints granting one (uid, slot) grants when. In id order the
 * first one open at a moment grants then (the lowest id, as without windows); an endpoint without
 * windows is open always, so the ones after it never matter. Equal schedules share an id.
 */
class Schedules {
  readonly list: CompiledSchedule[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly byId: Map<number, ResolvedEndpoint>;
  readonly any: boolean;

  constructor(
    endpoints: readonly ResolvedEndpoint[],
    private readonly limit: number,
  ) {
    this.any = endpoints.some((e) => e.when);
    this.byId = new Map(this.any ? endpoints.map((e) => [e.id, e]) : []);
  }

  /** `ids`: the granting endpoints' ids, ascending. */
  grant(ids: readonly number[]): { endpointId: number; schedule: number } {
    if (!this.any) return { endpointId: ids[0] as number, schedule: 0 };
    const byId = (id: number) => this.byId.get(id) as ResolvedEndpoint;
    const first = byId(ids[0] as number);
    if (!first.when) return { endpointId: first.id, schedule: 0 };
    const cands: ResolvedEndpoint[] = [];
    for (const id of ids) {
      const e = byId(id);
      cands.push(e);
      if (!e.when) break;
    }
    const edges = new Set<number>([0, WEEK_SEC]);
    for (const e of cands) for (const s of e.when?.segments ?? []) edges.add(s.start).add(s.end);
    const at = [...edges].sort((a, b) => a - b);
    const segments: CompiledSchedule['segments'] = [];
    for (let i = 0; i + 1 < at.length; i++) {
      const start = at[i] as number;
      const end = at[i + 1] as number;
      const open = cands.find((e) => !e.when || inSegments(e.when.segments, start));
      if (!open) continue;
      const last = segments[segments.length - 1];
      if (last && last.end === start && last.endpointId === open.id) last.end = end;
      else segments.push({ start, end, endpointId: open.id });
    }
    const only = segments[0];
    if (segments.length === 1 && only && only.start === 0 && only.end === WEEK_SEC)
      return { endpointId: only.endpointId, schedule: 0 };
    if (segments.length > NTF.SCHEDULE_SEGMENTS)
      throw new Error(
        `the time windows of endpoints ${cands.map((e) => JSON.stringify(e.name)).join(', ')} together make ${segments.length} separate times of the week for one user; the filter holds ${NTF.SCHEDULE_SEGMENTS} (NTF_SCHEDULE_SEGMENTS): use fewer, wider windows`,
      );
    const key = segments.map((s) => `${s.start}-${s.end}:${s.endpointId}`).join(',');
    let id = this.byKey.get(key);
    if (id === undefined) {
      if (this.list.length >= this.limit)
        throw new Error(
          `the policy needs more than ${this.limit} time-window schedules, the most one policy may use`,
        );
      id = this.list.length + 1;
      this.byKey.set(key, id);
      this.list.push({ id, segments });
    }
    return { endpointId: first.id, schedule: id };
  }
}

/** What a cover (endpoint indices, ascending, not empty) grants, as compilePolicy's sets do:
 * set entries with set id 0 (incremental.ts). */
export function mappingMaker(p: ResolvedPolicy, limit: number): (cover: number[]) => CompiledSetEntry[] {
  const slots = new CgroupSlots(p.endpoints);
  const t = new SetTable(p.endpoints, limit, slots, new Schedules(p.endpoints, NTF.SCHEDULE_ENTRIES / 2));
  return (cover) => t.mappingFor(cover);
}

/** The cgroup slots and levels compilePolicy gives a policy. */
export function cgroupSlotsOf(p: ResolvedPolicy): { cgroups: CompiledCgroup[]; cgLevels: number } {
  const slots = new CgroupSlots(p.endpoints);
  return { cgroups: slots.list, cgLevels: slots.levels() };
}

/** Every level below NTF_CG_LEVELS: where a cgroup is not known now, it may appear at any. */
const ALL_CG_LEVELS = (2 ** NTF.CG_LEVELS - 1) >>> 0;

/** The cgroups the policy's unit:/cgroup: entries name, one slot per kind and name. */
class CgroupSlots {
  readonly list: CompiledCgroup[] = [];
  private readonly byName = new Map<string, CompiledCgroup>();

  constructor(endpoints: readonly ResolvedEndpoint[]) {
    for (const e of endpoints)
      for (const c of e.cgroups ?? []) {
        const key = `${c.kind}:${c.name}`;
        if (this.byName.has(key)) continue;
        // Two names for one cgroup (unit:x and cgroup:/system.slice/x.service) share its slot:
        // ntf_cgroups maps an id to one slot.
        const same = c.now && this.list.find((s) => s.id === c.now?.id);
        if (same) {
          this.byName.set(key, same);
          continue;
        }
        const slot: CompiledCgroup = {
          slot: this.list.length + 1,
          kind: c.kind,
          name: c.name,
          id: c.now?.id,
          level: c.now?.level,
        };
        this.byName.set(key, slot);
        this.list.push(slot);
      }
  }

  get any(): boolean {
    return this.list.length > 0;
  }

  slotOf(kind: 'unit' | 'cgroup', name: string): number {
    return (this.byName.get(`${kind}:${name}`) as CompiledCgroup).slot;
  }

  /** ntf_iface_cfg.cg_levels: the levels of the cgroups known now, every level while one is not
   * (a unit that starts later may land at any depth), none without unit:/cgroup: entries. */
  levels(): number {
    let mask = 0;
    for (const c of this.list) {
      if (c.level === undefined || c.level >= NTF.CG_LEVELS) return ALL_CG_LEVELS;
      mask |= 1 << c.level;
    }
    return mask >>> 0;
  }
}

/** The distinct prefixes of one family in sweep order: the same on every interface, so built once
 * per compile (compileFamily). */
interface PrefixTable {
  /** Sorted by address then length. */
  nodes: Array<{ prefix: number; addr: Uint8Array }>;
  /** nodeKey of each node. */
  keys: string[];
  /** The nearest enclosing node of each (-1: none). */
  parent: Int32Array;
  /** Per endpoint (by index), the node of each of its ranges of this family. */
  of: number[][];
}

/** `addr` itself when no bit after the first `bits` is set (the usual case), else a masked copy. */
function masked(addr: Uint8Array, bits: number): Uint8Array {
  if (addr.constructor !== Uint8Array) return maskAddr(addr, bits);
  const full = bits >> 3;
  const rem = bits & 7;
  if (rem !== 0 && ((addr[full] ?? 0) & (0xff >> rem)) !== 0) return maskAddr(addr, bits);
  for (let i = full + (rem !== 0 ? 1 : 0); i < addr.length; i++)
    if (addr[i] !== 0) return maskAddr(addr, bits);
  return addr;
}

/** A prefix as a string that orders like the prefix table: the address bytes (masked to
 * `prefix`), then the length; compared as strings, a prefix comes before every prefix inside it and
 * those come right after it. */
export function nodeKey(family: 4 | 6, addr: Uint8Array, prefix: number): string {
  return family === 4
    ? String.fromCharCode(addr[0]!, addr[1]!, addr[2]!, addr[3]!, prefix)
    : String.fromCharCode(...addr, prefix);
}

/** A range's nodeKey (host bits cleared). */
export function rangeKey(r: Range): string {
  return nodeKey(r.family, masked(r.addr, r.prefix), r.prefix);
}

/** The distinct prefixes of one family as nodeKey strings, sorted, with the endpoints (indices,
 * ascending) that list each: what an incremental recompile starts from (incremental.ts). */
export interface PrefixIndex {
  keys: string[];
  owners: number[][];
}

/** No endpoint: shared, never modified (setIdFor and mergeSorted only read their lists). */
const NO_ENDPOINTS: number[] = [];

/**
 * The prefix tables of both families, in one pass over every range (a million-range policy: each
 * range is a few scattered objects, so every pass over them costs about a second), checking each
 * range on the way. Throws CapacityError once a family has more distinct prefixes than its limit
 * (none is built past it), after every range was checked.
 */
function prefixTables(p: ResolvedPolicy, limits: CompileLimits): Map<4 | 6, PrefixTable> {
  const fam = {
    4: {
      byKey: new Map<string, number>(),
      raw: [] as Array<{ prefix: number; addr: Uint8Array }>,
      keys: [] as string[],
    },
    6: {
      byKey: new Map<string, number>(),
      raw: [] as Array<{ prefix: number; addr: Uint8Array }>,
      keys: [] as string[],
    },
  };
  const over = { 4: false, 6: false };
  const of = p.endpoints.map((e) => {
    const lists: { 4: number[]; 6: number[] } = { 4: [], 6: [] };
    for (const r of e.ranges) {
      checkRange(e, r);
      const family = r.family;
      const f = fam[family];
      // Masked again so that stray host bits can never create two entries the kernel trie treats as one.
      const addr = masked(r.addr, r.prefix);
      const key = nodeKey(family, addr, r.prefix);
      let i = f.byKey.get(key);
      if (i === undefined) {
        if (f.raw.length + 1 > limits[family === 4 ? 'lpm4' : 'lpm6']) {
          over[family] = true;
          continue;
        }
        i = f.raw.length;
        f.byKey.set(key, i);
        f.raw.push({ prefix: r.prefix, addr });
        f.keys.push(key);
      }
      lists[family].push(i);
    }
    return lists;
  });
  if (over[4]) throw new CapacityError('lpm4', limits.lpm4);
  if (over[6]) throw new CapacityError('lpm6', limits.lpm6);
  return new Map(
    ([4, 6] as const).map((family) => [
      family,
      sortedTable(
        fam[family].raw,
        fam[family].keys,
        of.map((l) => l[family]),
      ),
    ]),
  );
}

/** A family's prefixes (`raw`, with their nodeKeys, and per endpoint the indices of its ranges'
 * prefixes) as a PrefixTable. */
function sortedTable(
  raw: Array<{ prefix: number; addr: Uint8Array }>,
  keys: string[],
  of: number[][],
): PrefixTable {
  // Sorted by address then length, every prefix comes after all prefixes that contain it, and the
  // prefixes between a container and its contents are inside the container (prefixes never partly
  // overlap). So a stack of enclosing prefixes gives each node its chain of containers in O(n log n).
  const order = Array.from(raw.keys()).sort((a, b) => {
    const x = keys[a] as string;
    const y = keys[b] as string;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const rank = new Int32Array(raw.length);
  order.forEach((o, k) => (rank[o] = k));
  const nodes = order.map((o) => raw[o]!);
  const sortedKeys = order.map((o) => keys[o]!);
  const parent = new Int32Array(nodes.length);
  const stack: number[] = [];
  nodes.forEach((node, i) => {
    let top = stack[stack.length - 1];
    while (top !== undefined) {
      const t = nodes[top]!;
      if (t.prefix <= node.prefix && prefixBitsEqual(t.addr, node.addr, t.prefix)) break;
      stack.pop();
      top = stack[stack.length - 1];
    }
    parent[i] = top ?? -1;
    stack.push(i);
  });
  return { nodes, keys: sortedKeys, parent, of: of.map((list) => list.map((i) => rank[i]!)) };
}

/**
 * The trie entries of one interface and family. Every range of every endpoint is an entry on
 * every interface (a guarded range is guarded everywhere); only endpoints that name the
 * interface contribute users to it. A prefix no such endpoint covers gets SET_NONE.
 * `ifname` undefined: the interfaces no endpoint names (ifindex IFINDEX_ANY). `tables` keeps the
 * prefix table of each family for the other interfaces of the same compile.
 */
function compileFamily(
  p: ResolvedPolicy,
  ifindex: number,
  ifname: string | undefined,
  family: 4 | 6,
  sets: SetTable,
  out: CompiledLpmEntry[],
  counts: { lpm4: number; lpm6: number },
  limits: CompileLimits,
  tables: Map<4 | 6, PrefixTable>,
): void {
  const which = family === 4 ? 'lpm4' : 'lpm6';
  const t = tables.get(family) as PrefixTable;
  counts[which] += t.nodes.length;
  if (counts[which] > limits[which]) throw new CapacityError(which, limits[which]);
  // The endpoints that name each prefix directly (and this interface), in index order.
  const own: Array<number[] | undefined> = new Array<number[] | undefined>(t.nodes.length);
  if (ifname !== undefined) {
    p.endpoints.forEach((e, idx) => {
      if (!e.ifaces.includes(ifname)) return;
      for (const i of t.of[idx]!) {
        const o = own[i];
        if (o === undefined) own[i] = [idx];
        else if (o[o.length - 1] !== idx) o.push(idx); // idx only grows: stays sorted
      }
    });
  }
  // Each node's covering endpoints: its container's, and its own.
  const covers: number[][] = new Array<number[]>(t.nodes.length);
  t.nodes.forEach((node, i) => {
    const o = own[i] ?? NO_ENDPOINTS;
    const par = t.parent[i]!;
    const cover = par < 0 ? o : mergeSorted(covers[par]!, o);
    covers[i] = cover;
    out.push({ ifindex, family, prefix: node.prefix, addr: node.addr, setId: sets.setIdFor(cover) });
  });
}

/**
 * Compiles a resolved policy for the interfaces that exist now. `ifindexOf` maps an interface name to
 * its index (undefined when absent). Output order is deterministic: interfaces in policy order, IPv4
 * before IPv6, prefixes by address then length; set ids from 1 in order of first use.
 * Throws on malformed ranges or two interface names with one ifindex (resolver/system bugs).
 */
export function compilePolicy(
  p: ResolvedPolicy,
  ifindexOf: (name: string) => number | undefined,
  limits: CompileLimits = DEFAULT_LIMITS,
  opts: { index?: boolean } = {},
): CompileResult {
  const ifaces: CompiledIface[] = [];
  const missingIfaces: string[] = [];
  const nameOfIndex = new Map<number, string>();
  const logAllowed = LOG_ALLOWED_CODE[p.logAllowed];
  for (const [name, s] of p.interfaces) {
    const ifindex = ifindexOf(name);
    if (ifindex === undefined) {
      missingIfaces.push(name);
      continue;
    }
    if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0xffffffff) {
      throw new Error(`interface ${name}: invalid ifindex ${ifindex}`);
    }
    const other = nameOfIndex.get(ifindex);
    if (other !== undefined) throw new Error(`interfaces ${other} and ${name} both have ifindex ${ifindex}`);
    nameOfIndex.set(ifindex, name);
    ifaces.push({
      ifindex,
      name,
      defaultAllow: s.default === 'allow',
      unownedAllow: s.unowned === 'allow',
      essentials: s.essentials,
      logAllowed,
      audit: s.mode === 'audit',
    });
  }

  const endpointNames = new Map<number, string>();
  for (const e of p.endpoints) endpointNames.set(e.id, e.name);
  const tables = prefixTables(p, limits);

  const slots = new CgroupSlots(p.endpoints);
  const schedules = new Schedules(p.endpoints, NTF.SCHEDULE_ENTRIES / 2);
  const sets = new SetTable(p.endpoints, limits.sets, slots, schedules);
  const lpm: CompiledLpmEntry[] = [];
  const counts = { lpm4: 0, lpm6: 0 };
  for (const iface of ifaces) {
    compileFamily(p, iface.ifindex, iface.name, 4, sets, lpm, counts, limits, tables);
    compileFamily(p, iface.ifindex, iface.name, 6, sets, lpm, counts, limits, tables);
  }
  // Every other interface, also one that appears later: the guarded ranges, reachable by nobody.
  const guardsAnything = p.endpoints.some((e) => e.ranges.length > 0);
  const anyIface: CompiledIface | undefined = guardsAnything
    ? {
        ifindex: NTF.IFINDEX_ANY,
        name: '',
        defaultAllow: true,
        unownedAllow: false,
        essentials: true,
        logAllowed,
        // Audit everywhere only when every configured interface audits: a policy that audits one
        // interface and enforces another keeps its guarded ranges enforced where no endpoint
        // names the interface.
        audit: p.interfaces.size > 0 && [...p.interfaces.values()].every((s) => s.mode === 'audit'),
      }
    : undefined;
  if (anyIface) {
    compileFamily(p, NTF.IFINDEX_ANY, undefined, 4, sets, lpm, counts, limits, tables);
    compileFamily(p, NTF.IFINDEX_ANY, undefined, 6, sets, lpm, counts, limits, tables);
  }
  return {
    compiled: {
      lpm,
      sets: sets.entries,
      ifaces,
      anyIface,
      endpointNames,
      cgroups: slots.list,
      cgLevels: slots.levels(),
      schedules: schedules.list,
    },
    missingIfaces,
    ...(opts.index ? { prefixes: prefixIndex(tables) } : {}),
  };
}

/** The prefix tables of both families, for incremental.ts. */
function prefixIndex(tables: Map<4 | 6, PrefixTable>): Record<4 | 6, PrefixIndex> {
  const of = (family: 4 | 6): PrefixIndex => {
    const t = tables.get(family) as PrefixTable;
    const owners = t.keys.map((): number[] => []);
    t.of.forEach((list, idx) => {
      for (const i of list) {
        const o = owners[i]!;
        if (o[o.length - 1] !== idx) o.push(idx);
      }
    });
    return { keys: t.keys, owners };
  };
  return { 4: of(4), 6: of(6) };
}

// ---- diff ----

/** setId → canonical text of its uid→endpoint mapping ('' for a set with no entries). */
function setContents(c: CompiledPolicy): Map<number, string> {
  const parts = new Map<number, string[]>();
  for (const s of c.sets) {
    let list = parts.get(s.setId);
    if (list === undefined) parts.set(s.setId, (list = []));
    list.push(setEntryText(s));
  }
  const out = new Map<number, string>();
  for (const [id, list] of parts) out.set(id, list.sort().join(','));
  return out;
}

function lpmContents(c: CompiledPolicy): Map<string, string> {
  const sets = setContents(c);
  const out = new Map<string, string>();
  for (const e of c.lpm) {
    const users = e.setId === SET_NONE ? 'none' : (sets.get(e.setId) ?? '');
    out.set(`${e.ifindex}|${e.family}|${e.addr.join('.')}/${e.prefix}`, users);
  }
  return out;
}

function usedMappings(c: CompiledPolicy): Set<string> {
  return new Set([...lpmContents(c).values()].filter((users) => users !== 'none')); // SET_NONE is no user set
}

function ifaceText(i: CompiledIface): string {
  return `${i.name}|${i.defaultAllow}|${i.unownedAllow}|${i.essentials}|${i.logAllowed}|${i.audit}`;
}

/** Counts of what changes from `a` (e.g. what is enforced) to `b` (e.g. what is pending). */
export function diffCompiled(a: CompiledPolicy, b: CompiledPolicy): CompiledDiff {
  const la = lpmContents(a);
  const lb = lpmContents(b);
  let lpmAdded = 0;
  let lpmRemoved = 0;
  let lpmChanged = 0;
  for (const [k, v] of lb) {
    const old = la.get(k);
    if (old === undefined) lpmAdded++;
    else if (old !== v) lpmChanged++;
  }
  for (const k of la.keys()) if (!lb.has(k)) lpmRemoved++;

  const sa = usedMappings(a);
  const sb = usedMappings(b);
  let setsAdded = 0;
  let setsRemoved = 0;
  for (const m of sb) if (!sa.has(m)) setsAdded++;
  for (const m of sa) if (!sb.has(m)) setsRemoved++;

  const withAny = (c: CompiledPolicy) => (c.anyIface ? [...c.ifaces, c.anyIface] : c.ifaces);
  const ia = new Map(withAny(a).map((i) => [i.ifindex, ifaceText(i)]));
  const ib = new Map(withAny(b).map((i) => [i.ifindex, ifaceText(i)]));
  let ifacesChanged = 0;
  for (const [k, v] of ib) if (ia.get(k) !== v) ifacesChanged++;
  for (const k of ia.keys()) if (!ib.has(k)) ifacesChanged++;

  return { lpmAdded, lpmRemoved, lpmChanged, setsAdded, setsRemoved, ifacesChanged };
}

// ---- stable set ids ----

/** Every set id in use, including sets with no entries (an endpoint that allows nobody): they
 * must be renumbered too, or a set with members could take the id an empty set still uses. */
export function allSets(c: CompiledPolicy): Map<number, string> {
  const out = setContents(c);
  for (const e of c.lpm) if (e.setId !== SET_NONE && !out.has(e.setId)) out.set(e.setId, '');
  return out;
}

/**
 * Renumbers `next`'s set ids so that every user set `prev` also has keeps its id there. A
 * small policy change then changes a few map entries instead of every entry behind a shifted
 * id, which is what lets the engine apply it as a small diff.
 */
export function stabilizeSetIds(next: CompiledPolicy, prev: CompiledPolicy | undefined): CompiledPolicy {
  if (!prev) return next;
  const prevIdOf = new Map<string, number>();
  for (const [id, text] of allSets(prev)) prevIdOf.set(text, id);
  const remap = new Map<number, number>();
  const taken = new Set<number>();
  const unmatched: number[] = [];
  for (const [id, text] of allSets(next)) {
    const old = prevIdOf.get(text);
    if (old !== undefined && !taken.has(old)) {
      remap.set(id, old);
      taken.add(old);
    } else {
      unmatched.push(id);
    }
  }
  let candidate = 1;
  for (const id of unmatched) {
    while (taken.has(candidate)) candidate++;
    remap.set(id, candidate);
    taken.add(candidate);
  }
  // Nothing renumbered (a re-apply of the same sets): the entries as they are.
  if ([...remap].every(([from, to]) => from === to)) return next;
  // SET_NONE is not a set: it stays what it is (allSets leaves it out).
  const to = (id: number) => (id === SET_NONE ? id : (remap.get(id) ?? id));
  return {
    ...next,
    lpm: next.lpm.map((e) => ({ ...e, setId: to(e.setId) })),
    sets: next.sets.map((s) => ({ ...s, setId: to(s.setId) })),
  };
}
