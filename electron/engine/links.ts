// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Facts of the network namespace the engine runs in, read from /proc/self (which follows the
// calling thread's network namespace; /sys shows the namespace of whoever mounted it).
import { readFileSync } from 'node:fs';
import { ifNameToIndex } from '../../native-bridge/index.js';
import type { Diagnostic, ResolvedPolicy } from '../policy/types.js';

/** Every interface of this network namespace, by name, with its index (loopback included). */
export function listInterfaces(): Array<{ name: string; ifindex: number }> {
  const out: Array<{ name: string; ifindex: number }> = [];
  // "  eth0: 1234 ..." after two header lines; a name cannot contain ':' or whitespace.
  for (const line of readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):/.exec(line);
    if (!m?.[1]) continue;
    const ifindex = ifNameToIndex(m[1]);
    if (ifindex !== undefined) out.push({ name: m[1], ifindex });
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/** The lowest port an unprivileged process may bind (net.ipv4.ip_unprivileged_port_start; it
 * governs IPv6 too). Ports below it need CAP_NET_BIND_SERVICE. */
export function unprivilegedPortStart(): number {
  try {
    const n = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    return Number.isInteger(n) ? n : 1024;
  } catch {
    return 1024; // kernels before 4.11: always 1024
  }
}

/** The DHCP client ports (DHCPv4 68, DHCPv6 546): any user may bind them when this is false. */
export const DHCP_CLIENT_PORTS = [68, 546] as const;

export function dhcpPortsPrivileged(portStart = unprivilegedPortStart()): boolean {
  return DHCP_CLIENT_PORTS.every((p) => p < portStart);
}

/**
 * What this host does to a policy's meaning, for `check` and every apply: with unprivileged DHCP
 * client ports the DHCP exemption shrinks to what a client broadcasts.
 */
export function hostWarnings(resolved: ResolvedPolicy, portStart = unprivilegedPortStart()): Diagnostic[] {
  if (dhcpPortsPrivileged(portStart)) return [];
  const names = [...resolved.interfaces].filter(([, s]) => s.essentials).map(([n]) => n);
  if (names.length === 0) return [];
  return [
    {
      severity: 'warning',
      message:
        `net.ipv4.ip_unprivileged_port_start=${portStart}: any user may bind the DHCP client ports (UDP 68 and 546), ` +
        `so the DHCP exemption on ${names.join(', ')} covers only what a client broadcasts (255.255.255.255:67, ` +
        `ff02::1:2:547), which any user can then send to the local link; unicast DHCP (renewals) is decided by the ` +
        'policy like any other traffic, and clients fall back to rebinding by broadcast before the lease ends',
    },
  ];
}
