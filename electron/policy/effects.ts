// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).
//
// What a policy does on each interface, in the plain words the desktop app's Apply preview shows
// before anything changes: "eth0: everything except 169.254.169.254/32 is dropped for every
// account, root included", "eth0: only 169.254.169.254/32 is guarded (reachable by alice);
// everything else passes", an interface in audit mode, one that does not exist on this host, and
// one line for every other interface (only the guarded ranges are checked there). Whether a
// default turns to deny with the change is what makes a trial the default (docs/rollout.md).
import type { InterfaceEffect } from '../ipc/contract.js';
import { guardOnlyAudit } from './evaluate.js';
import type { ResolvedEndpoint, ResolvedPolicy } from './types.js';

export type { InterfaceEffect } from '../ipc/contract.js';

export interface EffectOptions {
  /** The interface exists on this host now. */
  present: (name: string) => boolean;
  /** Account name of a uid (undefined: none; the uid is shown). */
  nameOf: (uid: number) => string | undefined;
}

/** Accounts named per endpoint before "and N more". */
const SHOWN_USERS = 6;

export function joinWords(xs: readonly string[], last = 'and'): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} ${last} ${xs[xs.length - 1] ?? ''}`;
}

/** Whom an endpoint lets through: its accounts by name, "every user" for '*', "nobody". */
export function whoMay(e: ResolvedEndpoint, nameOf: (uid: number) => string | undefined): string {
  if (e.any) return 'every user';
  const names = e.uids.map((u) => nameOf(u) ?? `uid ${u}`);
  if (names.length === 0) return 'nobody';
  const shown = names.slice(0, SHOWN_USERS);
  if (names.length > SHOWN_USERS) shown.push(`${names.length - SHOWN_USERS} more`);
  return joinWords(shown);
}

const rangesOf = (e: ResolvedEndpoint) => joinWords(e.ranges.map((r) => r.text));

/** The default drops traffic: deny, enforcing, on an interface that exists. */
function denies(p: ResolvedPolicy | undefined, name: string): boolean {
  const s = p?.interfaces.get(name);
  return s !== undefined && s.default === 'deny' && s.mode === 'enforce';
}

/**
 * Per interface `next` configures (in its order), what it does there; then one line for every
 * other interface when a range is guarded. `current`: the policy in force (undefined: nothing is,
 * or it is not known). `turnsDeny`: the interface exists, enforces, and its default becomes deny
 * with this change (it was allow, audit, or not filtered).
 */
export function interfaceEffects(
  next: ResolvedPolicy,
  current: ResolvedPolicy | undefined,
  opts: EffectOptions,
): InterfaceEffect[] {
  const out: InterfaceEffect[] = [];
  for (const [name, s] of next.interfaces) {
    const naming = next.endpoints.filter((e) => e.ifaces.includes(name) && e.ranges.length > 0);
    if (!opts.present(name)) {
      out.push({
        iface: name,
        text: `${name} does not exist on this host: nothing is filtered there until it appears`,
        tone: 'absent',
        turnsDeny: false,
      });
      continue;
    }
    if (s.mode === 'audit') {
      out.push({
        iface: name,
        text: `${name} audits: nothing is dropped; what this policy would drop is reported as would-drop`,
        tone: 'audit',
        turnsDeny: false,
      });
      continue;
    }
    const turnsDeny = denies(next, name) && !denies(current, name);
    if (s.default === 'deny') {
      const reach = naming.map((e) => `${whoMay(e, opts.nameOf)} may reach ${rangesOf(e)}`);
      const allowed = [...new Set(naming.flatMap((e) => e.ranges.map((r) => r.text)))];
      const text =
        allowed.length === 0
          ? `${name}: everything is dropped for every account, root included`
          : `${name}: everything except ${joinWords(allowed)} is dropped for every account, root included ` +
            `(${joinWords(reach)})`;
      out.push({
        iface: name,
        text: s.essentials ? text : `${text}; DHCP and IPv6 neighbour discovery too (essentials off)`,
        tone: 'deny',
        turnsDeny,
      });
      continue;
    }
    const guarded = next.endpoints.filter((e) => e.ranges.length > 0);
    const parts = guarded.map((e) =>
      e.ifaces.includes(name)
        ? `${rangesOf(e)} (reachable by ${whoMay(e, opts.nameOf)})`
        : `${rangesOf(e)} (nobody may reach ${e.ranges.length === 1 ? 'it' : 'them'} through ${name})`,
    );
    out.push({
      iface: name,
      text:
        parts.length === 0
          ? `${name}: nothing is guarded; everything passes`
          : `${name}: only ${joinWords(parts)} ${guarded.length === 1 && guarded[0]?.ranges.length === 1 ? 'is' : 'are'} guarded; everything else passes`,
      tone: 'guard',
      turnsDeny: false,
    });
  }
  if (next.endpoints.some((e) => e.ranges.length > 0)) {
    out.push({
      iface: null,
      text: guardOnlyAudit(next.interfaces)
        ? 'Every other interface audits too: reaching a guarded range there is reported as would-drop; everything else passes'
        : 'Every other interface: only the guarded ranges are checked, and nobody may reach them there; everything else passes',
      tone: guardOnlyAudit(next.interfaces) ? 'audit' : 'guard',
      turnsDeny: false,
    });
  }
  return out;
}
