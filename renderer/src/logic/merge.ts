// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// Merging one policy document into another: Import's "Merge into the draft" and Propose.
// Endpoints are matched by name: one with the same name gets the union of each list (the
// draft's order first, then what is new), a new one is appended. Interface settings: the
// incoming document's settings win for the interfaces it names under `interfaces:`. Logging:
// the incoming value when it sets one. The result is a new document; the inputs are untouched.
import type { EndpointDoc, InterfaceDoc, PolicyDoc } from '../../../electron/policy/doc.js';

export interface MergeSummary {
  /** Endpoints appended (new names). */
  added: string[];
  /** Endpoints of the same name that gained list entries. */
  extended: string[];
  /** Interfaces whose settings the incoming document replaced (and they differed). */
  settings: string[];
  /** The incoming document changed logging.allowed. */
  logging: boolean;
}

export interface MergeResult {
  doc: PolicyDoc;
  summary: MergeSummary;
}

function union(a: string[], b: string[]): string[] {
  const seen = new Set(a);
  const out = [...a];
  for (const x of b)
    if (!seen.has(x)) {
      seen.add(x);
      out.push(x);
    }
  return out;
}

function sameSettings(a: InterfaceDoc | undefined, b: InterfaceDoc | undefined): boolean {
  return (
    a?.default === b?.default &&
    a?.unowned === b?.unowned &&
    a?.essentials === b?.essentials &&
    a?.mode === b?.mode
  );
}

function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

function setOwn<T>(rec: Record<string, T>, key: string, value: T): void {
  // defineProperty: an interface named "__proto__" is data, not the prototype.
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

function copyEndpoint(e: EndpointDoc): EndpointDoc {
  const copy: EndpointDoc = { name: e.name, iface: [...e.iface], range: [...e.range], allow: [...e.allow] };
  if (e.when) copy.when = [...e.when];
  return copy;
}

/** `incoming` merged into `base`. */
export function mergeDocs(base: PolicyDoc, incoming: PolicyDoc): MergeResult {
  const summary: MergeSummary = { added: [], extended: [], settings: [], logging: false };
  const endpoints = base.endpoints.map(copyEndpoint);
  const byName = new Map<string, number>();
  endpoints.forEach((e, i) => {
    if (!byName.has(e.name)) byName.set(e.name, i);
  });
  for (const e of incoming.endpoints) {
    const i = byName.get(e.name);
    if (i === undefined) {
      byName.set(e.name, endpoints.length);
      endpoints.push(copyEndpoint(e));
      summary.added.push(e.name);
      continue;
    }
    const cur = endpoints[i] as EndpointDoc;
    const next: EndpointDoc = {
      name: cur.name,
      iface: union(cur.iface, e.iface),
      range: union(cur.range, e.range),
      allow: union(cur.allow, e.allow),
    };
    // Time windows unite too; either without windows (always open) makes the union always open.
    if (cur.when && e.when) next.when = union(cur.when, e.when);
    if (
      next.iface.length !== cur.iface.length ||
      next.range.length !== cur.range.length ||
      next.allow.length !== cur.allow.length ||
      next.when?.length !== cur.when?.length
    ) {
      endpoints[i] = next;
      if (!summary.extended.includes(e.name)) summary.extended.push(e.name);
    }
  }
  const interfaces: Record<string, InterfaceDoc> = {};
  for (const name of Object.keys(base.interfaces))
    setOwn(interfaces, name, { ...own(base.interfaces, name) });
  for (const name of Object.keys(incoming.interfaces)) {
    const s = own(incoming.interfaces, name);
    if (!sameSettings(own(interfaces, name), s)) summary.settings.push(name);
    setOwn(interfaces, name, { ...s });
  }
  let logging = { ...base.logging };
  if (incoming.logging.allowed !== undefined) {
    if (incoming.logging.allowed !== base.logging.allowed) summary.logging = true;
    logging = { allowed: incoming.logging.allowed };
  }
  return { doc: { endpoints, interfaces, logging }, summary };
}

/** What `proposed` adds to `base` (the enforced policy a proposal extends): its endpoints that
 * are new or differ from base's of the same name, its interface entries that differ, and its
 * logging when it differs. Merged into a draft, it brings only the proposal, not base's values
 * over the draft's pending edits. */
export function additions(base: PolicyDoc | null, proposed: PolicyDoc): PolicyDoc {
  const b = base ?? { endpoints: [], interfaces: {}, logging: {} };
  const baseBy = new Map(b.endpoints.map((e) => [e.name, e]));
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const endpoints = proposed.endpoints
    .filter((e) => {
      const o = baseBy.get(e.name);
      return (
        !o ||
        !same(o.iface, e.iface) ||
        !same(o.range, e.range) ||
        !same(o.allow, e.allow) ||
        !same(o.when ?? [], e.when ?? []) ||
        (o.when === undefined) !== (e.when === undefined)
      );
    })
    .map(copyEndpoint);
  const interfaces: Record<string, InterfaceDoc> = {};
  for (const name of Object.keys(proposed.interfaces)) {
    const s = own(proposed.interfaces, name);
    if (!sameSettings(own(b.interfaces, name), s)) setOwn(interfaces, name, { ...s });
  }
  const logging =
    proposed.logging.allowed !== undefined && proposed.logging.allowed !== b.logging.allowed
      ? { allowed: proposed.logging.allowed }
      : {};
  return { endpoints, interfaces, logging };
}

/** Whether two documents say the same (endpoint order and list order included). */
export function sameDoc(a: PolicyDoc, b: PolicyDoc): boolean {
  return JSON.stringify(normal(a)) === JSON.stringify(normal(b));
}

function normal(d: PolicyDoc): unknown {
  return {
    e: d.endpoints.map((e) => [e.name, e.iface, e.range, e.allow, e.when ?? null]),
    i: Object.keys(d.interfaces)
      .sort()
      .map((k) => {
        const s = own(d.interfaces, k);
        return [k, s?.default ?? null, s?.unowned ?? null, s?.essentials ?? null, s?.mode ?? null];
      }),
    l: d.logging.allowed ?? null,
  };
}
