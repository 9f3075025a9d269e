// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// The pending changes: the editor's draft against the enforced document. Endpoints are matched
// by name (a rename shows as one removed and one added); list order is not a change, since it
// means nothing to the filter. Interface settings are compared by their effective values, so
// writing out a default explicitly is not reported as a change.
import type { EndpointDoc, PolicyDoc } from '../../../electron/policy/doc.js';
import type { InterfaceSettings } from '../../../electron/policy/types.js';
import { configuredInterfaces, DEFAULTS, effectiveSettings } from './settings.js';

/** What a setting is on an interface the policy does not filter. */
export const NOT_FILTERED = 'not filtered';

export type ListName = 'iface' | 'range' | 'allow';

export interface ListChange {
  added: string[];
  removed: string[];
}

export interface EndpointChange {
  name: string;
  /** `when`: time windows added or removed (all removed: the endpoint is always open now). */
  lists: Partial<Record<ListName | 'when', ListChange>>;
}

export interface SettingChange {
  iface: string;
  key: keyof InterfaceSettings;
  from: string;
  to: string;
}

export interface PolicyDiff {
  added: EndpointDoc[];
  removed: EndpointDoc[];
  changed: EndpointChange[];
  settings: SettingChange[];
  logging?: { from: string; to: string };
  /** Number of individual changes, 0 when the draft equals the base. */
  count: number;
}

const LISTS: ListName[] = ['iface', 'range', 'allow'];

function listDiff(a: string[], b: string[]): ListChange | undefined {
  const sa = new Set(a);
  const sb = new Set(b);
  const added = b.filter((x) => !sa.has(x));
  const removed = a.filter((x) => !sb.has(x));
  return added.length || removed.length ? { added, removed } : undefined;
}

function sameOwn(a: PolicyDoc, b: PolicyDoc, iface: string): boolean {
  const x = Object.hasOwn(a.interfaces, iface) ? a.interfaces[iface] : undefined;
  const y = Object.hasOwn(b.interfaces, iface) ? b.interfaces[iface] : undefined;
  return (
    x?.default === y?.default &&
    x?.unowned === y?.unowned &&
    x?.essentials === y?.essentials &&
    x?.mode === y?.mode
  );
}

const EMPTY: PolicyDoc = { endpoints: [], interfaces: {}, logging: {} };

export function diffPolicy(baseDoc: PolicyDoc | null, draft: PolicyDoc): PolicyDiff {
  const base = baseDoc ?? EMPTY;
  const baseBy = new Map(base.endpoints.map((e) => [e.name, e]));
  const draftBy = new Map(draft.endpoints.map((e) => [e.name, e]));
  const added = draft.endpoints.filter((e) => !baseBy.has(e.name));
  const removed = base.endpoints.filter((e) => !draftBy.has(e.name));
  const changed: EndpointChange[] = [];
  let count = added.length + removed.length;
  for (const e of draft.endpoints) {
    const b = baseBy.get(e.name);
    if (!b) continue;
    const lists: EndpointChange['lists'] = {};
    for (const l of LISTS) {
      const d = listDiff(b[l], e[l]);
      if (d) {
        lists[l] = d;
        count += d.added.length + d.removed.length;
      }
    }
    const w = listDiff(b.when ?? [], e.when ?? []);
    if (w) {
      lists.when = w;
      count += w.added.length + w.removed.length;
    }
    if (Object.keys(lists).length) changed.push({ name: e.name, lists });
  }
  const settings: SettingChange[] = [];
  // Only interfaces a policy filters: named by an endpoint of either document, or with settings
  // of their own that differ (an `interfaces:` entry alone, equal in both, says nothing new).
  const named = new Set([...base.endpoints, ...draft.endpoints].flatMap((e) => e.iface));
  const baseIfaces = new Set(configuredInterfaces(base));
  const draftIfaces = new Set(configuredInterfaces(draft));
  const ifaces = new Set([...baseIfaces, ...draftIfaces]);
  for (const iface of ifaces) {
    if (!named.has(iface) && sameOwn(base, draft, iface)) continue;
    const from = effectiveSettings(base, iface);
    const to = effectiveSettings(draft, iface);
    const wasFiltered = baseIfaces.has(iface);
    const isFiltered = draftIfaces.has(iface);
    for (const key of ['default', 'unowned', 'essentials', 'mode'] as const) {
      if (wasFiltered && isFiltered) {
        if (from[key] !== to[key])
          settings.push({ iface, key, from: String(from[key]), to: String(to[key]) });
      } else if (isFiltered) {
        // Newly filtered: what it was is "not filtered", not a default; only what the draft sets.
        if (to[key] !== DEFAULTS[key]) settings.push({ iface, key, from: NOT_FILTERED, to: String(to[key]) });
      } else if (from[key] !== DEFAULTS[key]) {
        settings.push({ iface, key, from: String(from[key]), to: NOT_FILTERED });
      }
    }
  }
  count += settings.length;
  const lf = base.logging.allowed ?? 'sample';
  const lt = draft.logging.allowed ?? 'sample';
  const diff: PolicyDiff = { added, removed, changed, settings, count };
  if (lf !== lt) {
    diff.logging = { from: lf, to: lt };
    diff.count++;
  }
  return diff;
}
