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
import type { PolicyDoc } from '../../../electron/policy/doc.js';
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

/** Warning for an allow entry naming a user or group the account database does not have. */
export function accountWarning(text: string, accounts: Accounts | null): string | null {
  if (!accounts) return null;
  const { entry } = parseAllowText(text);
  if (!entry) return null;
  const known =
    entry.kind === 'user'
      ? accounts.users.some((u) => u.name === entry.name)
      : entry.kind !== 'group' || accounts.groups.some((g) => g.name === entry.name);
  if (known) return null;
  return `${text}: no such ${entry.kind} in the account database${accounts.truncated ? ' (the list is truncated)' : ''}; it must exist when the policy is applied`;
}
