// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; renderer).
//
// Which endpoints of the enforced policy guard a destination on an interface: the kernel reports
// no endpoint with a not-listed drop (its LPM entry leads to a set of users, not to one endpoint),
// so the live tables name it from the policy the window knows is enforced ("not in imdsv2's
// users"). Ranges are parsed once per policy document and answers are kept per destination.
import { rangeContains } from '../../../electron/policy/addr.js';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { parseRangeText, type RangeValue } from '../../../electron/policy/fields.js';

interface Parsed {
  endpoints: Array<{ name: string; iface: readonly string[]; ranges: RangeValue[] }>;
  answers: Map<string, readonly string[]>;
}

/** Answers kept per document; a table shows a few hundred distinct destinations at most. */
const MAX_ANSWERS = 4096;
const cache = new WeakMap<PolicyDoc, Parsed>();

function parsed(doc: PolicyDoc): Parsed {
  let p = cache.get(doc);
  if (!p) {
    p = {
      endpoints: doc.endpoints.map((e) => ({
        name: e.name,
        iface: e.iface,
        ranges: e.range.flatMap((r) => {
          const v = parseRangeText(r).range;
          return v ? [v] : [];
        }),
      })),
      answers: new Map(),
    };
    cache.set(doc, p);
  }
  return p;
}

/** The endpoints of `doc` that name `iface` and have a range holding `dst`, in policy order
 * (empty when none does, the address does not parse, or the policy is not known). */
export function guardingEndpoints(
  doc: PolicyDoc | null | undefined,
  iface: string,
  dst: string,
): readonly string[] {
  if (!doc) return [];
  const p = parsed(doc);
  const key = `${iface}\u0000${dst}`;
  const hit = p.answers.get(key);
  if (hit) return hit;
  const addr = parseRangeText(dst).range;
  const names = addr
    ? p.endpoints
        .filter(
          (e) => e.iface.includes(iface) && e.ranges.some((r) => rangeContains(r, addr.family, addr.addr)),
        )
        .map((e) => e.name)
    : [];
  if (p.answers.size >= MAX_ANSWERS) p.answers.clear();
  p.answers.set(key, names);
  return names;
}

/** The endpoint a not-listed row names: the one the kernel reported, else the enforced policy's
 * guarding endpoints ("imdsv2", "imdsv2 or metadata-v6"); null when not known. */
export function notListedEndpoint(
  row: { reason: string; iface: string; dst: string; endpoint: string | null },
  doc: PolicyDoc | null | undefined,
): string | null {
  if (row.endpoint !== null || row.reason !== 'not-listed') return row.endpoint;
  const names = guardingEndpoints(doc, row.iface, row.dst);
  return names.length ? names.join(' or ') : null;
}
