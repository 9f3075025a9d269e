// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions).
import ipaddr from 'ipaddr.js';
import type { Range } from './types.js';

/** Whether `range` holds the address `addr` of `family` (network byte order): its first
 * `prefix` bits are the range's (a byte missing from either counts as 0). Whole bytes first, then
 * the bits of the last one. */
export function rangeContains(range: Range, family: 4 | 6, addr: Uint8Array): boolean {
  if (range.family !== family) return false;
  const a = range.addr;
  const whole = range.prefix >> 3;
  for (let i = 0; i < whole; i++) if ((a[i] ?? 0) !== (addr[i] ?? 0)) return false;
  const bits = range.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((addr[whole] ?? 0) & mask);
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
