// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).
import ipaddr from 'ipaddr.js';
import type { Range } from './types.js';

/** Whether `range` holds the address `addr` of `family` (network byte order). */
export function rangeContains(range: Range, family: 4 | 6, addr: Uint8Array): boolean {
  if (range.family !== family) return false;
  for (let bit = 0; bit < range.prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((range.addr[byte] ?? 0) & mask) !== ((addr[byte] ?? 0) & mask)) return false;
  }
  return true;
}

/** A destination as text: `addr:port`, `[v6]:port`, or the address alone without a port (ICMP,
 * port 0, or `port` undefined). */
export function hostPort(family: 4 | 6, addr: string, port: number | undefined, proto?: string): string {
  if (port === undefined || port === 0 || proto === 'icmp' || proto === 'icmpv6') return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** An address in network byte order as text (IPv6 in RFC 5952 form). IPv4 takes a fast path:
 * it runs for every reported packet. */
export function formatAddr(family: 4 | 6, addr: Uint8Array): string {
  if (family === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const ip = ipaddr.fromByteArray(Array.from(addr.subarray(0, 16)));
  return ip instanceof ipaddr.IPv6 ? ip.toRFC5952String() : ip.toString();
}
