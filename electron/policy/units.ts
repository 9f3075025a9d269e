// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions; the renderer uses them too).
//
// Which sending cgroups a `unit:` entry can name, and how such an entry is written: the one
// place that decides when propose, explain and the desktop app's fixes offer `unit:NAME` (or
// `unit:NAME as USER`) for traffic. A `unit:` entry looks for a systemd SYSTEM unit: a service or
// scope outside user.slice (policy/cgroups.ts searches the slices below the root, never
// user.slice). A user's own units and sessions (user@1000.service, session-3.scope, apps under
// user.slice) are not system units: their user can move processes between them, so they separate
// nothing from that user (docs/datapath.md "Services and containers").
import { parseAllowText } from './fields.js';

/** The system unit a socket's cgroup belongs to, when a `unit:` entry can name it: the first
 * component below the slices of a path outside /user.slice that is a .service or .scope (not a
 * session-N.scope). null otherwise (no cgroup, the root, a slice, a user's cgroup). */
export function systemUnitOf(cgroup: string | null | undefined): string | null {
  if (!cgroup || !cgroup.startsWith('/')) return null;
  const parts = cgroup.split('/').slice(1);
  if (parts[0] === 'user.slice') return null;
  for (const part of parts) {
    if (part.endsWith('.slice')) continue;
    if (/^session-[^/]*\.scope$/.test(part)) return null;
    if (!part.endsWith('.service') && !part.endsWith('.scope')) return null;
    // Only what reads back as this very unit (fields.ts decides what a unit name may hold).
    const e = parseAllowText(`unit:${part}`).entry;
    return e?.kind === 'unit' && e.unit === part ? part : null;
  }
  return null;
}

/** `unit:NAME`, or `unit:NAME as ACCOUNT` (an account name or a uid). */
export function unitEntryText(unit: string, as?: string | number): string {
  return as === undefined ? `unit:${unit}` : `unit:${unit} as ${as}`;
}

/** The `as` part for a unit's traffic from one sender: the account (name, or uid without one)
 * when it is not root; undefined for root. Root can take any uid, so `as root` separates
 * nothing the unit's cgroup does not; for any other account it keeps the grant to that account's
 * processes in the unit (not, e.g., a helper the unit runs as another user). */
export function unitAsFor(uid: number, name: string | undefined): string | number | undefined {
  if (uid === 0) return undefined;
  if (name === undefined) return uid;
  const e = parseAllowText(`unit:x.service as ${name}`).entry;
  return e?.kind === 'unit' && e.as?.kind === 'user' && e.as.name === name ? name : uid;
}
