// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; renderer).
//
// What the details pane offers for a row the engine explained: fixes that become pending
// changes in the editor's draft (never applied on their own). Decided from the engine's
// explanation (ExplainResult: reason, the endpoints guarding and covering the destination, the
// interface's settings) and checked against the draft, which may already differ from what the
// kernel enforces (an endpoint renamed or removed, the fix already pending).
//   not-listed        "Allow bob in imdsv2": add the sender to an endpoint that guards the
//                     destination and names the interface
//   default-deny      "Allow bob to 203.0.113.5 on eth0": a new endpoint (eth0, the address as a
//                     /32 or /128, bob), or the sender added to an endpoint of the draft that
//                     guards it there; and "Guard only the listed ranges on eth0": eth0's
//                     default becomes allow
//   iface-not-listed  "Allow bob to 169.254.169.254 on eth1": a new endpoint naming eth1 (an
//                     interface the draft does not configure keeps allowing everything else)
// Sent from a system unit (a service or scope outside user.slice: policy/units.ts), each "Allow
// bob in imdsv2" comes with "Allow backup.service as bob in imdsv2": a `unit:` entry that grants
// the unit's processes running as that account, not the account everywhere (`as` is left out
// for root, which can take any uid: the unit's cgroup is the whole boundary then).
// A packet without a local socket (uid null) gets no per-user action.
import type { ExplainResult, FlowFields, FlowQuery } from '../../../electron/ipc/contract.js';
import type { EndpointDoc, PolicyDoc } from '../../../electron/policy/doc.js';
import { rangeContains } from '../../../electron/policy/addr.js';
import { checkEndpointName, parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import { systemUnitOf, unitAsFor, unitEntryText } from '../../../electron/policy/units.js';

/** The fields of a row the actions need (TrafficRow and FlowWire have them). */
export type ActionRow = Omit<FlowFields, 'sport'> & { sport?: number };

export type Action =
  | {
      kind: 'allow-user';
      /** The button: "Allow bob in imdsv2". */
      label: string;
      /** What was added, for "Added to pending changes: …". */
      done: string;
      endpoint: string;
      /** The `allow:` value: the account name, or the uid. */
      user: string;
    }
  | {
      kind: 'new-endpoint';
      label: string;
      done: string;
      endpoint: EndpointDoc;
      /** The interface is not configured in the draft: configure it with `default: allow` (and
       * the mode the other guard-only interfaces have), so that naming it changes nothing else. */
      configure: { mode: 'enforce' | 'audit' } | null;
    }
  | {
      kind: 'allow-unit';
      /** "Allow backup.service as bob in imdsv2". */
      label: string;
      done: string;
      endpoint: string;
      /** The `allow:` value: "unit:backup.service as bob". */
      entry: string;
    }
  | { kind: 'guard-only'; label: string; done: string; iface: string };

/** The explain request for a row. */
export function flowQueryOf(row: ActionRow): FlowQuery {
  const proto =
    row.proto === 'tcp' || row.proto === 'udp'
      ? row.proto
      : row.proto === 'icmp' || row.proto === 'icmpv6'
        ? 'icmp'
        : 'other';
  const q: FlowQuery = {
    iface: row.iface,
    uid: row.uid,
    family: row.family,
    proto,
    dst: row.dst,
    dport: row.dport,
  };
  if (row.sport !== undefined && row.sport > 0) q.sport = row.sport;
  if (row.cgroup !== null) q.cgroup = row.cgroup;
  return q;
}

/** What to write in `allow:` for the row's sender: its name when it reads back as a user name,
 * else the uid; null for a packet without a local socket. */
export function allowValueOf(row: Pick<ActionRow, 'uid' | 'user'>): string | null {
  if (row.uid === null) return null;
  const e = parseAllowText(row.user).entry;
  return e?.kind === 'user' ? row.user : String(row.uid);
}

function who(user: string): string {
  return /^[0-9]+$/.test(user) ? `uid ${user}` : user;
}

/** The destination as a one-address range. */
export function hostRange(row: Pick<ActionRow, 'family' | 'dst'>): string {
  return `${row.dst}/${row.family === 4 ? 32 : 128}`;
}

function holds(e: EndpointDoc, row: ActionRow): boolean {
  const dst = parseRangeText(hostRange(row)).range;
  if (!dst) return false;
  return e.range.some((text) => {
    const r = parseRangeText(text).range;
    return r !== undefined && rangeContains(r, dst.family, dst.addr);
  });
}

/** Whether the draft configures the interface (an endpoint names it, or `interfaces:` has it). */
function configured(draft: PolicyDoc, iface: string): boolean {
  return Object.hasOwn(draft.interfaces, iface) || draft.endpoints.some((e) => e.iface.includes(iface));
}

function defaultOf(draft: PolicyDoc, iface: string): 'allow' | 'deny' {
  const s = Object.hasOwn(draft.interfaces, iface) ? draft.interfaces[iface] : undefined;
  return s?.default ?? 'deny';
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** A new endpoint's name after the sender and the destination ("bob-203.0.113.5"), not taken. */
export function endpointNameFor(draft: PolicyDoc, user: string, dst: string): string {
  const taken = new Set(draft.endpoints.map((e) => e.name));
  const base = sanitize(`${user}-${dst}`).slice(0, 64);
  let name = base;
  for (let i = 2; taken.has(name) || checkEndpointName(name) !== undefined; i++) {
    const suffix = `-${i}`;
    name = base.slice(0, 64 - suffix.length) + suffix;
  }
  return name;
}

function allowIn(e: EndpointDoc, user: string): Action {
  return {
    kind: 'allow-user',
    label: `Allow ${who(user)} in ${e.name}`,
    done: `${who(user)} added to ${e.name}'s users`,
    endpoint: e.name,
    user,
  };
}

/** The `unit:` entry for the row's socket (with `as` for a non-root sender), or null when it was
 * not sent from a system unit. */
export function unitEntryOf(
  row: Pick<ActionRow, 'uid' | 'user' | 'cgroup'>,
): { unit: string; entry: string; as?: string } | null {
  const unit = systemUnitOf(row.cgroup);
  if (unit === null || row.uid === null) return null;
  const named = parseAllowText(row.user).entry?.kind === 'user' ? row.user : undefined;
  const as = unitAsFor(row.uid, named);
  return { unit, entry: unitEntryText(unit, as), ...(as !== undefined ? { as: String(as) } : {}) };
}

/** Whether an `allow:` list has a `unit:` entry for this unit that takes the sender already
 * (without `as`, or `as` the sender's name or uid; a group is not known here: offered). */
function listsUnit(e: EndpointDoc, unit: string, row: Pick<ActionRow, 'uid' | 'user'>): boolean {
  return e.allow.some((t) => {
    const a = parseAllowText(t).entry;
    if (a?.kind !== 'unit' || a.unit !== unit) return false;
    if (!a.as) return true;
    return a.as.kind === 'uid' ? a.as.uid === row.uid : a.as.kind === 'user' && a.as.name === row.user;
  });
}

function allowUnitIn(e: EndpointDoc, u: { unit: string; entry: string; as?: string }): Action {
  const what = u.as !== undefined ? `${u.unit} as ${who(u.as)}` : u.unit;
  return {
    kind: 'allow-unit',
    label: `Allow ${what} in ${e.name}`,
    done: `${u.entry} added to ${e.name}'s users`,
    endpoint: e.name,
    entry: u.entry,
  };
}

function newEndpoint(result: ExplainResult, row: ActionRow, draft: PolicyDoc, user: string): Action {
  const range = hostRange(row);
  const name = endpointNameFor(draft, user, row.dst);
  const configure = configured(draft, row.iface)
    ? null
    : { mode: result.audit ? ('audit' as const) : ('enforce' as const) };
  return {
    kind: 'new-endpoint',
    label: `Allow ${who(user)} to ${row.dst} on ${row.iface}`,
    done:
      `a new endpoint ${name}: ${who(user)} may reach ${range} on ${row.iface}` +
      (configure ? ` (${row.iface} is configured with default allow: nothing else changes there)` : ''),
    endpoint: { name, iface: [row.iface], range: [range], allow: [user] },
    configure,
  };
}

function guardOnly(iface: string): Action {
  return {
    kind: 'guard-only',
    label: `Guard only the listed ranges on ${iface}`,
    done: `${iface}'s default set to allow (only the listed ranges are guarded there)`,
    iface,
  };
}

/** The fixes for an explained row, checked against the draft (empty when none applies or the
 * fix is pending already). */
export function actionsFor(result: ExplainResult, row: ActionRow, draft: PolicyDoc): Action[] {
  if (result.unknown) return [];
  if (result.verdict !== 'drop' && result.verdict !== 'would-drop') return [];
  const user = allowValueOf(row);
  const out: Action[] = [];
  // Endpoints of the draft that guard the destination on this interface.
  const covering = draft.endpoints.filter((e) => e.iface.includes(row.iface) && holds(e, row));
  const unit = unitEntryOf(row);
  const lists = (e: EndpointDoc) =>
    user !== null &&
    (e.allow.includes(user) || e.allow.includes('*') || (unit !== null && listsUnit(e, unit.unit, row)));
  const allowBoth = (e: EndpointDoc, u: string) => {
    out.push(allowIn(e, u));
    if (unit) out.push(allowUnitIn(e, unit));
  };
  // The draft allows it already (a fix is pending): nothing to offer. Allowed by an endpoint
  // naming the interface, or unguarded on an interface whose default is allow.
  if (covering.some(lists)) return [];
  const guarded = draft.endpoints.some((e) => holds(e, row));
  if (!guarded && configured(draft, row.iface) && defaultOf(draft, row.iface) === 'allow') return [];
  const perUser = () => {
    if (user === null) return;
    if (covering.length > 0) for (const e of covering) allowBoth(e, user);
    else out.push(newEndpoint(result, row, draft, user));
  };

  switch (result.reason) {
    case 'not-listed': {
      if (user === null) break;
      // The endpoints the engine found, as the draft has them; else those of the draft.
      const named = result.covering
        .map((n) => covering.find((e) => e.name === n))
        .filter((e): e is EndpointDoc => e !== undefined);
      for (const e of named.length ? named : covering) allowBoth(e, user);
      break;
    }
    case 'default-deny':
      perUser();
      if (configured(draft, row.iface) && defaultOf(draft, row.iface) === 'deny' && covering.length === 0)
        out.push(guardOnly(row.iface));
      break;
    case 'iface-not-listed':
      perUser();
      break;
    case 'unowned-deny':
      // No user to add; an unguarded destination passes with a default of allow.
      if (
        result.guarding.length === 0 &&
        configured(draft, row.iface) &&
        defaultOf(draft, row.iface) === 'deny'
      )
        out.push(guardOnly(row.iface));
      break;
    default:
      break;
  }
  return out;
}
