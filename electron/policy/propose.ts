// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).
//
// `propose`: the current policy (its YAML text, comments and all) plus what it takes to allow
// every flow observed dropped or would-drop — and nothing else. docs/rollout.md "Propose".
//
// The meaning is the evaluator's (evaluate.ts referenceEvaluate; README "Policy"): a packet to a
// guarded address is allowed on an interface when an endpoint covering the address there lists
// its user; an endpoint's range is guarded on EVERY interface. Each flow is judged again against
// the current policy (it may have changed since it was seen) and, by its reason there:
//   not-listed, iface-not-listed  the address is guarded: a new endpoint on that interface with
//                                 the exact address (/32, /128) and that one user grants exactly
//                                 that; nothing else changes anywhere.
//   default-deny                  the address is not guarded, the interface denies by default:
//                                 the same endpoint, but now the address is guarded everywhere.
//                                 On every other configured interface with `default: allow` it
//                                 would be closed, so an endpoint there lists it for '*'; on
//                                 interfaces no endpoint names nobody may reach it any more (said
//                                 in a comment: those are not enumerable, some appear later).
//   on an interface the policy    it has only the guarded ranges checked (guard-only). Naming it in
//   does not configure            an endpoint configures it, with `default: deny` unless said, which
//                                 would drop all its other traffic; so `interfaces:` gets it with
//                                 `default: allow` and `unowned: deny` (exactly what a guard-only
//                                 interface does) and the mode guard-only interfaces have now.
//   unowned (no socket), routing  not fixable per user: listed in a comment and in `skipped`.
//   header
// Traffic from a system unit (its socket's cgroup is a .service or .scope outside user.slice,
// not a session-N.scope: policy/units.ts systemUnitOf) stands out as the unit's: it is granted
// to the unit, not to the account: `unit:NAME as USER` for a non-root account (that account's
// processes in the unit only), `unit:NAME` for root (root can take any uid: the unit's cgroup is
// the boundary, and the unit's other processes are let through too — said in the header).
// Granting the account instead would let every other process of it (for root or a shared
// service account: every other service) reach the address. Flows are judged against the
// policy's unit:/cgroup: entries by path (cgroupIdsOf): the cgroups observed may have been
// made again since, under the same path, and a pure function reads no cgroup tree.
import { rangeContains } from './addr.js';
import { isMap, isSeq, parseDocument } from 'yaml';
import type { Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import type { ObservedFlow } from '../engine/observations.js';
import { checkEndpointName, MAX_UID, parseAllowText, parseRangeText } from './fields.js';
import { systemUnitOf, unitAsFor, unitEntryText } from './units.js';
import { guardOnlyAudit, referenceEvaluate, referenceTrace } from './evaluate.js';
import type { DecisionReason } from './evaluate.js';
import type { InterfaceSettings, ResolvedCgroupEntry, ResolvedEndpoint, ResolvedPolicy } from './types.js';
import { DEFAULT_INTERFACE_SETTINGS } from './types.js';
import { hostTzTable } from './when.js';

export interface ProposeInput {
  /** The current policy's YAML source (the one `resolved` was resolved from). */
  text: string;
  resolved: ResolvedPolicy;
  observed: ObservedFlow[];
  /** Account name of a uid; undefined: the uid is written as a number. */
  userName: (uid: number) => string | undefined;
  /** Wall ms, for the header. */
  now: number;
}

export interface ProposeResult {
  yaml: string;
  /** Endpoints added. */
  added: number;
  /** Observed flows that were not proposed, with why. */
  skipped: Array<{ flow: ObservedFlow; why: string }>;
  /** Observed flows the proposal allows (one per interface, user and address: several ports count once each here). */
  granted: number;
}

/** Most flows listed in the comment of skipped ones; the rest are counted. */
const MAX_LISTED_SKIPS = 50;
const MAX_NAME = 64;

const YAML_OPTIONS = {
  indent: 2,
  indentSeq: true,
  lineWidth: 100,
  flowCollectionPadding: false,
  singleQuote: true,
} as const;

/** ISO time to the second, UTC. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Grant {
  iface: string;
  uid: number;
  /** Sent from this system unit: granted as a unit: entry (its name and cgroup path). */
  unit: { name: string; path: string } | null;
  family: 4 | 6;
  addr: Uint8Array;
  /** The address as a range, /32 or /128. */
  range: string;
  reason: DecisionReason;
  packets: number;
  lastSeen: number;
  verdicts: Set<string>;
  ports: Set<string>;
}

