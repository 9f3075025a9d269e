// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

/** An IP protocol number as the name administrators know it. */
export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}
