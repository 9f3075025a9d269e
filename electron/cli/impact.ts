// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter check --config FILE --impact`: the recorded flows whose verdict FILE changes.
import type { ResolvedPolicy } from '../policy/types.js';

export interface ImpactOptions {
  config: string;
  /** FILE, validated (its diagnostics are printed already). */
  resolved: ResolvedPolicy;
  json: boolean;
  pinDir: string;
}

export async function impactCommand(o: ImpactOptions): Promise<number> {
  process.stderr.write(`net-tc-filter: --impact is not implemented yet (${o.config})\n`);
  return 2;
}
