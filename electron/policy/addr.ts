// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).
import ipaddr from 'ipaddr.js';

/** An address in network byte order as text (IPv6 in RFC 5952 form). IPv4 takes a fast path:
 * it runs for every reported packet. */
export function formatAddr(family: 4 | 6, addr: Uint8Array): string {
  if (family === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const ip = ipaddr.fromByteArray(Array.from(addr.subarray(0, 16)));
  return ip instanceof ipaddr.IPv6 ? ip.toRFC5952String() : ip.toString();
}