/** Text per comment line, so that `# …` stays within the file's 100 columns at endpoint indent. */
const COMMENT_WIDTH = 94;

/** Words of `text` in lines of at most `width` characters, each starting with `indent`. */
function wrap(text: string, width = COMMENT_WIDTH, indent = ' '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

function verdictWord(v: string): string {
  return v === 'drop' ? 'dropped' : v;
}

export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function who(f: ObservedFlow, userName: (uid: number) => string | undefined): string {
  return f.uid === null ? '(unowned)' : (userName(f.uid) ?? `uid ${f.uid}`);
}

function flowText(f: ObservedFlow, userName: (uid: number) => string | undefined): string {
  const place = f.unit ?? f.cgroup;
  return (
    `${f.iface} ${who(f, userName)}${place ? ` (${place})` : ''} → ${f.dst} ${f.proto}/${f.dport}: ` +
    `${plural(f.packets, `${verdictWord(f.verdict)} packet`)}, last seen ${isoTime(f.lastSeen)}`
  );
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** What to write in `allow:` for a uid: its account name when that reads back as the same user,
 * else the number. */
function allowValue(uid: number, userName: (uid: number) => string | undefined): string | number {
  const name = userName(uid);
  if (name === undefined) return uid;
  const e = parseAllowText(name).entry;
  return e?.kind === 'user' && e.name === name ? name : uid;
}

function covers(e: ResolvedEndpoint, family: 4 | 6, addr: Uint8Array): boolean {
  return e.ranges.some((r) => rangeContains(r, family, addr));
}

/** The system unit a flow was sent from, with the unit's cgroup path (the path up to it). */
function unitOf(f: ObservedFlow): Grant['unit'] {
  const name = f.uid === null ? null : systemUnitOf(f.cgroup);
  if (name === null || !f.cgroup) return null;
  const parts = f.cgroup.split('/');
  return { name, path: parts.slice(0, parts.indexOf(name) + 1).join('/') };
}

/**
 * Cgroup ids by path, for judging observed flows against unit:/cgroup: entries without reading
 * a cgroup tree: the ids the policy's entries have now for their paths, and ids of our own
 * (above any inode number) for every other path. A flow's cgroup and its ancestors then match an
 * entry exactly when the entry's path is the flow's cgroup or one of its ancestors.
 */
class PathIds {
  private readonly ids = new Map<string, number>();
  private next = Number.MAX_SAFE_INTEGER;

  constructor(p: ResolvedPolicy) {
    for (const e of p.endpoints)
      for (const c of e.cgroups ?? []) if (c.now) this.ids.set(c.now.path, c.now.id);
  }

  id(path: string): number {
    let id = this.ids.get(path);
    if (id === undefined) this.ids.set(path, (id = this.next--));
    return id;
  }

  /** The ids of `path` and its ancestors, by level (root first); undefined: no path known. */
  chain(path: string | null | undefined): number[] | undefined {
    if (!path || !path.startsWith('/')) return undefined;
    const parts = path === '/' ? [] : path.split('/').slice(1);
    return [this.id('/'), ...parts.map((_, i) => this.id(`/${parts.slice(0, i + 1).join('/')}`))];
  }
}

/** The mode of interfaces no endpoint names: audit when every configured interface audits (compile.ts). */
function guardOnlyMode(p: ResolvedPolicy): InterfaceSettings['mode'] {
  return guardOnlyAudit(p.interfaces) ? 'audit' : 'enforce';
}

export function proposePolicy(input: ProposeInput): ProposeResult {
  const { resolved, userName } = input;
  const skipped: ProposeResult['skipped'] = [];

  // Interfaces are matched by name: give each name an index of our own.
  const names = [...new Set([...resolved.interfaces.keys(), ...input.observed.map((f) => f.iface)])];
  const index = new Map(names.map((n, i) => [n, i + 1]));
  const ifindexOf = (n: string) => index.get(n);

  // `when:` windows are read at input.now, in the host's time zone.
  const nowSec = Math.floor(input.now / 1000);
  const at = resolved.endpoints.some((e) => e.when) ? { nowSec, tz: hostTzTable(nowSec) } : undefined;
  const grants = new Map<string, Grant>();
  const pathIds = new PathIds(resolved);
  for (const f of input.observed) {
    if (f.uid === null) {
      skipped.push({
        flow: f,
        why:
          `no local socket (forwarded): only "unowned: allow" on ${f.iface} would let it through, ` +
          `and with it every forwarded packet to every guarded range there`,
      });
      continue;
    }
    if (f.reason === 'routing-header') {
      skipped.push({
        flow: f,
        why: 'judged by an address in its IPv6 routing header (a source route); not allowed by a policy change',
      });
      continue;
    }
    if (f.uid > MAX_UID) {
      skipped.push({ flow: f, why: `uid ${f.uid} is reserved (it means any user in a policy)` });
      continue;
    }
    const parsed = parseRangeText(f.dst);
    const range = parsed.range;
    if (!range || range.family !== f.family || range.prefix !== (f.family === 4 ? 32 : 128)) {
      skipped.push({ flow: f, why: `not an IPv${f.family} address: ${JSON.stringify(f.dst)}` });
      continue;
    }
    const chain = pathIds.chain(f.cgroup);
    const trace = referenceTrace(
      resolved,
      ifindexOf,
      {
        ifindex: ifindexOf(f.iface)!,
        family: f.family,
        daddr: range.addr,
        uid: f.uid,
        ...(chain ? { cgroups: chain } : {}),
      },
      at,
    );
    const d = trace.decision;
    if (d.verdict === 'allow' || d.verdict === 'pass') {
      skipped.push({ flow: f, why: 'the current policy allows it already (it changed since)' });
      continue;
    }
    // Denied only because an endpoint listing the sender is outside its `when:` windows now: the
    // windows are the policy's intent; an always-open grant would undo them.
    const uid = f.uid;
    const closed = trace.closed.find((e) => e.when && uid !== null && (e.any || e.uids.includes(uid)));
    if (closed?.when) {
      skipped.push({
        flow: f,
        why: `${closed.name} allows it only ${closed.when.windows.join(', ')}; widen its windows to allow it at other times`,
      });
      continue;
    }
    const text = `${f.dst}/${f.family === 4 ? 32 : 128}`;
    const unit = unitOf(f);
    const key = `${f.iface}|${f.uid}|${unit?.path ?? ''}|${text}`;
    let g = grants.get(key);
    if (!g) {
      g = {
        iface: f.iface,
        uid: f.uid,
        unit,
        family: f.family,
        addr: range.addr,
        range: text,
        reason: d.reason,
        packets: 0,
        lastSeen: f.lastSeen,
        verdicts: new Set(),
        ports: new Set(),
      };
      grants.set(key, g);
    }
    g.packets += f.packets;
    g.lastSeen = Math.max(g.lastSeen, f.lastSeen);
    g.verdicts.add(f.verdict);
    g.ports.add(
      f.sport > 0 && f.sport < 1024 ? `${f.proto}/${f.dport} from port ${f.sport}` : `${f.proto}/${f.dport}`,
    );
  }

  // Interfaces to configure: those of grants that the policy does not configure.
  const newIfaces = new Map<string, InterfaceSettings>();
  const mode = guardOnlyMode(resolved);
  for (const g of grants.values()) {
    if (!resolved.interfaces.has(g.iface))
      newIfaces.set(g.iface, { ...DEFAULT_INTERFACE_SETTINGS, default: 'allow', unowned: 'deny', mode });
  }
  const finalIfaces = new Map([...resolved.interfaces, ...newIfaces]);

  // Addresses that become guarded: not covered by any endpoint today.
  const newlyGuarded = new Map<string, { family: 4 | 6; addr: Uint8Array; range: string; by: string[] }>();
  for (const g of grants.values()) {
    if (resolved.endpoints.some((e) => covers(e, g.family, g.addr))) continue;
    const ng = newlyGuarded.get(g.range) ?? { family: g.family, addr: g.addr, range: g.range, by: [] };
    newlyGuarded.set(g.range, ng);
  }

  // Endpoints: one per interface and user; then per default-allow interface, '*' for the newly guarded.
  const taken = new Set(resolved.endpoints.map((e) => e.name));
  const uniqueName = (base: string): string => {
    const b = sanitize(base).slice(0, MAX_NAME);
    let name = b;
    for (let i = 2; taken.has(name) || checkEndpointName(name) !== undefined; i++) {
      const suffix = `-${i}`;
      name = b.slice(0, MAX_NAME - suffix.length) + suffix;
    }
    taken.add(name);
    return name;
  };

  // The allow entry of a grant: the account, or the unit (as the account unless root).
  const entryOf = (g: Grant): string | number =>
    g.unit ? unitEntryText(g.unit.name, unitAsFor(g.uid, userName(g.uid))) : allowValue(g.uid, userName);
  const byIfaceUser = new Map<string, Grant[]>();
  const sorted = [...grants.values()].sort(
    (a, b) =>
      (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0) ||
      (a.unit?.path ?? '').localeCompare(b.unit?.path ?? '') ||
      a.uid - b.uid ||
      a.family - b.family ||
      compareBytes(a.addr, b.addr),
  );
  for (const g of sorted) {
    const k = `${g.iface}|${g.unit?.path ?? ''}|${entryOf(g)}`;
    const list = byIfaceUser.get(k) ?? [];
    list.push(g);
    byIfaceUser.set(k, list);
  }

  interface NewEndpoint {
    name: string;
    iface: string;
    allow: string | number;
    /** The uid allowed; null: '*'. */
    uid: number | null;
    /** A unit: entry's meaning (allow is its text): the unit's cgroup path, and whether `as` limits it. */
    unit?: { name: string; path: string; as: boolean };
    ranges: Array<{ text: string; family: 4 | 6; addr: Uint8Array; comment: string }>;
    comment?: string;
  }
  const added: NewEndpoint[] = [];
  for (const list of byIfaceUser.values()) {
    const first = list[0]!;
    const allow = entryOf(first);
    const as = first.unit ? unitAsFor(first.uid, userName(first.uid)) : undefined;
    const who = typeof allow === 'number' ? `uid${allow}` : allow;
    const ep: NewEndpoint = {
      name: uniqueName(
        first.unit
          ? `observed-${first.iface}-${first.unit.name}${as === undefined ? '' : `-${typeof as === 'number' ? `uid${as}` : as}`}`
          : `observed-${first.iface}-${who}`,
      ),
      iface: first.iface,
      allow,
      uid: first.uid,
      ...(first.unit ? { unit: { ...first.unit, as: as !== undefined } } : {}),
      ranges: list.map((g) => ({
        text: g.range,
        family: g.family,
        addr: g.addr,
        comment:
          ` ${plural(g.packets, `${[...g.verdicts].sort().map(verdictWord).join('/')} packet`)}, last seen` +
          ` ${isoTime(g.lastSeen)}; ${[...g.ports].sort().slice(0, 3).join(', ')}` +
          `${g.ports.size > 3 ? ', …' : ''}; ${g.reason}`,
      })),
    };
    for (const g of list) newlyGuarded.get(g.range)?.by.push(ep.name);
    added.push(ep);
  }
  const guardedList = [...newlyGuarded.values()].sort(
    (a, b) => a.family - b.family || compareBytes(a.addr, b.addr),
  );
  const reopened: string[] = [];
  for (const [name, s] of [...finalIfaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (s.default !== 'allow' || guardedList.length === 0) continue;
    reopened.push(name);
    const unownedNote =
      s.unowned === 'deny'
        ? ` Forwarded packets (no local socket) to it through ${name}, passed by "default: allow" so` +
          ` far, are decided by its "unowned: deny" then: dropped.`
        : '';
    added.push({
      name: uniqueName(`observed-${name}-any`),
      iface: name,
      allow: '*',
      uid: null,
      ranges: guardedList.map((ng) => ({
        text: ng.range,
        family: ng.family,
        addr: ng.addr,
        comment: ` guarded by ${[...new Set(ng.by)].join(', ')}`,
      })),
      comment: wrap(
        `Keeps open on ${name} (default: allow) what the endpoints above guard for the first time:` +
          ` a guarded address is guarded on every interface, so without this endpoint nobody could` +
          ` reach it through ${name} any more.${unownedNote}`,
      ).join('\n'),
    });
  }

  // Self-check with the evaluator: every granted flow is allowed by the proposal.
  const proposed: ResolvedPolicy = {
    ...resolved,
    interfaces: finalIfaces,
    endpoints: [
      ...resolved.endpoints,
      ...added.map((e, i): ResolvedEndpoint => ({
        id: resolved.endpoints.length + i + 1,
        name: e.name,
        ifaces: [e.iface],
        ranges: e.ranges.map((r) => ({
          family: r.family,
          addr: r.addr,
          prefix: r.family === 4 ? 32 : 128,
          text: r.text,
        })),
        uids: e.uid === null || e.unit ? [] : [e.uid],
        any: e.uid === null,
        ...(e.unit
          ? { cgroups: [unitEntry(e.allow as string, e.unit, e.unit.as ? [e.uid!] : undefined)] }
          : {}),
      })),
    ],
  };
  function unitEntry(
    text: string,
    u: { name: string; path: string },
    uids: number[] | undefined,
  ): ResolvedCgroupEntry {
    const now = { path: u.path, id: pathIds.id(u.path), level: u.path.split('/').length - 1 };
    return { text, kind: 'unit', name: u.name, now, uids };
  }
  for (const g of grants.values()) {
    const chain = g.unit ? pathIds.chain(g.unit.path) : undefined;
    const d = referenceEvaluate(proposed, ifindexOf, {
      ifindex: ifindexOf(g.iface)!,
      family: g.family,
      daddr: g.addr,
      uid: g.uid,
      ...(chain ? { cgroups: chain } : {}),
    });
    if (d.verdict !== 'allow')
      throw new Error(
        `propose: internal error: ${g.iface} uid ${g.uid}${g.unit ? ` in ${g.unit.name}` : ''} → ${g.range} would still be ${d.reason}`,
      );
  }
  const unitGrants = added.filter((e) => e.unit).length;

  const yaml = render(
    input,
    added,
    newIfaces,
    guardedList.map((g) => g.range),
    reopened,
    skipped,
    grants.size,
    unitGrants,
  );
  return { yaml, added: added.length, skipped, granted: grants.size };
}

function render(
  input: ProposeInput,
  added: Array<{
    name: string;
    iface: string;
    allow: string | number;
    ranges: Array<{ text: string; comment: string }>;
    comment?: string;
  }>,
  newIfaces: Map<string, InterfaceSettings>,
  guarded: string[],
  reopened: string[],
  skipped: ProposeResult['skipped'],
  granted: number,
  unitGrants: number,
): string {
  if (added.length === 0 && newIfaces.size === 0 && skipped.length === 0) return input.text;
  const doc = parseDocument(input.text, { schema: 'core', uniqueKeys: true });
  // `@group` unquoted is accepted by the policy parser (yaml.ts) though YAML reserves "@".
  doc.errors = doc.errors.filter((e) => e.code !== 'BAD_SCALAR_START');
  if (doc.errors.length > 0)
    throw new Error(`propose: the current policy does not parse: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new Error('propose: the current policy is not a mapping');
  const root = doc.contents as YAMLMap;
  const endpoints = root.get('endpoints', true);
  if (!isSeq(endpoints)) throw new Error('propose: the current policy has no "endpoints:" list');

  const flowList = (values: Array<string | number>): YAMLSeq => {
    const seq = doc.createNode(values) as YAMLSeq;
    seq.flow = true;
    return seq;
  };
  const header = [
    ...wrap(
      `Proposed by "net-tc-filter propose" at ${isoTime(input.now)} from ${plural(input.observed.length, 'observed flow')}` +
        ` (dropped or would-drop): ${plural(added.length, 'endpoint')} added so that the` +
        ` ${plural(granted, 'interface/user/address combination')} seen would be allowed. Exact addresses` +
        ` only; nothing the policy above allows is taken away, except as said here. Review it, then` +
        ` apply it in audit mode or as a trial (apply --confirm SECONDS).`,
    ),
  ];
  if (unitGrants > 0) {
    header.push(
      ...wrap(
        `Traffic sent from a system unit is granted to the unit, not to the whole account: "unit:NAME as` +
          ` USER" lets only that account's processes in the unit through; a plain "unit:NAME" (root's` +
          ` traffic: root can take any uid) lets every process of the unit through.`,
      ),
    );
  }
  if (guarded.length > 0) {
    header.push(
      ...wrap(
        `Newly guarded: ${guarded.join(', ')}. A guarded address is guarded on every interface: through` +
          ` an interface no endpoint names (also one that appears later) nobody may reach it any more` +
          (reopened.length > 0
            ? `; on ${reopened.join(', ')} (default: allow) it stays open (the last endpoints).`
            : '.'),
      ),
    );
  }
  if (endpoints.flow && added.length > 0) endpoints.flow = false;
  added.forEach((e, i) => {
    const body = doc.createNode({}) as YAMLMap;
    body.add(doc.createPair('iface', flowList([e.iface])));
    const ranges = doc.createNode(e.ranges.map((r) => r.text)) as YAMLSeq;
    ranges.items.forEach((s, j) => ((s as Scalar).comment = e.ranges[j]!.comment));
    body.add(doc.createPair('range', ranges));
    body.add(doc.createPair('allow', flowList([e.allow])));
    const item = doc.createNode({}) as YAMLMap;
    item.add(doc.createPair(e.name, body));
    item.spaceBefore = true;
    const comments = [...(i === 0 ? header : []), ...(e.comment !== undefined ? [e.comment] : [])];
    if (comments.length > 0) item.commentBefore = comments.join('\n');
    endpoints.items.push(item);
  });

  if (newIfaces.size > 0) {
    let ifaces: unknown = root.get('interfaces', true);
    if (!isMap(ifaces)) {
      ifaces = doc.createNode({}) as YAMLMap;
      const pair = doc.createPair('interfaces', ifaces) as Pair<Scalar, YAMLMap>;
      pair.key.spaceBefore = true;
      if (root.has('interfaces')) root.set('interfaces', ifaces);
      else root.add(pair);
    }
    const map = ifaces as YAMLMap;
    if (map.flow) map.flow = false;
    for (const [name, s] of newIfaces) {
      const settings = doc.createNode({}) as YAMLMap;
      settings.add(doc.createPair('default', s.default));
      settings.add(doc.createPair('unowned', s.unowned));
      if (s.mode === 'audit') settings.add(doc.createPair('mode', s.mode));
      const pair = doc.createPair(name, settings) as Pair<Scalar, YAMLMap>;
      pair.key.commentBefore = wrap(
        `${name}: no endpoint named it, so only the guarded ranges were checked there. Naming it in` +
          ` an endpoint configures it, by default with "default: deny", which would drop all its other` +
          ` traffic; "default: allow" and "unowned: deny" keep it as it was` +
          (s.mode === 'audit' ? ', and "mode: audit" as every other interface audits.' : '.'),
      ).join('\n');
      map.add(pair);
    }
  }

  if (skipped.length > 0) {
    const lines = [` Not proposed: ${plural(skipped.length, 'observed flow')}.`];
    for (const s of skipped.slice(0, MAX_LISTED_SKIPS))
      lines.push(`   ${flowText(s.flow, input.userName)}:`, ...wrap(s.why, COMMENT_WIDTH - 4, '     '));
    if (skipped.length > MAX_LISTED_SKIPS) lines.push(`   … and ${skipped.length - MAX_LISTED_SKIPS} more`);
    doc.comment = (doc.comment ? `${doc.comment}\n` : '') + lines.join('\n');
  }
  return doc.toString(YAML_OPTIONS);
}
