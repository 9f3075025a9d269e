// SPDX-License-Identifier: Apache-2.0
// Environment: main process (no Electron import).
//
// The system's network interfaces with their link state, from `ip -json link show` (iproute2,
// already a dependency for tc): it answers for the caller's network namespace, which /sys may
// not (sysfs shows the namespace of whoever mounted it).
import { execFile } from 'node:child_process';
import type { NetInterface } from '../ipc/contract.js';

const IP = '/usr/sbin/ip';
const TIMEOUT_MS = 5000;

interface IpLink {
  ifindex?: unknown;
  ifname?: unknown;
  flags?: unknown;
  operstate?: unknown;
  link_type?: unknown;
}

/** Parses `ip -json link show` output; entries without a name or index are skipped. */
export function parseIpLinks(json: string): NetInterface[] {
  const data: unknown = JSON.parse(json);
  if (!Array.isArray(data)) throw new Error('ip -json link: expected a list');
  const out: NetInterface[] = [];
  for (const l of data as IpLink[]) {
    if (typeof l.ifname !== 'string' || typeof l.ifindex !== 'number') continue;
    const flags = Array.isArray(l.flags) ? l.flags.filter((f): f is string => typeof f === 'string') : [];
    const state = typeof l.operstate === 'string' ? l.operstate.toLowerCase() : 'unknown';
    out.push({
      name: l.ifname,
      index: l.ifindex,
      state,
      // Loopback and tunnels report operstate UNKNOWN while working: LOWER_UP is the truth then.
      up: state === 'up' || (state === 'unknown' && flags.includes('UP') && flags.includes('LOWER_UP')),
      loopback: flags.includes('LOOPBACK'),
      linkType: typeof l.link_type === 'string' ? l.link_type : 'unknown',
    });
  }
  return out.sort((a, b) => a.index - b.index);
}

export function listInterfaces(): Promise<NetInterface[]> {
  return new Promise((resolve, reject) => {
    execFile(IP, ['-json', 'link', 'show'], { timeout: TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`ip -json link show: ${err.message}`));
      else {
        try {
          resolve(parseIpLinks(stdout));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}
