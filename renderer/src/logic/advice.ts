// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// Plain-language warnings about what a policy does beyond what its author may have meant
// (README "Policy": warn when `default: deny` would cut off root, DNS or DHCP). Each piece of advice
// names where it applies, so the editor can show it beside the interface or endpoint.
import type { Accounts, NetInterface } from '../../../electron/ipc/contract.js';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import { configuredInterfaces, effectiveSettings } from './settings.js';

export type AdviceRule =
  | 'deny-default'
  | 'deny-lo-dns'
  | 'essentials-off'
  | 'unowned-allow'
  | 'single-family'
  | 'metadata-other-family'
  | 'allow-anyone';

export interface Advice {
  rule: AdviceRule;
  message: string;
  /** The interface the advice is about, if any. */
  iface?: string;
  /** The index of the endpoint the advice is about, if any. */
  endpoint?: number;
}

const METADATA_V4 = Uint8Array.from([169, 254, 169, 254]);
// fd00:ec2::254
const METADATA_V6 = Uint8Array.from([0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]);

function contains(net: { addr: Uint8Array; prefix: number }, addr: Uint8Array): boolean {
  if (net.addr.length !== addr.length) return false;
  for (let bit = 0; bit < net.prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((net.addr[byte]! & mask) !== (addr[byte]! & mask)) return false;
  }
  return true;
}

function listJoin(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Whether root may send through the endpoints on `iface` (listed as root, 0 or *). */
function rootListed(doc: PolicyDoc, iface: string): boolean {
  return doc.endpoints.some(
    (e) => e.iface.includes(iface) && e.allow.some((a) => a === 'root' || a === '0' || a === '*'),
  );
}

export function adviseOn(doc: PolicyDoc): Advice[] {
  const out: Advice[] = [];
  for (const iface of configuredInterfaces(doc)) {
    const s = effectiveSettings(doc, iface);
    if (s.default === 'deny') {
      const who = rootListed(doc, iface) ? 'every user' : 'every user not listed (root included)';
      out.push({
        rule: 'deny-default',
        iface,
        message:
          `Deny on ${iface} also blocks DNS, package updates and everything else outside the endpoints' ranges ` +
          `for ${who}.`,
      });
      if (iface === 'lo') {
        out.push({
          rule: 'deny-lo-dns',
          iface,
          message:
            'Deny on lo also cuts off local DNS resolvers (systemd-resolved at 127.0.0.53, dnsmasq at 127.0.0.1) ' +
            'and every other local service for users not allowed to reach them: name resolution fails.',
        });
      }
    }
    if (!s.essentials) {
      out.push({
        rule: 'essentials-off',
        iface,
        message:
          `Essentials off on ${iface}: DHCP renewals and IPv6 neighbour discovery are filtered like any other ` +
          'traffic; the interface can lose its IPv4 lease and its IPv6 connectivity.',
      });
    }
    if (s.unowned === 'allow') {
      out.push({
        rule: 'unowned-allow',
        iface,
        message:
          `Unowned: allow on ${iface} lets packets with no local socket (forwarded or routed traffic, e.g. ` +
          'from containers or VMs) through unchecked, also to the guarded ranges.',
      });
    }
  }
  doc.endpoints.forEach((e, i) => {
    const ranges = e.range.map((t) => parseRangeText(t).range).filter((r) => r !== undefined);
    const v4 = ranges.filter((r) => r.family === 4);
    const v6 = ranges.filter((r) => r.family === 6);
    if (ranges.length > 0 && (v4.length === 0 || v6.length === 0)) {
      const only = v4.length ? 'IPv4' : 'IPv6';
      const other = v4.length ? 'IPv6' : 'IPv4';
      const meta = v4.length
        ? v4.some((r) => contains(r, METADATA_V4))
        : v6.some((r) => contains(r, METADATA_V6));
      if (meta) {
        out.push({
          rule: 'metadata-other-family',
          endpoint: i,
          message:
            `Endpoint ${e.name} guards only ${only}; the metadata service is also reachable over ${other} at ` +
            `${v4.length ? 'fd00:ec2::254' : '169.254.169.254'}. Add that address too.`,
        });
      } else {
        out.push({
          rule: 'single-family',
          endpoint: i,
          message: `Endpoint ${e.name} guards only ${only}; if the service is also reachable over ${other}, that path is unguarded.`,
        });
      }
    }
    if (e.allow.includes('*')) {
      const where = e.iface.length ? ` on ${listJoin(e.iface)}` : '';
      out.push({
        rule: 'allow-anyone',
        endpoint: i,
        message: `Endpoint ${e.name} allows *: every user may reach its ranges${where}.`,
      });
    }
  });
  return out;
}

/** Warning for an interface name the system does not have now (null when it exists or the
 * list is not known yet). */
export function interfaceWarning(name: string, system: NetInterface[] | null): string | null {
  if (!system || system.some((i) => i.name === name)) return null;
  return `${name}: no such interface now; it will be attached when it appears`;
}

/** Warning for an allow entry naming a user or group the account database does not have. */
export function accountWarning(text: string, accounts: Accounts | null): string | null {
  if (!accounts) return null;
  const { entry } = parseAllowText(text);
  if (!entry) return null;
  if (entry.kind === 'user' && !accounts.users.some((u) => u.name === entry.name)) {
    return `${text}: no such user in the account database${accounts.truncated ? ' (the list is truncated)' : ''}; it must exist when the policy is applied`;
  }
  if (entry.kind === 'group' && !accounts.groups.some((g) => g.name === entry.name)) {
    return `${text}: no such group in the account database${accounts.truncated ? ' (the list is truncated)' : ''}; it must exist when the policy is applied`;
  }
  return null;
}
