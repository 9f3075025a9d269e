// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; bundled into the renderer too).
//
// What a policy does beyond what its author may have meant (README "Policy"): what `default: deny`
// and `essentials: false` cut off, what `unowned: allow` and `*` open, which half of the metadata
// service is left open, where the DHCP exemption cannot apply. Decided and worded here only:
// resolve.ts turns the warnings into diagnostics (check, run, apply), the editor shows every
// piece of advice beside the interface or endpoint it is about.
import { rangeContains } from './addr.js';
import { quote } from './fields.js';
import type { AllowEntry, Diagnostic, InterfaceSettings, Range, SourcePos } from './types.js';

export type AdviceRule =
  | 'deny-default'
  | 'deny-lo-dns'
  | 'essentials-off'
  | 'unowned-allow'
  | 'metadata-other-family'
  | 'opens-restricted-range'
  | 'dhcp-guarded'
  | 'single-family'
  | 'allow-anyone';

export interface Advice {
  rule: AdviceRule;
  /** warning: the policy cuts off or opens something its author may not mean; check, run and
   * apply say it too. hint: worth a look while editing, not a warning on every run. */
  level: 'warning' | 'hint';
  message: string;
  /** The interface the advice is about, if any. */
  iface?: string;
  /** The index of the endpoint the advice is about, if any. */
  endpoint?: number;
  /** Where in the source it applies, when the input has positions. */
  pos?: SourcePos;
}

/** An endpoint as advice needs it: a policy's Endpoint, or an editor's document with its valid
 * ranges and allow entries parsed (invalid ones left out). */
export interface AdviceEndpoint {
  name: string;
  iface: readonly string[];
  range: readonly Range[];
  allow: readonly Pick<AllowEntry, 'kind'>[];
  pos?: SourcePos;
}

export interface AdviceInput {
  /** Every configured interface (named by an endpoint or with settings of its own), in the order
   * resolve.ts lists them, with its effective settings. */
  interfaces: ReadonlyMap<string, InterfaceSettings>;
  endpoints: readonly AdviceEndpoint[];
}

const METADATA_V4 = Uint8Array.from([169, 254, 169, 254]);
// fd00:ec2::254
const METADATA_V6 = Uint8Array.from([0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]);
// Where DHCP clients send: the limited broadcast and All_DHCP_Relay_Agents_and_Servers ff02::1:2.
const LIMITED_BROADCAST = Uint8Array.from([255, 255, 255, 255]);
const ALL_DHCP_SERVERS = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x02]);

/** What is said of an interface an endpoint names that the system does not have now. */
export function missingInterfaceMessage(name: string): string {
  return `interface ${quote(name)} does not exist now; it is attached when it appears`;
}

export { rangeContains };

function overlaps(a: Range, b: Range): boolean {
  if (a.family !== b.family) return false;
  return a.prefix <= b.prefix ? rangeContains(a, b.family, b.addr) : rangeContains(b, a.family, a.addr);
}

const anyone = (e: AdviceEndpoint): boolean => e.allow.some((a) => a.kind === 'any');

function withPos(a: Omit<Advice, 'pos'>, pos: SourcePos | undefined): Advice {
  return pos ? { ...a, pos } : a;
}

/** Every piece of advice on a policy: per interface in order, then per endpoint. */
export function adviseOn(input: AdviceInput): Advice[] {
  const out: Advice[] = [];
  for (const [name, s] of input.interfaces) out.push(...interfaceAdvice(name, s, input.endpoints));
  input.endpoints.forEach((ep, i) => out.push(...endpointAdvice(ep, i, input)));
  return out;
}

/** The warnings among the advice, as diagnostics (resolve.ts). */
export function adviceWarnings(input: AdviceInput): Diagnostic[] {
  return adviseOn(input)
    .filter((a) => a.level === 'warning')
    .map((a) =>
      a.pos
        ? { severity: 'warning', message: a.message, pos: a.pos }
        : { severity: 'warning', message: a.message },
    );
}

