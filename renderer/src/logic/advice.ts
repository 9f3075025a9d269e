// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// The editor's advice on a draft: electron/policy/advice.ts decides and words it (the same words
// check, run and apply print); here the draft is given to it, with what the system lists now
// (interfaces, accounts) for the warnings beside a single value.
import type { Accounts, NetInterface } from '../../../electron/ipc/contract.js';
import {
  adviseOn as adviseOnPolicy,
  missingInterfaceMessage,
  type Advice,
  type AdviceEndpoint,
  type AdviceRule,
} from '../../../electron/policy/advice.js';
import type { FieldDiagnostic, PolicyDoc } from '../../../electron/policy/doc.js';
import { parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import { configuredInterfaces, effectiveSettings } from './settings.js';

export type { Advice, AdviceRule };

/** The advice on a draft; values that do not parse (shown as errors) are left out of it. */
export function adviseOn(doc: PolicyDoc): Advice[] {
  const endpoints: AdviceEndpoint[] = doc.endpoints.map((e) => ({
    name: e.name,
    iface: e.iface,
    range: e.range.map((t) => parseRangeText(t).range).filter((r) => r !== undefined),
    allow: e.allow.map((t) => parseAllowText(t).entry).filter((a) => a !== undefined),
  }));
  const interfaces = new Map(configuredInterfaces(doc).map((name) => [name, effectiveSettings(doc, name)]));
  return adviseOnPolicy({ interfaces, endpoints });
}

/** Warning for an interface name the system does not have now (null when it exists or the
 * list is not known yet). */
export function interfaceWarning(name: string, system: NetInterface[] | null): string | null {
  if (!system || system.some((i) => i.name === name)) return null;
  return missingInterfaceMessage(name);
}

/** Whether an allow entry names a user or group the account database does not have (false
 * while the accounts are not known, and for uids, `*` and text that does not parse). */
export function isUnknownAccount(text: string, accounts: Accounts | null): boolean {
  return unknownAccountIn(text, accounts) !== null;
}

/** The account an allow entry names (itself, or the `as` of a unit:/cgroup: entry) that this
 * host does not have, as "user bob" / "group admins"; null when there is none (or the accounts
 * are not known, or the text does not parse). */
function unknownAccountIn(text: string, accounts: Accounts | null): string | null {
  if (!accounts) return null;
  const { entry } = parseAllowText(text);
  if (!entry) return null;
  const ref = entry.kind === 'unit' || entry.kind === 'cgroup' ? entry.as : entry;
  if (!ref) return null;
  if (ref.kind === 'user') return accounts.users.some((u) => u.name === ref.name) ? null : `user ${ref.name}`;
  if (ref.kind === 'group')
    return accounts.groups.some((g) => g.name === ref.name) ? null : `group ${ref.name}`;
  return null;
}

/** What the editor says about an allow entry naming an account this host does not have. */
export function unknownAccountMessage(text: string, accounts: Accounts | null): string {
  const named = unknownAccountIn(text, accounts) ?? (text.startsWith('@') ? 'group' : 'user');
  // "bob: no such user"; "unit:backup.service as carol: no such user carol" (the `as` account).
  const what = /^(unit|cgroup):/.test(text) ? `no such ${named}` : `no such ${named.split(' ')[0]}`;
  return `${text}: ${what} on this system${accounts?.truncated ? ' (the account list is truncated)' : ''}; Apply refuses a policy that names it (Export still writes it, for another host)`;
}

/** Warning for text typed into the users input that names an unknown account (once added to
 * the list it is an error: unknownAccountErrors). */
export function accountWarning(text: string, accounts: Accounts | null): string | null {
  return isUnknownAccount(text, accounts) ? unknownAccountMessage(text, accounts) : null;
}

/** One error per allow entry naming a user or group this host does not have, located at the
 * entry: Apply would refuse it, so the editor says so before (none while accounts are unknown;
 * warnings when the account list is truncated, since the account may exist beyond it). */
export function unknownAccountErrors(doc: PolicyDoc, accounts: Accounts | null): FieldDiagnostic[] {
  if (!accounts) return [];
  const out: FieldDiagnostic[] = [];
  doc.endpoints.forEach((e, i) =>
    e.allow.forEach((t, j) => {
      if (isUnknownAccount(t, accounts))
        out.push({
          severity: accounts.truncated ? 'warning' : 'error',
          message: unknownAccountMessage(t, accounts),
          path: ['endpoints', i, 'allow', j],
        });
    }),
  );
  return out;
}
