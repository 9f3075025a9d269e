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
    const filters = tcJson<{ options?: { handle?: string | number } }>([
      'filter',
      'show',
      'dev',
      ifname,
      dir,
    ]);
    if (!filters) return true;
    if (filters.some((f) => f.options !== undefined && Number(f.options.handle) !== FILTER_ID_HANDLE))
      return true;
  }
  return false;
}

/**
 * The kind of the qdisc at ffff: (where clsact lives), or undefined when there is none.
 * bpf_tc_hook_create() reports EEXIST for *any* qdisc there: a plain `ingress` qdisc would
 * take our "egress" filter into its single (ingress) block, so the caller must check.
 * Throws when tc cannot answer: attaching blind could fail open.
 */
export function ingressQdiscKind(ifname: string): string | undefined {
  const qdiscs = tcJson<{ kind?: string; handle?: string; parent?: string }>([
    'qdisc',
    'show',
    'dev',
    ifname,
  ]);
  if (!qdiscs) throw new Error(`${ifname}: cannot list qdiscs with ${TC}; not attaching blind`);
  return qdiscs.find((q) => q.handle === 'ffff:')?.kind;
}

function tcJson<T>(args: string[]): T[] | undefined {
  try {
    const out = execFileSync(TC, ['-json', ...args], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return JSON.parse(out || '[]') as T[];
  } catch {
    return undefined;
  }
}