function interfaceAdvice(name: string, s: InterfaceSettings, endpoints: readonly AdviceEndpoint[]): Advice[] {
  // Interface settings carry no position; the first endpoint naming the interface is the closest.
  const pos = endpoints.find((e) => e.iface.includes(name))?.pos;
  const out: Advice[] = [];
  const add = (rule: AdviceRule, message: string) =>
    out.push(withPos({ rule, level: 'warning', iface: name, message }, pos));
  // Under default deny, what no endpoint allows is dropped for every sender: a listed user is
  // allowed only the ranges of its endpoints, root is a user like any other.
  if (s.default === 'deny') {
    if (name === 'lo') {
      add(
        'deny-lo-dns',
        'default deny on lo also blocks local DNS resolvers (systemd-resolved at 127.0.0.53, dnsmasq at ' +
          '127.0.0.1) and every other local service the endpoints on lo do not allow, for every user, ' +
          'root included: name resolution fails',
      );
    } else {
      add(
        'deny-default',
        `default deny on ${name} also blocks DNS, package updates and every other destination the endpoints ` +
          `on ${name} do not allow, for every user, root included (with default: allow on ${name}, only the ` +
          "endpoints' ranges are guarded)",
      );
      // Loopback has no DHCP or neighbour discovery; under default allow they are not guarded.
      if (!s.essentials) {
        add(
          'essentials-off',
          `essentials: false on ${name}: DHCP renewals and IPv6 neighbour discovery are decided like any ` +
            'other traffic, so default deny drops them; the interface can lose its IPv4 lease and its IPv6 ' +
            'connectivity',
        );
      }
    }
  }
  if (s.unowned === 'allow') {
    add(
      'unowned-allow',
      `unowned: allow on ${name} lets packets with no local socket (forwarded or routed traffic, e.g. from ` +
        'containers or VMs) through unchecked, also to the guarded ranges',
    );
  }
  return out;
}

function endpointAdvice(ep: AdviceEndpoint, index: number, input: AdviceInput): Advice[] {
  const out: Advice[] = [];
  const add = (rule: AdviceRule, level: Advice['level'], message: string, pos: SourcePos | undefined) =>
    out.push(withPos({ rule, level, endpoint: index, message }, pos));
  const ranges = ep.range;
  let seen: Covering | undefined;
  const covers = (): Covering => (seen ??= covering(ranges));

  const metadata = metadataOpen(ep, covers, input.interfaces);
  if (metadata) add('metadata-other-family', 'warning', metadata.message, metadata.range.pos ?? ep.pos);

  // A guarded range is guarded on every interface; '*' on a range another endpoint restricts is
  // how a policy opens it again on the interfaces it names. Allowed, and said.
  const opened = anyone(ep) ? opensRestricted(ep, ranges, input.endpoints) : undefined;
  if (opened) {
    add(
      'opens-restricted-range',
      'warning',
      `endpoint ${quote(ep.name)} lets every user ('*') reach ${opened.range.text} through ` +
        `${ep.iface.join(', ')}, which endpoint ${quote(opened.other.name)} restricts to its users`,
      opened.range.pos ?? ep.pos,
    );
  }

  // The DHCP exemption never covers a guarded range: a range that holds where DHCP clients send
  // makes DHCP a matter of the policy.
  if ([...input.interfaces.values()].some((s) => s.essentials)) {
    const c = covers();
    for (const [r, what] of [
      [c.dhcp4, '255.255.255.255 (DHCPv4)'],
      [c.dhcp6, 'ff02::1:2 (DHCPv6)'],
    ] as const) {
      if (!r) continue;
      add(
        'dhcp-guarded',
        'warning',
        `${r.text} in endpoint ${quote(ep.name)} covers ${what}: the DHCP exemption never applies to a ` +
          `guarded range, so only the users allowed to ${r.text} can get or renew a lease; list the DHCP ` +
          "client's account (root, or systemd-network for systemd-networkd)",
        r.pos ?? ep.pos,
      );
    }
  }

  const { v4, v6 } = covers();
  if (!metadata && v4 !== v6) {
    const [only, other] = v4 ? ['IPv4', 'IPv6'] : ['IPv6', 'IPv4'];
    add(
      'single-family',
      'hint',
      `endpoint ${quote(ep.name)} guards only ${only}; if the service is also reachable over ${other}, that ` +
        'path is unguarded',
      ep.pos,
    );
  }
  if (anyone(ep) && !opened) {
    const where = ep.iface.length ? ` on ${ep.iface.join(', ')}` : '';
    add(
      'allow-anyone',
      'hint',
      `endpoint ${quote(ep.name)} allows '*': every user may reach its ranges${where}`,
      ep.pos,
    );
  }
  return out;
}

