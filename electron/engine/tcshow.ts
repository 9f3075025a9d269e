// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FILTER_ID_HANDLE } from './filterid.js';

// Absolute path: the privileged process never resolves a command through PATH.
const TC = ['/usr/sbin/tc', '/sbin/tc'].find((p) => existsSync(p)) ?? '/usr/sbin/tc';

/**
 * Whether filters other than ours sit on the interface's clsact hook, so that removing the
 * qdisc we created would take someone else's filters with it. libbpf has no filter listing,
 * so this asks iproute2. When tc cannot answer, assume there are (keep the qdisc).
 */
export function otherFiltersPresent(ifname: string): boolean {
  for (const dir of ['ingress', 'egress']) {
    let out: string;
    try {
      out = execFileSync(TC, ['-json', 'filter', 'show', 'dev', ifname, dir], {
        encoding: 'utf8',
        timeout: 5000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      return true;
    }
    const filters = (JSON.parse(out || '[]') as Array<{ options?: { handle?: string | number } }>).filter(
      (f) => f.options !== undefined,
    );
    if (filters.some((f) => Number(f.options?.handle) !== FILTER_ID_HANDLE)) return true;
  }
  return false;
}
