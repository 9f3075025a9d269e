// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; renderer).
//
// The kernel's reason codes (TrafficRow.reason, FlowWire.reason, ExplainResult.reason) in plain
// words for the live tables and the details pane. The meanings are the tc program's
// (docs/datapath.md "Per packet", electron/policy/evaluate.ts):
//   endpoint          a guarded destination; an endpoint naming the interface lists the sender
//   not-listed        a guarded destination; the endpoints naming the interface do not list it
//   iface-not-listed  a guarded destination; no endpoint guarding it names this interface (also
//                     on interfaces no endpoint names, where only the guarded ranges are checked)
//   default-*         no endpoint guards the destination: the interface's default decides
//   unowned-*         no local socket (forwarded, or sent by the kernel): `unowned:` decides
//   essential         DHCP client broadcasts and ICMPv6 neighbour/router discovery, exempt
//   routing-header    an IPv6 routing header the program cannot judge: dropped whoever sends

export interface ReasonInput {
  reason: string;
  iface: string;
  /** The endpoint reported with the verdict (allow: the one allowing it; not-listed: the one
   * guarding it, when known). */
  endpoint: string | null;
}

/** The reason in plain words ("not in imdsv2's users", "no endpoint guards it; eth0 denies by default"). */
export function reasonText({ reason, iface, endpoint }: ReasonInput): string {
  switch (reason) {
    case 'endpoint':
      return endpoint ?? 'an endpoint lists this user';
    case 'not-listed':
      return endpoint ? `not in ${endpoint}'s users` : 'not a listed user of the endpoint guarding it';
    case 'iface-not-listed':
      return `guarded range; no endpoint guarding it names ${iface}`;
    case 'default-deny':
      return `no endpoint guards it; ${iface} denies by default`;
    case 'default-allow':
      return `no endpoint guards it; ${iface} allows by default`;
    case 'unowned-allow':
      return `no local socket (forwarded or kernel traffic); allowed on ${iface}`;
    case 'unowned-deny':
      return `no local socket (forwarded or kernel traffic); denied on ${iface}`;
    case 'essential':
      return 'DHCP/ND essential';
    case 'routing-header':
      return 'IPv6 routing header (destination could be rewritten)';
    case 'not-configured':
      return `not filtered: no endpoint guards it and ${iface} is not configured`;
    default:
      return reason;
  }
}

/** A longer sentence for the tooltip and the details pane. */
export function reasonDetail({ reason, iface, endpoint }: ReasonInput): string {
  switch (reason) {
    case 'endpoint':
      return endpoint
        ? `The destination is in ${endpoint}'s ranges, ${endpoint} names ${iface} and lists this user.`
        : 'An endpoint that guards the destination on this interface lists this user.';
    case 'not-listed':
      return endpoint
        ? `The destination is in ${endpoint}'s ranges and ${endpoint} names ${iface}, but this user is not in its allow list.`
        : `An endpoint that names ${iface} guards the destination, but this user is not in its allow list.`;
    case 'iface-not-listed':
      return `The destination is in a guarded range, but no endpoint guarding it names ${iface}: nobody may reach it through ${iface}.`;
    case 'default-deny':
      return `No endpoint's range holds the destination, and ${iface}'s default is deny: everything not listed is dropped.`;
    case 'default-allow':
      return `No endpoint's range holds the destination, and ${iface}'s default is allow: only the guarded ranges are checked.`;
    case 'unowned-allow':
    case 'unowned-deny':
      return `The packet has no local socket (forwarded, or sent by the kernel itself), so no user can be checked; ${iface}'s "unowned" setting ${reason === 'unowned-allow' ? 'allows' : 'denies'} it.`;
    case 'essential':
      return 'DHCP client broadcasts and IPv6 neighbour and router discovery pass whatever the policy says (the interface\'s "essentials" setting).';
    case 'routing-header':
      return 'The packet carries an IPv6 routing header that could send it on to another address; one the filter cannot judge is dropped, whoever sends it.';
    default:
      return reasonText({ reason, iface, endpoint });
  }
}

/** The verdict as the tables say it. */
export const VERDICT_WORDS = { allow: 'allowed', drop: 'dropped', 'would-drop': 'would drop' } as const;

export type TableVerdict = keyof typeof VERDICT_WORDS;