/** What an endpoint's ranges hold of the addresses advice is about, found in one pass. */
interface Covering {
  /** The first range of /16 or narrower holding 169.254.169.254, and whether any range does. */
  metadata4?: Range;
  anyMetadata4: boolean;
  /** The same for fd00:ec2::254. */
  metadata6?: Range;
  anyMetadata6: boolean;
  /** The first range holding where DHCPv4 and DHCPv6 clients send. */
  dhcp4?: Range;
  dhcp6?: Range;
  /** Whether any range is IPv4, and any IPv6. */
  v4: boolean;
  v6: boolean;
}

function covering(ranges: readonly Range[]): Covering {
  const c: Covering = { anyMetadata4: false, anyMetadata6: false, v4: false, v6: false };
  for (const r of ranges) {
    if (r.family === 4) {
      c.v4 = true;
      if ((!c.metadata4 || !c.anyMetadata4) && rangeContains(r, 4, METADATA_V4)) {
        c.anyMetadata4 = true;
        if (!c.metadata4 && r.prefix >= 16) c.metadata4 = r;
      }
      if (!c.dhcp4 && rangeContains(r, 4, LIMITED_BROADCAST)) c.dhcp4 = r;
    } else if (r.family === 6) {
      c.v6 = true;
      if ((!c.metadata6 || !c.anyMetadata6) && rangeContains(r, 6, METADATA_V6)) {
        c.anyMetadata6 = true;
        if (!c.metadata6 && r.prefix >= 16) c.metadata6 = r;
      }
      if (!c.dhcp6 && rangeContains(r, 6, ALL_DHCP_SERVERS)) c.dhcp6 = r;
    }
  }
  return c;
}

/**
 * The cloud metadata service answers on 169.254.169.254 and fd00:ec2::254. An endpoint that guards
 * one of them (a range of /16 or narrower, not a catch-all) on an interface whose default is
 * allow leaves the other open to every user there.
 */
function metadataOpen(
  ep: AdviceEndpoint,
  covers: () => Covering,
  interfaces: ReadonlyMap<string, InterfaceSettings>,
): { message: string; range: Range } | undefined {
  const openIfaces = ep.iface.filter((i) => interfaces.get(i)?.default === 'allow');
  if (openIfaces.length === 0) return undefined;
  const c = covers();
  let other: string | undefined;
  let range: Range | undefined;
  if ((range = c.metadata4) && !c.anyMetadata6) other = 'fd00:ec2::254/128';
  else if ((range = c.metadata6) && !c.anyMetadata4) other = '169.254.169.254/32';
  if (!other || !range) return undefined;
  const message =
    `the metadata service is also reachable at ${other.replace(/\/\d+$/, '')}, which endpoint ` +
    `${quote(ep.name)} does not guard on ${openIfaces.join(', ')} (default: allow); add ${other}`;
  return { message, range };
}

function opensRestricted(
  open: AdviceEndpoint,
  ranges: readonly Range[],
  endpoints: readonly AdviceEndpoint[],
): { range: Range; other: AdviceEndpoint } | undefined {
  const restricted = endpoints.filter((e) => !anyone(e));
  for (const range of ranges) {
    const other = restricted.find((e) => e.range.some((r) => overlaps(r, range)));
    if (other) return { range, other };
  }
  return undefined;
}
