// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter check --config FILE --impact`: the recorded flows whose verdict FILE changes.
// Read-only (readStatus reads the pins without the lock): works beside a running `run`.
// Exit: 0 evaluated (whatever changes), 1 FILE invalid (main.ts, before this runs),
// 3 nothing loaded at the pin directory (no flows to evaluate).
import { systemCgroupTree } from '../policy/cgroups.js';
import { cgroupIdsOf } from '../policy/explain.js';
import { ifNameToIndex } from '../../native-bridge/index.js';
import { listeningTcpPorts } from '../engine/listening.js';
import { readStatus } from '../engine/status.js';
import { impactJson, impactOf, impactText } from '../policy/impact.js';
import type { AccountDb } from '../policy/resolve.js';
import type { ResolvedPolicy } from '../policy/types.js';
import { loadEnforcedPolicy } from '../engine/enforced.js';
import { senderName } from './format.js';

export interface ImpactOptions {
  config: string;
  /** FILE, validated (its diagnostics are printed already). */
  resolved: ResolvedPolicy;
  /** The account database FILE was resolved with. */
  db: AccountDb;
  json: boolean;
  pinDir: string;
}

export async function impactCommand(o: ImpactOptions): Promise<number> {
  const s = readStatus(o.pinDir, { flows: true });
  if (!s.loaded) {
    process.stderr.write(`net-tc-filter: nothing is loaded at ${o.pinDir}: no recorded flows to evaluate\n`);
    return 3;
  }
  const db = o.db;
  const enforced = loadEnforcedPolicy(s, db);
  const baseline = enforced.resolved
    ? `the enforced policy (epoch ${enforced.epoch})`
    : `the verdicts the flows recorded (${enforced.problem ?? 'the enforced policy is not known'})`;
  const report = impactOf({
    flows: s.flows ?? [],
    next: o.resolved,
    ...(enforced.resolved ? { current: enforced.resolved } : {}),
    ifindexOf: (name) => ifNameToIndex(name),
    listening: listeningTcpPorts(),
    nameOf: (uid) => senderName(db, uid),
    cgroupIds: cgroupIdsOf(systemCgroupTree()),
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ ...impactJson(report, o.config), now: baseline }, null, 2)}\n`);
  } else {
    process.stdout.write(impactText(report, o.config, baseline));
  }
  return 0;
}
